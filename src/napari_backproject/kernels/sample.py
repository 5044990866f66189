"""Numba kernels: sample planes of a volume (nearest or trilinear).

No napari, dask or file I/O here. Kernels keep no global mutable state and
are safe to call from several threads at once.

Sampling definition (same as
:class:`napari_backproject.slice_geometry.SliceGeometry`): pixel ``(v, u)`` of
plane ``i`` is at world position ``c_i + uo * e_u,i + vo * e_v,i`` with
``uo = (u - (W - 1) / 2) * D`` and ``vo = (v - (H - 1) / 2) * D``, and at voxel
coordinate ``(world - translate) / scale``. The kernel evaluates this per
plane in voxel space (origin ``(c_i - translate) / scale`` plus ``uo`` and
``vo`` times ``D * e / scale``), which agrees with
``SliceGeometry.voxel_coordinates`` to rounding (~1e-13 voxel); only a
nearest-neighbour sample lying exactly on a half-voxel tie can, in principle,
resolve to the other neighbour.

Border convention: identical to ``scipy.ndimage.map_coordinates(...,
mode="constant")`` for orders 0 and 1: a sample whose voxel coordinate lies
outside ``[0, n - 1]`` on any axis gets ``fill_value``; inside, order 0 takes
voxel ``floor(x + 0.5)`` (round half up) and order 1 interpolates the 2x2x2
neighbours.

Integer outputs: the interpolated value is rounded half up
(``floor(x + 0.5)``) and clipped to the output dtype's range.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["sample_planes"]


@numba.njit(cache=True, parallel=True, nogil=True)
def _sample_planes(
    region,
    origin,
    full_shape,
    centers,
    e_u,
    e_v,
    scale,
    translate,
    spacing,
    order,
    fill_value,
    round_int,
    lo,
    hi,
    out,
):
    n, H, W, C = out.shape
    RZ, RY, RX = region.shape[0], region.shape[1], region.shape[2]
    flat = region.reshape(-1)  # C-contiguous: 1D indexing is much cheaper
    oflat = out.reshape(-1)
    SZ = RY * RX * C
    SY = RX * C
    SX = C
    oz, oy, ox = origin[0], origin[1], origin[2]
    nz, ny, nx = full_shape[0] - 1.0, full_shape[1] - 1.0, full_shape[2] - 1.0
    lz = max(int(full_shape[0]) - 2, 0)
    ly = max(int(full_shape[1]) - 2, 0)
    lx = max(int(full_shape[2]) - 2, 0)
    hw = (W - 1) / 2.0
    hh = (H - 1) / 2.0
    # memory distance (in elements) of one step along e_u / e_v, per plane:
    # the inner loop runs along the cheaper direction (cache/TLB locality)
    sz = float(region.strides[0])
    sy = float(region.strides[1])
    sx = float(region.strides[2])
    R = max(H, W)
    for job in numba.prange(n * R):
        i = job // R
        r = job % R
        cost_u = (
            abs(e_u[i, 0] / scale[0]) * sz
            + abs(e_u[i, 1] / scale[1]) * sy
            + abs(e_u[i, 2] / scale[2]) * sx
        )
        cost_v = (
            abs(e_v[i, 0] / scale[0]) * sz
            + abs(e_v[i, 1] / scale[1]) * sy
            + abs(e_v[i, 2] / scale[2]) * sx
        )
        u_inner = cost_u <= cost_v
        if u_inner:
            if r >= H:
                continue
            n_inner = W
        else:
            if r >= W:
                continue
            n_inner = H
        # voxel-space origin and steps of this plane
        pz = (centers[i, 0] - translate[0]) / scale[0]
        py = (centers[i, 1] - translate[1]) / scale[1]
        px = (centers[i, 2] - translate[2]) / scale[2]
        uz = spacing * e_u[i, 0] / scale[0]
        uy = spacing * e_u[i, 1] / scale[1]
        ux = spacing * e_u[i, 2] / scale[2]
        vz = spacing * e_v[i, 0] / scale[0]
        vy = spacing * e_v[i, 1] / scale[1]
        vx = spacing * e_v[i, 2] / scale[2]
        for k in range(n_inner):
            if u_inner:
                v = r
                u = k
            else:
                v = k
                u = r
            a = u - hw
            b_ = v - hh
            z = pz + a * uz + b_ * vz
            y = py + a * uy + b_ * vy
            x = px + a * ux + b_ * vx
            if not (
                z >= 0.0 and z <= nz and y >= 0.0 and y <= ny and x >= 0.0 and x <= nx
            ):
                o = ((i * H + v) * W + u) * C
                for c in range(C):
                    val = fill_value
                    if round_int:
                        val = math.floor(val + 0.5)
                        val = min(max(val, lo), hi)
                    oflat[o + c] = val
                continue
            if order == 0:
                # inside: coordinates >= 0, so int() truncation is floor
                iz = min(max(int(z + 0.5) - oz, 0), RZ - 1)
                iy = min(max(int(y + 0.5) - oy, 0), RY - 1)
                ix = min(max(int(x + 0.5) - ox, 0), RX - 1)
                o = ((i * H + v) * W + u) * C
                b = iz * SZ + iy * SY + ix * SX
                for c in range(C):
                    val = float(flat[b + c])
                    if round_int:
                        val = min(max(val, lo), hi)
                    oflat[o + c] = val
                continue
            # at the last voxel (x == n - 1) use the pair (n - 2, n - 1), weight 1
            iz = min(int(z), lz)
            iy = min(int(y), ly)
            ix = min(int(x), lx)
            dz = z - iz
            dy = y - iy
            dx = x - ix
            z0 = min(max(iz - oz, 0), RZ - 1)
            y0 = min(max(iy - oy, 0), RY - 1)
            x0 = min(max(ix - ox, 0), RX - 1)
            jz = SZ if z0 + 1 < RZ else 0
            jy = SY if y0 + 1 < RY else 0
            jx = SX if x0 + 1 < RX else 0
            b = z0 * SZ + y0 * SY + x0 * SX
            o = ((i * H + v) * W + u) * C
            for c in range(C):
                p = b + c
                c000 = float(flat[p])
                c001 = float(flat[p + jx])
                c010 = float(flat[p + jy])
                c011 = float(flat[p + jy + jx])
                c100 = float(flat[p + jz])
                c101 = float(flat[p + jz + jx])
                c110 = float(flat[p + jz + jy])
                c111 = float(flat[p + jz + jy + jx])
                c00 = c000 + (c001 - c000) * dx
                c01 = c010 + (c011 - c010) * dx
                c10 = c100 + (c101 - c100) * dx
                c11 = c110 + (c111 - c110) * dx
                c0 = c00 + (c01 - c00) * dy
                c1 = c10 + (c11 - c10) * dy
                val = c0 + (c1 - c0) * dz
                if round_int:
                    val = math.floor(val + 0.5)
                    val = min(max(val, lo), hi)
                oflat[o + c] = val


def sample_planes(
    region: np.ndarray,
    origin: tuple[int, int, int],
    full_shape: tuple[int, int, int],
    centers: np.ndarray,
    e_u: np.ndarray,
    e_v: np.ndarray,
    scale: np.ndarray,
    translate: np.ndarray,
    spacing: float,
    width: int,
    height: int,
    *,
    order: int = 1,
    fill_value: float = 0.0,
    out: np.ndarray | None = None,
    dtype: np.dtype | None = None,
) -> np.ndarray:
    """Sample planes from a (region of a) volume, nearest or trilinear.

    Parameters
    ----------
    region : ndarray, (Z, Y, X) or (Z, Y, X, C)
        The part of the volume that covers the planes (+1 voxel), channels
        last. Any numeric dtype.
    origin : (3,) int
        Voxel index of ``region[0, 0, 0]`` in the full volume.
    full_shape : (3,) int
        Spatial shape of the full volume (decides what is "outside").
    centers, e_u, e_v : (n, 3) float64
        Plane centres and in-plane unit vectors (world units).
    scale, translate : (3,) float64
        World = voxel * scale + translate.
    spacing : float
        World distance between pixels.
    width, height : int
        Plane size in pixels.
    order : {0, 1}
        Nearest neighbour or trilinear.
    fill_value : float
        Value outside the volume.
    out : ndarray, optional
        (n, H, W) or (n, H, W, C) output; allocated when None.
    dtype : dtype, optional
        Output dtype when ``out`` is None (default: region's dtype).

    Returns
    -------
    ndarray
        ``(n, H, W)`` for a 3D region, ``(n, H, W, C)`` for a 4D one.

    Examples
    --------
    >>> vol = np.arange(27, dtype=np.float32).reshape(3, 3, 3)
    >>> one = np.ones((1, 3))
    >>> p = sample_planes(vol, (0, 0, 0), (3, 3, 3), one, np.array([[0., 0, 1]]),
    ...                   np.array([[0., 1, 0]]), np.ones(3), np.zeros(3), 1.0, 3, 3)
    >>> p[0].tolist() == vol[1].tolist()
    True
    """
    if order not in (0, 1):
        raise ValueError(f"order must be 0 (nearest) or 1 (trilinear); got {order}.")
    if region.ndim not in (3, 4):
        raise ValueError(
            f"region must be 3D or 4D (channels last); got {region.ndim}D."
        )
    squeeze = region.ndim == 3
    reg = region[..., None] if squeeze else region
    if reg.dtype == np.bool_:
        reg = reg.view(np.uint8)
    reg = np.ascontiguousarray(reg)
    n = len(centers)
    C = reg.shape[3]
    if out is None:
        out = np.empty(
            (n, height, width, C) if not squeeze else (n, height, width),
            dtype=dtype if dtype is not None else region.dtype,
        )
    out4 = out[..., None] if squeeze else out
    odt = out4.dtype
    target = out4.view(np.uint8) if odt == np.bool_ else out4
    expected = (n, height, width, C)
    if target.shape != expected:
        raise ValueError(
            f"out has shape {out.shape}; expected {expected[: 3 + (not squeeze)]}."
        )
    direct = target.flags.c_contiguous
    work = target if direct else np.empty(target.shape, dtype=target.dtype)
    if odt == np.bool_:
        round_int, lo, hi = True, 0.0, 1.0
    elif odt.kind in "iu":
        info = np.iinfo(odt)
        round_int, lo, hi = True, float(info.min), float(info.max)
    else:
        round_int, lo, hi = False, 0.0, 0.0
    if n:
        _sample_planes(
            reg,
            np.asarray(origin, dtype=np.int64),
            np.asarray(full_shape, dtype=np.float64),
            np.ascontiguousarray(centers, dtype=np.float64),
            np.ascontiguousarray(e_u, dtype=np.float64),
            np.ascontiguousarray(e_v, dtype=np.float64),
            np.asarray(scale, dtype=np.float64),
            np.asarray(translate, dtype=np.float64),
            float(spacing),
            int(order),
            float(fill_value),
            round_int,
            lo,
            hi,
            work,
        )
        if not direct:
            target[...] = work
    return out
