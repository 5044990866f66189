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
sampling of the straightened stack); the solve starts at
``t = d_i / (d_i - d_{i+1})`` and refines with Newton steps. The *start cap*
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

    Returns
    -------
    ids : (m,) int64
        Segment ids, ``-1, 0, ..., n - 1`` (``m = n + 1``).
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
    m = n + 1
    ids = np.arange(-1, n, dtype=np.int64)
    boxes = np.empty((m, 6), dtype=np.int64)
    proj = np.empty((m, 4), dtype=np.float64)
    eps = 1e-7
    for k in range(m):
        sid = ids[k]
        if sid == -1 or sid == n - 1:
            i = 0 if sid == -1 else n - 1
            off = tangents[i] * (spacing / 2.0)
            pts = np.concatenate([corners[i] - off, corners[i] + off])
            proj[k] = (-au, au, -av, av)
        else:
            i = sid
            pts = np.concatenate([corners[i], corners[i + 1]])
            rel = pts - centers[i]
            a = rel @ e_u[i]
            b = rel @ e_v[i]
            proj[k] = (a.min() - eps, a.max() + eps, b.min() - eps, b.max() + eps)
        vox = (pts - translate) / scale
        lo = np.ceil(vox.min(axis=0) - eps).astype(np.int64)
        hi = np.floor(vox.max(axis=0) + eps).astype(np.int64)
        boxes[k] = (lo[0], hi[0], lo[1], hi[1], lo[2], hi[2])
    return ids, boxes, proj


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


@numba.njit(cache=True)
def _solve(q, dc, eu0, du, ev0, dv, t0, newton):
    """Solve q = t dc + a (eu0 + t du) + b (ev0 + t dv) starting from t0."""
    t = t0
    eux = eu0[0] + t * du[0]
    euy = eu0[1] + t * du[1]
    euz = eu0[2] + t * du[2]
    evx = ev0[0] + t * dv[0]
    evy = ev0[1] + t * dv[1]
    evz = ev0[2] + t * dv[2]
    rx = q[0] - t * dc[0]
    ry = q[1] - t * dc[1]
    rz = q[2] - t * dc[2]
    a = (rx * eux + ry * euy + rz * euz) / (eux * eux + euy * euy + euz * euz)
    b = (rx * evx + ry * evy + rz * evz) / (evx * evx + evy * evy + evz * evz)
    ta, aa, ba = t, a, b
    for _ in range(newton):
        # residual F = t dc + a eu(t) + b ev(t) - q
        fx = t * dc[0] + a * eux + b * evx - q[0]
        fy = t * dc[1] + a * euy + b * evy - q[1]
        fz = t * dc[2] + a * euz + b * evz - q[2]
        # Jacobian columns
        j0x = dc[0] + a * du[0] + b * dv[0]
        j0y = dc[1] + a * du[1] + b * dv[1]
        j0z = dc[2] + a * du[2] + b * dv[2]
        # det = j0 . (eu x ev)
        cx = euy * evz - euz * evy
        cy = euz * evx - eux * evz
        cz = eux * evy - euy * evx
        det = j0x * cx + j0y * cy + j0z * cz
        if abs(det) < 1e-12:
            break
        # Cramer: delta = -J^-1 F
        dt = -(fx * cx + fy * cy + fz * cz) / det
        # columns for a: replace eu with F
        c2x = fy * evz - fz * evy
        c2y = fz * evx - fx * evz
        c2z = fx * evy - fy * evx
        da = -(j0x * c2x + j0y * c2y + j0z * c2z) / det
        c3x = euy * fz - euz * fy
        c3y = euz * fx - eux * fz
        c3z = eux * fy - euy * fx
        db = -(j0x * c3x + j0y * c3y + j0z * c3z) / det
        t += dt
        a += da
        b += db
        eux = eu0[0] + t * du[0]
        euy = eu0[1] + t * du[1]
        euz = eu0[2] + t * du[2]
        evx = ev0[0] + t * dv[0]
        evy = ev0[1] + t * dv[1]
        evz = ev0[2] + t * dv[2]
    if not (t >= -0.25 and t <= 1.25):
        # did not converge to this segment: keep the distance-based estimate
        return ta, aa, ba
    return min(max(t, 0.0), 1.0), a, b


@numba.njit(cache=True, inline="always")
def _corner(data, lut, s, v, u):
    return data[lut[s], v, u]


