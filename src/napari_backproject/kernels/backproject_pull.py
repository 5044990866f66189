"""Pull backprojection kernel: every output voxel finds its straightened position.

Plain NumPy arrays in, NumPy arrays out; no napari, dask or files. The kernel
writes one output block (a z-slab) in place and keeps no global state, so it
may be called from several threads at once on different blocks.

Geometry (world units, ``(z, y, x)``): plane ``i`` has centre ``c_i``, unit
tangent ``t_i`` and in-plane unit vectors ``e_u,i``, ``e_v,i``; pixels are
``D`` apart and the plane extends ``A_u = W * D / 2`` and ``A_v = H * D / 2``
from its centre (pixel centres plus half a pixel).

Claims. A voxel at world position ``p`` lies in *segment* ``i`` (between
planes ``i`` and ``i + 1``) when ``d_i >= 0 > d_{i+1}`` with
``d_i = (p - c_i) . t_i``. Its straightened position solves
``p = c(t) + a e_u(t) + b e_v(t)`` where ``c``, ``e_u``, ``e_v`` are
interpolated linearly between the two planes (the inverse of trilinear
sampling of the straightened stack): ``t`` is the root of the cubic
``(p - c(t)) . (e_u(t) x e_v(t)) = 0``, found by Newton steps from
``t = d_i / (d_i - d_{i+1})``, then ``(a, b)`` solve the in-plane normal
equations. All dot products are updated incrementally along x. The *start cap*
(``-D/2 <= d_0 < 0``) and *end cap* (``0 <= d_{n-1} < D/2``) project onto the
first/last plane. A claim counts when ``|a| <= A_u`` and ``|b| <= A_v``;
where several segments claim a voxel (tight bends) the one with the smallest
in-plane distance ``a**2 + b**2`` wins (first segment on exact ties).

Segment ids: ``-1`` start cap, ``0 .. n-2`` segments, ``n - 1`` end cap.
"""

from __future__ import annotations

import numba
import numpy as np

#: sampling modes
NEAREST = 0
LINEAR = 1
LABEL_VOTE = 2


