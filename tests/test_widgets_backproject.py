"""Backproject dock widget, driven through a real napari viewer."""

from __future__ import annotations

import numpy as np
import pytest

from napari_backproject._jobs import backproject_job
from napari_backproject._widgets._layers import geometry_metadata, matching_geometry
from napari_backproject._widgets.backproject import BackprojectWidget
from napari_backproject.backproject import backproject
from napari_backproject.io.tiff import read_tiff
from napari_backproject.straighten import straighten

TRANSLATE = (10.0, -5.0, 3.0)
SIZE = 16


@pytest.fixture(scope="module")
def straightened(small_helix):
    data, geometry = straighten(
        small_helix.volume,
        small_helix.points,
        width=SIZE,
        height=SIZE,
        scale=small_helix.scale,
        translate=TRANSLATE,
    )
    return data, geometry


@pytest.fixture
def viewer_with_segmentation(make_napari_viewer, small_helix, straightened):
    """Source image, straightened image (with geometry) and labels painted on it."""
    data, geometry = straightened
    viewer = make_napari_viewer()
    viewer.add_image(
        small_helix.volume, scale=small_helix.scale, translate=TRANSLATE, name="helix"
    )
    d = geometry.spacing
    viewer.add_image(
        data,
        name="helix straightened",
        scale=(d, d, d),
        metadata=geometry_metadata(geometry, "helix"),
    )
    # the "segmentation": a threshold, painted as labels (no metadata)
    viewer.add_labels((data > 100).astype(np.uint8), name="seg", scale=(d, d, d))
    return viewer


def _run(viewer, qtbot, widget, name="seg backprojected"):
    widget.run_button.click()
    qtbot.waitUntil(lambda: name in viewer.layers, timeout=60000)
    return viewer.layers[name]


def test_dock_widget_offers_layers_that_match_a_geometry(viewer_with_segmentation):
    # issue 17 (8): the source image (3D, no geometry) is not offered, the
    # segmentation painted on the straightened image is, first
    viewer = viewer_with_segmentation
    _, widget = viewer.window.add_plugin_dock_widget(
        "napari-backproject", "Backproject"
    )
    assert isinstance(widget, BackprojectWidget)
    names = [layer.name for layer in widget.layer.choices]
    assert names == ["seg", "helix straightened"]
    assert widget.layer.value.name == "seg"
    viewer.add_points([[1.0, 2, 3]])
    assert len(widget.layer.choices) == 2  # points are not offered
    viewer.add_labels(np.zeros((4, 5, 6), np.uint8), name="other")
    assert "other" not in [layer.name for layer in widget.layer.choices]
    shape = viewer.layers["helix straightened"].data.shape
    viewer.add_labels(np.zeros(shape, np.uint8), name="painted")
    assert "painted" in [layer.name for layer in widget.layer.choices]


def test_bbox_result_lies_on_source(viewer_with_segmentation, small_helix, qtbot):
    viewer = viewer_with_segmentation
    widget = BackprojectWidget(viewer)
    widget.layer.value = viewer.layers["seg"]
    layer = _run(viewer, qtbot, widget)
    seg = np.asarray(viewer.layers["seg"].data)
    geometry = viewer.layers["helix straightened"].metadata["slice_geometry"]
    expected, offset = backproject(seg, geometry, extent="bbox")
    assert type(layer).__name__ == "Labels"
    assert layer.data.dtype == np.uint8
    np.testing.assert_array_equal(np.asarray(layer.data), expected)
    scale = np.asarray(small_helix.scale)
    np.testing.assert_allclose(layer.scale, scale)
    np.testing.assert_allclose(layer.translate, np.asarray(TRANSLATE) + offset * scale)
    assert layer.metadata["offset"] == list(offset)
    assert layer.metadata["geometry_from"] == "helix straightened"
    # the backprojected tube overlaps the ground-truth tube
    source = viewer.layers["helix"]
    z0, y0, x0 = offset
    nz, ny, nx = layer.data.shape
    truth = small_helix.mask[z0 : z0 + nz, y0 : y0 + ny, x0 : x0 + nx]
    both = np.logical_and(expected > 0, truth > 0).sum()
    assert both / max(1, (truth > 0).sum()) > 0.6
    # world bounding box inside the source's
    src_box = source.extent.world
    box = layer.extent.world
    assert np.all(box[0] >= src_box[0] - 1e-9) and np.all(box[1] <= src_box[1] + 1e-9)


def test_full_extent_matches_source_bounding_box(viewer_with_segmentation, qtbot):
    viewer = viewer_with_segmentation
    widget = BackprojectWidget(viewer)
    widget.layer.value = viewer.layers["seg"]
    widget.extent.value = "full"
    widget.method.value = "splat"
    layer = _run(viewer, qtbot, widget)
    source = viewer.layers["helix"]
    assert layer.data.shape == source.data.shape
    np.testing.assert_allclose(layer.extent.world, source.extent.world)
    np.testing.assert_allclose(layer.translate, TRANSLATE)
    assert layer.metadata["method"] == "splat"
    assert np.asarray(layer.data).max() == 1


