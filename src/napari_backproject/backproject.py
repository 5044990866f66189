"""Backproject straightened data into the coordinate space of its source volume.

:func:`backproject` puts data made on a straightened stack (typically a
segmentation) back where it came from, using only the stack and its
:class:`~napari_backproject.slice_geometry.SliceGeometry`.

Two methods:

``"pull"`` (default, exact inverse mapping)
    Every output voxel inside the swept slab finds its own straightened
    position ``(slice, v, u)`` and samples the stack there, so there are no
    holes whatever the slice spacing. Between planes ``i`` and ``i + 1`` a
    voxel is claimed when ``d_i >= 0 > d_{i+1}`` (``d_i`` its signed distance
    along the tangent of plane ``i``); its position solves
    ``p = c(t) + a e_u(t) + b e_v(t)`` with the frame interpolated linearly
    between the two planes (the exact inverse of trilinear sampling of the
    stack). Within half a spacing before the first / after the last plane
    the voxel projects onto that plane. Voxels whose in-plane position is
    more than half a pixel beyond the plane, or outside the slab, are 0.
    Where planes overlap at tight bends, the claim nearest the curve wins.
    For closed loops (``geometry.options["closed"]``) the last plane joins
    the first and there are no end caps.
``"splat"`` (Ouroboros-compatible)
    Each straightened pixel is placed at its world position and distributes
    its value with trilinear weights to its 8 neighbouring voxels; values are
    normalised by the summed weights. Leaves holes when the slice spacing is
    larger than a voxel.

Labels stay labels. For integer (and boolean) data, ``order=1`` interpolates
each label's indicator and the label with the greatest weight wins; ties go
to a non-zero label over background, and among labels to the smaller ID. So
IDs are exact (never averaged, never truncated) and boundaries are sub-voxel
accurate. ``order=0`` samples the nearest label. Floating data are sampled
trilinearly (``order=1``) or nearest (``order=0``).

Streaming. The output is computed in slabs of ``chunk_z`` planes along z;
each slab reads only the straightened slices that reach it. With dask (or
zarr, or any non-NumPy array-like) input, or ``lazy=True``, the result is a
lazy dask array with one chunk per slab, which napari can show directly and
:func:`write_backprojection` streams to TIFF.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from ._progress import ProgressCallback, report
from ._threads import thread_budget
from .kernels import parallel_launch
from .slice_geometry import SliceGeometry

__all__ = ["backproject", "placement", "write_backprojection"]

_EXTENTS = ("bbox", "full")
_METHODS = ("pull", "splat")
#: output voxels per slab when ``chunk_z`` is not given
_BLOCK_VOXELS = 4 * 2**20
#: straightened bytes per dask chunk when a non-dask input is made lazy
_SLICE_CHUNK_BYTES = 2**20


# --------------------------------------------------------------------- plan
@dataclass
class _Plan:
    """Everything a slab task needs (small, picklable)."""

    method: str
    mode: int
    n: int
    width: int
    height: int
    spacing: float
    scale: np.ndarray
    translate: np.ndarray
    centers: np.ndarray
    tangents: np.ndarray
    e_u: np.ndarray
    e_v: np.ndarray
    ids: np.ndarray
    boxes: np.ndarray
    proj: np.ndarray
    offset: tuple[int, int, int]
    shape: tuple[int, int, int]
    work_dtype: np.dtype
    out_dtype: np.dtype
    binary: bool
    newton: int
    closed: bool
    groups: int  # groups of output planes per slab run in parallel
    threads: int  # threads a slab runs on (pull)

    def segments(self, z0: int, z1: int) -> np.ndarray:
        """Indices (into ids/boxes) of segments that reach output planes z0:z1."""
        oz, oy, ox = self.offset
        _, ny, nx = self.shape
        b = self.boxes
        # boxes are inclusive voxel bounds (segments for pull, slices for splat)
        ok = (b[:, 1] >= oz + z0) & (b[:, 0] <= oz + z1 - 1)
        ok &= (b[:, 3] >= oy) & (b[:, 2] <= oy + ny - 1)
        ok &= (b[:, 5] >= ox) & (b[:, 4] <= ox + nx - 1)
        return np.flatnonzero(ok)

    def slices(self, z0: int, z1: int) -> np.ndarray:
        """Sorted straightened slice indices needed for output planes z0:z1."""
        ids = self.ids[self.segments(z0, z1)]
        if self.method == "splat":
            return np.unique(ids)
        # segment i needs slices i and i + 1; caps (-1, n - 1) their end slice
        nxt = (ids + 1) % self.n if self.closed else ids + 1
        need = np.concatenate([ids, nxt])
        return np.unique(np.clip(need, 0, self.n - 1))


def _make_plan(
    geometry: SliceGeometry,
    method: str,
    dtype: np.dtype,
    order: int,
    binary: bool,
    extent: str,
    newton: int,
) -> _Plan:
    from .kernels.backproject_pull import LABEL_VOTE, LINEAR, NEAREST, segment_bounds

    g = geometry
    # Labels reach the kernels as uint8 (8-bit and boolean labels, binary
    # output: no conversion, the common case stays fast) or uint32 (every
    # other integer dtype, see _to_kernel), floats as float32 or float64: four
    # compiled variants in all, whatever the input dtype.
    if binary:
        work, out = np.dtype(np.uint8), np.dtype(np.uint8)
    elif dtype.kind in "biu" and dtype.itemsize == 1:
        work, out = np.dtype(np.uint8), dtype
    elif dtype.kind in "biu":
        work, out = np.dtype(np.uint32), dtype
    elif dtype.itemsize < 4:
        work, out = np.dtype(np.float32), dtype
    else:
        work, out = dtype, dtype
    is_float = work.kind == "f"
    mode = NEAREST if order == 0 else (LINEAR if is_float else LABEL_VOTE)

    closed = bool(g.options.get("closed", False)) and g.n_slices >= 2
    threads = thread_budget()  # once: it reads cgroup files
    if method == "pull":
        ids, boxes, proj = segment_bounds(
            g.centers,
            g.tangents,
            g.e_u,
            g.e_v,
            g.width,
            g.height,
            g.spacing,
            g.scale,
            g.translate,
            closed,
        )
    else:
        from .kernels.backproject_splat import slice_bounds

        ids, boxes = slice_bounds(
            g.centers,
            g.e_u,
            g.e_v,
            g.width,
            g.height,
            g.spacing,
            g.scale,
            g.translate,
        )
        proj = np.zeros((ids.size, 4))

    src = np.asarray(g.source_shape, dtype=np.int64)
    if extent == "full":
        offset = (0, 0, 0)
        shape = tuple(int(s) for s in src)
    else:
        lo = np.maximum(boxes[:, 0::2].min(axis=0), 0)
        hi = np.minimum(boxes[:, 1::2].max(axis=0), src - 1)
        if np.any(hi < lo):
            raise ValueError(
                "the straightened planes do not intersect the source volume "
                f"(shape {tuple(g.source_shape)}); check the geometry's scale and "
                "translate, or use extent='full'."
            )
        offset = tuple(int(v) for v in lo)
        shape = tuple(int(v) for v in hi - lo + 1)
    return _Plan(
        method=method,
        mode=mode,
        n=g.n_slices,
        width=g.width,
        height=g.height,
        spacing=g.spacing,
        scale=g.scale.copy(),
        translate=g.translate.copy(),
        centers=np.ascontiguousarray(g.centers),
        tangents=np.ascontiguousarray(g.tangents),
        e_u=np.ascontiguousarray(g.e_u),
        e_v=np.ascontiguousarray(g.e_v),
        ids=ids,
        boxes=boxes,
        proj=proj,
        offset=offset,
        shape=shape,
        work_dtype=work,
        out_dtype=out,
        binary=binary,
        newton=newton,
        closed=closed,
        groups=4 * threads,
        threads=threads,
    )


def _to_kernel(plan: _Plan, slab: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """Straightened data as the kernels take them, and the label table if any.

    Floats become ``plan.work_dtype``; 8-bit labels and booleans uint8.
    Other labels become uint32: integers are
    read as unsigned of their width (equality, zero and the tie rule "smaller
    ID wins" are all the kernels need, and the order of unsigned values is
    kept); values that do not fit 32 bits become indices into ``table``, the
    sorted distinct values of the slab with 0 first, so order and zero are
    kept too, and :func:`_from_kernel` maps them back exactly.
    """
    a = np.asarray(slab)
    if plan.binary:
        return _nonzero(a), None
    if plan.work_dtype.kind == "f":
        return np.ascontiguousarray(a, dtype=plan.work_dtype), None
    if a.dtype.kind in "bi":
        a = a.view(f"u{a.dtype.itemsize}")
    if plan.work_dtype == np.uint8:
        return np.ascontiguousarray(a), None
    if a.dtype.itemsize <= 4 or a.size == 0 or int(a.max()) <= 0xFFFFFFFF:
        return np.ascontiguousarray(a, dtype=np.uint32), None
    table, inverse = np.unique(a, return_inverse=True)
    if table[0] != 0:
        table = np.concatenate([np.zeros(1, table.dtype), table])
        inverse += 1
    return inverse.reshape(a.shape).astype(np.uint32), table


def _from_kernel(plan: _Plan, a: np.ndarray, table: np.ndarray | None) -> np.ndarray:
    """Kernel output ``a`` as ``plan.out_dtype`` (labels mapped back exactly)."""
    if table is not None:
        a = table[a]
    dt = plan.out_dtype
    if a.dtype == dt:
        return a
    if dt.kind in "iu":
        u = a.astype(f"u{dt.itemsize}")
        return u.view(dt) if dt.kind == "i" else u
    return a.astype(dt)


def _nonzero(a: Any) -> np.ndarray:
    """``a != 0`` as a C-contiguous uint8 array (one kernel variant)."""
    return np.ascontiguousarray(np.asarray(a) != 0).view(np.uint8)


def _nonzero_boxes(a: Any) -> np.ndarray:
    """Non-zero pixel bounds of every slice of ``a`` (one kernel variant).

    8-bit and boolean data go to the kernel as they are (viewed as uint8:
    zero stays zero), saving a pass over the data; others as ``a != 0``.
    """
    from .kernels.backproject_pull import nonzero_boxes

    a = np.asarray(a)
    if a.dtype.itemsize == 1 and a.dtype.kind in "biu":
        return nonzero_boxes(np.ascontiguousarray(a).view(np.uint8))
    return nonzero_boxes(_nonzero(a))


def _compute_slab(
    plan: _Plan,
    z0: int,
    z1: int,
    slab: Any,
    idx: np.ndarray,
    out: np.ndarray | None = None,
    nzbox: np.ndarray | None = None,
    need: np.ndarray | None = None,
) -> np.ndarray:
    """Compute output planes z0:z1 from the loaded straightened slices ``idx``.

    ``nzbox``: the non-zero pixel bounds of every straightened slice
    (:func:`~napari_backproject.kernels.backproject_pull.nonzero_boxes`), if
    already known; otherwise they are computed from the slab. ``need``: the
    pull kernel's :func:`~napari_backproject.kernels.backproject_pull.need_bounds`
    of every segment (:func:`_need_all`), if known.
    """
    _, ny, nx = plan.shape
    shape = (z1 - z0, ny, nx)
    if not idx.size:
        return np.zeros(shape, dtype=plan.out_dtype) if out is None else out
    data, table = _to_kernel(plan, slab)
    direct = out is not None and table is None and out.dtype == plan.work_dtype
    work = out if direct else np.zeros(shape, dtype=plan.work_dtype)
    lut = np.full(plan.n, -1, dtype=np.int64)
    lut[idx] = np.arange(idx.size)
    sel = plan.segments(z0, z1)
    origin = np.array(
        [plan.offset[0] + z0, plan.offset[1], plan.offset[2]], dtype=np.int64
    )
    if plan.method == "pull":
        from .kernels.backproject_pull import PullPlan, pull_block

        kplan = PullPlan(
            origin=origin,
            scale=plan.scale,
            translate=plan.translate,
            centers=plan.centers,
            tangents=plan.tangents,
            e_u=plan.e_u,
            e_v=plan.e_v,
            width=plan.width,
            height=plan.height,
            spacing=plan.spacing,
            ids=plan.ids[sel],
            boxes=plan.boxes[sel],
            proj=plan.proj[sel],
            lut=lut,
            nzbox=_nonzero_boxes(data) if nzbox is None else nzbox[idx],
            mode=plan.mode,
            newton=plan.newton,
            closed=plan.closed,
            groups=plan.groups,
            threads=plan.threads,
            need=None if need is None else need[sel],
        )
        best = np.empty(shape, dtype=np.float32)  # set by the kernel
        pull_block(work, best, data, kplan)  # on Python threads
    else:
        from .kernels.backproject_splat import splat_block

        with parallel_launch():
            splat_block(
                work,
                origin,
                plan.scale,
                plan.translate,
                plan.centers,
                plan.e_u,
                plan.e_v,
                plan.spacing,
                plan.ids[sel],
                data,
                lut,
                plan.mode,
            )
    if direct:
        return out
    res = _from_kernel(plan, work, table)
    if out is None:
        return res
    out[...] = res
    return out


def _need_all(plan: _Plan, nzbox: np.ndarray) -> np.ndarray:
    """``need_bounds`` of every segment, from every slice's non-zero bounds.

    A segment's row depends only on its two slices' bounds, so slicing this
    by a slab's segments gives what the slab would compute itself.
    """
    from .kernels.backproject_pull import need_bounds_numpy

    # NumPy: nothing to compile at first use (its numba twin, used per
    # slab for lazy input, took ~2 s)
    return need_bounds_numpy(
        SimpleNamespace(
            centers=plan.centers,
            tangents=plan.tangents,
            e_u=plan.e_u,
            e_v=plan.e_v,
            width=plan.width,
            height=plan.height,
            spacing=plan.spacing,
            ids=plan.ids,
            boxes=plan.boxes,
            proj=plan.proj,
            lut=np.arange(plan.n),
            scale=plan.scale,
            translate=plan.translate,
            nzbox=nzbox,
            closed=plan.closed,
        )
    )


def _runs(idx: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous (start, stop) runs of sorted indices."""
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) != 1) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [idx.size]])
    return [
        (int(idx[a]), int(idx[b - 1]) + 1) for a, b in zip(starts, stops, strict=True)
    ]