def segment_bounds(
    centers: np.ndarray,
    tangents: np.ndarray,
    e_u: np.ndarray,
    e_v: np.ndarray,
    width: int,
    height: int,
    spacing: float,
    scale: np.ndarray,
    translate: np.ndarray,
    closed: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bounding boxes and frame-projection bounds of every segment and cap.

    Parameters
    ----------
    centers, tangents, e_u, e_v : (n, 3) float arrays
        Plane frames in world units.
    width, height : int
        Pixels per plane along u and v.
    spacing : float
        World distance between pixels (and half-width of the end caps x 2).
    scale, translate : (3,) float arrays
        World = voxel index * scale + translate.
    closed : bool
        Closed loop: segment ``n - 1`` joins the last plane to the first and
        there are no caps.

    Returns
    -------
    ids : (m,) int64
        Segment ids, ``-1, 0, ..., n - 1`` (``m = n + 1``); ``0 .. n - 1``
        for closed loops.
    boxes : (m, 6) int64
        Inclusive voxel index bounds ``z0, z1, y0, y1, x0, x1`` of the voxel
        centres each segment can claim (not clipped to the volume).
    proj : (m, 4) float64
        ``lo_a, hi_a, lo_b, hi_b``: bounds of ``(p - c_i) . e_u,i`` and
        ``(p - c_i) . e_v,i`` over the segment (``i`` its first plane).

    Examples
    --------
    >>> c = np.array([[5.0, 5, 5], [6, 5, 5]])
    >>> t = np.array([[1.0, 0, 0], [1, 0, 0]])
    >>> u = np.array([[0.0, 0, 1], [0, 0, 1]])
    >>> v = np.array([[0.0, 1, 0], [0, 1, 0]])
    >>> ids, boxes, proj = segment_bounds(c, t, u, v, 3, 3, 1.0, np.ones(3),
    ...                                   np.zeros(3))
    >>> ids.tolist(), boxes[1].tolist()
    ([-1, 0, 1], [5, 6, 4, 6, 4, 6])
    """
    n = centers.shape[0]
    au = width * spacing / 2.0
    av = height * spacing / 2.0
    signs = np.array([[-1, -1], [-1, 1], [1, -1], [1, 1]], dtype=np.float64)
    # extended corners of every plane: (n, 4, 3)
    corners = (
        centers[:, None, :]
        + signs[None, :, 0, None] * au * e_u[:, None, :]
        + signs[None, :, 1, None] * av * e_v[:, None, :]
    )
    closed = bool(closed) and n >= 2
    ids = np.arange(0 if closed else -1, n, dtype=np.int64)
    m = ids.size
    eps = 1e-7
    # first plane i of every id and the 8 points bounding what it can claim
    first = np.clip(ids, 0, n - 1)
    pts = np.concatenate([corners[first], corners[(first + 1) % n]], axis=1)
    proj = np.empty((m, 4), dtype=np.float64)
    if not closed:  # caps: the end plane shifted by -/+ half a spacing
        for k, i in ((0, 0), (m - 1, n - 1)):
            off = tangents[i] * (spacing / 2.0)
            pts[k] = np.concatenate([corners[i] - off, corners[i] + off])
    rel = pts - centers[first][:, None, :]
    a = np.matmul(rel, e_u[first][:, :, None])[..., 0]
    b = np.matmul(rel, e_v[first][:, :, None])[..., 0]
    proj[:, 0] = a.min(axis=1) - eps
    proj[:, 1] = a.max(axis=1) + eps
    proj[:, 2] = b.min(axis=1) - eps
    proj[:, 3] = b.max(axis=1) + eps
    if not closed:
        proj[0] = proj[m - 1] = (-au, au, -av, av)
    vox = (pts - translate) / scale
    lo = np.ceil(vox.min(axis=1) - eps).astype(np.int64)
    hi = np.floor(vox.max(axis=1) + eps).astype(np.int64)
    boxes = np.empty((m, 6), dtype=np.int64)
    boxes[:, 0::2] = lo
    boxes[:, 1::2] = hi
    return ids, boxes, proj


@numba.njit(cache=True)
def nonzero_boxes(data):
    """Inclusive non-zero pixel bounds ``v0, v1, u0, u1`` of each slice.

    Returns (k, 4) int64; an all-zero slice gets ``1, 0, 1, 0`` (``v0 > v1``).
    """
    k, h, w = data.shape
    box = np.empty((k, 4), dtype=np.int64)
    for s in range(k):
        v0 = h
        v1 = -1
        u0 = w
        u1 = -1
        for v in range(h):
            first = -1
            for u in range(w):
                if data[s, v, u] != 0:
                    first = u
                    break
            if first < 0:
                continue
            last = first
            for u in range(w - 1, first, -1):
                if data[s, v, u] != 0:
                    last = u
                    break
            v0 = min(v0, v)
            v1 = v
            u0 = min(u0, first)
            u1 = max(u1, last)
        if v1 < 0:
            box[s, 0], box[s, 1], box[s, 2], box[s, 3] = 1, 0, 1, 0
        else:
            box[s, 0], box[s, 1], box[s, 2], box[s, 3] = v0, v1, u0, u1
    return box


@numba.njit(cache=True, inline="always")
def _clip(lo_x, hi_x, f0, g, lo, hi):
    """Restrict [lo_x, hi_x] to the x where lo <= f0 + x * g <= hi."""
    if abs(g) < 1e-12:
        if f0 < lo or f0 > hi:
            return 1.0, 0.0
        return lo_x, hi_x
    x1 = (lo - f0) / g
    x2 = (hi - f0) / g
    if x1 > x2:
        x1, x2 = x2, x1
    return max(lo_x, x1), min(hi_x, x2)


@numba.njit(cache=True, inline="always")
def _solve(R, K, t0, newton):
    """Exact straightened position of a voxel between two planes.

    Solves ``q = t dc + a e_u(t) + b e_v(t)`` (``e(t)`` linear in ``t``)
    from dot products: ``R`` holds ``q . V`` for the vectors
    ``V = t_i, t_{i+1}, N0, N1, N2, e_u0, du, e_v0, dv`` (only 2..8 used) (``N(t) = e_u(t) x
    e_v(t) = N0 + t N1 + t^2 N2``) and ``K`` the segment constants (see
    ``_segment_setup``). ``t`` is the root of the cubic
    ``(q - t dc) . N(t) = 0`` nearest ``t0`` (Newton steps), then ``(a, b)``
    solve the in-plane 2x2 normal equations exactly.
    """
    t = t0
    c0 = R[2]
    c1 = R[3] - K[1]
    c2 = R[4] - K[2]
    c3 = -K[3]
    for _ in range(newton):
        f = ((c3 * t + c2) * t + c1) * t + c0
        df = (3.0 * c3 * t + 2.0 * c2) * t + c1
        if abs(df) < 1e-12:
            break
        t -= f / df
    if not (t >= -0.25 and t <= 1.25):
        t = t0  # did not converge to this segment: keep the estimate
    t = min(max(t, 0.0), 1.0)
    ru = R[5] + t * (R[6] - K[4]) - t * t * K[5]
    rv = R[7] + t * (R[8] - K[6]) - t * t * K[7]
    g11 = K[8] + t * (2.0 * K[9] + t * K[10])
    g22 = K[11] + t * (2.0 * K[12] + t * K[13])
    g12 = K[14] + t * (K[15] + t * K[16])
    det = g11 * g22 - g12 * g12
    a = (g22 * ru - g12 * rv) / det
    b = (g11 * rv - g12 * ru) / det
    return t, a, b


@numba.njit(cache=True, inline="always")
def _dist(centers, tangents, j, pz, py, px):
    """Signed distance of world point (pz, py, px) from plane j."""
    return (
        (pz - centers[j, 0]) * tangents[j, 0]
        + (py - centers[j, 1]) * tangents[j, 1]
        + (px - centers[j, 2]) * tangents[j, 2]
    )


@numba.njit(cache=True, inline="always")
def _segment_setup(i, nx_, is_seg, tangents, e_u, e_v, centers, V, K):
    """Fill the vectors V (9, 3) and constants K (17,) of segment (i, nx_)."""
    for j in range(3):
        V[0, j] = tangents[i, j]
        V[1, j] = tangents[nx_, j]
        V[5, j] = e_u[i, j]
        V[7, j] = e_v[i, j]
        if is_seg:
            V[6, j] = e_u[nx_, j] - e_u[i, j]
            V[8, j] = e_v[nx_, j] - e_v[i, j]
        else:
            V[6, j] = 0.0
            V[8, j] = 0.0
    eu, du, ev, dv = V[5], V[6], V[7], V[8]
    # N0 = eu x ev, N1 = eu x dv + du x ev, N2 = du x dv
    V[2, 0] = eu[1] * ev[2] - eu[2] * ev[1]
    V[2, 1] = eu[2] * ev[0] - eu[0] * ev[2]
    V[2, 2] = eu[0] * ev[1] - eu[1] * ev[0]
    V[3, 0] = eu[1] * dv[2] - eu[2] * dv[1] + du[1] * ev[2] - du[2] * ev[1]
    V[3, 1] = eu[2] * dv[0] - eu[0] * dv[2] + du[2] * ev[0] - du[0] * ev[2]
    V[3, 2] = eu[0] * dv[1] - eu[1] * dv[0] + du[0] * ev[1] - du[1] * ev[0]
    V[4, 0] = du[1] * dv[2] - du[2] * dv[1]
    V[4, 1] = du[2] * dv[0] - du[0] * dv[2]
    V[4, 2] = du[0] * dv[1] - du[1] * dv[0]
    dc0 = centers[nx_, 0] - centers[i, 0] if is_seg else 0.0
    dc1 = centers[nx_, 1] - centers[i, 1] if is_seg else 0.0
    dc2 = centers[nx_, 2] - centers[i, 2] if is_seg else 0.0
    K[0] = dc0 * V[1, 0] + dc1 * V[1, 1] + dc2 * V[1, 2]
    for c in range(3):
        K[1 + c] = dc0 * V[2 + c, 0] + dc1 * V[2 + c, 1] + dc2 * V[2 + c, 2]
    K[4] = dc0 * eu[0] + dc1 * eu[1] + dc2 * eu[2]
    K[5] = dc0 * du[0] + dc1 * du[1] + dc2 * du[2]
    K[6] = dc0 * ev[0] + dc1 * ev[1] + dc2 * ev[2]
    K[7] = dc0 * dv[0] + dc1 * dv[1] + dc2 * dv[2]
    K[8] = eu[0] * eu[0] + eu[1] * eu[1] + eu[2] * eu[2]
    K[9] = eu[0] * du[0] + eu[1] * du[1] + eu[2] * du[2]
    K[10] = du[0] * du[0] + du[1] * du[1] + du[2] * du[2]
    K[11] = ev[0] * ev[0] + ev[1] * ev[1] + ev[2] * ev[2]
    K[12] = ev[0] * dv[0] + ev[1] * dv[1] + ev[2] * dv[2]
    K[13] = dv[0] * dv[0] + dv[1] * dv[1] + dv[2] * dv[2]
    K[14] = eu[0] * ev[0] + eu[1] * ev[1] + eu[2] * ev[2]
    K[15] = (
        eu[0] * dv[0]
        + eu[1] * dv[1]
        + eu[2] * dv[2]
        + du[0] * ev[0]
        + du[1] * ev[1]
        + du[2] * ev[2]
    )
    K[16] = du[0] * dv[0] + du[1] * dv[1] + du[2] * dv[2]


@numba.njit(cache=True, inline="always")
def _corner(data, lut, s, v, u):
    return data[lut[s], v, u]


@numba.njit(cache=True, inline="always")
def _sample(
    data, lut, n, height, width, s, v, u, mode, out, kz, ky, kx, labels, weights, closed
):
    """Sample the straightened stack at (s, v, u) into out[kz, ky, kx].

    ``labels`` and ``weights`` are scratch arrays of length 8. For closed
    loops slice ``n`` is slice 0.
    """
    if mode == NEAREST:
        si = int(np.floor(s + 0.5))
        if closed and si >= n:
            si -= n
        vi = int(np.floor(v + 0.5))
        ui = int(np.floor(u + 0.5))
        si = min(max(si, 0), n - 1)
        vi = min(max(vi, 0), height - 1)
        ui = min(max(ui, 0), width - 1)
        out[kz, ky, kx] = data[lut[si], vi, ui]
        return
    s0 = int(np.floor(s))
    v0 = int(np.floor(v))
    u0 = int(np.floor(u))
    s0 = min(max(s0, 0), n - 1)
    v0 = min(max(v0, 0), height - 1)
    u0 = min(max(u0, 0), width - 1)
    fs = s - s0
    fv = v - v0
    fu = u - u0
    s1 = min(s0 + 1, n - 1)
    if closed and s0 == n - 1:
        s1 = 0
    v1 = min(v0 + 1, height - 1)
    u1 = min(u0 + 1, width - 1)
    if fs <= 0.0:
        s1 = s0
    if fv <= 0.0:
        v1 = v0
    if fu <= 0.0:
        u1 = u0
    if mode == LINEAR:
        acc = 0.0
        for cs in range(2):
            ss = s1 if cs else s0
            ws = fs if cs else 1.0 - fs
            if ws == 0.0:
                continue
            for cv in range(2):
                vv = v1 if cv else v0
                wv = fv if cv else 1.0 - fv
                if wv == 0.0:
                    continue
                for cu in range(2):
                    uu = u1 if cu else u0
                    wu = fu if cu else 1.0 - fu
                    if wu == 0.0:
                        continue
                    acc += ws * wv * wu * data[lut[ss], vv, uu]
        out[kz, ky, kx] = acc
        return
    # LABEL_VOTE: sum the weight of each distinct label among the 8 corners
    first = data[lut[s0], v0, u0]
    if (
        data[lut[s0], v0, u1] == first
        and data[lut[s0], v1, u0] == first
        and data[lut[s0], v1, u1] == first
        and data[lut[s1], v0, u0] == first
        and data[lut[s1], v0, u1] == first
        and data[lut[s1], v1, u0] == first
        and data[lut[s1], v1, u1] == first
    ):
        out[kz, ky, kx] = first
        return
    m = 0
    for cs in range(2):
        ss = s1 if cs else s0
        ws = fs if cs else 1.0 - fs
        for cv in range(2):
            vv = v1 if cv else v0
            wv = fv if cv else 1.0 - fv
            for cu in range(2):
                uu = u1 if cu else u0
                wu = fu if cu else 1.0 - fu
                w = ws * wv * wu
                if w <= 0.0:
                    continue
                lab = data[lut[ss], vv, uu]
                found = False
                for j in range(m):
                    if labels[j] == lab:
                        weights[j] += w
                        found = True
                        break
                if not found:
                    labels[m] = lab
                    weights[m] = w
                    m += 1
    best = 0
    for j in range(1, m):
        if weights[j] > weights[best]:
            best = j
        elif weights[j] == weights[best]:
            # ties: a label beats background; among labels the smaller ID wins
            lb = labels[best]
            lj = labels[j]
            if lb == 0 or (lj != 0 and lj < lb):
                best = j
    if m > 0:
        out[kz, ky, kx] = labels[best]


@numba.njit(cache=True)
def need_bounds(
    centers,
    tangents,
    e_u,
    e_v,
    width,
    height,
    spacing,
    ids,
    boxes,
    proj,
    scale,
    translate,
    lut,
    nzbox,
    closed,
):
    """Where each segment's claims can sample a non-zero value.

    ``nzbox`` (k, 4) holds the inclusive non-zero pixel bounds ``v0, v1, u0,
    u1`` of every loaded slice (``v0 > v1``: all zero). A sample at ``(s, v,
    u)`` reads only pixels within one pixel of ``(v, u)`` in the two
    bracketing slices, so a claim of segment ``i`` can be non-zero only when
    its in-plane position lies in the union ``B`` of the two slices' boxes
    grown by one pixel. The solved position satisfies ``q - t dc = a e_u(t) +
    b e_v(t) + h n(t)`` (``n`` the unit plane normal at ``t``, ``|h| <=
    |q - t dc|``), so ``q . e_u,i`` lies within the projections of the 8
    corners ``c(t) + a e_u(t) + b e_v(t)`` (``t`` in {0, 1}, ``(a, b)`` the
    corners of ``B``) widened by ``max |h| * max |n(t) . e_u,i|``; likewise for
    ``e_v,i``. Caps project exactly (``t = 0``, no widening).

    Returns ``(m, 11)``: ``flag, lo_a, hi_a, lo_b, hi_b, z0, z1, y0, y1, x0,
    x1`` with flag 0: no claim can be non-zero; 1: only within the bounds; 2:
    no restriction. ``z0 .. x1`` are inclusive voxel bounds of the restricted
    region (the box spanned by the ``a``, ``b`` bounds and the range of
    ``d_i`` allowed by ``d_{i+1} < 0``), within the segment's box.
    """
    n = centers.shape[0]
    m = ids.shape[0]
    res = np.empty((m, 11))
    au = width * spacing / 2.0
    av = height * spacing / 2.0
    cu = (width - 1) / 2.0
    cv = (height - 1) / 2.0
    eps = 1e-6
    for k in range(m):
        sid = ids[k]
        res[k, 0] = 2.0
        res[k, 1] = proj[k, 0]
        res[k, 2] = proj[k, 1]
        res[k, 3] = proj[k, 2]
        res[k, 4] = proj[k, 3]
        if sid < 0:
            i = 0
        elif sid >= n - 1:
            i = n - 1
        else:
            i = sid
        is_seg = (0 <= sid < n - 1) or closed
        nx_ = (i + 1) % n
        li = lut[i]
        ln = lut[nx_] if is_seg else li
        if li < 0 or ln < 0:
            continue
        v0 = min(nzbox[li, 0], nzbox[ln, 0])
        v1 = max(nzbox[li, 1], nzbox[ln, 1])
        u0 = min(nzbox[li, 2], nzbox[ln, 2])
        u1 = max(nzbox[li, 3], nzbox[ln, 3])
        if nzbox[li, 0] > nzbox[li, 1]:  # slice i all zero
            v0, v1, u0, u1 = nzbox[ln, 0], nzbox[ln, 1], nzbox[ln, 2], nzbox[ln, 3]
        elif nzbox[ln, 0] > nzbox[ln, 1]:
            v0, v1, u0, u1 = nzbox[li, 0], nzbox[li, 1], nzbox[li, 2], nzbox[li, 3]
        if v0 > v1:
            res[k, 0] = 0.0
            continue
        a0 = max((u0 - 1 - cu) * spacing, -au) - eps
        a1 = min((u1 + 1 - cu) * spacing, au) + eps
        b0 = max((v0 - 1 - cv) * spacing, -av) - eps
        b1 = min((v1 + 1 - cv) * spacing, av) + eps
        if not is_seg:
            res[k, 0] = 1.0
            res[k, 1] = max(a0, proj[k, 0])
            res[k, 2] = min(a1, proj[k, 1])
            res[k, 3] = max(b0, proj[k, 2])
            res[k, 4] = min(b1, proj[k, 3])
            continue
        # normal N(t) = N0 + t N1 + t^2 N2 of the interpolated frame
        eu = e_u[i]
        ev = e_v[i]
        du = e_u[nx_] - eu
        dv = e_v[nx_] - ev
        N0 = np.cross(eu, ev)
        N1 = np.cross(eu, dv) + np.cross(du, ev)
        N2 = np.cross(du, dv)
        den = (
            np.sqrt(np.sum(N0 * N0))
            - np.sqrt(np.sum(N1 * N1))
            - np.sqrt(np.sum(N2 * N2))
        )
        if den < 0.5:
            continue
        su = (abs(np.sum(N0 * eu)) + abs(np.sum(N1 * eu)) + abs(np.sum(N2 * eu))) / den
        sv = (abs(np.sum(N0 * ev)) + abs(np.sum(N1 * ev)) + abs(np.sum(N2 * ev))) / den
        # |h| <= |q - t dc| <= max over the voxel box corners of the
        # distances to c_i and c_{i+1}
        hmax = 0.0
        for cz in range(2):
            for cy in range(2):
                for cx in range(2):
                    w0 = boxes[k, cz] * scale[0] + translate[0]
                    w1 = boxes[k, 2 + cy] * scale[1] + translate[1]
                    w2 = boxes[k, 4 + cx] * scale[2] + translate[2]
                    for j in (i, nx_):
                        d2 = (
                            (w0 - centers[j, 0]) ** 2
                            + (w1 - centers[j, 1]) ** 2
                            + (w2 - centers[j, 2]) ** 2
                        )
                        hmax = max(hmax, np.sqrt(d2))
        lo_a = 1e300
        hi_a = -1e300
        lo_b = 1e300
        hi_b = -1e300
        for j in (i, nx_):
            for ca in range(2):
                a = a1 if ca else a0
                for cb in range(2):
                    b = b1 if cb else b0
                    pa = 0.0
                    pb = 0.0
                    for d in range(3):
                        r = (
                            centers[j, d]
                            - centers[i, d]
                            + a * e_u[j, d]
                            + b * e_v[j, d]
                        )
                        pa += r * eu[d]
                        pb += r * ev[d]
                    lo_a = min(lo_a, pa)
                    hi_a = max(hi_a, pa)
                    lo_b = min(lo_b, pb)
                    hi_b = max(hi_b, pb)
        mu = hmax * su * 1.001 + eps
        mv = hmax * sv * 1.001 + eps
        res[k, 0] = 1.0
        res[k, 1] = max(lo_a - mu, proj[k, 0])
        res[k, 2] = min(hi_a + mu, proj[k, 1])
        res[k, 3] = max(lo_b - mv, proj[k, 2])
        res[k, 4] = min(hi_b + mv, proj[k, 3])
    half = spacing / 2.0
    for k in range(m):
        for j in range(6):
            res[k, 5 + j] = boxes[k, j]
        if res[k, 0] != 1.0:
            continue
        sid = ids[k]
        if sid < 0:
            i = 0
        elif sid >= n - 1:
            i = n - 1
        else:
            i = sid
        is_seg = (0 <= sid < n - 1) or closed
        nx_ = (i + 1) % n
        # q = p - c_i from (a, b, d) = (q . e_u,i, q . e_v,i, q . t_i): q = M^-1 (a, b, d)
        m00, m01, m02 = e_u[i, 0], e_u[i, 1], e_u[i, 2]
        m10, m11, m12 = e_v[i, 0], e_v[i, 1], e_v[i, 2]
        m20, m21, m22 = tangents[i, 0], tangents[i, 1], tangents[i, 2]
        det = (
            m00 * (m11 * m22 - m12 * m21)
            - m01 * (m10 * m22 - m12 * m20)
            + m02 * (m10 * m21 - m11 * m20)
        )
        if abs(det) < 0.5:
            continue
        inv = np.empty((3, 3))
        inv[0, 0] = (m11 * m22 - m12 * m21) / det
        inv[0, 1] = (m02 * m21 - m01 * m22) / det
        inv[0, 2] = (m01 * m12 - m02 * m11) / det
        inv[1, 0] = (m12 * m20 - m10 * m22) / det
        inv[1, 1] = (m00 * m22 - m02 * m20) / det
        inv[1, 2] = (m02 * m10 - m00 * m12) / det
        inv[2, 0] = (m10 * m21 - m11 * m20) / det
        inv[2, 1] = (m01 * m20 - m00 * m21) / det
        inv[2, 2] = (m00 * m11 - m01 * m10) / det
        if sid < 0:
            dlo, dhi = -half, 0.0
        elif not is_seg:
            dlo, dhi = 0.0, half
        else:
            # d_{i+1} = (q - dc) . t_{i+1} = w . (a, b, d) - dc . t_{i+1} < 0
            w = np.zeros(3)
            dct = 0.0
            for r in range(3):
                dct += (centers[nx_, r] - centers[i, r]) * tangents[nx_, r]
                for c in range(3):
                    w[c] += inv[r, c] * tangents[nx_, r]
            if w[2] < 0.1:
                continue
            dlo = 0.0
            dhi = -1e300
            for ca in range(2):
                for cb in range(2):
                    a = res[k, 2] if ca else res[k, 1]
                    b = res[k, 4] if cb else res[k, 3]
                    dhi = max(dhi, (dct - w[0] * a - w[1] * b) / w[2])
        dlo -= 1e-6
        dhi += 1e-6
        if dhi < dlo:
            dhi = dlo
        lo = np.full(3, 1e300)
        hi = np.full(3, -1e300)
        for ca in range(2):
            for cb in range(2):
                for cd in range(2):
                    a = res[k, 2] if ca else res[k, 1]
                    b = res[k, 4] if cb else res[k, 3]
                    d = dhi if cd else dlo
                    for r in range(3):
                        wr = (
                            centers[i, r]
                            + inv[r, 0] * a
                            + inv[r, 1] * b
                            + inv[r, 2] * d
                            - translate[r]
                        ) / scale[r]
                        lo[r] = min(lo[r], wr)
                        hi[r] = max(hi[r], wr)
        for r in range(3):
            res[k, 5 + 2 * r] = max(boxes[k, 2 * r], np.floor(lo[r]) - 1.0)
            res[k, 6 + 2 * r] = min(boxes[k, 2 * r + 1], np.ceil(hi[r]) + 1.0)
    return res


@numba.njit(cache=True, parallel=True)
def pull_block(
    out,
    best,
    origin,
    scale,
    translate,
    centers,
    tangents,
    e_u,
    e_v,
    width,
    height,
    spacing,
    ids,
    boxes,
    proj,
    data,
    lut,
    mode,
    newton,
    closed,
    groups,
    nzbox,
):
    """Backproject into one output block by pulling from the straightened stack.

    Parameters
    ----------
    out : (bz, by, bx) array
        Output block, written in place where a claim is found (untouched
        elsewhere, so pass zeros).
    best : (bz, by, bx) float32 array
        Scratch for the best squared in-plane distance of each voxel (any
        contents: the kernel sets it to ``inf`` where it computes).
    origin : (3,) int64
        Voxel index (z, y, x) of ``out[0, 0, 0]`` in the source volume.
    scale, translate : (3,) float64
        World = voxel index * scale + translate.
    centers, tangents, e_u, e_v : (n, 3) float64
        Plane frames (world units).
    width, height : int
        Plane size in pixels.
    spacing : float
        Pixel spacing in world units.
    ids, boxes, proj : arrays
        Candidate segments from :func:`segment_bounds` (any subset).
    data : (k, height, width) array
        The straightened slices that are loaded.
    lut : (n,) int64
        Index into ``data`` of every straightened slice (-1 if not loaded).
    mode : int
        ``NEAREST``, ``LINEAR`` (floating data) or ``LABEL_VOTE``.
    newton : int
        Newton steps on the cubic for t (0: the distance-interpolated t).
    closed : bool
        Closed loop (ids from ``segment_bounds(..., closed=True)``).
    groups : int
        Groups of output planes run in parallel (e.g. 4 x the thread count).
    nzbox : (k, 4) int64
        Inclusive non-zero pixel bounds ``v0, v1, u0, u1`` of every loaded
        slice (``v0 > v1`` when the slice is all zero; ``0, height - 1, 0,
        width - 1`` disables the skipping). Voxels that no claim can sample
        non-zero are skipped (they stay 0); every other voxel gets all its
        claims, so the ownership rule is unchanged (see :func:`need_bounds`).

    Examples
    --------
    >>> import numpy as np
    >>> c = np.array([[1.0, 1, 1], [2, 1, 1]]); t = np.array([[1.0, 0, 0]] * 2)
    >>> u = np.array([[0.0, 0, 1]] * 2); v = np.array([[0.0, 1, 0]] * 2)
    >>> ids, boxes, proj = segment_bounds(c, t, u, v, 3, 3, 1.0, np.ones(3),
    ...                                   np.zeros(3))
    >>> data = np.ones((2, 3, 3), np.float32); out = np.zeros((4, 3, 3), np.float32)
    >>> best = np.full(out.shape, np.inf, dtype=np.float32)
    >>> pull_block(out, best, np.zeros(3, np.int64), np.ones(3), np.zeros(3),
    ...            c, t, u, v, 3, 3, 1.0, ids, boxes, proj, data,
    ...            np.arange(2), LINEAR, 2, False, 8, np.array([[0, 2, 0, 2]] * 2))
    >>> out[:, 1, 1].tolist()
    [0.0, 1.0, 1.0, 0.0]
    """
    bz, by, bx = out.shape
    n = centers.shape[0]
    au = width * spacing / 2.0
    av = height * spacing / 2.0
    half = spacing / 2.0
    cu = (width - 1) / 2.0
    cv = (height - 1) / 2.0
    big = 1e30
    m = ids.shape[0]
    # per-plane scratch (each output plane kz is handled by one thread)
    Vs = np.empty((bz, 9, 3))
    Ks = np.empty((bz, 17))
    Rs = np.empty((bz, 9))
    Ss = np.empty((bz, 9))
    labs = np.empty((bz, 8), dtype=data.dtype)
    wts = np.empty((bz, 8))
    scr = np.empty((bz, 8, 4))
    # one parallel loop over groups of output planes (a plane is written by
    # one thread only); within a group, segments outer so that their two
    # slices stay in cache
    need = need_bounds(
        centers,
        tangents,
        e_u,
        e_v,
        width,
        height,
        spacing,
        ids,
        boxes,
        proj,
        scale,
        translate,
        lut,
        nzbox,
        closed,
    )
    # per output row: x range (voxel index) of the voxels that some claim may
    # sample non-zero (phase 0 collects it, phase 1 computes only there)
    rows = np.empty((bz, by, 2), dtype=np.int64)
    pbox = np.empty((bz, 4), dtype=np.int64)
    # dense data (every segment may sample non-zero over most of its plane):
    # compute everywhere, as finding the rows would not pay off
    dense = True
    for k in range(m):
        if need[k, 0] == 2.0:
            continue
        area = (need[k, 2] - need[k, 1]) * (need[k, 4] - need[k, 3])
        if need[k, 0] == 0.0 or area < 0.5 * (proj[k, 1] - proj[k, 0]) * (
            proj[k, 3] - proj[k, 2]
        ):
            dense = False
            break
    ng = max(1, min(bz, groups))
    for grp in numba.prange(ng):
        g0 = grp * bz // ng
        g1 = (grp + 1) * bz // ng
        for kz in range(g0, g1):
            for ky in range(by):
                if dense:
                    rows[kz, ky, 0] = origin[2]
                    rows[kz, ky, 1] = origin[2] + bx - 1
                else:
                    rows[kz, ky, 0] = origin[2] + bx
                    rows[kz, ky, 1] = origin[2] - 1
        for phase in range(1 if dense else 0, 2):
            if phase == 1:
                # bounding box (voxel index) of the rows to compute, per plane
                for kz in range(g0, g1):
                    pbox[kz, 0] = origin[1] + by
                    pbox[kz, 1] = origin[1] - 1
                    pbox[kz, 2] = origin[2] + bx
                    pbox[kz, 3] = origin[2] - 1
                    for ky in range(by):
                        if rows[kz, ky, 0] <= rows[kz, ky, 1]:
                            for kx in range(
                                rows[kz, ky, 0] - origin[2],
                                rows[kz, ky, 1] - origin[2] + 1,
                            ):
                                best[kz, ky, kx] = np.inf
                            pbox[kz, 0] = min(pbox[kz, 0], origin[1] + ky)
                            pbox[kz, 1] = origin[1] + ky
                            pbox[kz, 2] = min(pbox[kz, 2], rows[kz, ky, 0])
                            pbox[kz, 3] = max(pbox[kz, 3], rows[kz, ky, 1])
            for k in range(m):
                if phase == 0 and need[k, 0] == 0.0:
                    continue
                if phase == 0:  # the region where claims may be non-zero
                    kz0 = max(int(need[k, 5]) - origin[0], g0)
                    kz1 = min(int(need[k, 6]) - origin[0], g1 - 1)
                else:
                    kz0 = max(boxes[k, 0] - origin[0], g0)
                    kz1 = min(boxes[k, 1] - origin[0], g1 - 1)
                for kz in range(kz0, kz1 + 1):
                    z = origin[0] + kz
                    pz = z * scale[0] + translate[0]
                    V = Vs[kz]
                    K = Ks[kz]
                    R = Rs[kz]
                    S = Ss[kz]
                    labels = labs[kz]
                    weights = wts[kz]
                    clo = scr[kz, 0]
                    chi = scr[kz, 1]
                    f0c = scr[kz, 2]
                    gyc = scr[kz, 3]
                    gxc = scr[kz, 4]
                    inv = scr[kz, 5]
                    blo = scr[kz, 6]
                    bhi = scr[kz, 7]
                    sid = ids[k]
                    if sid < 0:
                        i = 0
                    elif sid >= n - 1:
                        i = n - 1
                    else:
                        i = sid
                    is_seg = (0 <= sid < n - 1) or closed
                    nx_ = (i + 1) % n  # the segment's second plane
                    if sid < 0:
                        dlo, dhi = -half, 0.0
                    elif is_seg:
                        dlo, dhi = 0.0, big
                    else:
                        dlo, dhi = 0.0, half
                    # linear constraints lo <= (p - ref) . normal <= hi that bound the
                    # segment: d_i, the hull's extent along e_u,i and e_v,i, d_{i+1}
                    nc = 4 if is_seg else 3
                    clo[0], chi[0] = dlo - 1e-9, dhi + 1e-9
                    if phase == 0:
                        clo[1], chi[1] = need[k, 1], need[k, 2]
                        clo[2], chi[2] = need[k, 3], need[k, 4]
                    else:
                        clo[1], chi[1] = proj[k, 0], proj[k, 1]
                        clo[2], chi[2] = proj[k, 2], proj[k, 3]
                    clo[3], chi[3] = -big, 1e-9
                    x0 = float(max(boxes[k, 4], origin[2]))
                    x1 = float(min(boxes[k, 5], origin[2] + bx - 1))
                    ylo = float(max(boxes[k, 2], origin[1]))
                    yhi = float(min(boxes[k, 3], origin[1] + by - 1))
                    if phase == 0:
                        x0 = max(x0, need[k, 9])
                        x1 = min(x1, need[k, 10])
                        ylo = max(ylo, need[k, 7])
                        yhi = min(yhi, need[k, 8])
                        if x0 > x1 or ylo > yhi:
                            continue
                    else:
                        x0 = max(x0, float(pbox[kz, 2]))
                        x1 = min(x1, float(pbox[kz, 3]))
                        ylo = max(ylo, float(pbox[kz, 0]))
                        yhi = min(yhi, float(pbox[kz, 1]))
                        if x0 > x1 or ylo > yhi:
                            continue
                        _segment_setup(
                            i, nx_, is_seg, tangents, e_u, e_v, centers, V, K
                        )
                    for c in range(nc):
                        ref = i if c < 3 else nx_
                        # normals t_i, e_u,i, e_v,i, t_{i+1}
                        if c == 0 or c == 3:
                            nv = tangents[ref]
                        elif c == 1:
                            nv = e_u[i]
                        else:
                            nv = e_v[i]
                        # value at voxel (z, 0, 0), and per-index slopes along y and x
                        f0c[c] = (
                            (pz - centers[ref, 0]) * nv[0]
                            + (translate[1] - centers[ref, 1]) * nv[1]
                            + (translate[2] - centers[ref, 2]) * nv[2]
                        )
                        gyc[c] = scale[1] * nv[1]
                        gxc[c] = scale[2] * nv[2]
                        # y range where some x in [x0, x1] satisfies the constraint
                        gmin = min(gxc[c] * x0, gxc[c] * x1)
                        gmax = max(gxc[c] * x0, gxc[c] * x1)
                        ylo, yhi = _clip(
                            ylo, yhi, f0c[c], gyc[c], clo[c] - gmax, chi[c] - gmin
                        )
                    if ylo > yhi:
                        continue
                    # per constraint: x bounds are (bound - f) * inv, in order
                    for c in range(nc):
                        if abs(gxc[c]) < 1e-12:
                            inv[c] = 0.0
                        else:
                            inv[c] = 1.0 / gxc[c]
                        if inv[c] >= 0.0:
                            blo[c], bhi[c] = clo[c], chi[c]
                        else:
                            blo[c], bhi[c] = chi[c], clo[c]
                    ya = int(np.ceil(ylo - 1e-6))
                    yb = int(np.floor(yhi + 1e-6))
                    for y in range(ya, yb + 1):
                        py = y * scale[1] + translate[1]
                        xlo, xhi = x0, x1
                        for c in range(nc):
                            f = f0c[c] + gyc[c] * y
                            if inv[c] == 0.0:
                                if f < clo[c] or f > chi[c]:
                                    xlo = 1.0
                                    xhi = 0.0
                            else:
                                xlo = max(xlo, (blo[c] - f) * inv[c])
                                xhi = min(xhi, (bhi[c] - f) * inv[c])
                        if xlo > xhi:
                            continue
                        xa = int(np.ceil(xlo - 1e-6))
                        xb = int(np.floor(xhi + 1e-6))
                        xa = max(xa, origin[2])
                        xb = min(xb, origin[2] + bx - 1)
                        ky = y - origin[1]
                        if phase == 0:
                            if xa <= xb:
                                rows[kz, ky, 0] = min(rows[kz, ky, 0], xa)
                                rows[kz, ky, 1] = max(rows[kz, ky, 1], xb)
                            continue
                        xa = max(xa, rows[kz, ky, 0])
                        xb = min(xb, rows[kz, ky, 1])
                        if xa > xb:
                            continue
                        # dot products of q = p - c_i with V at x = xa, and their steps
                        q0 = pz - centers[i, 0]
                        q1 = py - centers[i, 1]
                        q2 = xa * scale[2] + translate[2] - centers[i, 2]
                        for c in range(2, 9):
                            R[c] = q0 * V[c, 0] + q1 * V[c, 1] + q2 * V[c, 2]
                            S[c] = scale[2] * V[c, 2]
                        for x in range(xa, xb + 1):
                            if x > xa:
                                for c in range(2, 9):
                                    R[c] += S[c]
                            # signed distances to the planes: always the same
                            # expression of (plane, voxel), so that neighbouring
                            # segments agree exactly on which side a voxel lies
                            px = x * scale[2] + translate[2]
                            di = _dist(centers, tangents, i, pz, py, px)
                            if is_seg:
                                dn = _dist(centers, tangents, nx_, pz, py, px)
                                if not (di >= 0.0 and dn < 0.0):
                                    continue
                                t, a, b = _solve(R, K, di / (di - dn), newton)
                            else:
                                if not (di >= dlo and di < dhi):
                                    continue
                                t = 0.0
                                a = R[5]
                                b = R[7]
                            if abs(a) > au or abs(b) > av:
                                continue
                            dist = a * a + b * b
                            kx = x - origin[2]
                            if dist < best[kz, ky, kx]:
                                best[kz, ky, kx] = dist
                                _sample(
                                    data,
                                    lut,
                                    n,
                                    height,
                                    width,
                                    i + t,
                                    b / spacing + cv,
                                    a / spacing + cu,
                                    mode,
                                    out,
                                    kz,
                                    ky,
                                    kx,
                                    labels,
                                    weights,
                                    closed,
                                )