def test_float_data_from_own_metadata_gives_image(viewer_with_segmentation, qtbot):
    viewer = viewer_with_segmentation
    straight = viewer.layers["helix straightened"]
    straight_f = viewer.add_image(
        np.asarray(straight.data, dtype=np.float32),
        name="float",
        metadata=dict(straight.metadata),
    )
    widget = BackprojectWidget(viewer)
    widget.layer.value = straight_f
    widget.binary.value = False
    layer = _run(viewer, qtbot, widget, name="float backprojected")
    assert type(layer).__name__ == "Image"
    assert layer.data.dtype == np.float32
    assert layer.metadata["geometry_from"] == "float"


def test_geometry_json_and_save(
    viewer_with_segmentation, straightened, qtbot, tmp_path
):
    viewer = viewer_with_segmentation
    _, geometry = straightened
    gpath = geometry.to_json(tmp_path / "g.json")
    # a labels layer nobody can match by metadata: only the JSON file helps
    viewer.layers.remove("helix straightened")
    widget = BackprojectWidget(viewer)
    assert list(widget.layer.choices) == []  # nothing matches a geometry
    widget.run_button.click()
    assert "no geometry" in widget.job.status.text()
    widget.geometry_file.value = str(gpath)
    widget.layer.value = viewer.layers["seg"]  # offered once the JSON fits it
    widget.binary.value = True
    out = tmp_path / "bp.tif"
    widget.save_file.value = str(out)
    layer = _run(viewer, qtbot, widget)
    assert out.exists()
    saved, meta = read_tiff(out)
    assert hasattr(layer.data, "dask")  # opened lazily from the file
    expected, offset = backproject(
        np.asarray(viewer.layers["seg"].data), geometry, binary=True
    )
    np.testing.assert_array_equal(np.asarray(layer.data), expected)
    assert meta["offset"] == list(offset)
    np.testing.assert_allclose(meta["translate"], layer.translate)
    assert layer.metadata["saved"] == str(out)
    assert layer.metadata["geometry_from"] == "g.json"


def test_cancel_leaves_no_layer_and_no_file(viewer_with_segmentation, qtbot, tmp_path):
    viewer = viewer_with_segmentation
    widget = BackprojectWidget(viewer)
    widget.layer.value = viewer.layers["seg"]
    out = tmp_path / "cancelled.tif"
    widget.save_file.value = str(out)
    widget.run_button.click()
    widget.job.cancel_button.click()
    qtbot.waitUntil(lambda: not widget.job.running, timeout=60000)
    assert widget.job.status.text() == "Cancelled"
    assert "seg backprojected" not in viewer.layers
    assert list(tmp_path.iterdir()) == []


def test_job_cancelled_while_writing_leaves_no_file(straightened, tmp_path):
    data, geometry = straightened
    out = tmp_path / "w.tif"
    job = backproject_job(
        (data > 100).astype(np.uint8),
        geometry,
        {"extent": "full"},
        out,
        abort_requested=lambda: True,
    )
    messages = []
    with pytest.raises(StopIteration) as stop:
        while True:
            messages.append(next(job).message)
    assert stop.value.value is None
    assert messages[-1] == "Cancelled"
    assert list(tmp_path.iterdir()) == []


def test_matching_geometry_rules(viewer_with_segmentation, straightened):
    viewer = viewer_with_segmentation
    _, geometry = straightened
    g, origin = matching_geometry(viewer.layers["seg"], viewer.layers)
    assert origin == "helix straightened"
    assert g.straightened_shape == geometry.straightened_shape
    # a second straightened layer of the same shape but another geometry
    other = geometry.to_dict()
    other["plane"]["spacing"] = 2.0
    viewer.add_image(
        np.zeros(geometry.straightened_shape, np.uint8),
        name="other straightened",
        metadata={"slice_geometry": other},
    )
    with pytest.raises(ValueError, match="several straightened layers"):
        matching_geometry(viewer.layers["seg"], viewer.layers)
    with pytest.raises(ValueError, match="no geometry"):
        matching_geometry(viewer.layers["helix"], viewer.layers)


def test_geometry_from_straightened_file_opened_in_napari(
    make_napari_viewer, straightened, qtbot, tmp_path
):
    from napari_backproject.straighten import save_straightened

    data, geometry = straightened
    tif, _ = save_straightened(tmp_path / "straight.tif", data, geometry)
    viewer = make_napari_viewer()
    (opened,) = viewer.open(str(tif), plugin="napari-backproject")
    assert "slice_geometry" not in opened.metadata
    viewer.add_labels((np.asarray(opened.data) > 100).astype(np.uint8), name="seg")
    widget = BackprojectWidget(viewer)
    widget.layer.value = viewer.layers["seg"]
    g, origin = widget.geometry()
    assert origin == opened.name
    assert g.to_dict() == geometry.to_dict()
    layer = _run(viewer, qtbot, widget)
    expected, offset = backproject(np.asarray(viewer.layers["seg"].data), geometry)
    np.testing.assert_array_equal(np.asarray(layer.data), expected)
