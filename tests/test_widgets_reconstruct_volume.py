"""The Reconstruct widget on a projection stack: a lazy volume, driven in a viewer."""

from __future__ import annotations

import time

import dask.array as da
import numpy as np
import pytest

from napari_backproject import iradon
from napari_backproject._widgets.reconstruct_volume import (
    FROM_RANGE,
    PROJECTIONS,
    SINOGRAMS,
)

PLUGIN = "napari-backproject"


@pytest.fixture
def viewer(make_napari_viewer):
    return make_napari_viewer()


@pytest.fixture
def widget(viewer):
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Reconstruct")
    return widget


@pytest.fixture
def scan(prepared_scan):
    return prepared_scan(8, 64, 90, 3)[0]


@pytest.fixture
def prepared(prepared_scan):
    return prepared_scan(8, 64, 90, 3)[1]


def _add(viewer, prepared, scan, **kwargs):
    kwargs.setdefault("metadata", {"theta": scan.theta.tolist()})
    return viewer.add_image(prepared, name="prepared", **kwargs)


def _wait_done(qtbot, w, timeout=60000):
    qtbot.waitUntil(lambda: not w.controls.running, timeout=timeout)
    assert w.controls.last_error is None, w.controls.last_error


def test_projection_stack_is_recognised_and_follows_the_chosen_centre(
    viewer, widget, scan, prepared
):
    w = widget
    viewer.add_image(np.zeros((4, 64, 90), np.float32), name="sinos")
    _add(viewer, prepared, scan, scale=(1, 2, 2))
    w.sinogram.value = viewer.layers["sinos"]
    assert w.volume.layout.value == SINOGRAMS
    assert w.volume.center.native.isHidden()
    w.sinogram.value = viewer.layers["prepared"]
    assert w.volume.layout.value == PROJECTIONS
    assert not w.volume.center.native.isHidden()
    assert w.volume.center.value == 32  # n // 2 before a centre is chosen
    assert w.theta_info.value.startswith("90 angles")
    assert not w.method.enabled and w.preview.native.isHidden()
    # Find centre's "Use centre" sets the centre box through the metadata
    _, find = viewer.window.add_plugin_dock_widget(PLUGIN, "Find centre")
    find.projections.value = viewer.layers["prepared"]
    find.center.value = 35.25
    find.use_button.click()
    assert viewer.layers["prepared"].metadata["center"] == 35.25
    assert w.volume.center.value == pytest.approx(35.25)
    assert viewer.layers["prepared"].metadata["center_row"] == find.row.value


def test_lazy_volume_shows_the_row_first_and_matches_iradon(
    viewer, widget, scan, prepared, qtbot
):
    w = widget
    layer = _add(viewer, prepared, scan, scale=(1.0, 0.5, 0.5), translate=(0, 3, 1))
    layer.metadata = {**layer.metadata, "center": scan.center, "center_row": 5}
    w.sinogram.value = layer
    w.run_button.click()
    qtbot.waitUntil(lambda: "prepared volume" in viewer.layers, timeout=60000)
    result = viewer.layers["prepared volume"]
    assert isinstance(result.data, da.Array)
    assert result.data.shape == (8, 64, 64) and result.data.chunksize[0] == 1
    assert tuple(result.scale) == (0.5, 0.5, 0.5)
    assert tuple(result.translate) == (3.0, 1.0, 1.0)
    assert result.metadata["center"] == scan.center
    # the row Find centre looked at is the one on screen, computed first
    assert w.volume.current_row() == 5
    _wait_done(qtbot, w)
    assert w.volume.cache.computed == 8  # then the others, once each
    assert "8 rows reconstructed" in w.controls.status.text()
    sino = np.ascontiguousarray(prepared[:, 5, :].T)
    expected = iradon(sino, scan.theta, center=scan.center)
    shown = np.asarray(result._slice.image.raw)
    np.testing.assert_allclose(shown, expected, rtol=1e-5, atol=1e-6)
    # scrolling shows other rows of the same volume
    viewer.dims.set_point(0, 3 + 2 * 0.5)
    sino = np.ascontiguousarray(prepared[:, 2, :].T)
    np.testing.assert_allclose(
        np.asarray(result._slice.image.raw),
        iradon(sino, scan.theta, center=scan.center),
        rtol=1e-5,
        atol=1e-6,
    )


def test_dask_projections_and_angles_from_a_range(
    viewer, widget, scan, prepared, qtbot
):
    w = widget
    lazy = da.from_array(prepared, chunks=(10, -1, -1))
    viewer.add_image(lazy, name="lazy", axis_labels=("angle", "row", "column"))
    w.sinogram.value = viewer.layers["lazy"]
    assert w.volume.layout.value == PROJECTIONS
    assert w.volume.angles.value == FROM_RANGE and w.volume.count.value == 90
    w.volume.center.value = scan.center
    w.run_button.click()
    qtbot.waitUntil(lambda: "lazy volume" in viewer.layers, timeout=60000)
    _wait_done(qtbot, w)
    row = viewer.layers["lazy volume"].data[4].compute()
    sino = np.ascontiguousarray(prepared[:, 4, :].T)
    np.testing.assert_allclose(
        row, iradon(sino, scan.theta, center=scan.center), rtol=1e-5, atol=1e-6
    )


