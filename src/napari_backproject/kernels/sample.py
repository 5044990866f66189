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

from ._threading import parallel_launch

__all__ = ["sample_planes"]


@numba.njit(cache=True, nogil=True)
def _store(oflat, o, val, round_int, lo, hi):
    if round_int:
        val = math.floor(val + 0.5)
        if val < lo:
            val = lo
        elif val > hi:
            val = hi
    oflat[o] = val


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
    clip,
    lo,
    hi,
    out,
):
    # The caller guarantees that ``region`` covers every voxel the samples
    # inside the volume need (see ``sample_planes``), so reads need no clamps.
    n, H, W, C = out.shape
    RY, RX = region.shape[1], region.shape[2]
    flat = region.reshape(-1)  # C-contiguous: 1D indexing is cheaper
    oflat = out.reshape(-1)
    SZ = RY * RX * C
    SY = RX * C
    oz, oy, ox = origin[0], origin[1], origin[2]
    nz, ny, nx = full_shape[0] - 1.0, full_shape[1] - 1.0, full_shape[2] - 1.0
    # last index a trilinear pair may start at (the pair (n-2, n-1) serves
    # x == n - 1 with weight 1)
    lz = max(int(full_shape[0]) - 2, 0)
    ly = max(int(full_shape[1]) - 2, 0)
    lx = max(int(full_shape[2]) - 2, 0)
    # neighbour offsets (0 along an axis of length 1)
    jz = SZ if full_shape[0] > 1 else 0
    jy = SY if full_shape[1] > 1 else 0
    jx = C if full_shape[2] > 1 else 0
    hw = (W - 1) / 2.0
    hh = (H - 1) / 2.0
    qoff = -(oz * SZ + oy * SY + ox * C)
    for row in numba.prange(n * H):
        i = row // H
        v = row % H
        # voxel-space centre and steps of plane i
        pz = (centers[i, 0] - translate[0]) / scale[0]
        py = (centers[i, 1] - translate[1]) / scale[1]
        px = (centers[i, 2] - translate[2]) / scale[2]
        uz = spacing * e_u[i, 0] / scale[0]
        uy = spacing * e_u[i, 1] / scale[1]
        ux = spacing * e_u[i, 2] / scale[2]
        b = v - hh
        rz = pz + b * (spacing * e_v[i, 0] / scale[0])
        ry = py + b * (spacing * e_v[i, 1] / scale[1])
        rx = px + b * (spacing * e_v[i, 2] / scale[2])
        o = row * W * C
        if order == 1 and C == 1:
            # fast path: trilinear, one channel
            for u in range(W):
                a = u - hw
                z = rz + a * uz
                y = ry + a * uy
                x = rx + a * ux
                if not (
                    z >= 0.0
                    and z <= nz
                    and y >= 0.0
                    and y <= ny
                    and x >= 0.0
                    and x <= nx
                ):
                    _store(oflat, o + u, fill_value, round_int, lo, hi)
                    continue
                iz = min(int(z), lz)
                iy = min(int(y), ly)
                ix = min(int(x), lx)
                dz = z - iz
                dy = y - iy
                dx = x - ix
                q = iz * SZ + iy * SY + ix + qoff
                c000 = float(flat[q])
                c001 = float(flat[q + jx])
                q1 = q + jy
                c010 = float(flat[q1])
                c011 = float(flat[q1 + jx])
                q2 = q + jz
                c100 = float(flat[q2])
                c101 = float(flat[q2 + jx])
                q3 = q2 + jy
                c110 = float(flat[q3])
                c111 = float(flat[q3 + jx])
                c00 = c000 + (c001 - c000) * dx
                c01 = c010 + (c011 - c010) * dx
                c10 = c100 + (c101 - c100) * dx
                c11 = c110 + (c111 - c110) * dx
                c0 = c00 + (c01 - c00) * dy
                c1 = c10 + (c11 - c10) * dy
                val = c0 + (c1 - c0) * dz
                if clip:
                    _store(oflat, o + u, val, round_int, lo, hi)
                elif round_int:  # same dtype in and out: no clipping needed
                    oflat[o + u] = np.floor(val + 0.5)
                else:
                    oflat[o + u] = val
            continue
        for u in range(W):
            a = u - hw
            z = rz + a * uz
            y = ry + a * uy
            x = rx + a * ux
            if not (
                z >= 0.0 and z <= nz and y >= 0.0 and y <= ny and x >= 0.0 and x <= nx
            ):
                for c in range(C):
                    _store(oflat, o + u * C + c, fill_value, round_int, lo, hi)
                continue
            if order == 0:
                # inside: coordinates >= 0, so int() truncation is floor
                p = (
                    (int(z + 0.5) - oz) * SZ
                    + (int(y + 0.5) - oy) * SY
                    + (int(x + 0.5) - ox) * C
                )
                for c in range(C):
                    _store(oflat, o + u * C + c, float(flat[p + c]), round_int, lo, hi)
                continue
            iz = min(int(z), lz)
            iy = min(int(y), ly)
            ix = min(int(x), lx)
            dz = z - iz
            dy = y - iy
            dx = x - ix
            p = (iz - oz) * SZ + (iy - oy) * SY + (ix - ox) * C
            for c in range(C):
                q = p + c
                c000 = float(flat[q])
                c001 = float(flat[q + jx])
                c010 = float(flat[q + jy])
                c011 = float(flat[q + jy + jx])
                c100 = float(flat[q + jz])
                c101 = float(flat[q + jz + jx])
                c110 = float(flat[q + jz + jy])
                c111 = float(flat[q + jz + jy + jx])
                c00 = c000 + (c001 - c000) * dx
                c01 = c010 + (c011 - c010) * dx
                c10 = c100 + (c101 - c100) * dx
                c11 = c110 + (c111 - c110) * dx
                c0 = c00 + (c01 - c00) * dy
                c1 = c10 + (c11 - c10) * dy
                _store(oflat, o + u * C + c, c0 + (c1 - c0) * dz, round_int, lo, hi)


