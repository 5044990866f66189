"""Bounds: which voxels a segment can claim, and where claims can be non-zero."""

from __future__ import annotations

import numba
import numpy as np


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


@numba.njit(cache=True)
def _cross(a, b):
    """Cross product of two 3-tuples (as ``np.cross``, cheaper to compile)."""
    return (
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    )


@numba.njit(cache=True)
def _dot(a, b):
    """Dot product of two 3-tuples, summed in order like ``np.sum(a * b)``."""
    return 0.0 + a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def need_bounds(plan):
    """Where each segment's claims can sample a non-zero value.

    ``plan`` is a :class:`~.block.PullPlan` (only its geometry, ``lut`` and
    ``nzbox`` are read).

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
    return _need_bounds(
        plan.centers,
        plan.tangents,
        plan.e_u,
        plan.e_v,
        plan.width,
        plan.height,
        plan.spacing,
        plan.ids,
        plan.boxes,
        plan.proj,
        plan.lut,
        plan.scale,
        plan.translate,
        plan.nzbox,
        plan.closed,
    )


@numba.njit(cache=True, error_model="numpy")
def _need_bounds(
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
    lut,
    scale,
    translate,
    nzbox,
    closed,
):
    """:func:`need_bounds` on the plan's fields (a call with a record as
    argument costs ~0.2 ms in numba's dispatcher; divisions are guarded)."""
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
        eu = (e_u[i, 0], e_u[i, 1], e_u[i, 2])
        ev = (e_v[i, 0], e_v[i, 1], e_v[i, 2])
        du = (e_u[nx_, 0] - eu[0], e_u[nx_, 1] - eu[1], e_u[nx_, 2] - eu[2])
        dv = (e_v[nx_, 0] - ev[0], e_v[nx_, 1] - ev[1], e_v[nx_, 2] - ev[2])
        N0 = _cross(eu, ev)
        N1a = _cross(eu, dv)
        N1b = _cross(du, ev)
        N1 = (N1a[0] + N1b[0], N1a[1] + N1b[1], N1a[2] + N1b[2])
        N2 = _cross(du, dv)
        den = np.sqrt(_dot(N0, N0)) - np.sqrt(_dot(N1, N1)) - np.sqrt(_dot(N2, N2))
        if den < 0.5:
            continue
        su = (abs(_dot(N0, eu)) + abs(_dot(N1, eu)) + abs(_dot(N2, eu))) / den
        sv = (abs(_dot(N0, ev)) + abs(_dot(N1, ev)) + abs(_dot(N2, ev))) / den
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
                        pa += r * e_u[i, d]
                        pb += r * e_v[i, d]
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
    inv = np.empty((3, 3))
    w = np.empty(3)
    lo = np.empty(3)
    hi = np.empty(3)
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
            for r in range(3):
                w[r] = 0.0
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
        for r in range(3):
            lo[r] = 1e300
            hi[r] = -1e300
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
