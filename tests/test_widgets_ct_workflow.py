"""Issue 16's "done when": a measured-style scan to a lazy volume, all in napari.

A user opens the simulated scan (File > Open Sample), corrects it with
Prepare projections (flats, darks, zingers, -log, rings), finds the centre
with Find centre, scrolls the sweep reading the centre of every slice,
accepts one, and reconstructs the whole volume lazily with Reconstruct.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_backproject import iradon

PLUGIN = "napari-backproject"
#: the detector pixel size the user sets on the raw projections (µm, say)
PIXEL = 0.5


def _rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


@pytest.fixture
def viewer(make_napari_viewer):
    return make_napari_viewer()


def test_scan_to_lazy_volume_in_napari(viewer, qtbot):
    import dask.array as da

    # --- open the sample: projections (with angles), flats, darks, truth
    viewer.open_sample(PLUGIN, "ct_scan")
    raw = viewer.layers["scan projections"]
    true_center = raw.metadata["simulated_center"]
    theta = np.asarray(raw.metadata["theta"])
    truth = viewer.layers["scan true volume"].data
    n_angles, n_rows, n_det = raw.data.shape
    raw.scale = (1.0, PIXEL, PIXEL)  # the detector's pixel size

    # --- Prepare projections: preview one row, then the whole stack
    _, prep = viewer.window.add_plugin_dock_widget(PLUGIN, "Prepare projections")
    prep.projections.value = raw
    prep.flats.value = viewer.layers["scan flats"]
    prep.darks.value = viewer.layers["scan darks"]
    for box in (prep.outliers, prep.log, prep.rings):
        assert box.value  # zingers, -log and rings are on by default
    with pytest.warns(RuntimeWarning, match="dead pixels"):  # in the middle row
        prep.row.value = n_rows // 2
        prep.preview_button.click()
    assert viewer.layers["sinogram after"].data.shape == (n_det, n_angles)
    prep.run_button.click()
    qtbot.waitUntil(
        lambda: "scan projections prepared" in viewer.layers, timeout=120000
    )
    qtbot.waitUntil(lambda: not prep.controls.running, timeout=10000)
    prepared = viewer.layers["scan projections prepared"]
    assert prepared.data.shape == raw.data.shape
    assert tuple(prepared.scale) == (1.0, PIXEL, PIXEL)

    # --- Find centre: automatic value and the sweep
    _, find = viewer.window.add_plugin_dock_widget(PLUGIN, "Find centre")
    find.projections.value = prepared
    find.half_range.value = 2.0
    find.step.value = 0.5
    find.run_button.click()
    qtbot.waitUntil(lambda: "centre sweep" in viewer.layers, timeout=120000)
    qtbot.waitUntil(lambda: not find.controls.running, timeout=10000)
    assert abs(find.found - true_center) < 0.25  # the goal
    sweep = viewer.layers["centre sweep"]
    centers = np.asarray(sweep.metadata["centers"])
    assert sweep.data.shape == (centers.size, n_det, n_det)

    # --- scroll the sweep: every slice says which centre it is
    for k, c in enumerate(centers):
        viewer.dims.set_point(0, c)  # the slider reads in detector pixels
        assert find.shown_center() == pytest.approx(c)
        assert find.center.value == pytest.approx(c, abs=0.005)
        assert f"Showing centre {c:.2f} px" in find.controls.status.text()
        np.testing.assert_array_equal(np.asarray(sweep._slice.image.raw), sweep.data[k])
    # the sharpest slice by eye is the one next to the automatic centre
    best = centers[np.argmin(np.abs(centers - find.found))]
    viewer.dims.set_point(0, best)

    # --- accept it: the Reconstruct widget's centre box follows
    _, rec = viewer.window.add_plugin_dock_widget(PLUGIN, "Reconstruct")
    rec.sinogram.value = prepared
    assert rec.volume.active()  # a projection stack, recognised as such
    find.use_button.click()
    qtbot.waitUntil(
        lambda: rec.volume.center.value == pytest.approx(best, abs=0.005),
        timeout=5000,
    )
    assert prepared.metadata["center"] == pytest.approx(best, abs=0.005)

    # --- reconstruct the whole volume lazily
    rec.run_button.click()
    name = "scan projections prepared volume"
    qtbot.waitUntil(lambda: name in viewer.layers, timeout=120000)
    volume = viewer.layers[name]
    assert isinstance(volume.data, da.Array)
    assert volume.data.shape == (n_rows, n_det, n_det)
    assert tuple(volume.scale) == (PIXEL, PIXEL, PIXEL)
    # the row Find centre used is on screen, and it was computed first
    row = find.row.value
    assert rec.volume.current_row() == row
    shown = np.asarray(volume._slice.image.raw)
    qtbot.waitUntil(lambda: not rec.controls.running, timeout=120000)
    assert rec.controls.last_error is None
    assert rec.volume.cache.computed == n_rows  # every row once, no more

    # --- the viewed slice against iradon of that row at the true centre
    sino = np.ascontiguousarray(np.asarray(prepared.data)[:, row, :].T)
    ideal = iradon(sino, theta, center=true_center)
    err_ours = _rmse(shown, truth[row])
    err_ideal = _rmse(ideal, truth[row])
    # the chosen centre is within 0.25 px of the truth: same quality (10 %)
    assert err_ours <= 1.10 * err_ideal, (err_ours, err_ideal)
    # and the slices differ by much less than either differs from the truth
    # (measured: 0.00015 against 0.0045)
    assert _rmse(shown, ideal) < 0.1 * err_ideal, (_rmse(shown, ideal), err_ideal)
    # the same holds for a row the user scrolls to afterwards
    other = 10
    viewer.dims.set_point(0, other * PIXEL)
    sino = np.ascontiguousarray(np.asarray(prepared.data)[:, other, :].T)
    ideal = iradon(sino, theta, center=true_center)
    shown = np.asarray(volume._slice.image.raw)
    assert _rmse(shown, truth[other]) <= 1.10 * _rmse(ideal, truth[other])


def test_demo_ct_scan_step(viewer, tmp_path):
    """The demo step drives the three widgets, writes its files, restores the view."""
    from PIL import Image

    from napari_backproject._demo import ct_scan
    from napari_backproject.io.ome_zarr import read_ome_zarr

    viewer.dims.ndisplay = 3
    context: dict = {"files": []}
    ct_scan.run(viewer, tmp_path, context)
    shots = [
        "ct-scan-prepare.png",
        "ct-scan-sweep-wrong.png",
        "ct-scan-sweep.png",
        "ct-scan-volume.png",
    ]
    assert context["files"] == [*shots[:3], "ct-scan-volume.zarr", shots[3]]
    for name in shots:
        image = np.asarray(Image.open(tmp_path / name))
        assert image.shape[0] > 100 and image[..., :3].std() > 5, name
    levels, meta = read_ome_zarr(tmp_path / "ct-scan-volume.zarr")
    assert levels[0].shape == (64, 128, 128) and meta["lazy"] is True
    layers = context["ct_scan"]
    volume = layers["scan projections prepared volume"]
    np.testing.assert_allclose(
        levels[0][32].compute(), volume.data[32].compute(), rtol=1e-6
    )
    assert not any(layer.visible for layer in layers.values())
    assert not viewer.canvas.grid.enabled and viewer.dims.ndisplay == 3
    assert not viewer.canvas.overlays.text.visible
