"""Flat/dark correction, log, zingers and rings against brute-force NumPy."""

from __future__ import annotations

import warnings

import dask.array as da
import numpy as np
import pytest

from napari_backproject._ct.scan import (
    flat_field,
    minus_log,
    remove_outliers,
    remove_rings,
)


def _scan(seed=0, shape=(6, 5, 7)):
    rng = np.random.default_rng(seed)
    darks = rng.normal(100, 3, size=(4, *shape[1:]))
    flats = darks.mean(0) + rng.uniform(800, 1200, size=(5, *shape[1:]))
    proj = darks[0] + rng.uniform(0.1, 0.9, size=shape) * (flats[0] - darks[0])
    return proj, flats, darks


def _mirror_windows(frame, size):
    h = size // 2
    padded = np.pad(frame, h, mode="symmetric")  # scipy's "reflect"
    return np.lib.stride_tricks.sliding_window_view(padded, (size, size))


# ------------------------------------------------------------------ flat field
@pytest.mark.parametrize("method", ["median", "mean"])
def test_flat_field_matches_formula(method):
    proj, flats, darks = _scan()
    reduce = np.median if method == "median" else np.mean
    flat, dark = reduce(flats, axis=0), reduce(darks, axis=0)
    expected = np.empty(proj.shape)
    for a in range(proj.shape[0]):
        for r in range(proj.shape[1]):
            for c in range(proj.shape[2]):
                expected[a, r, c] = (proj[a, r, c] - dark[r, c]) / (
                    flat[r, c] - dark[r, c]
                )
    out = flat_field(proj.astype(np.float32), flats, darks, method=method)
    assert out.dtype == np.float32 and isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    out64 = flat_field(proj, flats, darks, method=method)
    assert out64.dtype == np.float64
    np.testing.assert_allclose(out64, expected, rtol=1e-12)


def test_flat_field_dask_is_lazy_and_equal():
    proj, flats, darks = _scan(shape=(8, 6, 10))
    lazy = da.from_array(proj.astype(np.float32), chunks=(3, 4, 5))
    out = flat_field(lazy, da.from_array(flats), darks[0])
    assert isinstance(out, da.Array) and out.chunks == lazy.chunks
    np.testing.assert_allclose(
        out.compute(), flat_field(proj.astype(np.float32), flats, darks[0]), rtol=1e-6
    )


def test_flat_field_clips_and_counts_non_positive():
    proj, flats, darks = _scan()
    proj[0, 0, :3] = 0.0  # below the dark: negative transmission
    with pytest.warns(RuntimeWarning, match=r"^3 of 210 values .* clipped to 1e-06"):
        out = flat_field(proj, flats, darks)
    assert np.all(out[0, 0, :3] == 1e-6) and np.all(out > 0)


def test_flat_field_dead_pixel_is_transmission_one():
    proj, flats, darks = _scan()
    flats[:, 2, 3] = darks[0, 2, 3]  # a dead detector pixel
    with pytest.warns(RuntimeWarning, match="1 detector pixel"):
        out = flat_field(proj, flats, darks)
    assert np.all(out[:, 2, 3] == 1.0)
    assert np.isfinite(out).all()


def test_flat_field_bad_shapes_say_what_to_do():
    proj, flats, darks = _scan()
    with pytest.raises(ValueError, match=r"flats have shape \(5, 4, 7\).*\(5, 7\)"):
        flat_field(proj, flats[:, :4], darks)
    with pytest.raises(ValueError, match="darks have shape"):
        flat_field(proj, flats, darks[:, :, :2])
    with pytest.raises(ValueError, match="moveaxis"):
        flat_field(proj, np.moveaxis(flats, 0, -1), darks)
    with pytest.raises(ValueError, match="Unknown method"):
        flat_field(proj, flats, darks, method="max")
    with pytest.raises(ValueError, match="angle, row, column"):
        flat_field(proj[None], flats, darks)


# ------------------------------------------------------------------ log
def test_minus_log_matches_numpy_and_clips():
    t = np.random.default_rng(1).uniform(0.05, 1.0, size=(3, 4, 5)).astype("f4")
    np.testing.assert_allclose(minus_log(t), -np.log(t), rtol=1e-6)
    np.testing.assert_allclose(
        minus_log(da.from_array(t, chunks=(1, 4, 5))).compute(), -np.log(t), rtol=1e-6
    )
    t[0, 0, 0], t[1, 1, 1] = 0.0, np.nan
    with pytest.warns(RuntimeWarning, match="^2 of 60 values"):
        out = minus_log(t)
    assert out[0, 0, 0] == pytest.approx(-np.log(1e-6))
    assert np.isfinite(out).all()
    assert t[0, 0, 0] == 0.0  # the input is untouched


def test_dask_blocks_warn_with_their_location():
    t = np.ones((4, 3, 3), np.float32)
    t[3, 1, 1] = -1.0
    out = minus_log(da.from_array(t, chunks=(2, 3, 3)))
    with pytest.warns(RuntimeWarning, match=r"block \[2:4, 0:3, 0:3\]"):
        out.compute(scheduler="sync")


# ------------------------------------------------------------------ outliers
@pytest.mark.parametrize("size", [3, 5])
def test_remove_outliers_matches_brute_force(size):
    rng = np.random.default_rng(2)
    frames = rng.normal(10, 1, size=(3, 9, 11))
    frames[1, 4, 5] = 80.0  # a zinger
    frames[2, 0, 0] = -50.0  # a dead pixel in a corner
    out = remove_outliers(frames, threshold=4.0, size=size)
    expected = frames.copy()
    for i in range(frames.shape[0]):
        med = np.median(_mirror_windows(frames[i], size), axis=(-2, -1))
        bad = np.abs(frames[i] - med) > 4.0
        expected[i][bad] = med[bad]
    np.testing.assert_allclose(out, expected)
    assert out[1, 4, 5] < 15 and out[2, 0, 0] > 5


