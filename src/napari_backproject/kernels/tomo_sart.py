"""Numba kernels for SART projection updates (scikit-image compatible).

One SART step for one angle reproduces ``skimage.transform._radon_transform.
sart_projection_update`` followed by ``image += relaxation * update`` (and the
optional clip). Arithmetic follows the Cython code operation by operation,
including where it rounds to float32 when the data are float32; sums are
formed in a different order (and the scattered products in a different order
of their factors), so results agree with scikit-image to rounding.

Per ray, a vectorised pass computes each sample's flat pixel index and its
four bilinear weights (into 1-D scratch arrays indexed with unsigned
integers: no AVX-512 scatter/gather instructions anywhere); a loop written
in LLVM vector IR (:func:`_dot_blocks`) forms the ray sum and the sum of
squared weights four samples at a time, without branches (two 2-wide pixel
loads per sample, transposed in registers); a second vector-IR loop
(:func:`_scatter_blocks`) scales the weights by the deviation and the
Hamming window and scatters them, summing each run of samples with the same
index in one 4-wide register and adding it to the four pixels once.
Rays whose samples may touch the image border (rare) take a checked path
with scikit-image's skipping rules.

Mirrored pairs: without a projection shift, ray ``2c - r`` (``c = n //
2``) passes through the points of ray ``r`` reflected about the rotation
centre, in reverse order (:func:`_mirror_map`): its samples are those of
ray ``r`` with cell ``K - idx`` and the four weights in reverse corner
order. The drivers then compute the weights of rays ``0 .. c`` only, form
the ray sums of both rays of a pair in one pass over them
(:func:`_ray_dot_pair`) and scatter both updates from them: the weights
pass runs for half the rays. (The mirror's sample positions are the
reflections of the original's computed ones rather than computed afresh:
the same to rounding.) With shifts, rays are done one by one.

No update buffer: scikit-image forms every ray sum of an angle from the
image as it was before that angle, then adds the update. A ray's update
touches only pixels that rays less than 3 away read, so the drivers sum the
rays in order and add each ray's update to the image ``LAG`` (3) rays later
(:func:`_rays_in_place`, :func:`_pair_rays`; weights kept in a ring of
scratch rows meanwhile): the same SART step without a second image-sized
buffer to fill, apply and zero, and with half the memory traffic. Results
differ from the update-buffer order by rounding only.

Three drivers:

* :func:`sart_angles_serial` runs angles in order on the calling thread;
* :func:`sart_rays` and :func:`sart_apply` are the two phases of one angle
  for two (or more) Python threads that share the work through barriers:
  each thread updates the shared image with its share of the rays (a range
  of pairs, :func:`pair_split`, or with shifts a contiguous range of rays),
  except the ``GAP_RAYS`` rays at either end of each range, which it only
  sums and records: no thread then writes a pixel that another thread reads
  or writes in that phase; after a barrier, the recorded rays are added
  (each thread adds them to its own rows and clips those, or without
  clipping, each group of recorded rays goes whole to one thread);
* :func:`sart_angle_update` (numba ``prange``) applies one angle with the
  numba threads through an update buffer (one fork/join per phase: slow on
  few cores).

Only pixels in a disc slightly larger than the reconstruction circle are
ever updated (see :func:`update_rows`), so clipping after an angle is done
there only.

They keep no global state and are safe to call from several threads at once
(with distinct images and scratch arrays).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core.cgutils import get_or_insert_function
from numba.extending import intrinsic

from ._atomic import atomic_add, spin_until
from ._cast import like as _like
from ._prefetch import prefetch_write

__all__ = [
    "GAP_RAYS",
    "LAG",
    "clip_outside",
    "golden_ratio_order",
    "hamming_windows",
    "new_record",
    "new_ring",
    "new_scratch",
    "ping_pong",
    "sart_angle_update",
    "sart_angles_serial",
    "sart_apply",
    "sart_rays",
    "sart_steps",
    "update_rows",
]

_HAMMING_BETA = 0.46164
_BLOCK = 8  # rays per scatter block of the prange kernel
# rays within this many rays of another thread's range: recorded, not
# scattered, in phase 1 (rays at least 3 apart never share a pixel)
GAP_RAYS = 2
# a ray's update is added to the image once the ray sums of the next LAG
# rays (the ones that may share its pixels) are formed
LAG = 3


@numba.njit(cache=True, nogil=True)
def _trig(theta_rad):
    """``(cos, sin)`` of an angle in radians (float64), once per angle."""
    return math.cos(np.float64(theta_rad)), math.sin(np.float64(theta_rad))


@numba.njit(cache=True, nogil=True)
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
    return ns, ds, dx, dy, x0, y0, center


@numba.njit(cache=True, nogil=True)
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
            out[half + h * h : half + h * h + ns + 1] = win[::-1]
    return out


@numba.njit(cache=True, nogil=True)
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


@numba.njit(cache=True, nogil=True)
def golden_ratio_order(theta, sorted_idx):
    """Golden-ratio order of float64 angles, as scikit-image's generator.

    ``skimage.transform.order_angles_golden_ratio`` step by step, with the
    same float64 arithmetic (Python's ``%``), on arrays instead of a list
    that it copies at every step (8 ms for 512 angles there, 0.1 ms here).
    ``sorted_idx`` is ``np.argsort(theta)``.

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
    m = sorted_idx.shape[0]
    remaining = sorted_idx.copy()
    angles = theta[remaining]
    out = np.empty(m, dtype=np.int64)
    left = m
    angle = angles[0]
    pick = 0
    for k in range(m):
        if k > 0:
            angle = (angle + increment) % interval
            above = np.searchsorted(angles[:left], angle)
            below = above - 1 if above > 0 else left - 1
            above = above % left
            diff = abs(angle - angles[below])
            dist_below = min(diff % interval, diff % -interval)
            diff = abs(angle - angles[above])
            dist_above = min(diff % interval, diff % -interval)
            pick = below if dist_below < dist_above else above
        out[k] = remaining[pick]
        left -= 1
        for j in range(pick, left):
            remaining[j] = remaining[j + 1]
            angles[j] = angles[j + 1]
    return out


@numba.njit(cache=True, nogil=True)
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


@numba.njit(cache=True, nogil=True)
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


@numba.njit(cache=True, nogil=True)
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


@numba.njit(cache=True, nogil=True, inline="always")
def _slot(ring, j):
    idx, w0, w1, w2, w3 = ring
    return idx[j], w0[j], w1[j], w2[j], w3[j]


@numba.njit(cache=True, nogil=True)
def _steps(n, r):
    """Number of steps ``ns`` of ray ``r`` (no shift) of an ``(n, n)`` image."""
    c = n // 2
    rr = (c - 1) * (c - 1)
    tt = (r - c) * (r - c)
    if rr < tt:
        return 0
    return 2 * int(math.ceil(2 * math.sqrt(rr - tt)))


@numba.njit(cache=True, nogil=True)
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


@numba.njit(cache=True, nogil=True)
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


@numba.njit(cache=True, nogil=True)
def new_record(parts, n):
    """Record arrays for :func:`sart_rays` on ``parts`` threads, ``(n, n)`` image.

    Examples
    --------
    Rows ``4 * GAP_RAYS * part`` onwards belong to thread ``part``: its
    first ``GAP_RAYS`` rays, its last ``GAP_RAYS`` rays, then the mirrors
    of both. The third array is :func:`pair_split`, the fourth flags how
    :func:`sart_apply` may add the recorded rays and, in ``state[2]``, how
    many rays ahead :func:`sart_rays` prefetches the image's cache lines
    (0, the default: none; see :func:`_prefetch_ahead`).

    >>> rec_f, rec_i, split, state = new_record(2, 64)
    >>> rec_f.shape, rec_i.shape, [int(v) for v in split]
    ((16, 7), (16, 2), [0, 19, 33])
    """
    g = 4 * GAP_RAYS * parts
    split = pair_split(n, parts)
    # [phase 1 of the current angle ran on pairs, shares wide enough that
    # the rays recorded at different boundaries never share a pixel,
    # prefetch the cells this many rays ahead (0: no prefetch)]
    state = np.zeros(3, dtype=np.int64)
    state[1] = np.all(split[1:] - split[:-1] >= 2 * GAP_RAYS + 3)
    return (
        np.zeros((g, 7), dtype=np.float64),
        np.zeros((g, 2), dtype=np.int64),
        split,
        state,
    )


# --------------------------------------------------------------------------
# one ray
# --------------------------------------------------------------------------
# Scratch arrays are indexed with unsigned integers throughout: a signed
# index carries numba's negative-index wrap, and LLVM then vectorises the
# stores as AVX-512 scatters (slow on Zen 4).
@numba.njit(cache=True, nogil=True)
def _sample_floor(k, dx, dy, x0, y0, center, proto):
    """Position of sample ``k`` in pixel units and its floor, as scikit-image."""
    kk = _like(k, proto)
    x = _like(x0 + kk * dx, proto)
    y = _like(y0 + kk * dy, proto)
    index_i = _like(x + center, proto)
    index_j = _like(y + center, proto)
    return index_i, index_j, np.floor(index_i), np.floor(index_j)


@numba.njit(cache=True, nogil=True)
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


@numba.njit(cache=True, nogil=True)
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


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
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


_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_F64 = ir.DoubleType()


def _scratch_arrays(context, builder, tys, s_v):
    """The five scratch arrays ``(idx, w0 .. w3)`` of tuple ``s_v`` in IR."""
    return [
        context.make_array(tys[c])(context, builder, builder.extract_value(s_v, c))
        for c in range(5)
    ]


def _shuffle(builder, a, b, lanes):
    return builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(_I32, 4), lanes))


