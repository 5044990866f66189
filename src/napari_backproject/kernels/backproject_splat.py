"""Splat backprojection kernel (Ouroboros-style trilinear splatting).

Each straightened pixel is placed at its world position, converted to voxel
coordinates, and distributes its value with trilinear weights to its 8
neighbouring voxels (its nearest voxel for ``NEAREST``). Floating data are
normalised by the summed weights; for labels, each voxel keeps the summed
weight of up to ``SLOTS`` non-zero labels (plus background = total minus
those) and the label with the greatest weight wins (ties: a label beats
background, the smaller ID beats a larger one). Voxels that receive no
weight stay 0, which is why splatting leaves holes when the slice spacing is
larger than a voxel.

Plain NumPy in and out; parallel over the output planes of a block, so no
two threads write the same voxel; no global state.
"""

from __future__ import annotations

import numba
import numpy as np

from .backproject_pull import LABEL_VOTE, NEAREST

#: distinct non-zero labels remembered per voxel (label mode)
SLOTS = 4


def slice_bounds(
    centers: np.ndarray,
    e_u: np.ndarray,
    e_v: np.ndarray,
    width: int,
    height: int,
    spacing: float,
    scale: np.ndarray,
    translate: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Inclusive voxel bounds of the trilinear footprint of every plane.

    Parameters
    ----------
    centers, e_u, e_v : (n, 3) float arrays
        Plane frames in world units.
    width, height : int
        Pixels per plane.
    spacing : float
        World distance between pixels.
    scale, translate : (3,) float arrays
        World = voxel index * scale + translate.

    Returns
    -------
    ids : (n,) int64
        Slice indices ``0 .. n - 1``.
    boxes : (n, 6) int64
        ``z0, z1, y0, y1, x0, x1`` (inclusive) of the voxels each plane's
        pixels can reach.

    Examples
    --------
    >>> ids, boxes = slice_bounds(np.array([[5.0, 5, 5]]), np.array([[0.0, 0, 1]]),
    ...                           np.array([[0.0, 1, 0]]), 3, 3, 1.0,
    ...                           np.ones(3), np.zeros(3))
    >>> boxes[0].tolist()  # a margin of 1e-9 voxel: conservative bounds
    [4, 6, 3, 7, 3, 7]
    """
    au = (width - 1) / 2.0 * spacing
    av = (height - 1) / 2.0 * spacing
    signs = np.array([[-1, -1], [-1, 1], [1, -1], [1, 1]], dtype=np.float64)
    corners = (
        centers[:, None, :]
        + signs[None, :, 0, None] * au * e_u[:, None, :]
        + signs[None, :, 1, None] * av * e_v[:, None, :]
    )
    vox = (corners - translate) / scale
    lo = np.floor(vox.min(axis=1) - 1e-9).astype(np.int64)
    hi = np.floor(vox.max(axis=1) + 1e-9).astype(np.int64) + 1
    boxes = np.empty((centers.shape[0], 6), dtype=np.int64)
    boxes[:, 0::2] = lo
    boxes[:, 1::2] = hi
    return np.arange(centers.shape[0], dtype=np.int64), boxes


@numba.njit(cache=True, parallel=True)
def splat_block(
    out,
    origin,
    scale,
    translate,
    centers,
    e_u,
    e_v,
    spacing,
    slice_ids,
    data,
    lut,
    mode,
):
    """Splat the given straightened slices into one output block (in place).

    Parameters
    ----------
    out : (bz, by, bx) array
        Output block (zeros); written where any weight arrives.
    origin : (3,) int64
        Voxel index of ``out[0, 0, 0]`` in the source volume.
    scale, translate : (3,) float64
        World = voxel index * scale + translate.
    centers, e_u, e_v : (n, 3) float64
        Plane frames (world units).
    spacing : float
        Pixel spacing (world units).
    slice_ids : (k,) int64
        Slices to splat (each must be loaded: ``lut[s] >= 0``).
    data : (m, H, W) array
        Loaded straightened slices.
    lut : (n,) int64
        Index into ``data`` of every slice (-1 if not loaded).
    mode : int
        ``NEAREST``, ``LINEAR`` or ``LABEL_VOTE`` (see backproject_pull).

    Examples
    --------
    >>> import numpy as np
    >>> from napari_backproject.kernels.backproject_pull import LINEAR
    >>> c = np.array([[1.0, 1, 1]]); u = np.array([[0.0, 0, 1]])
    >>> v = np.array([[0.0, 1, 0]]); out = np.zeros((3, 3, 3), np.float32)
    >>> splat_block(out, np.zeros(3, np.int64), np.ones(3), np.zeros(3), c, u, v,
    ...             1.0, np.array([0]), np.ones((1, 3, 3), np.float32),
    ...             np.array([0]), LINEAR)
    >>> out[1].tolist() == np.ones((3, 3)).tolist(), float(out[0].max())
    (True, 0.0)
    """
    bz, by, bx = out.shape
    height = data.shape[1]
    width = data.shape[2]
    cu = (width - 1) / 2.0
    cv = (height - 1) / 2.0
    label = mode == LABEL_VOTE
    near = mode == NEAREST
    reach = 0.5 if near else 1.0
    for kz in numba.prange(bz):
        z = origin[0] + kz
        wsum = np.zeros((by, bx))
        vsum = np.zeros((by if not label else 0, bx))
        nsl = SLOTS if label else 0
        slab = np.zeros((nsl, by, bx), dtype=data.dtype)
        slw = np.zeros((nsl, by, bx))
        for k in range(slice_ids.shape[0]):
            s = slice_ids[k]
            li = lut[s]
            # voxel coordinate of pixel (v, u): base + v * gv + u * gu
            base = np.empty(3)
            gu = np.empty(3)
            gv = np.empty(3)
            for j in range(3):
                base[j] = (
                    centers[s, j]
                    - cu * spacing * e_u[s, j]
                    - cv * spacing * e_v[s, j]
                    - translate[j]
                ) / scale[j]
                gu[j] = spacing * e_u[s, j] / scale[j]
                gv[j] = spacing * e_v[s, j] / scale[j]
            for v in range(height):
                zc = base[0] + v * gv[0]
                # u range with z - reach < zf < z + reach
                ulo = 0.0
                uhi = width - 1.0
                if abs(gu[0]) < 1e-12:
                    if not (zc > z - reach and zc < z + reach):
                        continue
                else:
                    u1 = (z - reach - zc) / gu[0]
                    u2 = (z + reach - zc) / gu[0]
                    if u1 > u2:
                        u1, u2 = u2, u1
                    ulo = max(ulo, np.floor(u1))
                    uhi = min(uhi, np.ceil(u2))
                for ui in range(int(ulo), int(uhi) + 1):
                    fz = zc + ui * gu[0]
                    if near:
                        if int(np.floor(fz + 0.5)) != z:
                            continue
                        wz = 1.0
                    else:
                        wz = 1.0 - abs(fz - z)
                        if wz <= 0.0:
                            continue
                    fy = base[1] + v * gv[1] + ui * gu[1] - origin[1]
                    fx = base[2] + v * gv[2] + ui * gu[2] - origin[2]
                    val = data[li, v, ui]
                    if near:
                        y0 = int(np.floor(fy + 0.5))
                        x0 = int(np.floor(fx + 0.5))
                        ny_ = 1
                    else:
                        y0 = int(np.floor(fy))
                        x0 = int(np.floor(fx))
                        ny_ = 2
                    for cy in range(ny_):
                        yy = y0 + cy
                        if yy < 0 or yy >= by:
                            continue
                        wy = 1.0 if near else 1.0 - abs(fy - yy)
                        for cx in range(ny_):
                            xx = x0 + cx
                            if xx < 0 or xx >= bx:
                                continue
                            wx = 1.0 if near else 1.0 - abs(fx - xx)
                            w = wz * wy * wx
                            if w <= 0.0:
                                continue
                            wsum[yy, xx] += w
                            if not label:
                                vsum[yy, xx] += w * val
                            elif val != 0:
                                # add to the label's slot, or take a free /
                                # lighter slot
                                put = -1
                                for j in range(SLOTS):
                                    if slw[j, yy, xx] > 0.0 and slab[j, yy, xx] == val:
                                        put = j
                                        break
                                if put >= 0:
                                    slw[put, yy, xx] += w
                                else:
                                    low = 0
                                    for j in range(1, SLOTS):
                                        if slw[j, yy, xx] < slw[low, yy, xx]:
                                            low = j
                                    if slw[low, yy, xx] < w:
                                        slab[low, yy, xx] = val
                                        slw[low, yy, xx] = w
        for yy in range(by):
            for xx in range(bx):
                wt = wsum[yy, xx]
                if wt <= 0.0:
                    continue
                if not label:
                    out[kz, yy, xx] = vsum[yy, xx] / wt
                    continue
                bw = wt
                for j in range(SLOTS):
                    bw -= slw[j, yy, xx]
                bj = -1  # background
                for j in range(SLOTS):
                    w = slw[j, yy, xx]
                    if w <= 0.0:
                        continue
                    if w > bw or (
                        w == bw and (bj < 0 or slab[j, yy, xx] < slab[bj, yy, xx])
                    ):
                        bw = w
                        bj = j
                if bj >= 0:
                    out[kz, yy, xx] = slab[bj, yy, xx]
