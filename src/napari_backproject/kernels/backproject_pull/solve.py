"""A voxel's position between two planes: constraints, the cubic for ``t``, ``(a, b)``."""

from __future__ import annotations

import numba


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
