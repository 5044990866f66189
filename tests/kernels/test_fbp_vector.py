"""The eight-pixel FBP back projection (kernels/llvm/simd.py) against the scalar loop.

Both do the same operations in the same order, so they agree to rounding:
exactly on the CPU the kernels were tuned on, and within a few units in the
last place where the compiler schedules or fuses the two loops' floating
point differently for the target CPU (compiled with
``NUMBA_CPU_NAME=generic`` they differ by up to 3e-14 on values of order 5).
Checked for both output dtypes, odd and even sizes, rows shorter than eight
pixels and angle counts that are not a multiple of four.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from napari_backproject.kernels.fbp import (
    LINEAR,
    backproject,
    backproject_serial,
    linear_table,
)


def _problem(size, n_angles, n_det, seed=0):
    rng = np.random.default_rng(seed)
    filtered = rng.standard_normal((n_angles, n_det))
    theta = np.deg2rad(rng.uniform(0.0, 360.0, n_angles))
    return linear_table(filtered), np.cos(theta), np.sin(theta)


def _assert_same(vector, scalar):
    """Equal up to a few ulps of the output's scale (any target CPU)."""
    eps = np.finfo(scalar.dtype).eps
    scale = max(float(np.abs(scalar).max()), 1.0)
    np.testing.assert_allclose(vector, scalar, rtol=0, atol=256 * eps * scale)


def _both(size, n_angles, n_det, circle, dtype, seed=0, parallel=False):
    table, cos_a, sin_a = _problem(size, n_angles, n_det, seed)
    run = backproject if parallel else backproject_serial
    out = []
    for vector in (False, True):
        o = np.zeros((size, size), dtype=dtype)
        run(LINEAR, table, cos_a, sin_a, n_det, size // 2, circle, o, vector)
        out.append(o)
    return out


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("size", [37, 64])
@pytest.mark.parametrize("circle", [True, False])
def test_vector_rows_equal_scalar_rows(dtype, size, circle):
    # a detector wider than the image's diagonal: every row is a fast row
    scalar, vector = _both(size, 19, 2 * size + 3, circle, dtype)
    assert np.abs(scalar).max() > 0
    _assert_same(vector, scalar)


def test_vector_threads_equal_scalar():
    scalar, vector = _both(96, 24, 140, True, np.float64, parallel=True)
    _assert_same(vector, scalar)


@settings(max_examples=25, deadline=None)
@given(
    size=st.integers(1, 40),
    n_angles=st.integers(1, 9),
    extra=st.integers(-6, 30),
    circle=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_vector_equals_scalar_for_any_geometry(size, n_angles, extra, circle, seed):
    """Narrow detectors (checked rows), tiny images, odd angle counts."""
    n_det = max(1, size + extra)
    scalar, vector = _both(size, n_angles, n_det, circle, np.float64, seed)
    _assert_same(vector, scalar)


def test_linear_table_matches_np_interp():
    rng = np.random.default_rng(1)
    f = rng.standard_normal((3, 11))
    table = linear_table(f)
    m = table.shape[1] // 2
    pad = (m - 11) // 2
    x = np.arange(11) - 5
    t = rng.uniform(-5, 5, 50)
    k = np.floor(t).astype(int) + 5
    w = t - np.floor(t)
    for a in range(3):
        values = table[a, pad : pad + 11]
        slopes = table[a, m + pad : m + pad + 11]
        got = slopes[k] * w + values[k]
        np.testing.assert_allclose(got, np.interp(t, x, f[a]), rtol=1e-12, atol=1e-12)
        assert not table[a, :pad].any() and not table[a, m - pad : m + pad].any()


_PORTABLE_SCRIPT = """
import numpy as np
from napari_backproject.kernels.llvm import simd as _simd
from napari_backproject.kernels.fbp import LINEAR, backproject_serial, linear_table
rng = np.random.default_rng(3)
f = rng.standard_normal((7, 70))
th = rng.uniform(0, 6.3, 7)
out = []
for vector in (False, True):
    o = np.zeros((41, 41), dtype=np.float32)
    backproject_serial(
        LINEAR, linear_table(f), np.cos(th), np.sin(th), 70, 20, True, o, vector
    )
    out.append(o)
print("PERMUTE", _simd.HAVE_PERMUTE, "EQUAL", bool((out[0] == out[1]).all()))
"""


def test_portable_vector_code_without_avx512(run_fresh_numba):
    """On a CPU without AVX-512 the same IR compiles to portable permutes."""
    out = run_fresh_numba(_PORTABLE_SCRIPT, NUMBA_CPU_NAME="generic")
    assert "PERMUTE False EQUAL True" in out, out
