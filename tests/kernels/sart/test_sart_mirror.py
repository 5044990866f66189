"""Mirrored SART rays: ray ``2c - r`` through the weights of ray ``r``.

Without projection shifts, ray ``2c - r`` (``c = n // 2``) passes through
the points of ray ``r`` reflected about the rotation centre, in reverse
order (``sart.geometry._mirror_map``). The kernels form the mirror's ray sum in
the same pass as the original's (``_ray_dot_pair``) and scatter both
updates in one pass over the original's weights (``_scatter_pair``). These
tests compare both with the mirror ray computed afresh from its own
geometry (equal up to rounding: the sample positions are computed
differently), and the vector code with the scalar code (equal exactly).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from napari_backproject.kernels.sart import geometry, raysums, reference, scatter


def _ray(n, stride, theta, r, dtype):
    """``(ns, scratch, interior, mirror_ok)`` of ray ``r`` (no shift)."""
    proto = dtype(0)
    ns, ds, dx, dy, x0, y0, c = geometry._ray_setup(
        n, geometry._trig(theta), dtype(r), proto
    )
    s = geometry.new_scratch(n)
    if ns <= 0:
        return ns, s, False, False
    geometry._sample_weights(0, ns + 1, ds, dx, dy, x0, y0, c, stride, proto, s)
    interior, mirror_ok = geometry._interior(n, ns, dx, dy, x0, y0, c, proto)
    return ns, s, interior, mirror_ok


def _corners(s, ns, stride):
    """Flat indices and weights of every (sample, corner), float64."""
    idx = s[0][: ns + 1].astype(np.int64)
    offs = (0, 1, stride, stride + 1)
    return [(idx + offs[c], s[c + 1][: ns + 1]) for c in range(4)]


def _pair(n, theta, r, dtype):
    """Ray ``r`` and its mirror computed afresh, when both are interior."""
    stride = n + 5
    ns, s, _, mirror_ok = _ray(n, stride, theta, r, dtype)
    m = 2 * (n // 2) - r
    if ns <= 0 or not mirror_ok or m >= n:
        return None
    ns_m, s_m, interior_m, _ = _ray(n, stride, theta, m, dtype)
    assert ns_m == ns  # same |t|: same number of steps
    assert interior_m
    return stride, ns, s, s_m


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [31, 32, 64])
def test_mirror_sum_equals_the_mirror_ray_computed_afresh(n, dtype):
    rng = np.random.default_rng(n)
    seen = 0
    for theta in np.linspace(0.0, np.pi, 11, endpoint=False):
        for r in range(n // 2 + 1):
            got = _pair(n, theta, r, dtype)
            if got is None:
                continue
            stride, ns, s, s_m = got
            flat = rng.random((n + 1) * stride).astype(dtype)
            proto = dtype(0)
            km = geometry._mirror_map(n, stride)
            rs, wn, rs_m = raysums._ray_dot_pair(flat, stride, ns + 1, s, proto, km)
            # the original's sums: exactly those of the single-ray kernel
            assert (rs, wn) == raysums._ray_dot(flat, stride, ns + 1, s, proto)
            ref = sum(
                float((w * flat[i].astype(np.float64)).sum())
                for i, w in _corners(s_m, ns, stride)
            )
            tol = 1e-12 if dtype == np.float64 else 1e-4
            assert abs(rs_m - ref) <= tol * abs(ref), (theta, r)
            seen += 1
    assert seen > n * 4


def _scatter_pair(n, theta, r, dtype, deviation):
    """Both updates scattered together (vector and scalar) and afresh."""
    got = _pair(n, theta, r, dtype)
    if got is None:
        return None
    stride, ns, s, s_m = got
    proto = dtype(0)
    windows = geometry.hamming_windows(n, proto)
    km = geometry._mirror_map(n, stride)
    win = geometry._window(windows, ns, False, proto)
    rev = geometry._window(windows, ns, True, proto)
    dev_m = -0.7 * deviation
    vec = np.zeros((n + 1) * stride, dtype=dtype)
    ref = vec.copy()
    args = (stride, ns + 1, deviation, win, dev_m, rev, s, km)
    scatter._scatter_pair(vec, *args)
    reference._scatter_pair_scalar(ref, *args)
    # the two rays' own updates, brute force in float64
    fresh = np.zeros((n + 1) * stride)
    for weights, dev in ((s, deviation), (s_m, dev_m)):
        for i, w in _corners(weights, ns, stride):
            np.add.at(fresh, i, dev * win * w)
    return vec, ref, fresh


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_mirror_scatter_equals_the_mirror_ray_computed_afresh(dtype):
    n = 40
    for k, theta in enumerate(np.linspace(0.0, np.pi, 9, endpoint=False)):
        for r in (3, 9, 14, 19):
            got = _scatter_pair(n, theta, r, dtype, 0.3 + k)
            assert got is not None
            vec, ref, fresh = got
            np.testing.assert_array_equal(vec, ref)  # vector == scalar
            tol = 1e-12 if dtype == np.float64 else 1e-5
            np.testing.assert_allclose(
                vec, fresh, rtol=0, atol=tol * np.abs(fresh).max()
            )


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(8, 90),
    theta=st.floats(0.0, 2 * np.pi),
    frac=st.floats(0.0, 1.0),
    deviation=st.floats(-3.0, 3.0).filter(lambda d: abs(d) > 1e-3),
)
def test_mirror_for_any_ray(n, theta, frac, deviation):
    r = int(frac * (n // 2))
    got = _pair(n, theta, r, np.float64)
    if got is None:  # no samples, or too close to the border to mirror
        return
    stride, ns, s, s_m = got
    flat = np.random.default_rng(n).random((n + 1) * stride)
    km = geometry._mirror_map(n, stride)
    _, _, rs_m = raysums._ray_dot_pair(flat, stride, ns + 1, s, 0.0, km)
    ref = sum(float((w * flat[i]).sum()) for i, w in _corners(s_m, ns, stride))
    assert abs(rs_m - ref) <= 1e-12 * abs(ref)
    vec, ref, fresh = _scatter_pair(n, theta, r, np.float64, deviation)
    np.testing.assert_array_equal(vec, ref)
    np.testing.assert_allclose(vec, fresh, rtol=0, atol=1e-12 * np.abs(fresh).max())
