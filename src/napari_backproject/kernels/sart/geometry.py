"""SART ray geometry and the small records the drivers share.

Ray geometry as scikit-image's ``sart_projection_update`` computes it
(:func:`_ray_setup`: sample count, step, start point), each sample's flat
pixel index and four bilinear weights (:func:`_sample_weights`, written to
scratch rows indexed with unsigned integers so that LLVM never emits
AVX-512 scatters/gathers), the Hamming windows, the golden-ratio angle
order, the mirror map of ray pairs (:func:`_mirror_map`), the split of the
rays between threads (:func:`pair_split`) and the records that carry rays
between the phases (:class:`Ray`, :class:`Record`).

The set-up helpers run once per call and cost little in Python:
:func:`golden_ratio_order` is plain Python, and :func:`update_rows`,
:func:`new_scratch`, :func:`new_ring`, :func:`pair_split` and
:func:`new_record` run as Python when Python calls them (numba compiles them
only inside numba callers, e.g. the test-only :mod:`.reference`): nothing
of the set-up is compiled on a first call.

The module knows nothing of napari, dask or files.
"""

from __future__ import annotations

import bisect
import math
from collections import namedtuple

import numba
import numpy as np
from numba.extending import register_jitable

from .._inner import inner_jit
from ..llvm.cast import like as _like

__all__ = [
    "GAP_RAYS",
    "LAG",
    "Ray",
    "RayGeom",
    "Record",
    "clip_outside",
    "golden_ratio_order",
    "hamming_windows",
    "new_record",
    "new_ring",
    "new_scratch",
    "pair_split",
    "update_rows",
]

_HAMMING_BETA = 0.46164

#: Geometry of one ray, as scikit-image computes it: ``ns`` samples (0: the
#: ray misses the circle) ``ds`` apart, stepping ``(dx, dy)`` from
#: ``(x0, y0)`` relative to the rotation centre ``center``.
RayGeom = namedtuple("RayGeom", "ns ds dx dy x0 y0 center")
#: A ray as the phases pass it on: its geometry, its deviation (the update
#: per unit weight) and ``interior`` (every neighbour of every sample is
#: inside the image: the fast unchecked paths apply).
Ray = namedtuple("Ray", "ns ds dx dy x0 y0 center deviation interior")
#: The rays recorded by phase 1 for phase 2 (:func:`new_record`): one row
#: of ``floats`` (columns ``F_*``) and ``ints`` (columns ``I_*``) per ray,
#: the :func:`pair_split` of the rays between threads, and ``state``
#: (entries ``S_*``).
Record = namedtuple("Record", "floats ints split state")
# columns of a stored ray (Record.floats / Record.ints, the drivers' rings)
F_DS, F_DX, F_DY, F_X0, F_Y0, F_CENTER, F_DEV = range(7)
RAY_FLOATS = 7
I_NS, I_INTERIOR = 0, 1
RAY_INTS = 2
# Record.state: phase 1 of the current angle ran on mirrored pairs; every
# share is wide enough that rays recorded at different boundaries share no
# pixel; prefetch the image lines this many rays ahead (0: none)
S_PAIRS, S_WIDE, S_AHEAD = 0, 1, 2
GAP_RAYS = 2
LAG = 3


@inner_jit
def _trig(theta_rad):
    """``(cos, sin)`` of an angle in radians (float64), once per angle."""
    return math.cos(np.float64(theta_rad)), math.sin(np.float64(theta_rad))


