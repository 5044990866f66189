"""Numba kernels for filtered back projection (``skimage.transform.iradon``).

:func:`backproject` evaluates ``np.interp`` / ``interp1d`` of each filtered
projection at ``t = ypr * cos - xpr * sin`` and accumulates, angle after
angle, in the output dtype, as scikit-image's ``iradon`` does.

Speed (linear interpolation, the default): the pixel ``(-xpr, -ypr)`` sees
``t`` negated, so the rows ``i`` and ``2r - i`` are done together and share
the position arithmetic (``floor(-t) = -floor(t) - 1`` and the fraction is
``1 - w``); four angles are accumulated per read-modify-write of a pixel, in
angle order, so float32 output keeps scikit-image's rounding after every
angle. Rows are handed to the threads cyclically, which balances short rows
near the edge of the circle against long ones through its middle.

The kernels know nothing of napari, dask or files, keep no global state and
are safe to call from several threads at once.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .llvm.cast import like
from .llvm.simd import HAVE_PERMUTE, LANES, PAD, pair8x4

__all__ = [
    "CUBIC",
    "HAVE_PERMUTE",
    "LINEAR",
    "NEAREST",
    "backproject",
    "backproject_serial",
    "linear_table",
]

LINEAR = 0
NEAREST = 1
CUBIC = 2

_TASKS = 64  # work items per parallel call; rows go to them cyclically

_U1 = np.uint64(1)
_U2 = np.uint64(2)


@numba.njit(cache=True, nogil=True, inline="always")
def _row_span(i, radius, size, circle):
    """Columns ``[j0, j1)`` of row ``i`` that are computed."""
    if not circle:
        return 0, size
    xpr = i - radius
    rem = radius * radius - xpr * xpr
    if rem < 0:
        return 0, 0
    h = int(math.floor(math.sqrt(rem)))
    # exact integer bound: largest h with h*h <= rem
    while h * h > rem:
        h -= 1
    while (h + 1) * (h + 1) <= rem:
        h += 1
    j0 = radius - h
    j1 = radius + h + 1
    if j0 < 0:
        j0 = 0
    if j1 > size:
        j1 = size
    return j0, j1


@numba.njit(cache=True, nogil=True)
def _row_generic(kind, table, cos_a, sin_a, n_det, xpr, radius, j0, j1, out_row):
    """Accumulate every angle into ``out_row[j0:j1]``, zero outside the detector."""
    if j1 <= j0:
        return
    half = n_det // 2
    lo = -half
    hi = n_det - 1 - half
    size = out_row.shape[0]
    ks = np.empty(size, dtype=np.uint64)
    fr = np.empty(size, dtype=np.float64)
    for a in range(cos_a.shape[0]):
        c = cos_a[a]
        xs = xpr * sin_a[a]
        # pass 1 (vectorised): detector index and fraction for every pixel;
        # unsigned indices, or LLVM vectorises the stores as slow scatters
        for j in range(j0, j1):
            u = np.uint64(j)
            t = (j - radius) * c - xs
            ft = np.floor(t)
            if t >= lo and t <= hi:
                k = np.int64(ft) + half
                w = t - ft
                if kind == NEAREST:
                    # scipy interp1d 'nearest': ties go to the lower detector
                    if t > ft + 0.5:
                        k += 1
                    if k > n_det - 1:
                        k = n_det - 1
                elif kind == CUBIC:
                    if k > n_det - 2:
                        k = n_det - 2
                    w = t - (k - half)
                ks[u] = np.uint64(k)
                fr[u] = w
            else:
                ks[u] = 0
                fr[u] = -1.0
        # pass 2: gather and accumulate in the dtype of ``out_row``
        tab = table[a]  # 1-D, contiguous
        if kind == LINEAR:
            f, slope = _linear_rows(tab)
            for j in range(j0, j1):
                u = np.uint64(j)
                w = fr[u]
                q = ks[u]
                val = slope[q] * w + f[q]  # np.interp: slope * dx + f[k]
                if w < 0:
                    val = 0.0
                out_row[u] = out_row[u] + val
        elif kind == NEAREST:
            for j in range(j0, j1):
                u = np.uint64(j)
                val = tab[ks[u]]
                if fr[u] < 0:
                    val = 0.0
                out_row[u] = out_row[u] + val
        else:
            for j in range(j0, j1):
                u = np.uint64(j)
                w = fr[u]
                q = np.uint64(4) * ks[u]
                val = ((tab[q] * w + tab[q + _U1]) * w + tab[q + _U2]) * w + tab[
                    q + np.uint64(3)
                ]
                if w < 0:
                    val = 0.0
                out_row[u] = out_row[u] + val


@numba.njit(cache=True, nogil=True)
def linear_table(filtered):
    """The ``LINEAR`` table of :func:`backproject`.

    Row ``a`` holds ``PAD`` zeros, the values ``f[0 .. n_det - 1]`` of
    projection ``a``, ``PAD`` zeros, then the same for the slopes
    ``f[k + 1] - f[k]`` (``np.interp``'s, with ``f[n_det] = 0``: ``t`` at
    the last detector reads ``-f[n-1] * 0 + f[n-1]``). The zeros let the
    eight-wide loads of :mod:`.llvm.simd` stay inside the row.

    Parameters
    ----------
    filtered : (n_angles, n_det) float64 array
        Filtered projections, one per row.

    Returns
    -------
    (n_angles, 2 * (n_det + 2 * PAD)) float64 array

    Examples
    --------
    >>> import numpy as np
    >>> t = linear_table(np.array([[1.0, 3.0]]))
    >>> t.shape, t[0, PAD : PAD + 2].tolist(), t[0, 18 + PAD : 18 + PAD + 2].tolist()
    ((1, 36), [1.0, 3.0], [2.0, -3.0])
    """
    n_a, n_det = filtered.shape
    m = n_det + 2 * PAD
    out = np.zeros((n_a, 2 * m))
    for a in range(n_a):
        f = filtered[a]
        values, slopes = _linear_rows(out[a])
        # unsigned indices: signed ones vectorise as AVX-512 scatters
        for k in range(n_det - 1):
            u = np.uint64(k)
            values[u] = f[u]
            slopes[u] = f[u + _U1] - f[u]
        if n_det > 0:
            u = np.uint64(n_det - 1)
            values[u] = f[u]
            slopes[u] = -f[u]
    return out


@numba.njit(cache=True, nogil=True, inline="always")
def _linear_rows(tab):
    """Values and slopes of one row of a linear table, indexed by bin."""
    m = tab.shape[0] // 2
    return tab[PAD:m], tab[m + PAD :]


@numba.njit(cache=True, nogil=True, inline="always")
def _pair_values(f, slope, t, half, kmir):
    """``np.interp`` of one projection at ``t`` and at ``-t``.

    ``floor(-t) = -floor(t) - 1`` with fraction ``1 - w`` (an integer ``t``
    reads ``f[-t - 1] + 1 * slope``, the same value to rounding).
    """
    ft = np.floor(t)
    k = np.int64(ft) + half
    q = np.uint64(k)
    qm = np.uint64(kmir - k)
    w = t - ft
    return slope[q] * w + f[q], slope[qm] * (1.0 - w) + f[qm]


@numba.njit(cache=True, nogil=True, inline="always")
def _lane_of_min(c):
    """The lane of an 8-pixel block with the smallest ``t`` (see llvm/simd.py)."""
    return 0.0 if c >= 0 else float(LANES - 1)


@numba.njit(cache=True, nogil=True, fastmath={"contract"})
def _pair_linear(table, cos_a, sin_a, half, xpr, radius, j0, j1, row, rowm, vector):
    """Linear interpolation into ``row[j]`` and ``rowm[2r - j]``, ``j0 <= j < j1``.

    ``row`` sits at ``xpr`` and ``rowm`` at ``-xpr``; every ``t`` must lie
    inside the detector with a margin of one bin (the caller checks).
    ``vector``: blocks of eight pixels go through :func:`.llvm.simd.pair8x4`
    (same numbers), the rest through the scalar loop.
    """
    n_a = cos_a.shape[0]
    kmir = 2 * half - 1  # bin of -t is kmir - bin of t (t not an integer)
    r2 = 2 * radius
    a4 = n_a - n_a % 4
    proto = row[0]
    nv = (j1 - j0) // LANES if vector else 0
    js = j0 + LANES * nv  # first pixel of the scalar loop
    bias = np.int64(PAD + half)
    kmir_v = np.int64(kmir + 2 * PAD)
    for a in range(0, a4, 4):
        c0 = cos_a[a]
        c1 = cos_a[a + 1]
        c2 = cos_a[a + 2]
        c3 = cos_a[a + 3]
        x0 = xpr * sin_a[a]
        x1 = xpr * sin_a[a + 1]
        x2 = xpr * sin_a[a + 2]
        x3 = xpr * sin_a[a + 3]
        if nv > 0:
            c4 = (c0, c1, c2, c3)
            x4 = (x0, x1, x2, x3)
            l4 = (
                _lane_of_min(c0),
                _lane_of_min(c1),
                _lane_of_min(c2),
                _lane_of_min(c3),
            )
            for b in range(nv):
                j = j0 + LANES * b
                pair8x4(
                    table,
                    np.int64(a),
                    row,
                    rowm,
                    np.int64(j),
                    np.int64(r2 - j),
                    float(j - radius),
                    c4,
                    x4,
                    l4,
                    bias,
                    kmir_v,
                )
        f0, s0 = _linear_rows(table[a])
        f1, s1 = _linear_rows(table[a + 1])
        f2, s2 = _linear_rows(table[a + 2])
        f3, s3 = _linear_rows(table[a + 3])
        yf = float(js - radius)
        for j in range(js, j1):
            u = np.uint64(j)
            um = np.uint64(r2 - j)
            # four angles in order, rounded to the output dtype after each
            acc = row[u]
            accm = rowm[um]
            v, vm = _pair_values(f0, s0, yf * c0 - x0, half, kmir)
            acc = like(acc + v, proto)
            accm = like(accm + vm, proto)
            v, vm = _pair_values(f1, s1, yf * c1 - x1, half, kmir)
            acc = like(acc + v, proto)
            accm = like(accm + vm, proto)
            v, vm = _pair_values(f2, s2, yf * c2 - x2, half, kmir)
            acc = like(acc + v, proto)
            accm = like(accm + vm, proto)
            v, vm = _pair_values(f3, s3, yf * c3 - x3, half, kmir)
            row[u] = like(acc + v, proto)
            rowm[um] = like(accm + vm, proto)
            yf += 1.0
    for a in range(a4, n_a):
        c0 = cos_a[a]
        x0 = xpr * sin_a[a]
        f0, s0 = _linear_rows(table[a])
        yf = float(j0 - radius)
        for j in range(j0, j1):
            u = np.uint64(j)
            um = np.uint64(r2 - j)
            v, vm = _pair_values(f0, s0, yf * c0 - x0, half, kmir)
            row[u] = row[u] + v
            rowm[um] = rowm[um] + vm
            yf += 1.0


@numba.njit(cache=True, nogil=True)
def _unit(kind, table, cos_a, sin_a, n_det, radius, circle, out, u, vector):
    """Work item ``u``: a row pair ``(i, 2r - i)`` or a single row."""
    size = out.shape[0]
    i_lo = max(0, 2 * radius - (size - 1))  # first row whose mirror exists
    n_pairs = radius - i_lo
    if u >= n_pairs:  # single rows: [0, i_lo) and the middle row
        i = u - n_pairs
        if i >= i_lo:
            i = radius
        j0, j1 = _row_span(i, radius, size, circle)
        _row_generic(
            kind, table, cos_a, sin_a, n_det, i - radius, radius, j0, j1, out[i]
        )
        return
    i = i_lo + u
    im = 2 * radius - i
    xpr = i - radius
    j0, j1 = _row_span(i, radius, size, circle)  # same span for both rows
    if j1 <= j0:
        return
    half = n_det // 2
    ja = max(j0, i_lo)  # pixels whose mirror exists
    ym = max(abs(ja - radius), abs(j1 - 1 - radius))
    fast = (
        kind == LINEAR
        and ja < j1
        and math.sqrt(xpr * xpr + ym * ym) + 1.0 <= min(half, n_det - 1 - half)
    )
    if not fast:
        _row_generic(kind, table, cos_a, sin_a, n_det, xpr, radius, j0, j1, out[i])
        _row_generic(kind, table, cos_a, sin_a, n_det, -xpr, radius, j0, j1, out[im])
        return
    _pair_linear(
        table, cos_a, sin_a, half, xpr, radius, ja, j1, out[i], out[im], vector
    )
    # the pixels left without a partner (even sizes, circle=False)
    _row_generic(kind, table, cos_a, sin_a, n_det, xpr, radius, j0, ja, out[i])
    m0 = 2 * radius - j1 + 1
    m1 = 2 * radius - ja + 1
    _row_generic(kind, table, cos_a, sin_a, n_det, -xpr, radius, j0, m0, out[im])
    _row_generic(kind, table, cos_a, sin_a, n_det, -xpr, radius, m1, j1, out[im])


@numba.njit(cache=True, nogil=True)
def _n_units(size, radius):
    i_lo = max(0, 2 * radius - (size - 1))
    return (radius - i_lo) + i_lo + (1 if radius < size else 0)


@numba.njit(cache=True, parallel=True)
def backproject(kind, table, cos_a, sin_a, n_det, radius, circle, out, vector):
    """Back-project interpolated projections, as ``skimage.transform.iradon``.

    Output pixel ``(i, j)`` sits at ``xpr = i - radius``, ``ypr = j - radius``
    and receives, angle after angle, the projection interpolated at
    ``t = ypr * cos - xpr * sin`` (zero outside the detector), added in the
    dtype of ``out`` (float32 accumulation reproduces scikit-image's
    ``reconstructed += ...`` on a float32 array). Rows run in parallel.

    Parameters
    ----------
    kind : int
        ``LINEAR`` (``np.interp``), ``NEAREST`` (``interp1d(kind='nearest')``)
        or ``CUBIC`` (piecewise cubic, e.g. a not-a-knot spline).
    table : (n_angles, m) C-contiguous float64 array
        ``LINEAR``: :func:`linear_table` of the filtered projections (their
        values and ``np.interp``'s slopes, padded). ``NEAREST``:
        ``m = n_det``.
        ``CUBIC``: ``m = 4 * (n_det - 1)``: for each interval the four
        polynomial coefficients, highest power first, in ``t - x[k]``.
    cos_a, sin_a : (n_angles,) float64 arrays
        Cosine and sine of each angle.
    n_det : int
        Detector bins; detector ``k`` sits at ``x = k - n_det // 2``.
    radius : int
        ``output_size // 2``.
    circle : bool
        Compute only pixels with ``xpr**2 + ypr**2 <= radius**2`` (others
        keep their value, zero in a fresh ``out``).
    out : (S, S) float32/float64 array
        Accumulator.
    vector : bool
        Do ``LINEAR`` rows eight pixels at a time (:mod:`.llvm.simd`; same
        numbers). Pass :data:`HAVE_PERMUTE`: without AVX-512 the vector
        code is correct but slower than the scalar loop.

    Examples
    --------
    >>> import numpy as np
    >>> table = linear_table(np.ones((1, 3)))
    >>> out = np.zeros((3, 3))
    >>> backproject(LINEAR, table, np.ones(1), np.zeros(1), 3, 1, False, out, True)
    >>> out.tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """
    n = _n_units(out.shape[0], radius)
    tasks = min(n, _TASKS)
    for task in numba.prange(tasks):
        for u in range(task, n, tasks):
            _unit(kind, table, cos_a, sin_a, n_det, radius, circle, out, u, vector)


@numba.njit(cache=True, nogil=True)
def backproject_serial(kind, table, cos_a, sin_a, n_det, radius, circle, out, vector):
    """:func:`backproject` on the calling thread only (same numbers).

    Examples
    --------
    >>> import numpy as np
    >>> table = np.ones((1, 3))
    >>> out = np.zeros((3, 3))
    >>> backproject_serial(
    ...     NEAREST, table, np.ones(1), np.zeros(1), 3, 1, False, out, False
    ... )
    >>> float(out.sum())
    9.0
    """
    for u in range(_n_units(out.shape[0], radius)):
        _unit(kind, table, cos_a, sin_a, n_det, radius, circle, out, u, vector)
