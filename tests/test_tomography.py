"""radon / iradon / iradon_sart against scikit-image itself (drop-in parity)."""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import skimage.transform as sk
from hypothesis import given, settings
from hypothesis import strategies as st

import napari_backproject as nb
from napari_backproject.tomography import iradon, iradon_sart, radon

FILTERS = ["ramp", "shepp-logan", "cosine", "hamming", "hann", None]
INTERPOLATIONS = ["linear", "nearest", "cubic"]


def _disk_image(shape, seed=0, dtype=np.float64):
    """Random image that is zero outside the inscribed circle (per skimage)."""
    rng = np.random.default_rng(seed)
    img = rng.random(shape)
    radius = min(shape) // 2
    rr = (np.arange(shape[0]) - shape[0] // 2) ** 2
    cc = (np.arange(shape[1]) - shape[1] // 2) ** 2
    img[(rr[:, None] + cc[None, :]) > radius**2] = 0
    return img.astype(dtype)


def _close(ours, ref, dtype):
    assert ours.shape == ref.shape
    assert ours.dtype == ref.dtype
    scale = max(float(np.abs(ref).max()), 1e-12)
    tol = 1e-9 if np.dtype(dtype) == np.float64 else 2e-5
    err = float(np.abs(ours.astype(np.float64) - ref).max()) / scale
    assert err < tol, f"relative error {err:.3g} >= {tol}"


# ---------------------------------------------------------------- radon
@pytest.mark.parametrize("shape", [(31, 31), (32, 32), (31, 40), (40, 33)])
@pytest.mark.parametrize("circle", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_radon_matches_skimage(shape, circle, dtype):
    img = (
        _disk_image(shape, dtype=dtype)
        if circle
        else _disk_image(shape, 1, dtype) + 0.5
    )
    img = img.astype(dtype)
    theta = np.linspace(0, 180, 23, endpoint=False)
    ref = sk.radon(img, theta, circle=circle)
    _close(radon(img, theta, circle=circle), ref, dtype)


@pytest.mark.parametrize("preserve_range", [True, False])
def test_radon_integer_input_and_default_theta(preserve_range):
    img = (_disk_image((32, 32)) * 200).astype(np.uint8)
    ref = sk.radon(img, preserve_range=preserve_range)
    ours = radon(img, preserve_range=preserve_range)
    assert ours.shape == (32, 180)
    _close(ours, ref, np.float64)


def test_radon_odd_angles_and_negative_theta():
    img = _disk_image((33, 33))
    theta = np.array([-30.0, 0.5, 17.3, 90.0, 181.0, 359.9])
    _close(radon(img, theta), sk.radon(img, theta), np.float64)


def test_radon_warns_outside_circle_like_skimage():
    img = np.ones((16, 16))
    with pytest.warns(UserWarning, match="zero outside the reconstruction circle"):
        ours = radon(img, np.arange(0, 180, 30))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sk.radon(img, np.arange(0, 180, 30))
    _close(ours, ref, np.float64)


def test_radon_float16_becomes_float32():
    img = _disk_image((20, 20)).astype(np.float16)
    out = radon(img, np.arange(0, 180, 45))
    assert out.dtype == sk.radon(img, np.arange(0, 180, 45)).dtype == np.float32


def test_radon_zero_image():
    out = radon(np.zeros((16, 16)), [0.0, 45.0])
    assert out.shape == (16, 2)
    assert not out.any()


# ---------------------------------------------------------------- iradon
@pytest.mark.parametrize("n", [31, 32])
@pytest.mark.parametrize("filter_name", FILTERS)
@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize("circle", [True, False])
def test_iradon_matches_skimage(n, filter_name, interpolation, circle):
    rng = np.random.default_rng(n)
    sino = rng.random((n, 21))
    theta = np.sort(rng.uniform(0, 180, 21))
    kw = dict(filter_name=filter_name, interpolation=interpolation, circle=circle)
    _close(iradon(sino, theta, **kw), sk.iradon(sino, theta, **kw), np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.uint16])
@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_iradon_dtypes(dtype, interpolation):
    rng = np.random.default_rng(1)
    sino = (rng.random((32, 16)) * 100).astype(dtype)
    ref = sk.iradon(sino, interpolation=interpolation)
    ours = iradon(sino, interpolation=interpolation)
    _close(ours, ref, np.float64 if ref.dtype == np.float64 else np.float32)


@pytest.mark.parametrize("output_size", [20, 33, 64])
@pytest.mark.parametrize("circle", [True, False])
def test_iradon_output_size(output_size, circle):
    sino = sk.radon(_disk_image((32, 32)), np.arange(0, 180, 6), circle=circle)
    kw = dict(output_size=output_size, circle=circle)
    _close(
        iradon(sino, np.arange(0, 180, 6), **kw),
        sk.iradon(sino, np.arange(0, 180, 6), **kw),
        np.float64,
    )


def test_iradon_preserve_range_false():
    sino = (np.random.default_rng(2).random((32, 10)) * 255).astype(np.uint8)
    kw = dict(preserve_range=False)
    _close(iradon(sino, **kw), sk.iradon(sino, **kw), np.float64)


def test_roundtrip_reconstructs_phantom():
    img = _disk_image((48, 48))
    img[:] = 0
    img[18:30, 14:34] = 1.0
    theta = np.linspace(0, 180, 96, endpoint=False)
    rec = iradon(radon(img, theta), theta)
    assert np.sqrt(np.mean((rec - img) ** 2)) < 0.1


# ---------------------------------------------------------------- SART
@pytest.mark.parametrize("n", [31, 32])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_iradon_sart_matches_skimage(n, dtype):
    theta = np.linspace(0, 180, 24, endpoint=False)
    sino = sk.radon(_disk_image((n, n), 3), theta).astype(dtype)
    ref = sk.iradon_sart(sino, theta)
    ours = iradon_sart(sino, theta)
    _close(ours, ref, dtype)
    # second iteration from the first estimate, with every option
    shifts = np.linspace(-0.7, 0.4, 24)
    kw = dict(projection_shifts=shifts, clip=(0.0, 0.6), relaxation=0.25)
    ref2 = sk.iradon_sart(sino, theta, image=ref.copy(), **kw)
    ours2 = iradon_sart(sino, theta, image=ours.copy(), **kw)
    _close(ours2, ref2, dtype)


def test_iradon_sart_dtype_argument_and_default_theta():
    sino = sk.radon(_disk_image((32, 32)), np.linspace(0, 180, 16, endpoint=False))
    ref = sk.iradon_sart(sino, dtype=np.float32)
    ours = iradon_sart(sino, dtype=np.float32)
    _close(ours, ref, np.float32)


def test_iradon_sart_integer_input_warns():
    sino = (np.random.default_rng(0).random((24, 12)) * 50).astype(np.int32)
    with pytest.warns(UserWarning, match="Only floating point data type"):
        ours = iradon_sart(sino)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sk.iradon_sart(sino)
    _close(ours, ref, np.float64)


def test_iradon_sart_image_dtype_mismatch_warns_and_does_not_modify_input():
    sino = np.random.default_rng(0).random((24, 12)).astype(np.float32)
    init = np.full((24, 24), 0.1, dtype=np.float64)
    before = init.copy()
    with pytest.warns(UserWarning, match="image dtype does not match"):
        out = iradon_sart(sino, image=init)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(init, before)


def test_iradon_sart_iter_equals_repeated_calls_and_reports_progress():
    theta = np.linspace(0, 180, 20, endpoint=False)
    sino = radon(_disk_image((32, 32), 5), theta)
    calls = []
    estimates = list(
        nb.tomography.iradon_sart_iter(
            sino, theta, n_iter=3, progress=lambda d, t: calls.append((d, t))
        )
    )
    assert len(estimates) == 3
    est = None
    for k in range(3):
        est = iradon_sart(sino, theta, image=est)
        np.testing.assert_allclose(estimates[k], est, rtol=0, atol=1e-12)
    assert calls[-1] == (60, 60)
    assert all(t == 60 for _, t in calls)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_iradon_sart_can_be_cancelled():
    """``Cancelled`` is public: raised from ``progress`` it stops the call."""
    from napari_backproject import Cancelled, _progress

    assert Cancelled is _progress.Cancelled and "Cancelled" in nb.__all__

    def cancel(done, total):
        raise Cancelled

    sino = radon(_disk_image((32, 32)), np.arange(0, 180, 5))
    with pytest.raises(Cancelled):
        iradon_sart(sino, np.arange(0, 180, 5), progress=cancel)


# ---------------------------------------------------------------- errors
def test_errors_match_skimage_messages():
    with pytest.raises(ValueError, match="The input image must be 2-D"):
        radon(np.zeros((4, 4, 4)))
    with pytest.raises(ValueError, match="The input image must be 2-D"):
        iradon(np.zeros(8))
    with pytest.raises(ValueError, match="radon_image must be two dimensional"):
        iradon_sart(np.zeros((2, 8, 8)))
    with pytest.raises(ValueError, match="does not match the number of projections"):
        iradon(np.zeros((16, 10)), theta=np.arange(9))
    with pytest.raises(ValueError, match=r"Shape of theta \(9\) does not match"):
        iradon_sart(np.zeros((16, 10)), theta=np.arange(9))
    with pytest.raises(ValueError, match="Unknown interpolation: quadratic"):
        iradon(np.zeros((16, 4)), interpolation="quadratic")
    with pytest.raises(ValueError, match="Unknown filter: ramp2"):
        iradon(np.zeros((16, 4)), filter_name="ramp2")
    with pytest.raises(ValueError, match="Only floating point data type"):
        iradon_sart(np.zeros((16, 4)), dtype=np.int16)
    with pytest.raises(ValueError, match="clip must be a length-2 sequence"):
        iradon_sart(np.zeros((16, 4)), clip=(0, 1, 2))
    with pytest.raises(ValueError, match=r"Shape of image \(\(8, 8\)\) does not match"):
        iradon_sart(np.zeros((16, 4)), image=np.zeros((8, 8)))
    with pytest.raises(ValueError, match="Shape of projection_shifts"):
        iradon_sart(np.zeros((16, 4)), projection_shifts=np.zeros(3))


def test_errors_beyond_skimage():
    with pytest.raises(ValueError, match="theta is empty"):
        radon(np.zeros((8, 8)), theta=[])
    with pytest.raises(ValueError, match="radon_image is empty"):
        iradon(np.zeros((8, 0)), theta=[])
    with pytest.raises(ValueError, match="theta is empty"):
        nb.radon_stack(np.zeros((2, 8, 8)), theta=[])
    with pytest.raises(ValueError, match="NaN or infinite"):
        radon(np.full((8, 8), np.nan))
    with pytest.raises(ValueError, match="NaN or infinite"):
        iradon(np.full((8, 4), np.inf))
    with pytest.raises(ValueError, match="NaN or infinite"):
        iradon_sart(np.full((8, 4), np.nan))
    with pytest.raises(ValueError, match="NaN or infinite angles"):
        radon(np.zeros((8, 8)), theta=[0.0, np.nan])
    with pytest.raises(ValueError, match="output_size must be a positive integer"):
        iradon(np.zeros((8, 4)), output_size=0)
    with pytest.raises(ValueError, match="output_size must be a positive integer"):
        iradon(np.zeros((8, 4)), output_size=-3)
    with pytest.raises(TypeError, match="output_size must be a positive integer"):
        iradon(np.zeros((8, 4)), output_size=2.5)
    with pytest.raises(ValueError, match="theta must be a 1-D"):
        radon(np.zeros((8, 8)), theta=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="is empty"):
        radon(np.zeros((0, 8)))
    with pytest.raises(ValueError, match="n_iter must be an integer >= 1"):
        next(nb.tomography.iradon_sart_iter(np.zeros((8, 4)), n_iter=0))


# ---------------------------------------------------------------- geometry
@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(12, 33),
    theta=st.lists(st.floats(-360, 360, allow_nan=False), min_size=1, max_size=6),
    seed=st.integers(0, 1000),
    circle=st.booleans(),
)
def test_radon_property_matches_skimage(n, theta, seed, circle):
    img = _disk_image((n, n), seed)
    theta = np.array(theta)
    _close(
        radon(img, theta, circle=circle),
        sk.radon(img, theta, circle=circle),
        np.float64,
    )


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(16, 40),
    dr=st.integers(-5, 5),
    dc=st.integers(-5, 5),
    angle=st.floats(0, 180, allow_nan=False),
)
def test_radon_point_lands_where_geometry_says(n, dr, dc, angle):
    """A point at (c + dr, c + dc) projects to detector c + dc*cos - dr*sin."""
    img = np.zeros((n, n))
    center = n // 2
    img[center + dr, center + dc] = 1.0
    proj = radon(img, [angle])[:, 0]
    det = np.arange(proj.size)
    centroid = float((proj * det).sum() / proj.sum())
    a = np.deg2rad(angle)
    expected = center + dc * np.cos(a) - dr * np.sin(a)
    assert abs(centroid - expected) < 0.51
    # bilinear resampling keeps the mass of an interior point roughly
    assert 0.5 < proj.sum() < 1.5
    # and at multiples of 90 degrees exactly
    assert radon(img, [0.0, 90.0]).sum(axis=0) == pytest.approx([1.0, 1.0], abs=1e-12)


