"""The SART scatter in vector registers (``sart.scatter._scatter_blocks``).

:func:`_scatter` runs blocks of four samples through LLVM vector IR and the
rest through a scalar loop; :func:`_scatter_scalar` is the plain scalar
loop. Both do the same operations in the same order, so they must agree
exactly, for both update dtypes, any ray geometry and any sample count
(fewer than four, not a multiple of four, a whole ray).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from napari_backproject.kernels.sart import geometry, reference, scatter


def _scatter_both(n, theta, ray, count, dtype, deviation, seed):
    """Weights of one ray, scattered by both kernels into equal buffers."""
    stride = n + 3
    proto = dtype(0)
    ns, ds, dx, dy, x0, y0, c = geometry._ray_setup(
        n, geometry._trig(theta), ray, proto
    )
    if ns <= 0:
        return None
    count = min(count, ns + 1)
    s = geometry.new_scratch(n)
    geometry._sample_weights(0, count, ds, dx, dy, x0, y0, c, stride, proto, s)
    win = geometry.hamming_windows(n, proto)[(ns // 2) ** 2 :][: ns + 1]
    rng = np.random.default_rng(seed)
    # the update buffer with a spare row: samples touch the row below theirs
    before = rng.standard_normal((n + 1) * stride).astype(dtype)
    vec = before.copy()
    ref = before.copy()
    scatter._scatter(vec, stride, count, deviation, win, s)
    reference._scatter_scalar(ref, stride, count, deviation, win, s)
    return vec, ref, before


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("count", [1, 2, 3, 4, 5, 7, 8, 9, 10_000])
def test_vector_scatter_equals_scalar_exactly(dtype, count):
    n = 48
    for k, theta in enumerate(np.linspace(0.0, np.pi, 13)):
        got = _scatter_both(n, theta, 17.3 + k, count, dtype, 0.37, k)
        assert got is not None
        vec, ref, before = got
        np.testing.assert_array_equal(vec, ref)
        assert np.any(vec != before)  # something was added


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(8, 80),
    theta=st.floats(0.0, 2 * np.pi),
    frac=st.floats(0.05, 0.95),
    count=st.integers(1, 200),
    float32=st.booleans(),
    deviation=st.floats(-3.0, 3.0),
)
def test_vector_scatter_equals_scalar_for_any_ray(
    n, theta, frac, count, float32, deviation
):
    dtype = np.float32 if float32 else np.float64
    got = _scatter_both(n, theta, frac * (n - 1), count, dtype, deviation, count)
    if got is None:  # a ray outside the reconstruction circle has no samples
        return
    vec, ref, _ = got
    np.testing.assert_array_equal(vec, ref)


_PORTABLE_SCRIPT = """
import numpy as np
from napari_backproject.kernels.sart import geometry, reference, scatter
n, stride = 40, 43
same = []
for dtype in (np.float64, np.float32):
    proto = dtype(0)
    win = geometry.hamming_windows(n, proto)
    for theta in (0.1, 0.9, 2.0):
        ns, ds, dx, dy, x0, y0, c = geometry._ray_setup(n, geometry._trig(theta), 13.2, proto)
        s = geometry.new_scratch(n)
        geometry._sample_weights(0, ns + 1, ds, dx, dy, x0, y0, c, stride, proto, s)
        w = win[(ns // 2) ** 2 :][: ns + 1]
        a = np.zeros((n + 1) * stride, dtype=dtype)
        b = a.copy()
        scatter._scatter(a, stride, ns + 1, 0.5, w, s)
        reference._scatter_scalar(b, stride, ns + 1, 0.5, w, s)
        same.append(bool((a == b).all()) and bool(a.any()))
print("EQUAL", all(same))
"""


def test_vector_scatter_on_a_cpu_without_avx(run_fresh_numba):
    """The vector IR is generic: it compiles and agrees on any CPU."""
    out = run_fresh_numba(_PORTABLE_SCRIPT, NUMBA_CPU_NAME="generic")
    assert "EQUAL True" in out, out
