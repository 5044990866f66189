"""Projection stacks in, lazy volumes out; the simulated scan end to end."""

from __future__ import annotations

import warnings

import dask.array as da
import numpy as np
import pytest

from napari_backproject._ct.center import find_center, from_centered, to_centered
from napari_backproject._ct.projections import (
    check_projections,
    projection_angles,
    reconstruct_volume,
    sinograms,
)
from napari_backproject._ct.scan import (
    flat_field,
    minus_log,
    remove_outliers,
    remove_rings,
)
from napari_backproject.data import phantom_stack, simulated_scan
from napari_backproject.io.tiff import read_tiff, write_tiff
from napari_backproject.tomography import iradon, radon


@pytest.fixture(scope="module")
def scan():
    return simulated_scan(rows=8, columns=96, n_angles=120, seed=3)


def _rmse(a, b):
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


# ------------------------------------------------------------------ angles
def test_projection_angles_from_each_source(tmp_path):
    np.testing.assert_allclose(projection_angles(3, start=10, stop=40), [10, 20, 30])
    np.testing.assert_allclose(
        projection_angles(3, stop=40, endpoint=True), [0, 20, 40]
    )
    path = tmp_path / "angles.txt"
    path.write_text("0.0\n0.5\n1.0, 1.5\n")
    np.testing.assert_allclose(projection_angles(4, path=path), [0, 0.5, 1, 1.5])
    np.testing.assert_allclose(projection_angles(metadata={"angles": [3, 4]}), [3, 4])
    with pytest.raises(ValueError, match="has 4 angles but the projections have 5"):
        projection_angles(5, path=path)
    with pytest.raises(ValueError, match="no angles"):
        projection_angles()


def test_angle_count_and_axis_errors():
    p = np.zeros((10, 4, 30))
    with pytest.raises(ValueError, match=r"theta has 9 angles .* 10 projections"):
        check_projections(p, np.arange(9))
    with pytest.raises(ValueError, match=r"axis 2 has 30 entries.*moveaxis\(p, 2, 0\)"):
        check_projections(p, np.arange(30))
    with pytest.raises(ValueError, match="3-D stack"):
        check_projections(np.zeros((10, 30)), np.arange(10))
    with pytest.raises(ValueError, match="theta has 9 angles"):
        reconstruct_volume(p, np.arange(9))


# ------------------------------------------------------------------ sinograms
def test_sinograms_are_the_rows():
    p = np.random.default_rng(0).normal(size=(12, 3, 10))
    s = sinograms(da.from_array(p, chunks=(4, 3, 10)), rows_per_chunk=2)
    assert s.shape == (3, 10, 12) and s.chunks[0] == (2, 1)
    for r in range(3):
        np.testing.assert_array_equal(s[r].compute(), p[:, r, :].T)


# ------------------------------------------------------------------ volume
def test_reconstruct_volume_is_rowwise_fbp_at_the_centre():
    vol = phantom_stack((4, 64, 64)).astype(np.float64)
    theta = np.linspace(0, 180, 90, endpoint=False)
    sinos = [from_centered(radon(s, theta), 34.6) for s in vol]
    proj = np.stack(sinos).transpose(2, 0, 1)  # (angle, row, column)
    lazy = reconstruct_volume(proj, theta, center=34.6, filter_name="hann")
    assert isinstance(lazy, da.Array) and lazy.chunks[0] == (1, 1, 1, 1)
    for r in range(4):
        expected = iradon(to_centered(sinos[r], 34.6), theta, filter_name="hann")
        np.testing.assert_allclose(lazy[r].compute(), expected, atol=1e-12)
    # the true centre undoes the off-centre axis: as good as a centred scan
    centred = np.stack(
        [iradon(radon(s, theta), theta, filter_name="hann") for s in vol]
    )
    assert _rmse(lazy.compute(), centred) < 0.02
    wrong = reconstruct_volume(proj, theta, filter_name="hann").compute()
    assert _rmse(wrong, vol) > 1.5 * _rmse(lazy.compute(), vol)


def test_reconstruct_volume_bad_options():
    p = np.zeros((10, 2, 16))
    theta = np.linspace(0, 180, 10, endpoint=False)
    with pytest.raises(ValueError, match="outside the detector"):
        reconstruct_volume(p, theta, center=16.0)
    with pytest.raises(TypeError, match="unexpected keyword"):
        reconstruct_volume(p, theta, method="sart")
    with pytest.raises(ValueError, match="Unknown filter"):
        reconstruct_volume(p, theta, filter_name="box")


def test_tiff_projections_in_tiff_volume_out(tmp_path, scan):
    """A TIFF stack opened lazily -> a lazy volume -> streamed to a TIFF."""
    with pytest.warns(RuntimeWarning, match="1 detector pixel"):  # the dead one
        prepared = minus_log(flat_field(scan.projections, scan.flats, scan.darks))
    src = write_tiff(prepared.astype(np.float32), tmp_path / "proj.tif")
    lazy_proj, _ = read_tiff(src)
    assert isinstance(lazy_proj, da.Array)
    vol = reconstruct_volume(lazy_proj, scan.theta, center=scan.center)
    calls = []
    out = write_tiff(vol, tmp_path / "vol.tif", progress=lambda d, t: calls.append(d))
    assert calls == list(range(1, 9))  # one row chunk at a time
    back, _ = read_tiff(out)
    expected = reconstruct_volume(prepared, scan.theta, center=scan.center)
    np.testing.assert_allclose(back.compute(), expected.compute(), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ simulated scan
def test_simulated_scan_is_reproducible_and_realistic(scan):
    again = simulated_scan(rows=8, columns=96, n_angles=120, seed=3)
    np.testing.assert_array_equal(scan.projections, again.projections)
    assert scan.projections.dtype == np.uint16
    assert scan.center == 96 // 2 + 3.37
    assert scan.flats.shape == (10, 8, 96) and scan.darks.shape == (10, 8, 96)
    # the flat has a gradient: brighter on the left
    flat = scan.flats.mean(axis=0)
    assert flat[:, :10].mean() > 1.2 * flat[:, -10:].mean()
    # Poisson noise: variance ~ mean in the open beam
    var = scan.flats[:, 2, 5:15].astype(float).var(axis=0).mean()
    assert 0.5 < var / (flat[2, 5:15] - scan.dark_current[2, 5:15]).mean() < 2.0


def test_simulated_scan_pipeline_matches_perfect_flats_and_centre(scan):
    """Flat/dark, zingers, log, rings, centre, FBP: as good as the ideal route."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the dead pixel
        prepared = remove_rings(
            minus_log(
                remove_outliers(flat_field(scan.projections, scan.flats, scan.darks))
            )
        )
    center = find_center(prepared[:, 4, :].T, scan.theta)
    assert abs(center - scan.center) < 0.25
    ours = reconstruct_volume(prepared, scan.theta, center=center).compute()
    # the same noisy counts, perfect flat and dark, the true centre
    ideal = (scan.projections - scan.dark_current) / np.where(
        scan.beam > 0, scan.beam, 1.0
    )
    ideal = minus_log(remove_outliers(np.clip(ideal, 1e-6, None)))
    reference = reconstruct_volume(ideal, scan.theta, center=scan.center).compute()
    assert _rmse(ours, scan.volume) < 1.1 * _rmse(reference, scan.volume)