@numba.njit(cache=True)
def _sample(
    data, lut, n, height, width, s, v, u, mode, out, kz, ky, kx, labels, weights
):
    """Sample the straightened stack at (s, v, u) into out[kz, ky, kx].

    ``labels`` and ``weights`` are scratch arrays of length 8.
    """
    if mode == NEAREST:
        si = int(np.floor(s + 0.5))
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
):
    """Backproject into one output block by pulling from the straightened stack.

    Parameters
    ----------
    out : (bz, by, bx) array
        Output block, written in place where a claim is found (untouched
        elsewhere, so pass zeros).
    best : (bz, by, bx) float64 array
        Best squared in-plane distance so far; pass ``inf`` everywhere.
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
        Newton steps refining each position (0: interpolated-frame estimate).

    Examples
    --------
    >>> import numpy as np
    >>> c = np.array([[1.0, 1, 1], [2, 1, 1]]); t = np.array([[1.0, 0, 0]] * 2)
    >>> u = np.array([[0.0, 0, 1]] * 2); v = np.array([[0.0, 1, 0]] * 2)
    >>> ids, boxes, proj = segment_bounds(c, t, u, v, 3, 3, 1.0, np.ones(3),
    ...                                   np.zeros(3))
    >>> data = np.ones((2, 3, 3), np.float32); out = np.zeros((4, 3, 3), np.float32)
    >>> best = np.full(out.shape, np.inf)
    >>> pull_block(out, best, np.zeros(3, np.int64), np.ones(3), np.zeros(3),
    ...            c, t, u, v, 3, 3, 1.0, ids, boxes, proj, data,
    ...            np.arange(2), LINEAR, 2)
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
    for kz in numba.prange(bz):
        z = origin[0] + kz
        pz = z * scale[0] + translate[0]
        q = np.empty(3)
        dc = np.empty(3)
        du = np.empty(3)
        dv = np.empty(3)
        labels = np.empty(8, dtype=data.dtype)
        weights = np.empty(8, dtype=np.float64)
        for k in range(m):
            if z < boxes[k, 0] or z > boxes[k, 1]:
                continue
            sid = ids[k]
            if sid < 0:
                i = 0
            elif sid >= n - 1:
                i = n - 1
            else:
                i = sid
            is_seg = 0 <= sid < n - 1
            if is_seg:
                for j in range(3):
                    dc[j] = centers[i + 1, j] - centers[i, j]
                    du[j] = e_u[i + 1, j] - e_u[i, j]
                    dv[j] = e_v[i + 1, j] - e_v[i, j]
            if sid < 0:
                dlo, dhi = -half, 0.0
            elif is_seg:
                dlo, dhi = 0.0, big
            else:
                dlo, dhi = 0.0, half
            y0 = max(boxes[k, 2], origin[1])
            y1 = min(boxes[k, 3], origin[1] + by - 1)
            for y in range(y0, y1 + 1):
                py = y * scale[1] + translate[1]
                # position at x index 0, relative to plane i
                r0 = pz - centers[i, 0]
                r1 = py - centers[i, 1]
                r2 = translate[2] - centers[i, 2]
                xlo = float(max(boxes[k, 4], origin[2]))
                xhi = float(min(boxes[k, 5], origin[2] + bx - 1))
                f0 = r0 * tangents[i, 0] + r1 * tangents[i, 1] + r2 * tangents[i, 2]
                xlo, xhi = _clip(
                    xlo, xhi, f0, scale[2] * tangents[i, 2], dlo - 1e-9, dhi + 1e-9
                )
                f0 = r0 * e_u[i, 0] + r1 * e_u[i, 1] + r2 * e_u[i, 2]
                xlo, xhi = _clip(
                    xlo, xhi, f0, scale[2] * e_u[i, 2], proj[k, 0], proj[k, 1]
                )
                f0 = r0 * e_v[i, 0] + r1 * e_v[i, 1] + r2 * e_v[i, 2]
                xlo, xhi = _clip(
                    xlo, xhi, f0, scale[2] * e_v[i, 2], proj[k, 2], proj[k, 3]
                )
                if is_seg:
                    s0 = pz - centers[i + 1, 0]
                    s1 = py - centers[i + 1, 1]
                    s2 = translate[2] - centers[i + 1, 2]
                    f0 = (
                        s0 * tangents[i + 1, 0]
                        + s1 * tangents[i + 1, 1]
                        + s2 * tangents[i + 1, 2]
                    )
                    xlo, xhi = _clip(
                        xlo, xhi, f0, scale[2] * tangents[i + 1, 2], -big, 1e-9
                    )
                if xlo > xhi:
                    continue
                xa = int(np.ceil(xlo - 1e-6))
                xb = int(np.floor(xhi + 1e-6))
                xa = max(xa, origin[2])
                xb = min(xb, origin[2] + bx - 1)
                ky = y - origin[1]
                for x in range(xa, xb + 1):
                    px = x * scale[2] + translate[2]
                    q[0] = pz - centers[i, 0]
                    q[1] = py - centers[i, 1]
                    q[2] = px - centers[i, 2]
                    di = q[0] * tangents[i, 0] + q[1] * tangents[i, 1]
                    di += q[2] * tangents[i, 2]
                    if is_seg:
                        dn = (pz - centers[i + 1, 0]) * tangents[i + 1, 0]
                        dn += (py - centers[i + 1, 1]) * tangents[i + 1, 1]
                        dn += (px - centers[i + 1, 2]) * tangents[i + 1, 2]
                        if not (di >= 0.0 and dn < 0.0):
                            continue
                        t, a, b = _solve(
                            q, dc, e_u[i], du, e_v[i], dv, di / (di - dn), newton
                        )
                    else:
                        if not (di >= dlo and di < dhi):
                            continue
                        t = 0.0
                        a = q[0] * e_u[i, 0] + q[1] * e_u[i, 1] + q[2] * e_u[i, 2]
                        b = q[0] * e_v[i, 0] + q[1] * e_v[i, 1] + q[2] * e_v[i, 2]
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
                        )