def _read(x: Any, idx: np.ndarray) -> Any:
    """The slices ``idx`` of ``x``, read run by run with basic slicing."""
    parts = [x[a:b] for a, b in _runs(idx)]
    if _is_dask(x):
        import dask.array as da

        return parts[0] if len(parts) == 1 else da.concatenate(parts, axis=0)
    parts = [np.asarray(p) for p in parts]
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)


def _is_dask(x: Any) -> bool:
    return type(x).__module__.split(".")[0] == "dask" and hasattr(x, "dask")


def _slab_ranges(nz: int, chunk_z: int) -> list[tuple[int, int]]:
    return [(z, min(nz, z + chunk_z)) for z in range(0, nz, chunk_z)]


# -------------------------------------------------------------- public API
def backproject(
    straightened: Any,
    geometry: SliceGeometry | dict | str | os.PathLike,
    *,
    extent: str = "bbox",
    method: str = "pull",
    order: int = 1,
    binary: bool = False,
    chunk_z: int | None = None,
    lazy: bool | None = None,
    newton: int = 2,
    target: tuple[Any, Any, Any] | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[Any, tuple[int, int, int]]:
    """Put straightened data back into the space of its source volume.

    Parameters
    ----------
    straightened : array_like, shape (slice, v, u)
        The straightened stack (or a segmentation made on it): NumPy, dask,
        zarr or any array-like with ``shape``, ``dtype`` and slicing. Its
        shape must equal ``geometry.straightened_shape``.
    geometry : SliceGeometry, dict or path
        The geometry of the stack, or its JSON file.
    extent : {"bbox", "full"}
        ``"bbox"``: only the minimum bounding box of the swept slab, clipped
        to the source volume; ``"full"``: the whole source volume.
    method : {"pull", "splat"}
        ``"pull"`` (exact inverse mapping, no holes) or ``"splat"``
        (Ouroboros-style trilinear splatting). See the module docstring.
    order : {0, 1}
        1: trilinear (floating data) or label-indicator interpolation with
        the greatest weight winning (integer/boolean data); 0: nearest.
    binary : bool
        If True, backproject the foreground ``straightened != 0`` and return
        uint8 0/1.
    chunk_z : int, optional
        Output planes per slab (and per dask chunk). By default about 4 Mi
        voxels per slab.
    lazy : bool, optional
        Return a dask array computed slab by slab. Default: lazy when
        ``straightened`` is not a NumPy array (dask, zarr, ...).
    newton : int
        Newton steps refining each pull position (0 keeps the
        distance-interpolated estimate).
    target : (shape, scale, translate), optional
        The voxel grid to fill, in the geometry's world units (e.g. the
        finest level of a pyramid when the stack was straightened at a
        coarser one); default the source grid recorded in the geometry.
        ``offset`` and :func:`placement` then refer to this grid (use
        ``placement(multiscale.retarget(geometry, target), offset)``).
    progress : callable, optional
        ``progress(done_planes, total_planes)`` after each slab (eager mode);
        raise :class:`napari_backproject._progress.Cancelled` to stop.

    Returns
    -------
    data : numpy.ndarray or dask.array.Array, shape (Z, Y, X)
        Backprojected data, same dtype as ``straightened`` (uint8 with
        ``binary``); 0 outside the slab.
    offset : tuple of 3 ints
        Voxel index (z, y, x) of ``data[0, 0, 0]`` in the source volume
        (zeros for ``extent="full"``). See :func:`placement`.

    Raises
    ------
    ValueError
        Unknown extent/method/order, non-3D data, shape not matching the
        geometry, a geometry JSON of another format or version.

    Examples
    --------
    >>> import numpy as np
    >>> from napari_backproject import SliceGeometry
    >>> g = SliceGeometry(
    ...     source_shape=(8, 8, 8), source_dtype="uint8", scale=(1, 1, 1),
    ...     translate=(0, 0, 0), width=3, height=3, spacing=1.0,
    ...     centers=[[2, 4, 4], [3, 4, 4], [4, 4, 4]], tangents=[[1, 0, 0]] * 3,
    ...     e_u=[[0, 0, 1]] * 3, e_v=[[0, 1, 0]] * 3, path=[[2, 4, 4], [4, 4, 4]])
    >>> labels = np.full(g.straightened_shape, 7, dtype=np.uint16)
    >>> data, offset = backproject(labels, g)
    >>> data.shape, offset, np.unique(data).tolist()
    ((3, 3, 3), (2, 3, 3), [7])
    """
    geometry = SliceGeometry.coerce(geometry)
    if target is not None:  # another grid (resolution level): same planes
        from .multiscale import retarget

        geometry = retarget(geometry, target)
    if extent not in _EXTENTS:
        raise ValueError(f"extent must be 'bbox' or 'full'; got {extent!r}.")
    if method not in _METHODS:
        raise ValueError(f"method must be 'pull' or 'splat'; got {method!r}.")
    if order not in (0, 1):
        raise ValueError(f"order must be 0 (nearest) or 1 (linear); got {order!r}.")
    if not hasattr(straightened, "shape") or not hasattr(straightened, "dtype"):
        straightened = np.asarray(straightened)
    shape = tuple(int(s) for s in straightened.shape)
    if len(shape) != 3:
        raise ValueError(
            f"straightened data must be 3D (slice, v, u); got shape {shape}. "
            "Backproject one channel / time point at a time."
        )
    if shape != geometry.straightened_shape:
        raise ValueError(
            f"straightened data has shape {shape} but the geometry describes "
            f"{geometry.straightened_shape} (slice, v, u); use the geometry saved "
            "with this straightened stack."
        )
    dtype = np.dtype(straightened.dtype)
    if dtype.kind not in "biuf":
        raise ValueError(
            f"cannot backproject dtype {dtype}; use integer labels, booleans "
            "or real numbers."
        )
    if chunk_z is not None and int(chunk_z) < 1:
        raise ValueError(f"chunk_z must be >= 1; got {chunk_z}.")
    if int(newton) < 0:
        raise ValueError(f"newton must be >= 0; got {newton}.")

    plan = _make_plan(geometry, method, dtype, order, binary, extent, int(newton))
    nz, ny, nx = plan.shape
    if chunk_z is None:
        chunk_z = int(np.clip(_BLOCK_VOXELS // max(ny * nx, 1), 1, 64))
    chunk_z = min(int(chunk_z), nz)
    ranges = _slab_ranges(nz, chunk_z)
    if lazy is None:
        lazy = not isinstance(straightened, np.ndarray)
    nzbox = need = None
    if plan.method == "pull" and isinstance(straightened, np.ndarray):
        # in memory: non-zero bounds of every slice and where every segment
        # needs computing, once (slabs share slices; lazy slabs of dask
        # input compute their own with the numba twin)
        nzbox = _nonzero_boxes(straightened)
        need = _need_all(plan, nzbox)
    if lazy:
        compute = _compute_slab
        if need is not None:
            compute = functools.partial(_compute_slab, nzbox=nzbox, need=need)
        return _backproject_lazy(plan, straightened, ranges, compute), plan.offset

    out = np.zeros(plan.shape, dtype=plan.out_dtype)
    for z0, z1 in ranges:
        idx = plan.slices(z0, z1)
        slab = _read(straightened, idx) if idx.size else None
        if _is_dask(slab):
            slab = slab.compute()
        _compute_slab(plan, z0, z1, slab, idx, out=out[z0:z1], nzbox=nzbox, need=need)
        report(progress, z1, nz)
    return out, plan.offset


def _backproject_lazy(
    plan: _Plan, x: Any, ranges: list[tuple[int, int]], compute: Any = _compute_slab
) -> Any:
    # one task per slab over just the input chunks it needs (see _slab_graph)
    from ._slab_graph import lazy_slabs

    return lazy_slabs(plan, x, ranges, compute, slice_chunk_bytes=_SLICE_CHUNK_BYTES)


# written output (placement, write_backprojection) lives in backproject_output;
# re-exported here, where it has always been importable from
from .backproject_output import placement, write_backprojection  # noqa: E402