# ---------------------------------------------------------------- threads
def test_concurrent_calls_agree_with_serial():
    theta = np.linspace(0, 180, 30, endpoint=False)
    imgs = [_disk_image((32, 32), s) for s in range(6)]
    serial = [
        (
            radon(im, theta),
            iradon(radon(im, theta), theta),
            iradon_sart(radon(im, theta), theta),
        )
        for im in imgs
    ]

    def job(im):
        s = radon(im, theta)
        return s, iradon(s, theta), iradon_sart(s, theta)

    with ThreadPoolExecutor(max_workers=4) as ex:
        results = list(ex.map(job, imgs * 2))
    for k, res in enumerate(results):
        for a, b in zip(res, serial[k % len(imgs)], strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_parallel_and_serial_kernels_agree(interpolation):
    theta = np.linspace(0, 180, 18, endpoint=False)
    img = _disk_image((33, 33), 9)
    s_par = radon(img, theta, parallel=True)
    np.testing.assert_array_equal(s_par, radon(img, theta, parallel=False))
    np.testing.assert_array_equal(
        iradon(s_par, theta, interpolation=interpolation, parallel=True),
        iradon(s_par, theta, interpolation=interpolation, parallel=False),
    )
    a = iradon_sart(s_par, theta, parallel=True)
    b = iradon_sart(s_par, theta, parallel=False)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * np.abs(b).max())


