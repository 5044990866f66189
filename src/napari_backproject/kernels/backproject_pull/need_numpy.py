"""NumPy twin of :func:`.bounds.need_bounds`, for many segments at once.

An eager backprojection needs the bounds of every segment once (they depend
only on the segment's two slices): computing them here, all at once, costs
about a millisecond and compiles nothing, where the numba version took ~2 s
to compile at first use. Per block (lazy input, a few hundred segments) the
numba version is faster (~50 us against ~1 ms) and is used there. The
arithmetic is that of the numba loop, operation for operation, so both give
the same bounds to the bit (tested).
"""

from __future__ import annotations

import numpy as np

__all__ = ["need_bounds_numpy"]


def need_bounds_numpy(plan) -> np.ndarray:
    """:func:`.bounds.need_bounds` in NumPy (same result, to the bit).

    ``plan`` is any object with the fields :func:`.bounds.need_bounds` reads
    (a :class:`~.block.PullPlan`, or a namespace).

    Examples
    --------
    >>> import numpy as np
    >>> from napari_backproject.kernels.backproject_pull import (
    ...     PullPlan, need_bounds, segment_bounds)
    >>> c = np.array([[1.0, 1, 1], [2, 1, 1]]); t = np.array([[1.0, 0, 0]] * 2)
    >>> u = np.array([[0.0, 0, 1]] * 2); v = np.array([[0.0, 1, 0]] * 2)
    >>> ids, boxes, proj = segment_bounds(c, t, u, v, 3, 3, 1.0, np.ones(3),
    ...                                   np.zeros(3))
    >>> plan = PullPlan(origin=np.zeros(3, np.int64), scale=np.ones(3),
    ...                 translate=np.zeros(3), centers=c, tangents=t, e_u=u,
    ...                 e_v=v, width=3, height=3, spacing=1.0, ids=ids,
    ...                 boxes=boxes, proj=proj, lut=np.arange(2),
    ...                 nzbox=np.array([[1, 1, 1, 1], [1, 0, 1, 0]]), mode=2,
    ...                 newton=2, closed=False, groups=1)
    >>> bool(np.array_equal(need_bounds_numpy(plan), need_bounds(plan)))
    True
    """
    return _need_bounds_numpy(
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


def _need_bounds_numpy(
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
    """:func:`need_bounds_numpy` on the plan's fields."""
    n = centers.shape[0]
    m = ids.shape[0]
    res = np.empty((m, 11))
    au = width * spacing / 2.0
    av = height * spacing / 2.0
    cu = (width - 1) / 2.0
    cv = (height - 1) / 2.0
    eps = 1e-6
    res[:, 0] = 2.0
    res[:, 1:5] = proj
    i = np.clip(ids, 0, n - 1)
    is_seg = ((ids >= 0) & (ids < n - 1)) | bool(closed)
    nx_ = (i + 1) % n
    li = lut[i]
    ln = np.where(is_seg, lut[nx_], li)
    ok = (li >= 0) & (ln >= 0)
    bi = nzbox[np.where(ok, li, 0)]
    bn = nzbox[np.where(ok, ln, 0)]
    box = np.empty((m, 4), dtype=nzbox.dtype)
    box[:, 0] = np.minimum(bi[:, 0], bn[:, 0])
    box[:, 1] = np.maximum(bi[:, 1], bn[:, 1])
    box[:, 2] = np.minimum(bi[:, 2], bn[:, 2])
    box[:, 3] = np.maximum(bi[:, 3], bn[:, 3])
    zi = bi[:, 0] > bi[:, 1]  # slice i all zero: the other's box
    zn = bn[:, 0] > bn[:, 1]
    box = np.where(zi[:, None], bn, np.where(zn[:, None], bi, box))
    v0, v1, u0, u1 = box[:, 0], box[:, 1], box[:, 2], box[:, 3]
    empty = ok & (v0 > v1)
    res[empty, 0] = 0.0
    ok &= ~empty
    a0 = np.maximum((u0 - 1 - cu) * spacing, -au) - eps
    a1 = np.minimum((u1 + 1 - cu) * spacing, au) + eps
    b0 = np.maximum((v0 - 1 - cv) * spacing, -av) - eps
    b1 = np.minimum((v1 + 1 - cv) * spacing, av) + eps
    cap = ok & ~is_seg
    res[cap, 0] = 1.0
    res[cap, 1] = np.maximum(a0, proj[:, 0])[cap]
    res[cap, 2] = np.minimum(a1, proj[:, 1])[cap]
    res[cap, 3] = np.maximum(b0, proj[:, 2])[cap]
    res[cap, 4] = np.minimum(b1, proj[:, 3])[cap]
    seg = ok & is_seg
    # normal N(t) = N0 + t N1 + t^2 N2 of the interpolated frame
    eu = e_u[i].T
    ev = e_v[i].T
    du = e_u[nx_].T - eu
    dv = e_v[nx_].T - ev
    N0 = _cross(eu, ev)
    N1a = _cross(eu, dv)
    N1b = _cross(du, ev)
    N1 = (N1a[0] + N1b[0], N1a[1] + N1b[1], N1a[2] + N1b[2])
    N2 = _cross(du, dv)
    den = np.sqrt(_dot(N0, N0)) - np.sqrt(_dot(N1, N1)) - np.sqrt(_dot(N2, N2))
    seg &= ~(den < 0.5)
    with np.errstate(divide="ignore", invalid="ignore"):
        su = (np.abs(_dot(N0, eu)) + np.abs(_dot(N1, eu)) + np.abs(_dot(N2, eu))) / den
        sv = (np.abs(_dot(N0, ev)) + np.abs(_dot(N1, ev)) + np.abs(_dot(N2, ev))) / den
    # |h| <= |q - t dc| <= max over the voxel box corners of the distances
    # to c_i and c_{i+1}
    hmax = np.zeros(m)
    for cz in range(2):
        for cy in range(2):
            for cx in range(2):
                w0 = boxes[:, cz] * scale[0] + translate[0]
                w1 = boxes[:, 2 + cy] * scale[1] + translate[1]
                w2 = boxes[:, 4 + cx] * scale[2] + translate[2]
                for j in (i, nx_):
                    d2 = (
                        (w0 - centers[j, 0]) ** 2
                        + (w1 - centers[j, 1]) ** 2
                        + (w2 - centers[j, 2]) ** 2
                    )
                    hmax = np.maximum(hmax, np.sqrt(d2))
    lo_a = np.full(m, 1e300)
    hi_a = np.full(m, -1e300)
    lo_b = np.full(m, 1e300)
    hi_b = np.full(m, -1e300)
    for j in (i, nx_):
        for ca in range(2):
            a = a1 if ca else a0
            for cb in range(2):
                b = b1 if cb else b0
                pa = 0.0
                pb = 0.0
                for d in range(3):
                    r = centers[j, d] - centers[i, d] + a * e_u[j, d] + b * e_v[j, d]
                    pa = pa + r * eu[d]
                    pb = pb + r * ev[d]
                lo_a = np.minimum(lo_a, pa)
                hi_a = np.maximum(hi_a, pa)
                lo_b = np.minimum(lo_b, pb)
                hi_b = np.maximum(hi_b, pb)
    mu = hmax * su * 1.001 + eps
    mv = hmax * sv * 1.001 + eps
    res[seg, 0] = 1.0
    res[seg, 1] = np.maximum(lo_a - mu, proj[:, 0])[seg]
    res[seg, 2] = np.minimum(hi_a + mu, proj[:, 1])[seg]
    res[seg, 3] = np.maximum(lo_b - mv, proj[:, 2])[seg]
    res[seg, 4] = np.minimum(hi_b + mv, proj[:, 3])[seg]
    # the voxel box of the restricted region
    half = spacing / 2.0
    res[:, 5:11] = boxes
    act = res[:, 0] == 1.0
    # q = p - c_i from (a, b, d) = (q . e_u,i, q . e_v,i, q . t_i): q = M^-1 (a, b, d)
    m00, m01, m02 = e_u[i, 0], e_u[i, 1], e_u[i, 2]
    m10, m11, m12 = e_v[i, 0], e_v[i, 1], e_v[i, 2]
    m20, m21, m22 = tangents[i, 0], tangents[i, 1], tangents[i, 2]
    det = (
        m00 * (m11 * m22 - m12 * m21)
        - m01 * (m10 * m22 - m12 * m20)
        + m02 * (m10 * m21 - m11 * m20)
    )
    act &= ~(np.abs(det) < 0.5)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = (
            (
                (m11 * m22 - m12 * m21) / det,
                (m02 * m21 - m01 * m22) / det,
                (m01 * m12 - m02 * m11) / det,
            ),
            (
                (m12 * m20 - m10 * m22) / det,
                (m00 * m22 - m02 * m20) / det,
                (m02 * m10 - m00 * m12) / det,
            ),
            (
                (m10 * m21 - m11 * m20) / det,
                (m01 * m20 - m00 * m21) / det,
                (m00 * m11 - m01 * m10) / det,
            ),
        )
        # d_{i+1} = (q - dc) . t_{i+1} = w . (a, b, d) - dc . t_{i+1} < 0
        tn = tangents[nx_]
        dct = 0.0
        w = [0.0, 0.0, 0.0]
        for r in range(3):
            dct = dct + (centers[nx_, r] - centers[i, r]) * tn[:, r]
            for c in range(3):
                w[c] = w[c] + inv[r][c] * tn[:, r]
        dhi_seg = np.full(m, -1e300)
        for ca in range(2):
            for cb in range(2):
                a = res[:, 2] if ca else res[:, 1]
                b = res[:, 4] if cb else res[:, 3]
                dhi_seg = np.maximum(dhi_seg, (dct - w[0] * a - w[1] * b) / w[2])
    act &= ~(is_seg & (w[2] < 0.1))
    dlo = np.where(ids < 0, -half, 0.0)
    dhi = np.where(ids < 0, 0.0, np.where(is_seg, dhi_seg, half))
    dlo = dlo - 1e-6
    dhi = dhi + 1e-6
    dhi = np.where(dhi < dlo, dlo, dhi)
    for r in range(3):
        lo = np.full(m, 1e300)
        hi = np.full(m, -1e300)
        for ca in range(2):
            for cb in range(2):
                for cd in range(2):
                    a = res[:, 2] if ca else res[:, 1]
                    b = res[:, 4] if cb else res[:, 3]
                    d = dhi if cd else dlo
                    with np.errstate(invalid="ignore"):
                        wr = (
                            centers[i, r]
                            + inv[r][0] * a
                            + inv[r][1] * b
                            + inv[r][2] * d
                            - translate[r]
                        ) / scale[r]
                    lo = np.minimum(lo, wr)
                    hi = np.maximum(hi, wr)
        res[act, 5 + 2 * r] = np.maximum(boxes[:, 2 * r], np.floor(lo) - 1.0)[act]
        res[act, 6 + 2 * r] = np.minimum(boxes[:, 2 * r + 1], np.ceil(hi) + 1.0)[act]
    return res


def _cross(a, b):
    """Cross product of 3-vectors given as 3 components (arrays)."""
    return (
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    )


def _dot(a, b):
    """Dot product of 3-vectors given as 3 components, summed in order."""
    return 0.0 + a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
