"""Numba kernels: sample planes of a volume (nearest or trilinear).

No napari, dask or file I/O here. Kernels keep no global mutable state and
are safe to call from several threads at once.

Sampling definition (same as
:class:`napari_backproject.slice_geometry.SliceGeometry`): pixel ``(v, u)`` of
plane ``i`` is at world position ``c_i + uo * e_u,i + vo * e_v,i`` with
``uo = (u - (W - 1) / 2) * D`` and ``vo = (v - (H - 1) / 2) * D``, and at voxel
coordinate ``(world - translate) / scale``.

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
    oz, oy, ox = origin[0], origin[1], origin[2]
    nz, ny, nx = full_shape[0] - 1.0, full_shape[1] - 1.0, full_shape[2] - 1.0
    hw = (W - 1) / 2.0
    hh = (H - 1) / 2.0
    for row in numba.prange(n * H):
        i = row // H
        v = row % H
        vo = (v - hh) * spacing
        cz, cy, cx = centers[i, 0], centers[i, 1], centers[i, 2]
        # same operation order as SliceGeometry.world_coordinates
        bz = vo * e_v[i, 0]
        by = vo * e_v[i, 1]
        bx = vo * e_v[i, 2]
        for u in range(W):
            uo = (u - hw) * spacing
            z = ((cz + uo * e_u[i, 0]) + bz - translate[0]) / scale[0]
            y = ((cy + uo * e_u[i, 1]) + by - translate[1]) / scale[1]
            x = ((cx + uo * e_u[i, 2]) + bx - translate[2]) / scale[2]
            if not (
                z >= 0.0 and z <= nz and y >= 0.0 and y <= ny and x >= 0.0 and x <= nx
            ):
                for c in range(C):
                    val = fill_value
                    if round_int:
                        val = math.floor(val + 0.5)
                        val = min(max(val, lo), hi)
                    out[i, v, u, c] = val
                continue
            if order == 0:
                iz = min(max(int(math.floor(z + 0.5)) - oz, 0), RZ - 1)
                iy = min(max(int(math.floor(y + 0.5)) - oy, 0), RY - 1)
                ix = min(max(int(math.floor(x + 0.5)) - ox, 0), RX - 1)
                for c in range(C):
                    val = float(region[iz, iy, ix, c])
                    if round_int:
                        val = min(max(val, lo), hi)
                    out[i, v, u, c] = val
                continue
            fz0 = math.floor(z)
            fy0 = math.floor(y)
            fx0 = math.floor(x)
            # at the last voxel (x == n - 1) use the pair (n - 2, n - 1) with weight 1
            if fz0 > nz - 1.0:
                fz0 = max(nz - 1.0, 0.0)
            if fy0 > ny - 1.0:
                fy0 = max(ny - 1.0, 0.0)
            if fx0 > nx - 1.0:
                fx0 = max(nx - 1.0, 0.0)
            dz = z - fz0
            dy = y - fy0
            dx = x - fx0
            z0 = min(max(int(fz0) - oz, 0), RZ - 1)
            y0 = min(max(int(fy0) - oy, 0), RY - 1)
            x0 = min(max(int(fx0) - ox, 0), RX - 1)
            z1 = min(z0 + 1, RZ - 1)
            y1 = min(y0 + 1, RY - 1)
            x1 = min(x0 + 1, RX - 1)
            for c in range(C):
                c000 = float(region[z0, y0, x0, c])
                c001 = float(region[z0, y0, x1, c])
                c010 = float(region[z0, y1, x0, c])
                c011 = float(region[z0, y1, x1, c])
                c100 = float(region[z1, y0, x0, c])
                c101 = float(region[z1, y0, x1, c])
                c110 = float(region[z1, y1, x0, c])
                c111 = float(region[z1, y1, x1, c])
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
                out[i, v, u, c] = val


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
            target,
        )
    return out