@intrinsic
def _dot_blocks(typingctx, flat, stride, blocks, s, km):
    """Ray sum and weight norm of samples ``[0, 4 * blocks)``, in vector IR.

    Four samples per step: each sample's two pixel pairs ``flat[p:p+2]``
    and ``flat[p+S:p+S+2]`` are two 2-wide loads, transposed in registers
    to one 4-wide vector per corner, which meets that corner's four weights
    (one 4-wide load from each of ``w0 .. w3``) in one fused multiply-add;
    the squared weights go into four more accumulators. Three loads per
    sample where the scalar loop needs nine (this CPU does two
    floating-point loads per cycle), and no branch. Arithmetic in the
    dtype of ``flat`` (weights rounded to it, as the scalar loop does);
    returns ``(ray_sum, weight_norm)``. With ``km`` not None (a separate
    compilation) it also forms the ray sum of the mirrored ray from the
    same weights (:func:`_mirror_map`: corner ``c`` of the mirrored sample
    is pixel ``km - idx[k]`` plus the offset of corner ``3 - c``, and has
    weight ``w{3-c}``) and returns ``(ray_sum, weight_norm, mirror_sum)``:
    the weights and indices are loaded once for both rays.
    """
    if not (
        isinstance(flat, types.Array)
        and flat.dtype in (types.float32, types.float64)
        and isinstance(s, types.BaseTuple)
        and len(s) == 5
    ):
        return None
    fdt = flat.dtype
    mapped = not isinstance(km, (types.NoneType, types.Omitted))
    sig = types.UniTuple(fdt, 3 if mapped else 2)(flat, types.intp, types.intp, s, km)

    def codegen(context, builder, sig, args):
        flat_v, stride_v, blocks_v, s_v, km_v = args
        fl = context.make_array(sig.args[0])(context, builder, flat_v)
        tys = sig.args[3]
        arrs = _scratch_arrays(context, builder, tys, s_v)
        t = context.get_value_type(fdt)
        v2 = ir.VectorType(t, 2)
        v4 = ir.VectorType(t, 4)
        v4d = ir.VectorType(_F64, 4)
        align = 4 if fdt == types.float32 else 8
        fma_name = "llvm.fma.v4f32" if fdt == types.float32 else "llvm.fma.v4f64"
        fma = get_or_insert_function(
            builder.module, ir.FunctionType(v4, [v4, v4, v4]), fma_name
        )
        zero = ir.Constant(v4, [0.0] * 4)
        pre = builder.basic_block
        head = builder.append_basic_block("dot.head")
        body = builder.append_basic_block("dot.body")
        done = builder.append_basic_block("dot.done")
        builder.branch(head)
        builder.position_at_end(head)
        i = builder.phi(_I64)
        i.add_incoming(ir.Constant(_I64, 0), pre)
        accs = []
        for _ in range(12 if mapped else 8):
            ph = builder.phi(v4)
            ph.add_incoming(zero, pre)
            accs.append(ph)
        builder.cbranch(builder.icmp_signed("<", i, blocks_v), body, done)
        builder.position_at_end(body)
        k = builder.mul(i, ir.Constant(_I64, 4))
        ws = []
        for c in range(4):
            ptr = builder.bitcast(builder.gep(arrs[c + 1].data, [k]), v4d.as_pointer())
            w = builder.load(ptr, align=8)
            ws.append(w if fdt == types.float64 else builder.fptrunc(w, v4))

        def corner_vectors(ps):
            """Pixel pairs at ``ps`` and ``ps + stride`` -> four corner vectors."""
            tops, bots = [], []
            for p in ps:
                pt = builder.bitcast(builder.gep(fl.data, [p]), v2.as_pointer())
                tops.append(builder.load(pt, align=align))
                pb = builder.gep(fl.data, [builder.add(p, stride_v)])
                pb = builder.bitcast(pb, v2.as_pointer())
                bots.append(builder.load(pb, align=align))
            corners = []
            for pairs in (tops, bots):
                lo = _shuffle(builder, pairs[0], pairs[1], [0, 1, 2, 3])
                hi = _shuffle(builder, pairs[2], pairs[3], [0, 1, 2, 3])
                corners.append(_shuffle(builder, lo, hi, [0, 2, 4, 6]))
                corners.append(_shuffle(builder, lo, hi, [1, 3, 5, 7]))
            return corners

        ps = [
            builder.load(
                builder.gep(arrs[0].data, [builder.add(k, ir.Constant(_I64, j))]),
                align=8,
            )
            for j in range(4)
        ]
        corners = corner_vectors(ps)
        news = [builder.call(fma, [ws[c], corners[c], accs[c]]) for c in range(4)]
        news += [builder.call(fma, [ws[c], ws[c], accs[4 + c]]) for c in range(4)]
        if mapped:
            mirror = corner_vectors([builder.sub(km_v, p) for p in ps])
            news += [
                builder.call(fma, [ws[3 - c], mirror[c], accs[8 + c]]) for c in range(4)
            ]
        i.add_incoming(builder.add(i, ir.Constant(_I64, 1)), body)
        for ph, val in zip(accs, news, strict=True):
            ph.add_incoming(val, body)
        builder.branch(head)
        builder.position_at_end(done)
        out = []
        for a0, a1, a2, a3 in [accs[m : m + 4] for m in range(0, len(accs), 4)]:
            v = builder.fadd(builder.fadd(a0, a1), builder.fadd(a2, a3))
            lanes = [builder.extract_element(v, ir.Constant(_I32, m)) for m in range(4)]
            out.append(
                builder.fadd(
                    builder.fadd(lanes[0], lanes[1]), builder.fadd(lanes[2], lanes[3])
                )
            )
        return context.make_tuple(builder, sig.return_type, out)

    return sig, codegen


