"""The claims of every segment on a group of output planes (one thread).

:func:`_group` runs both phases over all candidate segments and their
output planes: phase 0 collects, per output row, the x range where a claim
may sample a non-zero value; phase 1 solves each voxel's straightened
position (:mod:`.solve`) and samples the stack there (:mod:`.sample`) where
its claim is the nearest so far (:func:`_claim_row`).
"""

from __future__ import annotations

import numba
import numpy as np

from ..llvm.borrow import borrow
from .sample import _sample
from .solve import _clip, _dist, _segment_setup, _solve

_BIG = 1e30


@numba.njit(cache=True)
def _planes(sid, n, closed, half):
    """First plane ``i``, second plane, whether a true segment, and d_i bounds."""
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
        dlo, dhi = 0.0, _BIG
    else:
        dlo, dhi = 0.0, half
    return i, nx_, is_seg, dlo, dhi


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _group(
    out,
    best,
    data,
    origin,
    scale,
    translate,
    centers,
    tangents,
    e_u,
    e_v,
    ids,
    boxes,
    proj,
    lut,
    width,
    height,
    spacing,
    mode,
    newton,
    closed,
    need,
    rows,
    pbox,
    dense,
    g0,
    g1,
    V,
    K,
    R,
    S,
    labels,
    weights,
    con,
):
    """Output planes ``g0 <= kz < g1`` of a block: every segment's claims.

    The arguments are :class:`~.block.PullPlan`'s fields, the block's
    ``need``, ``rows``, ``pbox`` and ``dense`` (see
    :func:`~.block.pull_block`) and this group's scratch: ``V`` (9, 3) and
    ``K`` (17,) of a segment (see :func:`~.solve._segment_setup`), dot
    products ``R`` and their x steps ``S`` (9,), the label vote's 8
    ``labels`` and ``weights``, and ``con`` (8, 4), per-constraint values.
    A plane is written by one group only, so groups may run on several
    threads at once (the GIL is released).

    Phase 0 collects, per output row, the x range where claims may sample a
    non-zero value; phase 1 claims there. One compiled call per group, not
    per segment and plane (a call costs more than a plane's work for most
    segments: per-plane calls made the backprojection ~2.5x slower); and
    one compiled entry point without nested compiled calls, which LLVM
    would optimise again in every caller (first-use compile time).
    """
    # no reference counting of the arrays in the loops (see llvm.borrow):
    # the caller keeps them alive
    out = borrow(out)
    best = borrow(best)
    data = borrow(data)
    origin = borrow(origin)
    scale = borrow(scale)
    translate = borrow(translate)
    centers = borrow(centers)
    tangents = borrow(tangents)
    e_u = borrow(e_u)
    e_v = borrow(e_v)
    ids = borrow(ids)
    boxes = borrow(boxes)
    proj = borrow(proj)
    lut = borrow(lut)
    need = borrow(need)
    rows = borrow(rows)
    pbox = borrow(pbox)
    V = borrow(V)
    K = borrow(K)
    R = borrow(R)
    S = borrow(S)
    labels = borrow(labels)
    weights = borrow(weights)
    con = borrow(con)
    _, by, bx = out.shape
    for kz in range(g0, g1):
        for ky in range(by):
            if dense:
                rows[kz, ky, 0] = origin[2]
                rows[kz, ky, 1] = origin[2] + bx - 1
            else:
                rows[kz, ky, 0] = origin[2] + bx
                rows[kz, ky, 1] = origin[2] - 1
    for phase in range(1 if dense else 0, 2):
        if phase == 1:  # best = inf on the rows to compute, and their box
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
        clo = con[0]
        chi = con[1]
        f0c = con[2]
        gyc = con[3]
        gxc = con[4]
        inv = con[5]
        blo = con[6]
        bhi = con[7]
        for k in range(ids.shape[0]):
            if phase == 0 and need[k, 0] == 0.0:
                continue
            if phase == 0:  # the region where claims may be non-zero
                kz0 = max(int(need[k, 5]) - origin[0], g0)
                kz1 = min(int(need[k, 6]) - origin[0], g1 - 1)
            else:
                kz0 = max(boxes[k, 0] - origin[0], g0)
                kz1 = min(boxes[k, 1] - origin[0], g1 - 1)
            i, nx_, is_seg, dlo, dhi = _planes(
                ids[k], centers.shape[0], closed, spacing / 2.0
            )
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
            clo[3], chi[3] = -_BIG, 1e-9
            setup = False  # V, K of this segment computed (phase 1, on first use)
            for kz in range(kz0, kz1 + 1):
                z = origin[0] + kz
                pz = z * scale[0] + translate[0]
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
                    if not setup:
                        _segment_setup(
                            i, nx_, is_seg, tangents, e_u, e_v, centers, V, K
                        )
                        setup = True
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
                    if xa <= xb:
                        _claim_row(
                            out,
                            best,
                            data,
                            origin,
                            scale,
                            translate,
                            centers,
                            tangents,
                            lut,
                            width,
                            height,
                            spacing,
                            mode,
                            newton,
                            closed,
                            kz,
                            y,
                            xa,
                            xb,
                            i,
                            nx_,
                            is_seg,
                            dlo,
                            dhi,
                            V,
                            K,
                            R,
                            S,
                            labels,
                            weights,
                        )


@numba.njit(cache=True, inline="always")
def _claim_row(
    out,
    best,
    data,
    origin,
    scale,
    translate,
    centers,
    tangents,
    lut,
    width,
    height,
    spacing,
    mode,
    newton,
    closed,
    kz,
    y,
    xa,
    xb,
    i,
    nx_,
    is_seg,
    dlo,
    dhi,
    V,
    K,
    R,
    S,
    labels,
    weights,
):
    """Claims of one segment on voxels ``xa..xb`` of row ``y`` of plane ``kz``."""
    au = width * spacing / 2.0
    av = height * spacing / 2.0
    cu = (width - 1) / 2.0
    cv = (height - 1) / 2.0
    n = centers.shape[0]
    pz = (origin[0] + kz) * scale[0] + translate[0]
    py = y * scale[1] + translate[1]
    ky = y - origin[1]
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
        # signed distances to the planes: always the same expression of
        # (plane, voxel), so that neighbouring segments agree exactly on
        # which side a voxel lies
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
