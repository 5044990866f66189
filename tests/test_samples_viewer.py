"""Open every sample through the plugin's registered contribution."""

from __future__ import annotations

import numpy as np


def test_helix_sample_layers(make_napari_viewer):
    viewer = make_napari_viewer()
    layers = viewer.open_sample("napari-backproject", "helix")
    by_name = {layer.name: layer for layer in layers}
    image = by_name["helix"]
    labels = by_name["helix ground truth"]
    points = by_name["helix path"]
    assert image.data.shape == (256, 256, 256) and image.data.dtype == np.uint8
    assert labels.data.shape == image.data.shape
    assert np.issubdtype(labels.data.dtype, np.integer)
    assert set(np.unique(labels.data)) == {0, 1}
    for layer in (image, labels, points):
        np.testing.assert_allclose(layer.scale, (2.0, 1.0, 1.0))
    assert points.data.shape == (12, 3)
    np.testing.assert_array_equal(points.features["order"], np.arange(12))
    # ordered along the helix: parameter increases monotonically along z
    assert np.all(np.diff(points.data[:, 0]) > 0)
    # consecutive points are close in the world, far apart ones are not
    world = points.data * np.asarray(points.scale)
    steps = np.linalg.norm(np.diff(world, axis=0), axis=1)
    assert steps.std() / steps.mean() < 0.05


def test_shepp_logan_sample(make_napari_viewer):
    viewer = make_napari_viewer()
    (layer,) = viewer.open_sample("napari-backproject", "shepp_logan")
    assert layer.data.shape == (400, 400)
    assert layer.data.dtype == np.float64
    np.testing.assert_allclose(layer.scale, (1.0, 1.0))


def test_phantom_stack_sample(make_napari_viewer):
    viewer = make_napari_viewer()
    (layer,) = viewer.open_sample("napari-backproject", "phantom_stack")
    assert layer.data.shape == (64, 128, 128)
    assert layer.data.dtype == np.float32
    assert 0.0 <= layer.data.min() and layer.data.max() <= 1.0
