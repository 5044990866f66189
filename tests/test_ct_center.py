"""Rotation centre: sub-pixel shifts, find_center, center_sweep."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.ndimage import shift as spline_shift

from napari_backproject._ct.center import (
    center_sweep,
    check_center,
    find_center,
    from_centered,
    shift_detector,
    to_centered,
)
from napari_backproject.data import phantom_stack
from napari_backproject.tomography import iradon, radon

THETA = np.linspace(0, 180, 180, endpoint=False)


@pytest.fixture(scope="module")
def row_sinogram():
    """A centred sinogram of one phantom row (axis at 64 of 128)."""
    vol = phantom_stack((16, 128, 128))
    return vol[8].astype(np.float64), radon(vol[8].astype(np.float64), THETA)


def _gaussian(x, mu, sigma=3.0):
    return np.exp(-0.5 * ((x - mu) / sigma) ** 2)


@settings(max_examples=30, deadline=None)
@given(st.floats(-10, 10))
def test_shift_detector_moves_a_gaussian(shift):
    x = np.arange(64.0)
    out = shift_detector(_gaussian(x, 30.0)[:, None], shift)[:, 0]
    np.testing.assert_allclose(out, _gaussian(x, 30.0 + shift), atol=2e-4)


def test_shift_detector_integer_is_exact_and_keeps_dtype():
    a = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
    out = shift_detector(a, 2.0)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[2:], a[:-2])
    np.testing.assert_array_equal(out[:2], np.repeat(a[:1], 2, axis=0))  # edges


def test_to_and_from_centered_round_trip():
    x = np.arange(50.0)
    sino = np.stack([_gaussian(x, 20 + k) for k in range(5)], axis=1)
    back = to_centered(from_centered(sino, 27.3), 27.3)
    np.testing.assert_allclose(back, sino, atol=1e-6)
    assert to_centered(sino, None) is sino


@pytest.mark.parametrize("center", [-0.5, 50.0, np.nan, "middle"])
def test_center_outside_the_detector_is_an_error(center):
    with pytest.raises(ValueError, match="center"):
        check_center(center, 50)
    with pytest.raises(ValueError, match="center"):
        to_centered(np.zeros((50, 4)), center)


@pytest.mark.parametrize("true_center", [56.7, 64.0, 66.37, 69.81])
def test_find_center_sub_pixel_on_a_noisy_phantom(row_sinogram, true_center):
    _, sino = row_sinogram
    # an independent shift (cubic spline) puts the axis off centre
    off = spline_shift(sino, (true_center - 64, 0), order=3, mode="constant")
    off += np.random.default_rng(1).normal(0, 0.02 * off.max(), off.shape)
    assert abs(find_center(off, THETA) - true_center) < 0.25


def test_find_center_ignores_the_repeated_180_degree_projection(row_sinogram):
    _, sino = row_sinogram
    theta = np.linspace(0, 180, 181)  # 0..180 inclusive, as many scanners save
    full = radon(phantom_stack((16, 128, 128))[8].astype(float), theta)
    off = from_centered(full, 61.6)
    assert abs(find_center(off, theta) - 61.6) < 0.25
    # angle order does not matter
    order = np.random.default_rng(2).permutation(181)
    assert abs(find_center(off[:, order], theta[order]) - 61.6) < 0.25


def test_find_center_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        find_center(np.zeros(10))
    with pytest.raises(ValueError, match="theta has 3 angles"):
        find_center(np.zeros((16, 10)), [0, 1, 2])
    with pytest.raises(ValueError, match="half a turn"):
        find_center(np.zeros((16, 10)), np.linspace(0, 90, 10))
    with pytest.raises(ValueError, match="outside the detector"):
        find_center(np.zeros((16, 10)), search=(2, 40))


def test_center_sweep_matches_iradon_and_the_true_centre_is_best(row_sinogram):
    img, sino = row_sinogram
    off = from_centered(sino, 66.5)
    centers = np.arange(63.0, 70.01, 0.5)
    calls = []
    sweep = center_sweep(
        off, THETA, centers, filter_name="hann", progress=lambda d, t: calls.append(d)
    )
    assert sweep.images.shape == (len(centers), 128, 128)
    np.testing.assert_array_equal(sweep.centers, centers)
    np.testing.assert_allclose(
        sweep.images[3], iradon(to_centered(off, 64.5), THETA, filter_name="hann")
    )
    errors = [np.sqrt(((im - img) ** 2).mean()) for im in sweep.images]
    assert centers[int(np.argmin(errors))] == 66.5
    assert calls == list(range(1, len(centers) + 1))


def test_center_sweep_default_centres_surround_find_center(row_sinogram):
    _, sino = row_sinogram
    off = from_centered(sino, 60.25)
    sweep = center_sweep(off, THETA)
    assert len(sweep.centers) == 21
    assert abs(sweep.centers[10] - 60.25) < 0.25
    with pytest.raises(ValueError, match="empty"):
        center_sweep(off, THETA, [])


# ------------------------------------------------------------------ center= keyword
@pytest.fixture(scope="module")
def padded_phantom():
    """A phantom well inside the detector, so an off-centre axis truncates nothing."""
    return np.pad(phantom_stack((5, 48, 48))[2].astype(np.float64), 8)


def test_center_default_is_scikit_image_behaviour(padded_phantom):
    th = np.linspace(0, 180, 60, endpoint=False)
    sino = radon(padded_phantom, th)
    np.testing.assert_array_equal(radon(padded_phantom, th, center=32), sino)
    np.testing.assert_array_equal(iradon(sino, th, center=32.0), iradon(sino, th))


def test_radon_center_puts_the_axis_there(padded_phantom):
    th = np.linspace(0, 180, 60, endpoint=False)
    off = radon(padded_phantom, th, center=35.25)
    np.testing.assert_allclose(off, from_centered(radon(padded_phantom, th), 35.25))
    # the centre of mass of every projection is the axis (the phantom's own
    # centre of mass projects to a sinusoid around it): compare with centred
    t = np.arange(64.0)
    mass_off = (t[:, None] * off).sum(0) / off.sum(0)
    sino = radon(padded_phantom, th)
    mass = (t[:, None] * sino).sum(0) / sino.sum(0)
    np.testing.assert_allclose(mass_off - mass, 3.25, atol=0.01)


@pytest.mark.parametrize("center", [29.6, 35.4])
def test_off_centre_reconstruction_with_true_centre_matches(padded_phantom, center):
    from napari_backproject.tomography import iradon_sart, iradon_sart_iter

    th = np.linspace(0, 180, 90, endpoint=False)
    # simulated off-centre axis, shifted independently (cubic spline)
    sino = radon(padded_phantom, th)
    off = spline_shift(sino, (center - 32, 0), order=3, mode="constant")
    ref_fbp = iradon(sino, th)
    fbp = iradon(off, th, center=center)
    err = np.sqrt(((fbp - ref_fbp) ** 2).mean())
    assert err < 0.02
    # half a pixel off is already 3 times worse, the default centre 9 times
    assert (
        np.sqrt(((iradon(off, th, center=center + 0.5) - ref_fbp) ** 2).mean())
        > 3 * err
    )
    assert np.sqrt(((iradon(off, th) - ref_fbp) ** 2).mean()) > 8 * err
    ref_sart = iradon_sart(sino, th)
    sart = iradon_sart(off, th, center=center)
    assert np.sqrt(((sart - ref_sart) ** 2).mean()) < 0.02
    (last,) = iradon_sart_iter(off, th, n_iter=1, center=center)
    np.testing.assert_array_equal(last, sart)


def test_stacks_take_center(padded_phantom):
    from napari_backproject.tomography import iradon_stack, radon_stack

    th = np.linspace(0, 180, 45, endpoint=False)
    vol = np.stack([padded_phantom, padded_phantom[::-1]])
    sinos = radon_stack(vol, th, center=33.5)
    np.testing.assert_allclose(sinos[1].compute(), radon(vol[1], th, center=33.5))
    rec = iradon_stack(sinos, th, center=33.5).compute()
    np.testing.assert_allclose(rec[0], iradon(sinos[0].compute(), th, center=33.5))
    sart = iradon_stack(sinos, th, method="sart", center=33.5).compute()
    assert sart.shape == (2, 64, 64)


def test_center_outside_the_detector_everywhere(padded_phantom):
    from napari_backproject.tomography import (
        iradon_sart,
        iradon_stack,
        radon_stack,
    )

    th = np.linspace(0, 180, 10, endpoint=False)
    sino = radon(padded_phantom, th)
    for call in (
        lambda: radon(padded_phantom, th, center=64.0),
        lambda: iradon(sino, th, center=-1),
        lambda: iradon_sart(sino, th, center=100),
        lambda: radon_stack(padded_phantom[None], th, center=70),
        lambda: iradon_stack(sino[None], th, center=64),
    ):
        with pytest.raises(ValueError, match=r"outside the detector.*\[0, 63\]"):
            call()


_PHANTOM_ROW = None


def _phantom_row_sinogram():
    global _PHANTOM_ROW
    if _PHANTOM_ROW is None:
        img = np.pad(phantom_stack((8, 96, 96))[3].astype(np.float64), 16)
        _PHANTOM_ROW = radon(img, THETA)  # 128 detector pixels, axis at 64
    return _PHANTOM_ROW


@settings(max_examples=15, deadline=None)
@given(st.floats(-12.0, 12.0), st.integers(0, 2**16))
def test_find_center_property_any_offset(offset, seed):
    sino = _phantom_row_sinogram()
    off = spline_shift(sino, (offset, 0), order=3, mode="constant")
    rng = np.random.default_rng(seed)
    off += rng.normal(0, 0.01 * off.max(), off.shape)
    assert abs(find_center(off, THETA) - (64 + offset)) < 0.25
