"""Straighten a volume along a traced path.

``straightened, geometry = straighten(volume, path, width=..., height=...)``
resamples the volume on planes perpendicular to a smooth curve through the
path (see :mod:`napari_backproject.geometry`) and returns the stack plus the
:class:`~napari_backproject.slice_geometry.SliceGeometry` needed to put
anything drawn on it back into the source space.

Eager or lazy. A NumPy input (including ``np.memmap``) is straightened at
once and a NumPy array is returned. Any other input (dask, zarr, a tifffile
zarr store, or any object with ``shape``, ``dtype`` and NumPy-style slicing)
gives a dask array chunked along the slice axis; each chunk reads only the
source region under its planes (the bounding box of its sample coordinates,
plus one voxel for interpolation, clipped to the volume), so memory is
bounded by the chunk, not by the volume.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

import numpy as np

from ._progress import ProgressCallback, report
from .geometry import make_slice_geometry, validate_scale_translate
from .kernels.sample import sample_planes
from .slice_geometry import SliceGeometry
from .straighten_output import geometry_json_path, save_straightened

__all__ = [
    "geometry_json_path",
    "plane_bounding_box",
    "sample_geometry",
    "save_straightened",
    "straighten",
]

_TARGET_CHUNK_BYTES = 16 * 2**20


def _is_dask(a: Any) -> bool:
    return type(a).__module__.startswith("dask") and hasattr(a, "compute")


def plane_bounding_box(
    geometry: SliceGeometry, start: int = 0, stop: int | None = None
) -> tuple[tuple[int, int], ...] | None:
    """Voxel index ranges a block of planes needs (``+1`` voxel for interpolation).

    Parameters
    ----------
    geometry : SliceGeometry
    start, stop : int
        Planes ``start:stop``.

    Returns
    -------
    tuple of three (lo, hi) pairs, or None
        Half-open index ranges along (z, y, x), clipped to the volume; None
        if every sample of these planes is outside the volume.

    Examples
    --------
    >>> from napari_backproject.geometry import make_slice_geometry
    >>> g = make_slice_geometry([[1, 5, 5], [8, 5, 5]], source_shape=(10, 10, 10),
    ...                         source_dtype="uint8", width=3, height=3)
    >>> plane_bounding_box(g, 0, 2)  # a safety margin of 1e-6 voxel each side
    ((0, 4), (3, 8), (3, 8))
    """
    stop = geometry.n_slices if stop is None else stop
    W, H, D = geometry.width, geometry.height, geometry.spacing
    a = np.array([-(W - 1) / 2.0, (W - 1) / 2.0]) * D
    b = np.array([-(H - 1) / 2.0, (H - 1) / 2.0]) * D
    c = geometry.centers[start:stop]
    eu, ev = geometry.e_u[start:stop], geometry.e_v[start:stop]
    corners = (
        c[:, None, None, :]
        + a[None, :, None, None] * eu[:, None, None, :]
        + b[None, None, :, None] * ev[:, None, None, :]
    ).reshape(-1, 3)
    vox = (corners - geometry.translate) / geometry.scale
    shape = np.asarray(geometry.source_shape)
    lo = np.floor(vox.min(axis=0) - 1e-6).astype(np.int64)
    hi = np.floor(vox.max(axis=0) + 1e-6).astype(np.int64) + 2
    lo = np.clip(lo, 0, shape)
    hi = np.clip(hi, 0, shape)
    if (
        np.any(hi <= lo)
        or np.any(vox.max(axis=0) < 0)
        or np.any(vox.min(axis=0) > shape - 1)
    ):
        return None
    return tuple((int(lo_), int(hi_)) for lo_, hi_ in zip(lo, hi, strict=True))


def _read_region(volume: Any, box, channel_axis: int | None) -> np.ndarray:
    """Read ``box`` from the volume as a NumPy array with channels last."""
    spatial = [slice(lo, hi) for lo, hi in box]
    if channel_axis is not None:
        spatial.insert(channel_axis, slice(None))
    region = volume[tuple(spatial)]
    if _is_dask(region):
        region = region.compute()
    region = np.asarray(region)
    if channel_axis is not None:
        region = np.moveaxis(region, channel_axis, -1)
    return region


def sample_geometry(
    volume: Any,
    geometry: SliceGeometry,
    start: int = 0,
    stop: int | None = None,
    *,
    order: int = 1,
    fill_value: float = 0.0,
    dtype: Any = None,
    channel_axis: int | None = None,
) -> np.ndarray:
    """Sample planes ``start:stop`` of a geometry from a volume (one block).

    Reads only the bounding box of the planes (:func:`plane_bounding_box`).

    Parameters
    ----------
    volume : array_like
        (Z, Y, X) or, with ``channel_axis``, 4D.
    geometry : SliceGeometry
    start, stop : int
        Planes to sample.
    order, fill_value, dtype, channel_axis
        As in :func:`straighten`.

    Returns
    -------
    ndarray
        ``(stop - start, H, W)`` or ``(stop - start, H, W, C)``.

    Examples
    --------
    >>> from napari_backproject.geometry import make_slice_geometry
    >>> vol = np.ones((10, 10, 10), np.uint8)
    >>> g = make_slice_geometry([[1, 5, 5], [8, 5, 5]], source_shape=vol.shape,
    ...                         source_dtype=vol.dtype, width=3, height=3)
    >>> sample_geometry(vol, g, 0, 2).shape
    (2, 3, 3)
    """
    stop = geometry.n_slices if stop is None else stop
    dtype = np.dtype(dtype if dtype is not None else volume.dtype)
    n = stop - start
    H, W = geometry.height, geometry.width
    nch = None if channel_axis is None else int(volume.shape[channel_axis])
    shape = (n, H, W) if nch is None else (n, H, W, nch)
    box = plane_bounding_box(geometry, start, stop)
    if box is None:
        out = np.empty(shape, dtype=dtype)
        # all outside: fill (with the same rounding as the kernel)
        tmp = np.zeros((1, 1, 1) + (() if nch is None else (nch,)), dtype=dtype)
        sample_planes(
            tmp,
            (0, 0, 0),
            (1, 1, 1),
            np.full((1, 3), -10.0),
            np.array([[0.0, 0.0, 1.0]]),
            np.array([[0.0, 1.0, 0.0]]),
            np.ones(3),
            np.zeros(3),
            1.0,
            1,
            1,
            order=order,
            fill_value=fill_value,
            out=out[:1, :1, :1],
        )
        out[...] = out[0, 0, 0]
        return out
    region = _read_region(volume, box, channel_axis)
    return sample_planes(
        region,
        tuple(lo for lo, _ in box),
        geometry.source_shape,
        geometry.centers[start:stop],
        geometry.e_u[start:stop],
        geometry.e_v[start:stop],
        geometry.scale,
        geometry.translate,
        geometry.spacing,
        W,
        H,
        order=order,
        fill_value=fill_value,
        dtype=dtype,
    )


def _sample_into(whole, geometry, a, b, out, order, fill_value):
    sample_planes(
        whole,
        (0, 0, 0),
        geometry.source_shape,
        geometry.centers[a:b],
        geometry.e_u[a:b],
        geometry.e_v[a:b],
        geometry.scale,
        geometry.translate,
        geometry.spacing,
        geometry.width,
        geometry.height,
        order=order,
        fill_value=fill_value,
        out=out,
    )


def _default_chunk(H: int, W: int, nch: int, itemsize: int) -> int:
    plane = max(1, H * W * nch * itemsize)
    return int(max(1, min(64, _TARGET_CHUNK_BYTES // plane)))


def straighten(
    volume: Any,
    path: Any,
    *,
    width: int,
    height: int,
    spacing: float | None = None,
    scale: Any = None,
    translate: Any = None,
    order: int = 1,
    fill_value: float = 0,
    smoothing: float = 0.0,
    closed: bool = False,
    roll: float = 0.0,
    dtype: Any = None,
    channel_axis: int | None = None,
    chunk_slices: int | None = None,
    level: int | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[Any, SliceGeometry]:
    """Resample a volume on planes perpendicular to a smooth curve through a path.

    Parameters
    ----------
    volume : array_like
        ``(Z, Y, X)`` volume, or 4D with ``channel_axis``. NumPy input is
        computed now (NumPy out); dask, zarr and other array-likes give a
        lazy dask array chunked along the slice axis.
    path : (N, 3) array_like
        Ordered points in the volume's *data* coordinates (z, y, x), e.g. a
        napari Points layer's ``data``. At least two distinct points;
        consecutive duplicates are dropped with a warning.
    width, height : int
        Pixels per plane along ``u`` (last axis) and ``v``.
    spacing : float, optional
        World distance between pixels and between slices. Default
        ``min(scale)``, i.e. the smallest voxel size.
    scale, translate : sequence of 3 floats, optional
        The image layer's scale and translate (z, y, x); all geometry is in
        world units, so anisotropic voxels are not distorted.
    order : {0, 1}
        0 nearest neighbour (labels), 1 trilinear.
    fill_value : float
        Value of samples outside the volume.
    smoothing : float
        0 interpolates the points; > 0 fits a smoothing spline (mean squared
        distance to the points about ``smoothing`` world units squared).
    closed : bool
        Treat the path as a closed loop (periodic curve, seamless frames).
    roll : float
        Rotation of the planes about the tangent, degrees.
    dtype : dtype, optional
        Output dtype; default the volume's. Integer outputs are rounded half
        up (``floor(x + 0.5)``) and clipped to the dtype's range; use
        ``dtype=np.float32`` to keep the interpolated values.
    channel_axis : int, optional
        For 4D volumes, the axis that holds channels. The output then has
        channels *last*: ``(slice, v, u, c)`` (add it to napari with
        ``viewer.add_image(out, channel_axis=-1)``).
    chunk_slices : int, optional
        Planes per block (dask chunk along axis 0); default about 16 MiB of
        output per block, at most 64 planes. (A C-contiguous NumPy input
        with neither ``chunk_slices`` nor ``progress`` is done in one block.)
    level : int, optional
        With a multiscale ``volume`` (a list of 3D arrays, finest first, as
        napari-ome-zarr gives), the level to sample (default 0). ``path``,
        ``scale`` and ``translate`` are then those of the finest level (a
        napari multiscale layer's); the level's grid follows napari's
        convention (see :func:`napari_backproject.multiscale.level_grid`).
        Equivalently, pass that level's array with its own scale and
        translate and the path in its data coordinates.
    progress : callable, optional
        ``progress(done_planes, total_planes)``; for NumPy input called after
        every block during this call, for lazy input called from the blocks
        as they are computed. Raise
        :class:`napari_backproject._progress.Cancelled` to stop.

    Returns
    -------
    straightened : ndarray or dask.array.Array
        ``(n_slices, height, width)`` (``+ (C,)`` with channels).
        ``straightened[i, v, u]`` is the volume interpolated at voxel
        coordinate ``geometry.voxel_coordinates()[:, i, v, u]``; samples
        outside ``[0, n - 1]`` on any axis get ``fill_value`` (the border
        convention of ``scipy.ndimage.map_coordinates(mode="constant")``).
    geometry : SliceGeometry
        Planes in world units; ``tangent == cross(e_v, e_u)`` (the stack
        ``(slice, v, u)`` has the same handedness as ``(z, y, x)``).

    Raises
    ------
    ValueError
        Fewer than two distinct points, non-finite points, width/height/
        spacing <= 0, scale/translate of the wrong length, a volume that is
        not 3D (or 4D with ``channel_axis``), order not 0 or 1.

    Warns
    -----
    UserWarning
        When the path leaves the volume (those samples get ``fill_value``).

    Examples
    --------
    >>> import numpy as np
    >>> vol = np.random.default_rng(0).random((20, 20, 20)).astype(np.float32)
    >>> out, g = straighten(vol, [[2, 10, 10], [17, 10, 10]], width=5, height=5)
    >>> out.shape, g.n_slices
    ((16, 5, 5), 16)
    >>> bool(np.allclose(out[:, 2, 2], vol[2:18, 10, 10]))
    True
    """
    if isinstance(volume, (list, tuple)) and volume and hasattr(volume[0], "shape"):
        from .multiscale import level_grid, path_to_level

        s0, t0 = validate_scale_translate(scale, translate)
        volume, scale, translate = level_grid(
            volume, 0 if level is None else level, scale=s0, translate=t0
        )
        path = path_to_level(path, s0, t0, scale, translate)
    elif level is not None:
        raise ValueError("level= is for a multiscale volume (a list of arrays).")
    if not hasattr(volume, "shape") or not hasattr(volume, "dtype"):
        volume = np.asarray(volume)
    vshape = tuple(int(s) for s in volume.shape)
    if channel_axis is not None:
        if len(vshape) != 4:
            raise ValueError(
                f"channel_axis is for 4D volumes; got a {len(vshape)}D volume of "
                f"shape {vshape}. Drop channel_axis for a 3D volume."
            )
        if not -4 <= int(channel_axis) < 4:
            raise ValueError(f"channel_axis must be in [-4, 3]; got {channel_axis}.")
        channel_axis = int(channel_axis) % 4
        spatial = tuple(s for k, s in enumerate(vshape) if k != channel_axis)
        nch = vshape[channel_axis]
    else:
        if len(vshape) != 3:
            hint = (
                " For a 4D multichannel volume pass channel_axis=..."
                if len(vshape) == 4
                else ""
            )
            raise ValueError(f"volume must be 3D (z, y, x); got shape {vshape}.{hint}")
        spatial, nch = vshape, 1
    if min(spatial) < 1:
        raise ValueError(f"volume is empty (shape {vshape}).")
    if order not in (0, 1):
        raise ValueError(
            f"order must be 0 (nearest, for labels) or 1 (trilinear); got {order!r}."
        )
    try:
        fill_value = float(fill_value)
    except (TypeError, ValueError):
        raise ValueError(f"fill_value must be a number; got {fill_value!r}.") from None
    out_dtype = np.dtype(dtype) if dtype is not None else np.dtype(volume.dtype)
    if out_dtype.kind not in "biuf":
        raise ValueError(
            f"dtype must be a boolean, integer or float dtype; got {out_dtype}."
        )
    if chunk_slices is not None and int(chunk_slices) < 1:
        raise ValueError(f"chunk_slices must be >= 1; got {chunk_slices}.")
    sc, tr = validate_scale_translate(scale, translate)
    geometry = make_slice_geometry(
        path,
        source_shape=spatial,
        source_dtype=volume.dtype,
        width=width,
        height=height,
        spacing=spacing,
        scale=sc,
        translate=tr,
        smoothing=smoothing,
        closed=closed,
        roll=roll,
        options={
            "order": int(order),
            "fill_value": fill_value,
            "dtype": str(out_dtype),
            "channel_axis": channel_axis,
        },
    )
    vc = (geometry.centers - tr) / sc
    if np.any(vc < 0) or np.any(vc > np.asarray(spatial) - 1):
        warnings.warn(
            "the path leaves the volume: samples outside it get "
            f"fill_value={fill_value:g}.",
            UserWarning,
            stacklevel=2,
        )
    n = geometry.n_slices
    H, W = geometry.height, geometry.width
    step = (
        int(chunk_slices)
        if chunk_slices is not None
        else _default_chunk(H, W, nch, out_dtype.itemsize)
    )
    blocks = [(a, min(n, a + step)) for a in range(0, n, step)]
    kw = {
        "order": order,
        "fill_value": fill_value,
        "dtype": out_dtype,
        "channel_axis": channel_axis,
    }
    out_shape = (n, H, W) if channel_axis is None else (n, H, W, nch)

    if isinstance(volume, np.ndarray):
        out = np.empty(out_shape, dtype=out_dtype)
        whole = (
            volume if channel_axis is None else np.moveaxis(volume, channel_axis, -1)
        )
        direct = whole.flags.c_contiguous and whole.dtype != np.bool_
        if direct and progress is None and chunk_slices is None:
            blocks = [(0, n)]  # nothing to report: one parallel region
        report(progress, 0, n)
        for a, b in blocks:
            if direct:  # no copy: the kernel reads the whole array in place
                _sample_into(whole, geometry, a, b, out[a:b], order, fill_value)
            else:
                out[a:b] = sample_geometry(volume, geometry, a, b, **kw)
            report(progress, b, n)
        return out, geometry

    return _lazy(volume, geometry, blocks, out_shape, out_dtype, kw, progress), geometry


class _BlockSampler:
    """Samples one block of planes; picklable (dask.distributed workers).

    The progress callback and its lock stay in the submitting process: a
    copy sent to another process reports nothing.
    """

    def __init__(self, geometry, kw, n, progress):
        self.geometry, self.kw, self.n, self.progress = geometry, kw, n, progress
        self._lock = threading.Lock()
        self._done = 0

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_lock"] = state["progress"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __call__(self, region_or_volume, a, b, box_given):
        geometry, kw = self.geometry, self.kw
        if box_given:  # dask input: the region was read by the graph
            region = np.asarray(region_or_volume)
            if kw["channel_axis"] is not None:
                region = np.moveaxis(region, kw["channel_axis"], -1)
            res = sample_planes(
                region,
                tuple(lo for lo, _ in box_given),
                geometry.source_shape,
                geometry.centers[a:b],
                geometry.e_u[a:b],
                geometry.e_v[a:b],
                geometry.scale,
                geometry.translate,
                geometry.spacing,
                geometry.width,
                geometry.height,
                order=kw["order"],
                fill_value=kw["fill_value"],
                dtype=kw["dtype"],
            )
        else:
            res = sample_geometry(region_or_volume, geometry, a, b, **kw)
        if self.progress is not None:
            with self._lock:
                self._done += b - a
                d = self._done
            report(self.progress, d, self.n)
        return res


def _lazy(volume, geometry, blocks, out_shape, out_dtype, kw, progress):
    import dask.array as da
    from dask import delayed

    block = _BlockSampler(geometry, kw, out_shape[0], progress)
    parts = []
    is_dask = _is_dask(volume)
    for a, b in blocks:
        shape = (b - a,) + out_shape[1:]
        box = plane_bounding_box(geometry, a, b) if is_dask else None
        if is_dask and box is not None:
            idx = [slice(lo, hi) for lo, hi in box]
            if kw["channel_axis"] is not None:
                idx.insert(kw["channel_axis"], slice(None))
            arg = volume[tuple(idx)]
            task = delayed(block, pure=False)(arg, a, b, box)
        else:
            task = delayed(block, pure=False)(volume, a, b, None)
        parts.append(da.from_delayed(task, shape=shape, dtype=out_dtype))
    if not parts:  # pragma: no cover - geometry always has >= 1 plane
        return da.zeros(out_shape, dtype=out_dtype)
    return da.concatenate(parts, axis=0)