def _check_coverage(
    rshape, origin, full_shape, centers, e_u, e_v, scale, translate, spacing, W, H
) -> None:
    """Raise if the region misses a voxel that a sample inside the volume needs.

    The kernel reads without clamping, so this protects memory safety.
    """
    a = np.array([-(W - 1) / 2.0, (W - 1) / 2.0]) * spacing
    b = np.array([-(H - 1) / 2.0, (H - 1) / 2.0]) * spacing
    c = np.asarray(centers, dtype=np.float64)
    corners = (
        c[:, None, None, :]
        + a[None, :, None, None] * np.asarray(e_u, dtype=np.float64)[:, None, None, :]
        + b[None, None, :, None] * np.asarray(e_v, dtype=np.float64)[:, None, None, :]
    ).reshape(-1, 3)
    vox = (corners - np.asarray(translate, float)) / np.asarray(scale, float)
    full = np.asarray(full_shape, dtype=np.int64)
    if np.any(vox.max(axis=0) < -1e-9) or np.any(vox.min(axis=0) > full - 1 + 1e-9):
        return  # every sample is outside: nothing is read
    lo = np.floor(np.clip(vox.min(axis=0) - 1e-9, 0, full - 1)).astype(np.int64)
    hi = np.floor(np.clip(vox.max(axis=0) + 1e-9, 0, full - 1)).astype(np.int64)
    hi = np.minimum(hi + 1, full - 1)  # trilinear neighbour
    org = np.asarray(origin, dtype=np.int64)
    end = org + np.asarray(rshape, dtype=np.int64) - 1
    if (
        np.any(org > lo)
        or np.any(end < hi)
        or np.any(end > full - 1)
        or np.any(org < 0)
    ):
        raise ValueError(
            f"region (origin {org.tolist()}, shape {list(rshape)}) does not cover the "
            f"voxels the planes need ({lo.tolist()} to {hi.tolist()}); read the "
            "bounding box from napari_backproject.straighten.plane_bounding_box."
        )


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
    if n:
        _check_coverage(
            reg.shape[:3],
            origin,
            full_shape,
            centers,
            e_u,
            e_v,
            scale,
            translate,
            spacing,
            width,
            height,
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
        with parallel_launch():
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
                bool(round_int and np.dtype(odt) != np.dtype(reg.dtype)),
                lo,
                hi,
                work,
            )
        if not direct:
            target[...] = work
    return out
