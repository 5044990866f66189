"""The Prepare projections dock widget, driven through a real viewer."""

from __future__ import annotations

import numpy as np
import pytest

from napari_backproject._ct.projections import prepare_projections

PLUGIN = "napari-backproject"


@pytest.fixture
def viewer(make_napari_viewer):
    return make_napari_viewer()


@pytest.fixture
def widget(viewer):
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Prepare projections")
    return widget


@pytest.fixture
def small_scan(viewer, ct_scan):
    from napari_backproject._sample_data import ct_scan_layers

    scan = ct_scan(6, 64, 60, 1)
    for layer_data, kwargs, kind in ct_scan_layers(scan):
        getattr(viewer, f"add_{kind}")(layer_data, **kwargs)
    return scan


def test_open_sample_gives_projections_flats_darks(viewer):
    viewer.open_sample(PLUGIN, "ct_scan")
    names = [layer.name for layer in viewer.layers]
    assert names == [
        "scan projections",
        "scan flats",
        "scan darks",
        "scan true volume",
    ]
    proj = viewer.layers["scan projections"]
    assert proj.data.shape == (180, 64, 128)
    assert len(proj.metadata["theta"]) == 180
    assert tuple(proj.axis_labels) == ("angle", "row", "column")
    assert not viewer.layers["scan true volume"].visible


def test_preview_shows_one_row_before_and_after(viewer, widget, small_scan, qtbot):
    w = widget
    w.projections.value = viewer.layers["scan projections"]
    w.flats.value = viewer.layers["scan flats"]
    w.darks.value = viewer.layers["scan darks"]
    assert w.row.value == 3 and w.row.max == 5  # the middle row by default
    w.row.value = 2
    with pytest.warns(RuntimeWarning, match="clipped"):  # the dead pixel's row
        w.preview_button.click()
    before = viewer.layers["sinogram before"]
    after = viewer.layers["sinogram after"]
    np.testing.assert_array_equal(before.data, small_scan.projections[:, 2, :].T)
    assert after.data.shape == (64, 60) and after.data.dtype == np.float32
    assert after.translate[1] > 60  # beside the raw one, not on top of it
    assert after.metadata["row"] == 2
    # the prepared row is attenuation: about zero in the open beam
    assert abs(float(np.median(after.data[:3]))) < 0.05
    assert "before (left)" in w.controls.status.text()
    # a second preview updates the same two layers
    w.log.value = False
    with pytest.warns(RuntimeWarning, match="clipped"):
        w.preview_button.click()
    assert len([n for n in viewer.layers if n.name.startswith("sinogram")]) == 2
    assert abs(float(np.median(viewer.layers["sinogram after"].data[:3])) - 1) < 0.05


def test_prepare_adds_the_prepared_stack_and_reports_warnings(
    viewer, widget, small_scan, qtbot
):
    w = widget
    w.projections.value = viewer.layers["scan projections"]
    w.flats.value = viewer.layers["scan flats"]
    w.darks.value = viewer.layers["scan darks"]
    w.run_button.click()
    qtbot.waitUntil(lambda: "scan projections prepared" in viewer.layers, timeout=60000)
    qtbot.waitUntil(lambda: not w.controls.running, timeout=10000)
    layer = viewer.layers["scan projections prepared"]
    with pytest.warns(RuntimeWarning, match="clipped"):
        expected = prepare_projections(
            small_scan.projections, small_scan.flats, small_scan.darks
        )
    np.testing.assert_allclose(layer.data, expected, rtol=1e-5, atol=1e-6)
    assert (
        layer.metadata["theta"] == viewer.layers["scan projections"].metadata["theta"]
    )
    assert layer.metadata["prepared"]["rings"] is True
    assert w.controls.status.text() == "Done"
    # the dead pixel's non-positive values were reported, not hidden
    assert any("clipped to 1e-06" in text for text in w.warnings), w.warnings


def test_bad_layer_is_an_error_in_the_status(viewer, widget, qtbot):
    viewer.add_image(np.zeros((16, 16)), name="flat image")
    widget.projections.value = viewer.layers["flat image"]
    widget.preview_button.click()
    assert "(angle, row, column)" in widget.controls.status.text()
    assert "prepared" not in " ".join(layer.name for layer in viewer.layers)


def test_cancel_leaves_no_layer(viewer, widget, qtbot):
    from napari_backproject import data
    from napari_backproject._sample_data import ct_scan_layers

    for layer_data, kwargs, kind in ct_scan_layers(data.simulated_scan()):
        getattr(viewer, f"add_{kind}")(layer_data, **kwargs)
    w = widget
    w.projections.value = viewer.layers["scan projections"]
    w.flats.value = viewer.layers["scan flats"]
    w.run_button.click()
    assert w.controls.cancel_button.isEnabled()
    w.controls.cancel_button.click()
    qtbot.waitUntil(lambda: not w.controls.running, timeout=60000)
    assert w.controls.status.text() == "Cancelled"
    assert "scan projections prepared" not in viewer.layers