@numba.njit(cache=True, nogil=True, fastmath={"contract"})
def _ray_dot(flat, stride, count, s, proto):
    """``(ray sum, weight norm)`` of ``count`` interior samples, branch free.

    :func:`_dot_blocks` on blocks of four samples, the rest here; the
    sums of the scalar loops (:func:`_ray_sum_border` on interior samples,
    :func:`_weight_norm`), in another order.
    """
    idx, w0, w1, w2, w3 = s
    blocks = count // 4
    acc, nrm = _dot_blocks(flat, stride, blocks, s, None)
    for k in range(4 * blocks, count):
        u = np.uint64(k)
        v0, v1, v2, v3 = _weights_at(s, u, proto)
        acc += _corner_dot(flat, stride, idx[u], v0, v1, v2, v3)
        nrm += (v0 * v0 + v1 * v1) + (v2 * v2 + v3 * v3)
    return acc, nrm


@numba.njit(cache=True, nogil=True, fastmath={"contract"})
def _ray_dot_pair(flat, stride, count, s, proto, km):
    """:func:`_ray_dot` and the ray sum of the mirrored ray, in one pass.

    Returns ``(ray_sum, weight_norm, mirror_sum)``; ``mirror_sum`` is what
    :func:`_ray_dot` gives for the mirrored ray (pixels ``km - idx[k]``,
    weights in reverse corner order), in the same order, bit for bit.
    """
    idx, w0, w1, w2, w3 = s
    blocks = count // 4
    acc, nrm, acc_m = _dot_blocks(flat, stride, blocks, s, km)
    for k in range(4 * blocks, count):
        u = np.uint64(k)
        v0, v1, v2, v3 = _weights_at(s, u, proto)
        acc += _corner_dot(flat, stride, idx[u], v0, v1, v2, v3)
        nrm += (v0 * v0 + v1 * v1) + (v2 * v2 + v3 * v3)
        acc_m += _corner_dot(flat, stride, np.uint64(km) - idx[u], v3, v2, v1, v0)
    return acc, nrm, acc_m


@numba.njit(cache=True, nogil=True, inline="always")
def _weights_at(s, u, proto):
    _, w0, w1, w2, w3 = s
    return (
        _like(w0[u], proto),
        _like(w1[u], proto),
        _like(w2[u], proto),
        _like(w3[u], proto),
    )


@numba.njit(cache=True, nogil=True, inline="always", fastmath={"contract"})
def _corner_dot(flat, stride, p, v0, v1, v2, v3):
    """Bilinear sum of the cell at flat index ``p`` with weights ``v0 .. v3``."""
    us = np.uint64(stride)
    u1 = np.uint64(1)
    return (v0 * flat[p] + v1 * flat[p + u1]) + (
        v2 * flat[p + us] + v3 * flat[p + us + u1]
    )


@numba.njit(cache=True, nogil=True, inline="always")
def _add_if(acc, flat, p, v, proto):
    if v != 0:
        acc += _like(v, proto) * flat[p]
    return acc


@numba.njit(cache=True, nogil=True)
def _ray_sum_border(flat, stride, count, s, proto):
    """Bilinear ray sum of ``count`` samples that reads no zero-weight neighbour."""
    idx, w0, w1, w2, w3 = s
    acc = _like(0.0, proto)
    for k in range(count):
        u = np.uint64(k)
        p = np.int64(idx[u])
        t = _like(0.0, proto)
        t = _add_if(t, flat, p, w0[u], proto)
        t = _add_if(t, flat, p + 1, w1[u], proto)
        t = _add_if(t, flat, p + stride, w2[u], proto)
        t = _add_if(t, flat, p + stride + 1, w3[u], proto)
        acc += t
    return acc


@numba.njit(cache=True, nogil=True, inline="always")
def _flush(flat, p, us, a0, a1, a2, a3):
    u1 = np.uint64(1)
    flat[p] = flat[p] + a0
    flat[p + u1] = flat[p + u1] + a1
    flat[p + us] = flat[p + us] + a2
    flat[p + us + u1] = flat[p + us + u1] + a3


def _splat4(builder, value):
    v4 = ir.VectorType(value.type, 4)
    vec = builder.insert_element(ir.Constant(v4, ir.Undefined), value, _I32(0))
    return _shuffle(builder, vec, ir.Constant(v4, ir.Undefined), [0, 0, 0, 0])


@intrinsic
def _scatter_blocks(
    typingctx, flat, stride, blocks, deviation, win, s, km, dev_m, win_m
):
    """:func:`_scatter` of samples ``[0, 4 * blocks)``, in vector IR.

    The four corner sums of the current run live in one 4-wide register:
    per sample one multiply and one add where the scalar loop needs four
    of each (that loop is bound by how many instructions the CPU issues
    per cycle, not by its loads or branches). Four samples per step: their
    weights are four 4-wide loads (``w0 .. w3``), each multiplied by the
    four samples' amplitudes and then transposed in registers to one
    vector per sample. A run ends, and its four sums are added to
    the pixels, as in :func:`_scatter`; the operations and their order are
    the same, so the results are identical. Returns the open run
    ``(pp, a0, a1, a2, a3)``, not yet added (the caller goes on with the
    remaining samples and adds it).

    With ``km`` not None (a separate compilation) it also scatters the
    update of the mirrored ray (:func:`_mirror_map`; amplitudes
    ``dev_m * win_m[k]``, weights in reverse corner order, cell
    ``km - idx[k]``) in the same pass: the two rays' runs end together, so
    one comparison per sample serves both, and the weights are loaded once.
    It then returns ``(pp, a0 .. a3, b0 .. b3)``, ``b`` the mirror's sums.
    """
    if not (
        isinstance(flat, types.Array)
        and flat.dtype in (types.float32, types.float64)
        and isinstance(win, types.Array)
        and win.dtype == types.float64
        and win.layout == "C"
        and isinstance(s, types.BaseTuple)
        and len(s) == 5
    ):
        return None
    fdt = flat.dtype
    paired = not isinstance(km, (types.NoneType, types.Omitted))
    if paired and not (isinstance(win_m, types.Array) and win_m.layout == "C"):
        return None
    ret = types.Tuple((types.uint64,) + (types.float64,) * (8 if paired else 4))
    sig = ret(flat, types.intp, types.intp, types.float64, win, s, km, dev_m, win_m)

    def codegen(context, builder, sig, args):
        flat_v, stride_v, blocks_v, dev_v, win_v, s_v, km_v, devm_v, winm_v = args
        fl = context.make_array(sig.args[0])(context, builder, flat_v)
        tys = sig.args[5]
        arrs = _scratch_arrays(context, builder, tys, s_v)
        t = context.get_value_type(fdt)
        v4d = ir.VectorType(_F64, 4)
        one = ir.Constant(_I64, 1)
        zero4 = ir.Constant(v4d, [0.0] * 4)

        def flush(pp, acc):
            below = builder.add(pp, stride_v)
            for c, pos in enumerate(
                (pp, builder.add(pp, one), below, builder.add(below, one))
            ):
                ptr = builder.gep(fl.data, [pos])
                add = builder.extract_element(acc, _I32(c))
                old = builder.load(ptr)
                if fdt == types.float32:  # as numba: float32 + float64 -> float64
                    new = builder.fptrunc(
                        builder.fadd(builder.fpext(old, _F64), add), t
                    )
                else:
                    new = builder.fadd(old, add)
                builder.store(new, ptr)

        def sample_parts(k, cols, dev, win_ty, win_val):
            """amp[k] * wc[k] of four samples, one vector per sample."""
            wn = context.make_array(win_ty)(context, builder, win_val)
            wins = builder.bitcast(builder.gep(wn.data, [k]), v4d.as_pointer())
            amps = builder.fmul(_splat4(builder, dev), builder.load(wins, align=8))
            # corner-major products, transposed to sample-major ([c] of
            # sample k): the products the scalar loop forms, one per lane
            cols = [builder.fmul(amps, col) for col in cols]
            lo01 = _shuffle(builder, cols[0], cols[1], [0, 4, 1, 5])
            hi01 = _shuffle(builder, cols[0], cols[1], [2, 6, 3, 7])
            lo23 = _shuffle(builder, cols[2], cols[3], [0, 4, 1, 5])
            hi23 = _shuffle(builder, cols[2], cols[3], [2, 6, 3, 7])
            return [
                _shuffle(builder, lo01, lo23, [0, 1, 4, 5]),
                _shuffle(builder, lo01, lo23, [2, 3, 6, 7]),
                _shuffle(builder, hi01, hi23, [0, 1, 4, 5]),
                _shuffle(builder, hi01, hi23, [2, 3, 6, 7]),
            ]

        pre = builder.basic_block
        head = builder.append_basic_block("scatter.head")
        body = builder.append_basic_block("scatter.body")
        done = builder.append_basic_block("scatter.done")

        def pixel(k):
            return builder.load(builder.gep(arrs[0].data, [k]), align=8)

        pp0 = pixel(ir.Constant(_I64, 0))
        builder.branch(head)
        builder.position_at_end(head)
        i = builder.phi(_I64)
        i.add_incoming(ir.Constant(_I64, 0), pre)
        pp = builder.phi(_I64)
        pp.add_incoming(pp0, pre)
        accs = []
        for _ in range(2 if paired else 1):
            acc = builder.phi(v4d)
            acc.add_incoming(zero4, pre)
            accs.append(acc)
        builder.cbranch(builder.icmp_signed("<", i, blocks_v), body, done)
        builder.position_at_end(body)
        k = builder.mul(i, ir.Constant(_I64, 4))
        cols = [
            builder.load(
                builder.bitcast(builder.gep(arrs[c + 1].data, [k]), v4d.as_pointer()),
                align=8,
            )
            for c in range(4)
        ]
        parts = [sample_parts(k, cols, dev_v, sig.args[4], win_v)]
        if paired:
            parts.append(sample_parts(k, cols[::-1], devm_v, sig.args[8], winm_v))
        run_p, run_accs = pp, list(accs)
        for j in range(4):
            p = pixel(builder.add(k, ir.Constant(_I64, j)))
            with builder.if_else(builder.icmp_unsigned("==", p, run_p)) as (
                same,
                other,
            ):
                with same:
                    grown = [
                        builder.fadd(a, part[j])
                        for a, part in zip(run_accs, parts, strict=True)
                    ]
                    from_same = builder.basic_block
                with other:
                    flush(run_p, run_accs[0])
                    if paired:
                        flush(builder.sub(km_v, run_p), run_accs[1])
                    from_other = builder.basic_block
            nexts = []
            for g, part in zip(grown, parts, strict=True):
                nxt = builder.phi(v4d)
                nxt.add_incoming(g, from_same)
                nxt.add_incoming(part[j], from_other)
                nexts.append(nxt)
            next_p = builder.phi(_I64)
            next_p.add_incoming(run_p, from_same)
            next_p.add_incoming(p, from_other)
            run_p, run_accs = next_p, nexts
        end = builder.basic_block
        i.add_incoming(builder.add(i, one), end)
        pp.add_incoming(run_p, end)
        for acc, val in zip(accs, run_accs, strict=True):
            acc.add_incoming(val, end)
        builder.branch(head)
        builder.position_at_end(done)
        out = [pp]
        for acc in accs:
            out += [builder.extract_element(acc, _I32(c)) for c in range(4)]
        return context.make_tuple(builder, sig.return_type, out)

    return sig, codegen