def test_angle_axis_elsewhere_is_named(viewer, widget, scan, prepared):
    w = widget
    moved = np.moveaxis(prepared, 0, 2)  # (row, column, angle): angles last
    viewer.add_image(moved, name="moved", metadata={"theta": scan.theta.tolist()})
    w.sinogram.value = viewer.layers["moved"]
    assert w.volume.layout.value == SINOGRAMS  # angles last: a sinogram stack
    w.volume.layout.value = PROJECTIONS  # the user insists
    assert "axis 2" in w.theta_info.value
    w.run_button.click()
    text = w.controls.status.text()
    assert "theta has 90 angles" in text and "axis 2 has 90 entries" in text
    assert "np.moveaxis(p, 2, 0)" in text
    assert "moved volume" not in viewer.layers


@pytest.mark.parametrize("name", ["vol.tif", "vol.zarr"])
def test_save_streams_the_volume(viewer, widget, scan, prepared, qtbot, tmp_path, name):
    w = widget
    layer = _add(viewer, prepared, scan)
    layer.metadata = {**layer.metadata, "center": scan.center}
    w.sinogram.value = layer
    w.save_file.value = str(tmp_path / name)
    w.run_button.click()
    _wait_done(qtbot, w)
    assert "saved" in w.controls.status.text()
    if name.endswith(".zarr"):
        from napari_backproject.io.ome_zarr import read_ome_zarr

        levels, meta = read_ome_zarr(tmp_path / name)
        saved = levels[0].compute()
        assert meta["center"] == scan.center and meta["lazy"] is True
    else:
        from napari_backproject.io.tiff import read_tiff

        lazy, meta = read_tiff(tmp_path / name)
        saved = np.asarray(lazy)
        assert meta["center"] == scan.center
    volume = np.stack(
        [
            iradon(
                np.ascontiguousarray(prepared[:, r, :].T),
                scan.theta,
                center=scan.center,
            )
            for r in range(8)
        ]
    )
    np.testing.assert_allclose(saved, volume, rtol=1e-5, atol=1e-6)
    # every row was reconstructed once, for the file and the layer alike
    assert w.volume.cache.computed == 8
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_cancel_keeps_the_lazy_layer(
    viewer, widget, scan, prepared, qtbot, monkeypatch
):
    from napari_backproject import _volume_jobs

    real = _volume_jobs.RowCache.row

    def slow(self, r):
        time.sleep(0.2)
        return real(self, r)

    monkeypatch.setattr(_volume_jobs.RowCache, "row", slow)
    w = widget
    _add(viewer, prepared, scan)
    w.sinogram.value = viewer.layers["prepared"]
    w.run_button.click()
    qtbot.waitUntil(lambda: "prepared volume" in viewer.layers, timeout=60000)
    w.controls.cancel_button.click()
    qtbot.waitUntil(lambda: not w.controls.running, timeout=60000)
    assert w.controls.status.text() == "Cancelled"
    assert w.volume.cache.computed < 8
    # still a lazy volume: a row not computed yet is computed when shown
    layer = viewer.layers["prepared volume"]
    missing = next(r for r in range(8) if not w.volume.cache.has(r))
    viewer.dims.set_point(0, missing)
    assert w.volume.cache.has(missing)
    assert np.asarray(layer._slice.image.raw).shape == (64, 64)


def test_bad_save_name_is_refused(viewer, widget, scan, prepared, tmp_path):
    w = widget
    _add(viewer, prepared, scan)
    w.sinogram.value = viewer.layers["prepared"]
    w.save_file.value = str(tmp_path / "vol.png")
    w.run_button.click()
    assert "neither TIFF nor OME-Zarr" in w.controls.status.text()
    assert "prepared volume" not in viewer.layers and not w.controls.running


@pytest.mark.parametrize("name", ["vol.tif", "vol.zarr"])
def test_cancel_while_saving_leaves_no_file(
    viewer, widget, scan, prepared, qtbot, monkeypatch, tmp_path, name
):
    from napari_backproject import _volume_jobs

    real = _volume_jobs.RowCache.row
    started = []

    def slow(self, r):
        started.append(r)
        time.sleep(0.2)
        return real(self, r)

    monkeypatch.setattr(_volume_jobs.RowCache, "row", slow)
    w = widget
    _add(viewer, prepared, scan)
    w.sinogram.value = viewer.layers["prepared"]
    w.save_file.value = str(tmp_path / name)
    w.run_button.click()
    qtbot.waitUntil(lambda: "prepared volume" in viewer.layers, timeout=60000)
    qtbot.waitUntil(lambda: len(started) > 3, timeout=60000)  # writing now
    w.controls.cancel_button.click()
    qtbot.waitUntil(lambda: not w.controls.running, timeout=60000)
    assert w.controls.status.text() == "Cancelled"
    qtbot.waitUntil(lambda: not list(tmp_path.iterdir()), timeout=10000)
