"""Map points (and mesh vertices) between the source and the straightened space.

Both directions use exactly the model of the pull backprojection
(:mod:`napari_backproject.backproject`): between planes ``i`` and ``i + 1``
the centre and the in-plane vectors are interpolated linearly,

    p(s, v, u) = c(s) + (u - (W - 1) / 2) D e_u(s) + (v - (H - 1) / 2) D e_v(s)

with ``s = i + f`` and ``c(s) = (1 - f) c_i + f c_{i+1}`` (same for ``e_u``,
``e_v``). Half a spacing before the first and after the last plane (the end
caps) the first/last frame is moved along its tangent: ``c(s) = c_0 + s D
t_0`` for ``-0.5 <= s < 0``. Straightened coordinates are ``(slice, v, u)``
in pixels; world coordinates are ``(z, y, x)`` in the geometry's world
units (voxel index times ``scale`` plus ``translate``).

Points that lie on no plane (outside the swept slab, or more than half a
pixel beyond a plane's edge) map to **NaN**; nothing is raised, so a mesh
keeps its vertex count. Where planes overlap at tight bends a point belongs
to the nearest claim (smallest in-plane distance), as in the backprojection.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .slice_geometry import SliceGeometry

__all__ = ["from_straightened", "to_straightened"]

_BLOCK = 2048
#: points x planes per block (the signed-distance table, 8 bytes each)
_PAIRS = 2**21


def _points(points: Any, name: str) -> np.ndarray:
    try:
        p = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an (N, 3) array of numbers.") from None
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(f"{name} must have shape (N, 3); got {p.shape}.")
    return p


def _closed(g: SliceGeometry) -> bool:
    return bool(g.options.get("closed", False)) and g.n_slices >= 2


def from_straightened(points: Any, geometry: Any) -> np.ndarray:
    """Straightened ``(slice, v, u)`` pixel coordinates -> world ``(z, y, x)``.

    Parameters
    ----------
    points : (N, 3) array_like
        Positions in the straightened stack (fractional allowed), e.g. a
        Points layer drawn on it or mesh vertices.
    geometry : SliceGeometry, dict or path
        The stack's geometry.

    Returns
    -------
    (N, 3) ndarray
        World coordinates; NaN where ``slice`` is outside the stack
        (beyond the half-spacing end caps).

    Examples
    --------
    >>> from napari_backproject.geometry import make_slice_geometry
    >>> g = make_slice_geometry([[0, 5, 5], [8, 5, 5]], source_shape=(9, 11, 11),
    ...                         source_dtype="uint8", width=5, height=5)
    >>> from_straightened([[2, 2, 2], [4, 0, 4]], g).round(6).tolist()
    [[2.0, 5.0, 5.0], [4.0, 3.0, 7.0]]
    """
    g = SliceGeometry.coerce(geometry)
    p = _points(points, "points")
    n, W, H, D = g.n_slices, g.width, g.height, g.spacing
    s, v, u = p[:, 0], p[:, 1], p[:, 2]
    closed = _closed(g)
    out = np.full(p.shape, np.nan)
    if closed:
        ok = np.isfinite(s)
        s = np.mod(s, n)
    else:
        eps = 1e-9  # rounding at the caps' outer faces
        ok = np.isfinite(s) & (s >= -0.5 - eps) & (s <= n - 0.5 + eps)
    if n == 1:
        i = np.zeros(s.shape, dtype=np.int64)
        f = np.zeros_like(s)
    else:
        top = n - 1 if closed else n - 2
        i = np.clip(np.floor(np.where(ok, s, 0)).astype(np.int64), 0, top)
        f = np.where(ok, s, 0) - i
    j = (i + 1) % n
    c = g.centers[i] + f[:, None] * (g.centers[j] - g.centers[i])
    eu = g.e_u[i] + f[:, None] * (g.e_u[j] - g.e_u[i])
    ev = g.e_v[i] + f[:, None] * (g.e_v[j] - g.e_v[i])
    if not closed:
        for cap, k in ((s < 0, 0), (s > n - 1, n - 1)):
            off = (s[cap] - k)[:, None] * D * g.tangents[k]
            c[cap] = g.centers[k] + off
            eu[cap], ev[cap] = g.e_u[k], g.e_v[k]
    world = (
        c
        + ((u - (W - 1) / 2) * D)[:, None] * eu
        + ((v - (H - 1) / 2) * D)[:, None] * ev
    )
    out[ok] = world[ok]
    return out


def _inplane(
    r: np.ndarray, eu: np.ndarray, ev: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients (a, b) with r ~ a eu + b ev (2x2 normal equations)."""
    g11 = np.sum(eu * eu, axis=1)
    g12 = np.sum(eu * ev, axis=1)
    g22 = np.sum(ev * ev, axis=1)
    r1 = np.sum(r * eu, axis=1)
    r2 = np.sum(r * ev, axis=1)
    det = g11 * g22 - g12 * g12
    return (g22 * r1 - g12 * r2) / det, (g11 * r2 - g12 * r1) / det