@numba.njit(cache=True, nogil=True, inline="always")
def _products(amp, s, u, reverse):
    """``amp`` times the four weights of sample ``u`` (``reverse``: w3 first)."""
    _, w0, w1, w2, w3 = s
    if reverse:
        return amp * w3[u], amp * w2[u], amp * w1[u], amp * w0[u]
    return amp * w0[u], amp * w1[u], amp * w2[u], amp * w3[u]


@numba.njit(cache=True, nogil=True, inline="always")
def _plus(a, b):
    return a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]


@numba.njit(cache=True, nogil=True, inline="always")
def _flush4(flat, p, us, a):
    _flush(flat, p, us, a[0], a[1], a[2], a[3])


@numba.njit(cache=True, nogil=True)
def _scatter_from(flat, stride, k0, count, deviation, win, s, run):
    """Scalar scatter of samples ``[k0, count)``, continuing the open ``run``.

    ``run = (pp, a0, a1, a2, a3)``: the flat index of the current run of
    samples and its four corner sums, not yet added; the last run is added
    on return.
    """
    idx = s[0]
    us = np.uint64(stride)
    pp = run[0]
    a = run[1:]
    for k in range(k0, count):
        u = np.uint64(k)
        p = idx[u]
        here = _products(deviation * win[u], s, u, False)
        if p != pp:
            _flush4(flat, pp, us, a)
            pp = p
            a = here
        else:
            a = _plus(a, here)
    _flush4(flat, pp, us, a)


@numba.njit(cache=True, nogil=True)
def _scatter_pair_from(flat, stride, k0, count, dev, win, dev_m, win_m, s, run, km):
    """:func:`_scatter_from` for a ray and its mirror together.

    ``run = (pp, a0 .. a3, b0 .. b3)``: the open run of both (the mirror's
    at ``km - pp``, its sums ``b``); the mirror's amplitudes are
    ``dev_m * win_m[k]`` and its weights the ray's in reverse corner order.
    """
    idx = s[0]
    us = np.uint64(stride)
    km = np.uint64(km)
    pp = run[0]
    a = run[1:5]
    b = run[5:]
    for k in range(k0, count):
        u = np.uint64(k)
        p = idx[u]
        here = _products(dev * win[u], s, u, False)
        there = _products(dev_m * win_m[u], s, u, True)
        if p != pp:
            _flush4(flat, pp, us, a)
            _flush4(flat, km - pp, us, b)
            pp = p
            a = here
            b = there
        else:
            a = _plus(a, here)
            b = _plus(b, there)
    _flush4(flat, pp, us, a)
    _flush4(flat, km - pp, us, b)


@numba.njit(cache=True, nogil=True)
def _scatter(flat, stride, count, deviation, win, s):
    """Add ``deviation * win[k] * wc[k]`` to the four neighbours of sample k.

    Runs of samples with the same flat index (neighbouring samples are
    ~0.5 px apart) are summed in registers and added once: the pixels'
    read-modify-writes drop by about a third to a half. The sums are then
    formed in a different order (rounding only). Blocks of four samples go
    through :func:`_scatter_blocks` (same operations, vector registers),
    the rest through :func:`_scatter_from`.
    """
    blocks = count // 4
    run = _scatter_blocks(flat, stride, blocks, deviation, win, s, None, None, None)
    _scatter_from(flat, stride, 4 * blocks, count, deviation, win, s, run)


@numba.njit(cache=True, nogil=True)
def _scatter_pair(flat, stride, count, dev, win, dev_m, win_m, s, km):
    """:func:`_scatter` of a ray and, from the same weights, of its mirror.

    The mirror (:func:`_mirror_map`) has amplitudes ``dev_m * win_m[k]``
    (``win_m``: the window reversed), weights in reverse corner order and
    cells ``km - idx[k]``; its runs end where the ray's do.
    """
    blocks = count // 4
    run = _scatter_blocks(flat, stride, blocks, dev, win, s, km, dev_m, win_m)
    _scatter_pair_from(
        flat, stride, 4 * blocks, count, dev, win, dev_m, win_m, s, run, km
    )


@numba.njit(cache=True, nogil=True)
def _scatter_scalar(flat, stride, count, deviation, win, s):
    """:func:`_scatter` without vector registers (the reference in tests)."""
    run = (s[0][0], 0.0, 0.0, 0.0, 0.0)
    _scatter_from(flat, stride, 0, count, deviation, win, s, run)


@numba.njit(cache=True, nogil=True)
def _scatter_pair_scalar(flat, stride, count, dev, win, dev_m, win_m, s, km):
    """:func:`_scatter_pair` without vector registers (the reference in tests)."""
    z = 0.0
    run = (s[0][0], z, z, z, z, z, z, z, z)
    _scatter_pair_from(flat, stride, 0, count, dev, win, dev_m, win_m, s, run, km)


