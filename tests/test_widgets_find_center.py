"""The Find centre dock widget, driven through a real viewer."""

from __future__ import annotations

import numpy as np
import pytest

PLUGIN = "napari-backproject"


@pytest.fixture
def viewer(make_napari_viewer):
    return make_napari_viewer()


@pytest.fixture
def widget(viewer):
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Find centre")
    return widget


@pytest.fixture
def prepared(viewer, prepared_scan):
    scan, proj = prepared_scan(6, 96, 120, 2)
    viewer.add_image(
        proj, name="prepared", metadata={"theta": scan.theta.tolist()}, scale=(1, 2, 2)
    )
    return scan


def test_find_centre_sweep_and_use(viewer, widget, prepared, qtbot):
    w = widget
    w.projections.value = viewer.layers["prepared"]
    assert w.theta_info.value.startswith("120 angles")
    assert w.row.value == 3 and w.center.value == 48  # n // 2 before any search
    w.half_range.value = 2.0
    w.step.value = 0.5
    w.run_button.click()
    qtbot.waitUntil(lambda: "centre sweep" in viewer.layers, timeout=60000)
    qtbot.waitUntil(lambda: not w.controls.running, timeout=10000)
    assert abs(w.found - prepared.center) < 0.25
    assert w.auto.value == f"{w.found:.2f} px"
    sweep = viewer.layers["centre sweep"]
    centers = np.asarray(sweep.metadata["centers"])
    assert sweep.data.shape == (9, 96, 96)
    np.testing.assert_allclose(np.diff(centers), 0.5)
    # the slider reads in detector pixels: axis 0 is the centre itself
    assert sweep.scale[0] == 0.5 and sweep.translate[0] == centers[0]
    assert tuple(sweep.scale[1:]) == (2.0, 2.0)
    # the automatic centre's slice is shown first
    assert w.shown_center() == centers[4]
    assert "Automatic centre" in w.controls.status.text()
    # scrolling the sweep moves the centre box and says which centre is shown
    viewer.dims.set_point(0, centers[7])  # world coordinate = centre
    assert w.center.value == pytest.approx(centers[7], abs=0.005)  # 2 decimals
    assert f"Showing centre {centers[7]:.2f}" in w.controls.status.text()
    w.use_button.click()
    assert viewer.layers["prepared"].metadata["center"] == pytest.approx(
        centers[7], abs=0.005
    )
    assert "stored" in w.controls.status.text()


def test_centre_box_outside_detector_is_refused(viewer, widget, prepared):
    widget.projections.value = viewer.layers["prepared"]
    assert widget.center.max == 95  # the box cannot leave the detector
    widget.center.value = 95
    widget.use_button.click()
    assert viewer.layers["prepared"].metadata["center"] == 95.0
    viewer.add_image(np.zeros((8, 8)), name="2d")
    widget.projections.value = viewer.layers["2d"]
    widget.run_button.click()
    assert "(angle, row, column)" in widget.controls.status.text()


def test_raw_counts_get_a_warning(viewer, widget, qtbot, monkeypatch):
    from napari_backproject._widgets import find_center as module

    shown = []
    monkeypatch.setattr(module, "show_warning", shown.append)
    from napari_backproject import data

    scan = data.simulated_scan(rows=4, columns=64, n_angles=60, seed=4)
    viewer.add_image(scan.projections, name="raw")
    widget.projections.value = viewer.layers["raw"]
    widget.half_range.value = 0.5
    widget.run_button.click()
    assert shown and "raw counts" in shown[0]
    qtbot.waitUntil(lambda: not widget.controls.running, timeout=60000)