def _segment_solve(q, dc, eu0, du, ev0, dv, t0):
    """Root t of (q - t dc) . (e_u(t) x e_v(t)) = 0 near t0 (Newton)."""
    n0 = np.cross(eu0, ev0)
    n1 = np.cross(eu0, dv) + np.cross(du, ev0)
    n2 = np.cross(du, dv)
    k0 = np.sum(q * n0, axis=1)
    k1 = np.sum(q * n1, axis=1) - np.sum(dc * n0, axis=1)
    k2 = np.sum(q * n2, axis=1) - np.sum(dc * n1, axis=1)
    k3 = -np.sum(dc * n2, axis=1)
    t = t0.copy()
    for _ in range(60):
        f = ((k3 * t + k2) * t + k1) * t + k0
        fp = (3 * k3 * t + 2 * k2) * t + k1
        step = np.where(np.abs(fp) > 1e-300, f / np.where(fp == 0, 1, fp), 0.0)
        t = np.clip(t - step, -0.5, 1.5)
        if np.all(np.abs(step) < 1e-15):
            break
    return t


def to_straightened(points: Any, geometry: Any) -> np.ndarray:
    """World ``(z, y, x)`` -> straightened ``(slice, v, u)`` pixel coordinates.

    The exact inverse of :func:`from_straightened` inside the swept slab.

    Parameters
    ----------
    points : (N, 3) array_like
        World coordinates (e.g. ``layer.data * layer.scale + layer.translate``
        of a Points layer, or mesh vertices).
    geometry : SliceGeometry, dict or path

    Returns
    -------
    (N, 3) ndarray
        ``(slice, v, u)``; rows of NaN for points on no plane.

    Examples
    --------
    >>> from napari_backproject.geometry import make_slice_geometry
    >>> g = make_slice_geometry([[0, 5, 5], [8, 5, 5]], source_shape=(9, 11, 11),
    ...                         source_dtype="uint8", width=5, height=5)
    >>> to_straightened([[2.5, 5, 5], [4, 3, 7], [4, 5, 20]], g).round(6).tolist()
    [[2.5, 2.0, 2.0], [4.0, 0.0, 4.0], [nan, nan, nan]]
    """
    g = SliceGeometry.coerce(geometry)
    p = _points(points, "points")
    out = np.full(p.shape, np.nan)
    block = max(1, min(_BLOCK, _PAIRS // g.n_slices))  # points x planes bounded
    for a in range(0, len(p), block):
        out[a : a + block] = _to_block(p[a : a + block], g)
    return out


def _to_block(p: np.ndarray, g: SliceGeometry) -> np.ndarray:
    n, W, H, D = g.n_slices, g.width, g.height, g.spacing
    closed = _closed(g)
    AU, AV = W * D / 2.0, H * D / 2.0
    out = np.full(p.shape, np.nan)
    fin = np.all(np.isfinite(p), axis=1)
    d = np.einsum("pk,nk->pn", p, g.tangents) - np.sum(g.centers * g.tangents, axis=1)
    cand_p, cand_s, cand_t = [], [], []
    if n >= 2:
        nxt = np.roll(d, -1, axis=1)
        mask = (d >= 0) & (nxt < 0)
        if not closed:
            mask[:, -1] = False
        pi, si = np.nonzero(mask & fin[:, None])
        if pi.size:
            sj = (si + 1) % n
            q = p[pi] - g.centers[si]
            dc = g.centers[sj] - g.centers[si]
            du = g.e_u[sj] - g.e_u[si]
            dv = g.e_v[sj] - g.e_v[si]
            t0 = d[pi, si] / (d[pi, si] - d[pi, sj])
            t = _segment_solve(q, dc, g.e_u[si], du, g.e_v[si], dv, t0)
            keep = (t >= -1e-9) & (t <= 1 + 1e-9)
            cand_p.append(pi[keep])
            cand_s.append(si[keep].astype(np.float64))
            cand_t.append(np.clip(t[keep], 0.0, 1.0))
    if not closed:  # end caps: half a spacing beyond the first / last plane
        tol = 1e-9 * D  # the cap's outer face belongs to it despite rounding
        for k, lo, hi in ((0, -D / 2 - tol, 0.0), (n - 1, 0.0, D / 2 + tol)):
            dk = d[:, k]
            sel = fin & (dk >= lo) & ((dk < hi) if k == 0 else (dk <= hi))
            if n == 1 and k == n - 1:
                sel = fin & (dk >= -D / 2 - tol) & (dk <= D / 2 + tol)
            pi = np.flatnonzero(sel)
            cand_p.append(pi)
            cand_s.append(np.full(pi.size, float(k)))
            cand_t.append(dk[pi] / D)
    if not cand_p:
        return out
    pi = np.concatenate(cand_p)
    base = np.concatenate(cand_s)
    t = np.concatenate(cand_t)
    i = base.astype(np.int64)
    cap = np.zeros(pi.size, dtype=bool)
    off = 0
    for arr in cand_p[-2:] if not closed else []:
        cap[pi.size - off - arr.size : pi.size - off] = True
        off += arr.size
    s = base + t
    j = (i + 1) % n
    f = np.where(cap, 0.0, t)[:, None]
    c = g.centers[i] + f * (g.centers[j] - g.centers[i])
    eu = g.e_u[i] + f * (g.e_u[j] - g.e_u[i])
    ev = g.e_v[i] + f * (g.e_v[j] - g.e_v[i])
    c = np.where(cap[:, None], g.centers[i] + (t * D)[:, None] * g.tangents[i], c)
    a, b = _inplane(p[pi] - c, eu, ev)  # p = c + a e_u + b e_v
    ok = (np.abs(a) <= AU + 1e-9) & (np.abs(b) <= AV + 1e-9)
    if not np.any(ok):
        return out
    pi, s, a, b = pi[ok], s[ok], a[ok], b[ok]
    # nearest claim wins: in-plane distance in world units
    score = a * a * np.sum(eu[ok] ** 2, axis=1) + b * b * np.sum(ev[ok] ** 2, axis=1)
    order = np.lexsort((score, pi))
    first = np.ones(order.size, dtype=bool)
    first[1:] = pi[order][1:] != pi[order][:-1]
    best = order[first]
    sb = np.mod(s[best], n) if closed else s[best]
    out[pi[best], 0] = sb
    out[pi[best], 1] = b[best] / D + (H - 1) / 2
    out[pi[best], 2] = a[best] / D + (W - 1) / 2
    return out
    pi, s, a, b, eu, ev = pi[ok], s[ok], a[ok], b[ok], eu[ok], ev[ok]
    score = a * a + b * b
    order = np.lexsort((score, pi))
    first = np.ones(order.size, dtype=bool)
    first[1:] = pi[order][1:] != pi[order][:-1]
    best = order[first]
    ua = a[best] / np.sqrt(np.sum(eu[best] ** 2, axis=1))
    vb = b[best] / np.sqrt(np.sum(ev[best] ** 2, axis=1))
    sb = s[best]
    if closed:
        sb = np.mod(sb, n)
    out[pi[best], 0] = sb
    out[pi[best], 1] = vb / D + (H - 1) / 2
    out[pi[best], 2] = ua / D + (W - 1) / 2
    return out