def test_accepts_lists_and_dask_slices():
    import dask.array as da

    img = _disk_image((16, 16), 4)
    theta = [0.0, 30.0, 60.0]
    ref = sk.radon(img, theta)
    _close(radon(img.tolist(), theta), ref, np.float64)
    _close(radon(da.from_array(img, chunks=8), theta), ref, np.float64)
    np.testing.assert_allclose(
        iradon(ref.tolist(), theta), sk.iradon(ref, theta), rtol=0, atol=1e-12
    )


def test_concurrent_threaded_kernels():
    """Threaded (prange) kernels called from several Python threads at once."""
    theta = np.linspace(0, 180, 20, endpoint=False)
    imgs = [_disk_image((40, 40), s) for s in range(4)]
    sinos = [radon(im, theta, parallel=False) for im in imgs]
    recs = [iradon(s, theta, parallel=False) for s in sinos]
    sarts = [iradon_sart(s, theta) for s in sinos]

    def job(k):
        s = radon(imgs[k], theta, parallel=True)
        return (
            s,
            iradon(s, theta, parallel=True),
            iradon_sart(s, theta, parallel=True),
        )

    with ThreadPoolExecutor(max_workers=4) as ex:
        results = list(ex.map(job, [0, 1, 2, 3] * 2))
    for k, (s, r, a) in zip([0, 1, 2, 3] * 2, results, strict=True):
        np.testing.assert_array_equal(s, sinos[k])
        np.testing.assert_array_equal(r, recs[k])
        np.testing.assert_allclose(a, sarts[k], rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "theta",
    [
        np.linspace(0, 180, 512, endpoint=False),
        np.linspace(0, 180, 7, endpoint=False),
        np.array([3.0]),
        np.arange(-90.0, 90.0, 1.0),
        np.linspace(0, 360, 99, endpoint=False)[::-1],
    ],
)
def test_golden_ratio_order_matches_skimage(theta):
    want = list(sk.order_angles_golden_ratio(theta))
    assert list(nb.tomography.order_angles_golden_ratio(theta)) == want
    # float32 angles follow scikit-image's float32 arithmetic (its own code)
    th32 = theta.astype(np.float32)
    got = list(nb.tomography.order_angles_golden_ratio(th32))
    assert got == list(sk.order_angles_golden_ratio(th32))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.floats(-400.0, 400.0, allow_nan=False), min_size=1, max_size=60, unique=True
    )
)
def test_golden_ratio_order_matches_skimage_for_any_angles(angles):
    theta = np.array(angles)
    got = list(nb.tomography.order_angles_golden_ratio(theta))
    assert got == list(sk.order_angles_golden_ratio(theta))
    assert sorted(got) == list(range(len(angles)))