@inner_jit
def _ray_setup(n, trig, ray_position, proto):
    """Geometry of one ray, as scikit-image; ``trig`` is :func:`_trig`."""
    radius = _like(n // 2 - 1, proto)
    center = _like(n // 2, proto)
    t = _like(ray_position - center, proto)
    rr = radius * radius
    tt = t * t
    if rr >= tt:
        s0 = _like(math.sqrt(np.float64(rr - tt)), proto)
    else:
        s0 = _like(0.0, proto)
    ns = 2 * int(math.ceil(np.float64(_like(2 * s0, proto))))
    ds = _like(0.0, proto)
    dx = _like(0.0, proto)
    dy = _like(0.0, proto)
    x0 = _like(0.0, proto)
    y0 = _like(0.0, proto)
    if ns > 0:
        ds = _like(_like(2 * s0, proto) / _like(ns, proto), proto)
        ct, st = trig
        dx = _like(-ds * ct, proto)
        dy = _like(-ds * st, proto)
        x0 = _like(s0 * ct - t * st, proto)
        y0 = _like(s0 * st + t * ct, proto)
    return RayGeom(ns, ds, dx, dy, x0, y0, center)


@inner_jit
def _fill_window(win, ns, proto):
    """Hamming window of a ray with ``ns`` steps, as scikit-image computes it."""
    beta = _like(_HAMMING_BETA, proto)
    one_minus_beta = _like(1 - beta, proto)
    step = 2 * math.pi / (ns - 1)
    for k in range(ns + 1):
        win[k] = np.float64(_like(one_minus_beta - beta * math.cos(step * k), proto))


@numba.njit(cache=True, nogil=True)
def hamming_windows(n, proto):
    """Hamming windows of every ray length of an ``(n, n)`` SART image.

    A ray with ``ns`` steps (``ns`` even) uses the ``ns + 1`` values from
    offset ``(ns // 2) ** 2``; the second half of the table holds the same
    windows reversed, for mirrored rays (see :func:`_window`). ``proto`` (a
    scalar of the image dtype) sets the rounding, as in the update kernels.

    Examples
    --------
    >>> import numpy as np
    >>> w = hamming_windows(8, 0.0)
    >>> [round(float(v), 5) for v in w[4:9]]  # ns = 4
    [0.07672, 0.76918, 0.76918, 0.07672, 0.76918]
    """
    h_max = 2 * (n // 2) + 2
    half = (h_max + 1) * (h_max + 1)
    out = np.zeros(2 * half)
    for h in range(1, h_max + 1):
        ns = 2 * h
        if h * h + ns < half:
            win = out[h * h : h * h + ns + 1]
            _fill_window(win, ns, proto)
            # a plain loop: slice assignment from an array compiles numba's
            # shape-mismatch error message (string formatting, seconds)
            base = half + h * h
            for k in range(ns + 1):
                out[base + k] = win[ns - k]
    return out


@inner_jit
def _window(windows, ns, reverse, proto):
    """Window of a ray with ``ns`` steps (``reverse``: last sample first)."""
    h = ns // 2
    half = windows.shape[0] // 2
    if h * h + ns < half:
        at = half + h * h if reverse else h * h
        return windows[at : at + ns + 1]
    # not in the table (cannot happen for rays inside the image)
    win = np.empty(ns + 1)
    _fill_window(win, ns, proto)
    return win[::-1].copy() if reverse else win


def golden_ratio_order(theta, sorted_idx):
    """Golden-ratio order of float64 angles, as scikit-image's generator.

    ``skimage.transform.order_angles_golden_ratio`` step by step, with the
    same float64 arithmetic (Python's ``%``), on Python lists that lose one
    entry per step (``bisect`` for ``np.searchsorted``) instead of the
    array that it indexes afresh at every step (8 ms for 512 angles there,
    ~1 ms here). Plain Python: nothing to compile. ``sorted_idx`` is
    ``np.argsort(theta)``.

    Examples
    --------
    >>> import numpy as np
    >>> th = np.array([0.0, 45.0, 90.0, 135.0])
    >>> [int(i) for i in golden_ratio_order(th, np.argsort(th))]
    [0, 2, 3, 1]
    """
    interval = 180.0
    golden = (1.0 + math.sqrt(5.0)) / 2.0
    increment = interval / golden**2
    remaining = [int(i) for i in sorted_idx]
    angles = [float(theta[i]) for i in remaining]  # float64: exact
    m = len(remaining)
    out = np.empty(m, dtype=np.int64)
    angle = angles[0]
    pick = 0
    for k in range(m):
        if k > 0:
            left = len(remaining)
            angle = (angle + increment) % interval
            above = bisect.bisect_left(angles, angle)
            below = above - 1 if above > 0 else left - 1
            above = above % left
            diff = abs(angle - angles[below])
            dist_below = min(diff % interval, diff % -interval)
            diff = abs(angle - angles[above])
            dist_above = min(diff % interval, diff % -interval)
            pick = below if dist_below < dist_above else above
        out[k] = remaining.pop(pick)
        del angles[pick]
    return out


@register_jitable
def update_rows(n):
    """Columns ``[lo[i], hi[i])`` of row ``i`` that an update may touch.

    Every sample of a ray lies in the reconstruction circle (radius
    ``n // 2 - 1`` about ``n // 2``) and touches pixels less than ``sqrt(2)``
    away; this is the disc of radius ``n // 2 + 1`` (rows outside it get
    ``lo == hi``).

    Examples
    --------
    >>> lo, hi = update_rows(8)
    >>> [int(v) for v in lo], [int(v) for v in hi]
    ([0, 0, 0, 0, 0, 0, 0, 0], [8, 8, 8, 8, 8, 8, 8, 8])
    """
    lo = np.zeros(n, dtype=np.int64)
    hi = np.zeros(n, dtype=np.int64)
    c = n // 2
    r = n // 2 + 1
    for i in range(n):
        d2 = r * r - (i - c) * (i - c)
        if d2 < 0:
            continue
        h = int(math.sqrt(d2)) + 1
        lo[i] = max(0, c - h)
        hi[i] = min(n, c + h + 1)
    return lo, hi


@register_jitable
def new_scratch(n):
    """Scratch arrays of one thread: ``(idx, w0, w1, w2, w3)``, one ray long.

    ``idx`` (``uint64``) holds each sample's flat pixel index, ``w0`` to
    ``w3`` (``float64``) its four bilinear weights. Separate 1-D arrays
    indexed with unsigned integers: LLVM then vectorises the pass that fills
    them with plain stores (a 2-D array gave AVX-512 scatters). Rays of an
    ``(n, n)`` image have at most ``2 * n + 3`` samples; smaller scratch
    arrays work too (the rays are then done in pieces, computing the
    geometry twice).

    Examples
    --------
    >>> idx, w0, w1, w2, w3 = new_scratch(8)
    >>> idx.shape, idx.dtype.name, w3.shape
    ((20,), 'uint64', (20,))
    """
    m = 2 * n + 4
    return (
        np.empty(m, dtype=np.uint64),
        np.empty(m, dtype=np.float64),
        np.empty(m, dtype=np.float64),
        np.empty(m, dtype=np.float64),
        np.empty(m, dtype=np.float64),
    )


@register_jitable
def new_ring(n):
    """Scratch of ``2 * (LAG + 1)`` rays for one thread (see :func:`new_scratch`).

    The same five arrays with one row per ray: :func:`sart_rays` keeps the
    weights of a ray until its update is added, ``LAG`` rays later (rows
    ``0 .. LAG``), and those of a mirrored ray that cannot reuse them (rows
    ``LAG + 1`` on). Row ``j`` is :func:`_slot` ``(ring, j)``.

    Examples
    --------
    >>> idx, w0, w1, w2, w3 = new_ring(8)
    >>> idx.shape, w3.shape
    ((8, 20), (8, 20))
    """
    m = 2 * n + 4
    k = 2 * (LAG + 1)
    return (
        np.empty((k, m), dtype=np.uint64),
        np.empty((k, m), dtype=np.float64),
        np.empty((k, m), dtype=np.float64),
        np.empty((k, m), dtype=np.float64),
        np.empty((k, m), dtype=np.float64),
    )


@inner_jit
def _slot(ring, j):
    idx, w0, w1, w2, w3 = ring
    return idx[j], w0[j], w1[j], w2[j], w3[j]


@register_jitable
def _steps(n, r):
    """Number of steps ``ns`` of ray ``r`` (no shift) of an ``(n, n)`` image."""
    c = n // 2
    rr = (c - 1) * (c - 1)
    tt = (r - c) * (r - c)
    if rr < tt:
        return 0
    return 2 * int(math.ceil(2 * math.sqrt(rr - tt)))


@register_jitable
def _pair_cost(n, r):
    """Relative cost of ray ``r`` and its mirror (measured on the dev VM).

    A mirror costs 4/5 of a ray (no weights pass); a ray's fixed cost is
    that of about 150 samples.
    """
    ns = _steps(n, r)
    if ns == 0:
        return 0.0
    has_mirror = r != n // 2 and 2 * (n // 2) - r < n
    return (ns + 150.0) * (5.0 + 4.0 * has_mirror)


@register_jitable
def pair_split(n, parts):
    """First ray of each thread's share of the rays ``0 .. n // 2`` (and mirrors).

    Without projection shifts, ray ``r`` and ray ``2 * (n // 2) - r`` are
    mirror images; thread ``part`` takes rays ``[split[part],
    split[part + 1])`` and their mirrors (see :func:`sart_rays`). Shares
    take about equal times (:func:`_pair_cost`).

    Examples
    --------
    >>> [int(v) for v in pair_split(64, 2)]
    [0, 19, 33]
    """
    c = n // 2
    cum = np.zeros(c + 2)  # cost of the rays before r
    for r in range(c + 1):
        cum[r + 1] = cum[r] + _pair_cost(n, r)
    out = np.empty(parts + 1, dtype=np.int64)
    for k in range(parts + 1):  # one by one (a vectorised fill was a scatter)
        first = np.searchsorted(cum, cum[c + 1] * k / parts)
        out[np.uint64(k)] = c + 1 if k == parts else min(first, c + 1)
    return out


@register_jitable
def new_record(parts, n):
    """Record arrays for :func:`sart_rays` on ``parts`` threads, ``(n, n)`` image.

    Examples
    --------
    Rows ``4 * GAP_RAYS * part`` onwards belong to thread ``part``: its
    first ``GAP_RAYS`` rays, its last ``GAP_RAYS`` rays, then the mirrors
    of both. ``split`` is :func:`pair_split`; ``state`` flags how
    :func:`sart_apply` may add the recorded rays and, in
    ``state[S_AHEAD]``, how many rays ahead :func:`sart_rays` prefetches
    the image's cache lines (0, the default: none; see
    :func:`.rays._prefetch_ahead`).

    >>> record = new_record(2, 64)
    >>> record.floats.shape, record.ints.shape, [int(v) for v in record.split]
    ((16, 7), (16, 2), [0, 19, 33])
    """
    g = 4 * GAP_RAYS * parts
    split = pair_split(n, parts)
    state = np.zeros(3, dtype=np.int64)
    state[S_WIDE] = np.all(split[1:] - split[:-1] >= 2 * GAP_RAYS + 3)
    return Record(
        np.zeros((g, RAY_FLOATS), dtype=np.float64),
        np.zeros((g, RAY_INTS), dtype=np.int64),
        split,
        state,
    )


# Scratch arrays are indexed with unsigned integers throughout: a signed
# index carries numba's negative-index wrap, and LLVM then vectorises the
# stores as AVX-512 scatters (slow on Zen 4).
@inner_jit
def _sample_floor(k, dx, dy, x0, y0, center, proto):
    """Position of sample ``k`` in pixel units and its floor, as scikit-image."""
    kk = _like(k, proto)
    x = _like(x0 + kk * dx, proto)
    y = _like(y0 + kk * dy, proto)
    index_i = _like(x + center, proto)
    index_j = _like(y + center, proto)
    return index_i, index_j, np.floor(index_i), np.floor(index_j)


@inner_jit
def _sample_weights(k0, count, ds, dx, dy, x0, y0, center, stride, proto, s):
    """Flat pixel index and four bilinear weights of samples ``k0 + k``.

    Arithmetic only: LLVM vectorises it. ``wc[k]`` (unrounded, float64)
    weighs the neighbours ``+0, +1, +stride, +stride+1`` of ``idx[k]``
    (``c = 0 .. 3``). Every sample lies in the reconstruction circle, so
    its floor is never negative.
    """
    idx, w0, w1, w2, w3 = s
    dsf = np.float64(ds)
    fstride = np.float64(stride)
    for k in range(count):
        u = np.uint64(k)
        index_i, index_j, fi, fj = _sample_floor(k0 + k, dx, dy, x0, y0, center, proto)
        di = np.float64(index_i - fi)  # exact
        dj = np.float64(index_j - fj)
        idx[u] = np.uint64(np.float64(fi) * fstride + np.float64(fj))
        w0[u] = (1.0 - di) * (1.0 - dj) * dsf
        w1[u] = (1.0 - di) * dj * dsf
        w2[u] = di * (1.0 - dj) * dsf
        w3[u] = di * dj * dsf


@inner_jit
def _border_weights(count, n, stride, s):
    """Zero the weights of the neighbours that scikit-image skips.

    Those outside the ``(n, n)`` image or on its first row or column.
    """
    idx, w0, w1, w2, w3 = s
    for k in range(count):
        u = np.uint64(k)
        p = np.int64(idx[u])
        i = p // stride
        j = p - i * stride
        if not (i > 0 and j > 0):
            w0[u] = 0.0
        if not (i > 0 and j < n - 1):
            w1[u] = 0.0
        if not (i < n - 1 and j > 0):
            w2[u] = 0.0
        if not (i < n - 1 and j < n - 1):
            w3[u] = 0.0


@inner_jit(fastmath={"reassoc", "contract"})
def _weight_norm(count, s, proto):
    """Sum of the squared dtype-rounded weights, in any order (vectorised)."""
    _, w0, w1, w2, w3 = s
    acc = _like(0.0, proto)
    for k in range(count):
        u = np.uint64(k)
        v0 = _like(w0[u], proto)
        v1 = _like(w1[u], proto)
        v2 = _like(w2[u], proto)
        v3 = _like(w3[u], proto)
        acc += (v0 * v0 + v1 * v1) + (v2 * v2 + v3 * v3)
    return acc


@inner_jit
def _interior(n, ns, dx, dy, x0, y0, center, proto):
    """``(interior, mirror_ok)`` of a ray with ``ns > 0`` steps.

    ``interior``: every neighbour of every sample is inside the image and
    not skipped; ``mirror_ok``: so are those of the mirrored samples
    (:func:`_mirror_map`).
    """
    # the samples lie on a segment: checking both ends is enough
    _, _, fi0, fj0 = _sample_floor(np.int64(0), dx, dy, x0, y0, center, proto)
    _, _, fi1, fj1 = _sample_floor(ns, dx, dy, x0, y0, center, proto)
    interior = (
        min(fi0, fi1) > 0
        and max(fi0, fi1) < n - 1
        and min(fj0, fj1) > 0
        and max(fj0, fj1) < n - 1
    )
    top = 2 * (n // 2) - 2  # the mirrored floor 2c - 1 - f must be >= 1
    mirror_ok = interior and max(fi0, fi1) <= top and max(fj0, fj1) <= top
    return interior, mirror_ok


@inner_jit
def _mirror_map(n, stride):
    """``km``: the mirror image of flat index ``idx`` is ``km - idx``.

    Ray ``2c - r`` (``c = n // 2``, no projection shift) passes through the
    points of ray ``r`` reflected about the rotation centre, in reverse
    order: a sample in cell ``(fi, fj)`` at fractions ``(di, dj)`` reflects
    to cell ``(2c - 1 - fi, 2c - 1 - fj)`` at ``(1 - di, 1 - dj)``, whose
    four bilinear weights are the original's in reverse corner order, and
    whose flat index is ``km - idx`` with
    ``km = (2c - 1) * (stride + 1)``. The mirror's samples are then the
    reflections of the original's computed ones instead of being computed
    afresh: the same points up to rounding.
    """
    c = n // 2
    return np.uint64((2 * c - 1) * (stride + 1))


@numba.njit(cache=True, nogil=True)
def clip_outside(image, lo, hi, rows):
    """Clip the pixels that no update touches (outside :func:`update_rows`).

    With these clipped once, clipping the updated region after every angle
    clips the whole image after every angle, as scikit-image does.
    ``image`` is ``(M, L)`` with ``L >= M``; columns ``>= M`` are left alone.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.full((16, 16), 2.0)
    >>> clip_outside(img, 0.0, 1.0, update_rows(16))
    >>> float(img[0, 0]), float(img[8, 8])
    (1.0, 2.0)
    """
    col_lo, col_hi = rows
    n = image.shape[0]
    for i in range(n):
        row = image[i]
        # two plain ranges (a test per column vectorised as a gather)
        for j in range(col_lo[i]):
            row[j] = min(max(row[j], lo), hi)
        for j in range(col_hi[i], n):
            row[j] = min(max(row[j], lo), hi)


@inner_jit
def _clip_rows(image, lo, hi, rows, i0, i1):
    """Clip the columns ``rows`` gives of rows ``[i0, i1)`` to ``[lo, hi]``."""
    col_lo, col_hi = rows
    for i in range(i0, i1):
        row = image[i, col_lo[i] : col_hi[i]]
        for j in range(row.shape[0]):
            row[j] = min(max(row[j], lo), hi)


@inner_jit
def _store_ray(rec_f, rec_i, g, ray):
    """Store :class:`Ray` ``ray`` in row ``g`` of ``rec_f``/``rec_i``."""
    rec_i[g, I_NS] = ray.ns
    rec_i[g, I_INTERIOR] = ray.interior
    rec_f[g, F_DS] = ray.ds
    rec_f[g, F_DX] = ray.dx
    rec_f[g, F_DY] = ray.dy
    rec_f[g, F_X0] = ray.x0
    rec_f[g, F_Y0] = ray.y0
    rec_f[g, F_CENTER] = ray.center
    rec_f[g, F_DEV] = ray.deviation


@inner_jit
def _load_ray(rec_f, rec_i, g, proto):
    """A ray stored by :func:`_store_ray` (values are exact: dtype -> float64)."""
    return Ray(
        rec_i[g, I_NS],
        _like(rec_f[g, F_DS], proto),
        _like(rec_f[g, F_DX], proto),
        _like(rec_f[g, F_DY], proto),
        _like(rec_f[g, F_X0], proto),
        _like(rec_f[g, F_Y0], proto),
        _like(rec_f[g, F_CENTER], proto),
        _like(rec_f[g, F_DEV], proto),
        rec_i[g, I_INTERIOR] != 0,
    )