def test_remove_outliers_auto_threshold_and_dask():
    rng = np.random.default_rng(3)
    frames = rng.normal(100, 2, size=(4, 16, 16)).astype(np.float32)
    frames[0, 8, 8] += 500
    auto = remove_outliers(frames)
    assert abs(auto[0, 8, 8] - 100) < 10
    changed = np.count_nonzero(auto != frames)
    assert 1 <= changed < 10  # the zinger and at most a few noise pixels
    lazy = remove_outliers(da.from_array(frames, chunks=(1, 8, 8)))
    assert lazy.chunks == ((1, 1, 1, 1), (16,), (16,))
    np.testing.assert_array_equal(lazy.compute(), auto)


def test_remove_outliers_bad_arguments():
    with pytest.raises(ValueError, match="odd integer"):
        remove_outliers(np.ones((4, 4)), size=4)
    with pytest.raises(ValueError, match="threshold"):
        remove_outliers(np.ones((4, 4)), threshold=-1)


# ------------------------------------------------------------------ rings
def _rings_brute(sino, size):
    """Vo et al. 2018 algorithm 3, written with plain loops on (detector, angle)."""
    n_det, n_ang = sino.shape
    order = [np.argsort(sino[d], kind="stable") for d in range(n_det)]
    ranked = np.array([sino[d][order[d]] for d in range(n_det)])
    h = size // 2
    padded = np.pad(ranked, ((h, h), (0, 0)), mode="edge")
    smooth = np.empty_like(ranked)
    for d in range(n_det):
        for k in range(n_ang):
            smooth[d, k] = np.median(padded[d : d + size, k])
    out = np.empty_like(sino)
    for d in range(n_det):
        out[d, order[d]] = smooth[d]
    return out


def test_remove_rings_matches_brute_force():
    rng = np.random.default_rng(4)
    sino = rng.normal(0, 1, size=(20, 15))
    np.testing.assert_allclose(
        remove_rings(sino, size=5, snr=None), _rings_brute(sino, 5)
    )


def test_remove_rings_detection_leaves_clean_pixels_alone():
    rng = np.random.default_rng(6)
    ramp = np.linspace(0, 1, 30)[None, :] * np.linspace(1, 2, 40)[:, None]
    sino = ramp + rng.normal(0, 0.01, size=ramp.shape)
    sino[17] += 0.2
    out = remove_rings(sino, size=5)
    assert abs((out[17] - sino[17]).mean() + 0.2) < 0.02
    change = np.abs(out - sino).max(axis=1)
    assert np.count_nonzero(change) < 12  # most detector pixels are untouched
    assert np.delete(change, [15, 16, 17, 18, 19]).max() < 0.04  # ~ the noise


def test_remove_rings_removes_stripes_not_the_object():
    from napari_backproject.data import phantom_stack
    from napari_backproject.tomography import iradon, radon

    rng = np.random.default_rng(7)
    img = 0.02 * phantom_stack((5, 128, 128))[2].astype(float)
    theta = np.linspace(0, 180, 180, endpoint=False)
    clean = radon(img, theta) + rng.normal(0, 0.005, size=(128, 180))
    striped = clean.copy()
    striped[42] += 0.05  # detector gain errors: offsets after the log
    striped[85] += 0.03
    striped[69] -= 0.04
    out = remove_rings(striped)  # size 5 for 128 pixels
    for d in (42, 69, 85):
        before = abs((striped[d] - clean[d]).mean())
        assert abs((out[d] - clean[d]).mean()) < 0.25 * before
    truth = iradon(clean, theta)
    rmse = lambda s: np.sqrt(((iradon(s, theta) - truth) ** 2).mean())  # noqa: E731
    assert rmse(out) < 0.8 * rmse(striped)


def test_remove_rings_projection_stack_is_per_row_and_lazy():
    rng = np.random.default_rng(5)
    proj = rng.normal(1, 0.1, size=(12, 3, 16)).astype(np.float32)
    out = remove_rings(proj, size=5, snr=None)
    for r in range(3):
        np.testing.assert_allclose(
            out[:, r, :], remove_rings(proj[:, r, :].T, size=5, snr=None).T
        )
    lazy = remove_rings(
        da.from_array(proj, chunks=(4, 1, 16)), size=5, snr=None, rows_per_chunk=2
    )
    assert lazy.chunks == ((12,), (2, 1), (16,))
    np.testing.assert_allclose(lazy.compute(), out)
    with pytest.raises(ValueError, match="wider than the detector"):
        remove_rings(proj, size=17)


def test_no_warning_on_clean_data():
    proj, flats, darks = _scan()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        minus_log(flat_field(proj, flats, darks))


def test_every_correction_is_lazy_on_dask():
    """Nothing is read at call time: a stack that fails when read is fine until computed."""

    def unreadable(block):
        raise RuntimeError("read")

    base = da.zeros((6, 4, 16), chunks=(2, 4, 16), dtype=np.float32)
    lazy = base.map_blocks(unreadable, dtype=np.float32)
    flats = np.ones((4, 16))
    for out in (
        flat_field(lazy, flats),
        minus_log(lazy),
        remove_outliers(lazy),
        remove_rings(lazy, size=5),
    ):
        assert isinstance(out, da.Array)
        with pytest.raises(RuntimeError, match="read"):
            out[0].compute(scheduler="sync")