@numba.njit(cache=True, nogil=True, inline="always")
def _add_row(flat, q, i, i0, i1, v):
    if v != 0.0 and i0 <= i < i1:
        flat[q] = flat[q] + v


@numba.njit(cache=True, nogil=True)
def _scatter_rows(flat, stride, count, deviation, win, s, i0, i1):
    """:func:`_scatter` on rows ``[i0, i1)`` only, skipping zero weights."""
    idx, w0, w1, w2, w3 = s
    for k in range(count):
        u = np.uint64(k)
        amp = deviation * win[u]
        p = np.int64(idx[u])
        i = p // stride
        _add_row(flat, p, i, i0, i1, amp * w0[u])
        _add_row(flat, p + 1, i, i0, i1, amp * w1[u])
        _add_row(flat, p + stride, i + 1, i0, i1, amp * w2[u])
        _add_row(flat, p + stride + 1, i + 1, i0, i1, amp * w3[u])


@numba.njit(cache=True, nogil=True)
def _interior(n, ns, dx, dy, x0, y0, center, proto):
    """``(interior, mirror_ok)`` of a ray with ``ns > 0`` steps.

    ``interior``: every neighbour of every sample is inside the image and
    not skipped; ``mirror_ok``: so are those of the mirrored samples
    (:func:`_mirror_map`).
    """
    # the samples lie on a segment: checking both ends is enough
    _, _, fi0, fj0 = _sample_floor(0, dx, dy, x0, y0, center, proto)
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


@numba.njit(cache=True, nogil=True)
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
def _ray_sums(flat, n, stride, trig, ray_position, proto, s, km=None):
    """Geometry, ray sum and weight norm of one ray (and of its mirror).

    Returns ``(ns, ds, dx, dy, x0, y0, center, ray_sum, weight_norm,
    interior, mirror_sum, mirrored)``; ``ns == 0`` when the ray has no
    samples. ``interior``: every neighbour of every sample is inside the
    image and not skipped. With ``km`` (:func:`_mirror_map`), when the
    mirrored samples are interior too and the scratch ``s`` holds the whole
    ray, ``mirror_sum`` is the ray sum of the mirrored ray, formed in the
    same pass (:func:`_ray_dot_pair`), and ``mirrored`` is True.
    """
    ns, ds, dx, dy, x0, y0, center = _ray_setup(n, trig, ray_position, proto)
    zero = _like(0.0, proto)
    if ns <= 0:
        return 0, ds, dx, dy, x0, y0, center, zero, zero, True, zero, False
    interior, mirror_ok = _interior(n, ns, dx, dy, x0, y0, center, proto)
    ray_sum = zero
    weight_norm = zero
    mirror_sum = zero
    mirrored = False
    chunk = s[0].shape[0]
    for k0 in range(0, ns + 1, chunk):
        count = min(chunk, ns + 1 - k0)
        _sample_weights(k0, count, ds, dx, dy, x0, y0, center, stride, proto, s)
        if interior:
            if km is not None:
                if mirror_ok and count == ns + 1:
                    rs, wn, mirror_sum = _ray_dot_pair(
                        flat, stride, count, s, proto, km
                    )
                    mirrored = True
                else:
                    rs, wn = _ray_dot(flat, stride, count, s, proto)
            else:
                rs, wn = _ray_dot(flat, stride, count, s, proto)
            ray_sum += rs
            weight_norm += wn
        else:
            _border_weights(count, n, stride, s)
            ray_sum += _ray_sum_border(flat, stride, count, s, proto)
            weight_norm += _weight_norm(count, s, proto)
    out = (ns, ds, dx, dy, x0, y0, center, ray_sum, weight_norm, interior)
    return out + (mirror_sum, mirrored)


@numba.njit(cache=True, nogil=True, inline="always")
def _deviation(ray_sum, weight_norm, projected, proto):
    """``(ok, deviation)`` of a ray; ``ok`` is False (and 0) if it has no weight."""
    if not weight_norm > 0:
        return False, _like(0.0, proto)
    return True, _like(-(ray_sum - projected) / weight_norm, proto)


@numba.njit(cache=True, nogil=True)
def _ray_deviation(flat, n, stride, trig, ray_position, projected, proto, s):
    """Geometry and deviation of one ray.

    Returns ``(ns, ds, dx, dy, x0, y0, center, deviation, interior)``;
    ``ns == 0`` when the ray adds nothing. ``interior``: every neighbour of
    every sample is inside the image and not skipped.
    """
    sums = _ray_sums(flat, n, stride, trig, ray_position, proto, s)
    return _ray_of(sums, projected, proto)


@numba.njit(cache=True, nogil=True, inline="always")
def _ray_of(sums, projected, proto):
    """The ray record :func:`_ray_deviation` returns, from :func:`_ray_sums`."""
    ns, ds, dx, dy, x0, y0, center, ray_sum, weight_norm, interior = sums[:10]
    ok, deviation = _deviation(ray_sum, weight_norm, projected, proto)
    if ns <= 0 or not ok:
        return 0, ds, dx, dy, x0, y0, center, deviation, True
    return ns, ds, dx, dy, x0, y0, center, deviation, interior


@numba.njit(cache=True, nogil=True)
def _ray_scatter(uflat, n, stride, ray, proto, windows, s, i0, i1, fresh, scale):
    """Add ``scale`` times the update of a ray to rows ``[i0, i1)``.

    ``ray`` comes from :func:`_ray_deviation`. ``fresh``: the scratch still
    holds the weights of the whole ray.
    """
    ns, ds, dx, dy, x0, y0, center, deviation, interior = ray
    win = _window(windows, ns, False, proto)
    dev = np.float64(deviation) * scale
    all_rows = interior and i0 == 0 and i1 >= n
    chunk = s[0].shape[0]
    for k0 in range(0, ns + 1, chunk):
        count = min(chunk, ns + 1 - k0)
        if not (fresh and ns < chunk):
            _sample_weights(k0, count, ds, dx, dy, x0, y0, center, stride, proto, s)
            if not interior:
                _border_weights(count, n, stride, s)
        if all_rows:
            _scatter(uflat, stride, count, dev, win[k0:], s)
        else:
            _scatter_rows(uflat, stride, count, dev, win[k0:], s, i0, i1)


@numba.njit(cache=True, nogil=True)
def _ray_range(image, update, theta_rad, projection, shift, proto, windows, s, r0, r1):
    """Rays ``r0 <= r < r1`` of one angle, scattered into ``update``."""
    n, stride = image.shape
    flat = image.ravel()
    uflat = update.ravel()
    trig = _trig(theta_rad)
    for r in range(r0, r1):
        pos = _like(_like(r, proto) + shift, proto)
        ray = _ray_deviation(flat, n, stride, trig, pos, projection[r], proto, s)
        if ray[0] > 0:
            _ray_scatter(uflat, n, stride, ray, proto, windows, s, 0, n, True, 1.0)


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


# --------------------------------------------------------------------------
# drivers
# --------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
def _clip_rows(image, lo, hi, rows, i0, i1):
    """Clip the columns ``rows`` gives of rows ``[i0, i1)`` to ``[lo, hi]``."""
    col_lo, col_hi = rows
    for i in range(i0, i1):
        row = image[i, col_lo[i] : col_hi[i]]
        for j in range(row.shape[0]):
            row[j] = min(max(row[j], lo), hi)


@numba.njit(cache=True, nogil=True, inline="always")
def _store_ray(rec_f, rec_i, g, ray):
    ns, ds, dx, dy, x0, y0, center, dev, interior = ray
    rec_i[g, 0] = ns
    rec_i[g, 1] = interior
    rec_f[g, 0] = ds
    rec_f[g, 1] = dx
    rec_f[g, 2] = dy
    rec_f[g, 3] = x0
    rec_f[g, 4] = y0
    rec_f[g, 5] = center
    rec_f[g, 6] = dev


@numba.njit(cache=True, nogil=True, inline="always")
def _load_ray(rec_f, rec_i, g, proto):
    """A ray stored by :func:`_store_ray` (values are exact: dtype -> float64)."""
    return (
        rec_i[g, 0],
        _like(rec_f[g, 0], proto),
        _like(rec_f[g, 1], proto),
        _like(rec_f[g, 2], proto),
        _like(rec_f[g, 3], proto),
        _like(rec_f[g, 4], proto),
        _like(rec_f[g, 5], proto),
        _like(rec_f[g, 6], proto),
        rec_i[g, 1] != 0,
    )


@numba.njit(cache=True, nogil=True)
def _rays_in_place(
    image, theta_rad, projection, shift, scale, windows, ring, record, g0, r0, r1, gaps
):
    """Rays ``[r0, r1)`` of one angle, their updates added to ``image``.

    SART forms every ray sum of an angle from the image before that angle's
    update. A ray's update only touches pixels that rays less than 3 away
    read, so it can be added to the image as soon as the sums of the next
    ``LAG`` rays are formed: rays are summed in order and updated ``LAG``
    behind, their weights kept in ``ring`` (:func:`new_ring`) meanwhile, and
    no update buffer is needed. ``scale`` multiplies every update (the
    relaxation). With ``gaps`` the first and last ``GAP_RAYS`` rays are
    summed but their updates are not added: they go to ``record`` (rows
    ``g0`` onwards, see :func:`new_record`), for :func:`sart_apply`.
    """
    n, stride = image.shape
    flat = image.ravel()
    proto = projection[0]
    rec_f, rec_i = record[0], record[1]
    ring_f = np.zeros((LAG + 1, 7), dtype=np.float64)
    ring_i = np.zeros((LAG + 1, 2), dtype=np.int64)
    trig = _trig(theta_rad)
    for r in range(r0, r1 + LAG):
        if r < r1:
            slot = r % (LAG + 1)
            pos = _like(_like(r, proto) + shift, proto)
            ray = _ray_deviation(
                flat, n, stride, trig, pos, projection[r], proto, _slot(ring, slot)
            )
            if gaps and r - r0 < GAP_RAYS:
                _store_ray(rec_f, rec_i, g0 + r - r0, ray)
                ring_i[slot, 0] = 0
            elif gaps and r1 - 1 - r < GAP_RAYS:
                _store_ray(rec_f, rec_i, g0 + GAP_RAYS + r1 - 1 - r, ray)
                ring_i[slot, 0] = 0
            else:
                _store_ray(ring_f, ring_i, slot, ray)
        q = r - LAG
        if q >= r0:
            sq = q % (LAG + 1)
            if ring_i[sq, 0] > 0:
                ray = _load_ray(ring_f, ring_i, sq, proto)
                s = _slot(ring, sq)
                _ray_scatter(flat, n, stride, ray, proto, windows, s, 0, n, True, scale)


@numba.njit(cache=True, nogil=True)
def _mirror_ray(flat, n, stride, trig, m, projected, proto, sm, sums, recorded):
    """The mirror ``m`` of a ray with sums ``sums`` (:func:`_ray_sums`).

    Returns ``(ray, aliased)``. ``aliased``: its ray sum was formed with
    the original's (its weight norm is the original's), and its update
    will be scattered from the original's weights too (only ``ns`` and the
    deviation of ``ray`` are set, unless ``recorded``: a recorded ray's
    weights are computed afresh from its geometry in phase 2); otherwise
    its weights are computed into ``sm`` as for any ray.
    """
    ns, wn, mirror_sum, mirrored = sums[0], sums[8], sums[10], sums[11]
    pos = _like(m, proto)
    if mirrored and wn > 0:
        _, dev = _deviation(mirror_sum, wn, projected, proto)
        if not recorded:
            z = _like(0.0, proto)
            return (ns, z, z, z, z, z, z, dev, True), True
        g = _ray_setup(n, trig, pos, proto)
        interior, _ = _interior(n, g[0], g[2], g[3], g[4], g[5], g[6], proto)
        return (g[0], g[1], g[2], g[3], g[4], g[5], g[6], dev, interior), True
    return _ray_deviation(flat, n, stride, trig, pos, projected, proto, sm), False


@numba.njit(cache=True, nogil=True)
def _prefetch_ahead(flat, stride, count, s, km, delta):
    """Prefetch, for writing, the cells ``delta`` away from a pair's samples.

    With ``delta`` the flat offset of a few rays' spacing, these are (about)
    the cells of the pair that many steps on in the sweep, for both the ray
    (``idx + delta``) and its mirror (``km - idx - delta``), both rows of
    each cell, every fourth sample. Lines the other thread wrote last are
    then on their way when the pair gets there: on a host that places the
    two threads on cores without a shared cache, such a line takes ~0.2 us
    to arrive (see :func:`ping_pong`).
    """
    idx = s[0]
    d = np.uint64(delta)
    us = np.uint64(stride)
    for k in range(0, count, 4):
        p = idx[np.uint64(k)]
        q = p + d
        prefetch_write(flat, q)
        prefetch_write(flat, q + us)
        q = km - p - d
        prefetch_write(flat, q)
        prefetch_write(flat, q + us)


@numba.njit(cache=True, nogil=True)
def ping_pong(sync, part, rounds, max_spins):
    """Pass a counter back and forth with another thread ``rounds`` times.

    Thread ``part`` (0 or 1) waits for ``sync[0]`` to reach ``2 * k +
    part``, then increments it; timing the call gives the round trip of a
    cache line between the two threads' cores. ``sync`` is ``[counter,
    abort]``, zeros at the start. Returns the rounds done: fewer if a wait
    gave up after ``max_spins`` checks or ``sync[1]`` was set.

    Examples
    --------
    >>> import threading, numpy as np
    >>> sync = np.zeros(2, dtype=np.int64)
    >>> t = threading.Thread(target=ping_pong, args=(sync, 1, 100, 1 << 30))
    >>> t.start(); done = ping_pong(sync, 0, 100, 1 << 30); t.join()
    >>> done, int(sync[0])
    (100, 200)
    """
    for k in range(rounds):
        if spin_until(sync, 0, 2 * k + part, 1, max_spins) != 1:
            return k
        atomic_add(sync, 0, 1)
    return rounds


@numba.njit(cache=True, nogil=True)
def _pair_rays(
    image, theta_rad, projection, scale, windows, ring, record, g0, a, b, gaps
):
    """Rays ``[a, b)`` (``b <= n // 2 + 1``) and their mirrors, updates added.

    :func:`_rays_in_place` for pairs of rays (no projection shift): ray
    ``r`` and its mirror ``2c - r`` are summed together, the mirror through
    the weights of ``r`` (:func:`_mirror_map`), which halves the weights
    pass; both updates are added ``LAG`` pairs later (the mirrors run from
    the outside in, so they too have their neighbours' sums formed by
    then). With ``gaps`` the first ``GAP_RAYS`` pairs and, unless ``b`` is
    past the centre ray, the last ``GAP_RAYS`` pairs are recorded (rows
    ``g0`` onwards: rays, then their mirrors) instead of added.
    """
    n, stride = image.shape
    flat = image.ravel()
    proto = projection[0]
    n_rays = projection.shape[0]
    c = n // 2
    km = _mirror_map(n, stride)
    rec_f, rec_i = record[0], record[1]
    big = LAG + 1
    ring_f = np.zeros((2 * big, 7), dtype=np.float64)
    ring_i = np.zeros((2 * big, 2), dtype=np.int64)
    aliased = np.zeros(big, dtype=np.bool_)
    trig = _trig(theta_rad)
    ahead = record[3][2]
    ct, st = trig
    delta = np.int64(round(-ahead * st)) * stride + np.int64(round(ahead * ct))
    gap_lo = gaps and a > 0
    gap_hi = gaps and b <= c
    for j in range(b - a + LAG):
        r = a + j
        if r < b:
            slot = j % big
            s = _slot(ring, slot)
            sums = _ray_sums(flat, n, stride, trig, _like(r, proto), proto, s, km)
            if ahead > 0 and sums[11]:  # mirrored: s holds the whole ray
                _prefetch_ahead(flat, stride, sums[0] + 1, s, km, delta)
            ray = _ray_of(sums, projection[r], proto)
            row = -1
            if gap_lo and j < GAP_RAYS:
                row = g0 + j
            elif gap_hi and b - 1 - r < GAP_RAYS:
                row = g0 + GAP_RAYS + b - 1 - r
            ring_i[slot, 0] = 0
            ring_i[big + slot, 0] = 0
            aliased[slot] = False
            if row >= 0:
                _store_ray(rec_f, rec_i, row, ray)
            else:
                _store_ray(ring_f, ring_i, slot, ray)
            m = 2 * c - r
            if m != r and m < n_rays:
                sm = _slot(ring, big + slot)
                ray_m, alias = _mirror_ray(
                    flat, n, stride, trig, m, projection[m], proto, sm, sums, row >= 0
                )
                if row >= 0:
                    _store_ray(rec_f, rec_i, row + 2 * GAP_RAYS, ray_m)
                else:
                    _store_ray(ring_f, ring_i, big + slot, ray_m)
                    aliased[slot] = alias
        q = j - LAG
        if q >= 0:
            sq = q % big
            s = _slot(ring, sq)
            if aliased[sq]:  # (then the ray has samples and is in the ring)
                ns = ring_i[sq, 0]
                dev = ring_f[sq, 6] * scale
                dev_m = ring_f[big + sq, 6] * scale
                win = _window(windows, ns, False, proto)
                win_m = _window(windows, ns, True, proto)
                _scatter_pair(flat, stride, ns + 1, dev, win, dev_m, win_m, s, km)
                continue
            if ring_i[sq, 0] > 0:
                ray = _load_ray(ring_f, ring_i, sq, proto)
                _ray_scatter(flat, n, stride, ray, proto, windows, s, 0, n, True, scale)
            if ring_i[big + sq, 0] > 0:
                ray = _load_ray(ring_f, ring_i, big + sq, proto)
                sm = _slot(ring, big + sq)
                _ray_scatter(
                    flat, n, stride, ray, proto, windows, sm, 0, n, True, scale
                )


@numba.njit(cache=True, nogil=True)
def sart_angles_serial(
    image, thetas_deg, projections, shifts, relaxation, lo, hi, do_clip, windows
):
    """Apply SART updates for several angles in order, on one thread.

    Parameters
    ----------
    image : (M, L) float32/float64 array, C-contiguous, ``L >= M``
        Current estimate in columns ``[:M]``, updated in place. A row length
        ``L`` a little over ``M`` (e.g. ``M + 16``) avoids cache conflicts
        when ``M`` is a power of two.
    thetas_deg : (A,) array (image dtype)
        Angles in degrees, in the order they are applied.
    projections : (A, P) array (image dtype)
        The matching sinogram columns.
    shifts : (A,) array (image dtype)
        The matching projection shifts, in pixels.
    relaxation : float (image dtype)
        Relaxation factor.
    lo, hi : float (image dtype)
        Clip range, used when ``do_clip``.
    do_clip : bool
        Clip the whole image to ``[lo, hi]`` after every angle.
    windows : 1-D float64 array
        ``hamming_windows(M, projections[0, 0])``.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((8, 8))
    >>> sart_angles_serial(img, np.zeros(1), np.ones((1, 8)), np.zeros(1),
    ...                    0.15, 0.0, 0.0, False, hamming_windows(8, 0.0))
    >>> bool(img.sum() > 0)
    True
    """
    n = image.shape[0]
    rows = update_rows(n)
    if do_clip:
        clip_outside(image, lo, hi, rows)
    ring = new_ring(n)
    record = new_record(1, n)
    for a in range(thetas_deg.shape[0]):
        # one share holding every ray: pairs, or rays one by one if shifted
        sart_rays(
            image,
            thetas_deg[a],
            projections[a],
            shifts[a],
            relaxation,
            windows,
            ring,
            record,
            0,
            1,
        )
        if do_clip:
            _clip_rows(image, lo, hi, rows, 0, n)


@numba.njit(cache=True, nogil=True)
def sart_rays(
    image, theta_deg, projection, shift, relaxation, windows, ring, record, part, parts
):
    """Phase 1 of one angle on ``parts`` threads: this thread's rays.

    Without a shift, thread ``part`` takes the pairs of rays ``r`` in
    ``[split[part], split[part + 1])`` and ``2c - r`` (``split`` is
    :func:`pair_split`, in ``record``); with a shift, rays
    ``[part * P // parts, (part + 1) * P // parts)``. It adds their updates
    to the shared image as :func:`sart_angles_serial` does, except for the
    rays within ``GAP_RAYS`` of another thread's share: those are summed
    (from the image before this angle's update, as every ray) and recorded,
    and :func:`sart_apply` adds them. No two threads then ever touch a
    pixel another thread reads or writes (rays at least 3 apart never share
    one). Call :func:`sart_apply` on every thread once all threads have
    finished this.

    Parameters
    ----------
    image : (M, L) array (float32/float64)
        Current estimate, shared by the threads, as in
        :func:`sart_angles_serial`.
    theta_deg, shift : float (image dtype)
        Angle in degrees and projection shift.
    projection : (P,) array (image dtype)
        The sinogram column of this angle.
    relaxation : float (image dtype)
        Relaxation factor.
    windows : 1-D float64 array
        ``hamming_windows(M, projection[0])``.
    ring : tuple
        ``new_ring(M)``, one per thread.
    record : tuple
        ``new_record(parts, M)``, shared by the threads of one reconstruction.
    part, parts : int
        This thread's number and the number of threads.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((8, 8))
    >>> rec, w = new_record(1, 8), hamming_windows(8, 0.0)
    >>> sart_rays(img, 0.0, np.ones(8), 0.0, 0.15, w, new_ring(8), rec, 0, 1)
    >>> sart_apply(img, 0.15, 0.0, 0.0, False, update_rows(8), rec, w,
    ...            new_scratch(8), 0, 1)
    >>> bool(img.sum() > 0)
    True
    """
    proto = projection[0]
    n_rays = projection.shape[0]
    theta_rad = _like(theta_deg / 180.0 * np.pi, proto)
    rec_i = record[1]
    g0 = 4 * GAP_RAYS * part
    rec_i[g0 : g0 + 4 * GAP_RAYS, 0] = 0
    scale = np.float64(relaxation)
    if part == 0:
        record[3][0] = shift == 0
    if shift == 0:
        split = record[2]
        _pair_rays(
            image,
            theta_rad,
            projection,
            scale,
            windows,
            ring,
            record,
            g0,
            split[part],
            split[part + 1],
            parts > 1,
        )
        return
    r0 = part * n_rays // parts
    r1 = (part + 1) * n_rays // parts
    _rays_in_place(
        image,
        theta_rad,
        projection,
        shift,
        scale,
        windows,
        ring,
        record,
        g0,
        r0,
        r1,
        parts > 1,
    )


@numba.njit(cache=True, nogil=True)
def _apply_by_boundary(flat, n, stride, proto, scale, record, windows, s, part, parts):
    """Phase 2 of mirrored pairs without clipping: whole rays, by boundary.

    The rays recorded at the boundary between shares ``k - 1`` and ``k``
    (the last ``GAP_RAYS`` of ``k - 1`` and the first of ``k``), and
    separately their mirrors, form groups that share no pixel with any
    other group when every share is at least ``2 * GAP_RAYS + 3`` rays wide
    (``record[3][1]``). Each group goes to one thread, which adds its rays
    whole with the fast scatter instead of every thread walking every
    recorded ray for its own rows.
    """
    rec_f, rec_i = record[0], record[1]
    gap = GAP_RAYS
    for k in range(1, parts):
        for side in range(2):  # rays, mirrors
            if (2 * (k - 1) + side) % parts != part:
                continue
            last = 4 * gap * (k - 1) + gap + 2 * gap * side  # share k - 1
            first = 4 * gap * k + 2 * gap * side  # share k
            for g0 in (last, first):
                for g in range(g0, g0 + gap):
                    if rec_i[g, 0] > 0:
                        ray = _load_ray(rec_f, rec_i, g, proto)
                        _ray_scatter(
                            flat, n, stride, ray, proto, windows, s, 0, n, False, scale
                        )


@numba.njit(cache=True, nogil=True)
def sart_apply(
    image,
    relaxation,
    lo,
    hi,
    do_clip,
    rows,
    record,
    windows,
    scratch,
    part,
    parts,
):
    """Phase 2 of one angle on ``parts`` threads: add the recorded rays.

    Adds the updates of the rays recorded by :func:`sart_rays` to rows
    ``[part * M // parts, (part + 1) * M // parts)``, then (with
    ``do_clip``) clips those rows. Without clipping, after mirrored pairs
    (and when every share is wide enough), each group of rays recorded at
    one boundary goes whole to one thread instead
    (:func:`_apply_by_boundary`). Every thread must finish it before the
    next angle starts.

    Parameters
    ----------
    image, relaxation, lo, hi, do_clip
        As in :func:`sart_angles_serial`; with ``do_clip``, call
        :func:`clip_outside` once before the first angle.
    rows : tuple
        ``update_rows(M)``.
    record, windows, part, parts
        As in :func:`sart_rays`.
    scratch : tuple
        ``new_scratch(M)``, one per thread.

    Examples
    --------
    See :func:`sart_rays`.
    """
    n, stride = image.shape
    proto = image[0, 0]
    i0 = part * n // parts
    i1 = (part + 1) * n // parts
    rec_f, rec_i = record[0], record[1]
    flat = image.ravel()
    scale = np.float64(relaxation)
    state = record[3]
    if state[0] and state[1] and not do_clip:
        _apply_by_boundary(
            flat, n, stride, proto, scale, record, windows, scratch, part, parts
        )
        return
    for g in range(rec_i.shape[0]):
        if rec_i[g, 0] > 0:
            ray = _load_ray(rec_f, rec_i, g, proto)
            _ray_scatter(
                flat, n, stride, ray, proto, windows, scratch, i0, i1, False, scale
            )
    if do_clip:
        _clip_rows(image, lo, hi, rows, i0, i1)


@numba.njit(cache=True, nogil=True)
def sart_steps(
    image,
    thetas_deg,
    projections,
    shifts,
    relaxation,
    lo,
    hi,
    do_clip,
    rows,
    windows,
    ring,
    scratch,
    record,
    sync,
    part,
    parts,
    step0,
    step1,
    max_spins,
):
    """Run steps ``[step0, step1)`` of one SART pass on ``parts`` threads.

    Step ``2 * a`` is :func:`sart_rays` of angle ``a``, step ``2 * a + 1``
    :func:`sart_apply`; every thread runs every step, with a barrier after
    each. The barrier is a counter, ``sync[0]``, that every thread
    increments atomically after each step: step ``s`` starts once it
    reaches ``s * parts`` (threads spin on it, without the GIL). A non-zero
    ``sync[1]`` (abort) makes every thread return at its next barrier.

    Parameters
    ----------
    image, thetas_deg, projections, shifts, relaxation, lo, hi, do_clip
        As in :func:`sart_angles_serial` (with ``do_clip``, call
        :func:`clip_outside` once before the first step).
    rows, windows, ring, scratch, record, part, parts
        As in :func:`sart_rays` and :func:`sart_apply`.
    sync : (2,) int64 array
        ``[counter, abort]``, zeros at the start of the pass, shared by the
        threads.
    step0, step1 : int
        Steps to run (``0 <= step0 <= step1 <= 2 * A``); this thread has
        finished every step before ``step0``.
    max_spins : int
        Give up waiting at a barrier after this many checks (~30 ns each).

    Returns
    -------
    int
        ``step1`` when done; ``s < step1`` if the wait before step ``s``
        timed out (call again with ``step0 = s``, after yielding the CPU);
        ``-1`` if aborted.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((8, 8))
    >>> w, sync = hamming_windows(8, 0.0), np.zeros(2, dtype=np.int64)
    >>> sart_steps(img, np.zeros(1), np.ones((1, 8)), np.zeros(1), 0.15,
    ...            0.0, 0.0, False, update_rows(8), w, new_ring(8),
    ...            new_scratch(8), new_record(1, 8), sync, 0, 1, 0, 2, 1000)
    2
    >>> bool(img.sum() > 0), int(sync[0])
    (True, 2)
    """
    for s in range(step0, step1):
        ok = spin_until(sync, 0, s * parts, 1, max_spins)
        if ok < 0:
            return -1
        if ok == 0:
            return s
        a = s // 2
        if s % 2 == 0:
            sart_rays(
                image,
                thetas_deg[a],
                projections[a],
                shifts[a],
                relaxation,
                windows,
                ring,
                record,
                part,
                parts,
            )
        else:
            sart_apply(
                image,
                relaxation,
                lo,
                hi,
                do_clip,
                rows,
                record,
                windows,
                scratch,
                part,
                parts,
            )
        atomic_add(sync, 0, 1)
    return step1


# --------------------------------------------------------------------------
# numba threads (prange): one fork/join per phase of every angle
# --------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
def _ray_block(image, update, theta_rad, projection, shift, proto, windows, r0, r1):
    s = new_scratch(image.shape[0])
    _ray_range(image, update, theta_rad, projection, shift, proto, windows, s, r0, r1)


@numba.njit(cache=True, nogil=True)
def _apply_update(image, update, relaxation, lo, hi, do_clip, i):
    for j in range(image.shape[0]):
        v = image[i, j] + relaxation * update[i, j]
        if do_clip:
            if v < lo:
                v = lo
            if v > hi:
                v = hi
        image[i, j] = v
        update[i, j] = 0


@numba.njit(cache=True, parallel=True)
def sart_angle_update(
    image, update, theta_deg, projection, shift, relaxation, lo, hi, do_clip, windows
):
    """Apply one SART projection update in place with the numba threads.

    Rays run in blocks of neighbouring rays, even blocks first and then odd
    blocks, so no two threads ever write the same pixel; then the rows are
    updated in parallel. Three fork/joins per angle: slower than
    :func:`sart_angles_serial` on machines with few cores.

    Parameters
    ----------
    theta_deg : float (image dtype)
        Projection angle in degrees.
    projection : (P,) array (image dtype)
        The sinogram column for this angle.
    shift : float (image dtype)
        Projection shift in pixels.
    image, update, relaxation, lo, hi, do_clip, windows
        As in :func:`sart_angles_serial`.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((8, 8)); upd = np.zeros_like(img)
    >>> w = hamming_windows(8, 0.0)
    >>> sart_angle_update(img, upd, 0.0, np.ones(8), 0.0, 0.15, 0.0, 0.0, False, w)
    >>> bool(img.sum() > 0)
    True
    """
    proto = projection[0]
    n_rays = projection.shape[0]
    theta_rad = _like(theta_deg / 180.0 * np.pi, proto)
    n_blocks = (n_rays + _BLOCK - 1) // _BLOCK
    for parity in range(2):
        n_par = (n_blocks - parity + 1) // 2
        for b in numba.prange(n_par):
            blk = 2 * b + parity
            r0 = blk * _BLOCK
            r1 = min(n_rays, r0 + _BLOCK)
            _ray_block(
                image, update, theta_rad, projection, shift, proto, windows, r0, r1
            )
    for i in numba.prange(image.shape[0]):
        _apply_update(image, update, relaxation, lo, hi, do_clip, i)
