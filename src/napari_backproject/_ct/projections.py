"""Projection stacks in, volumes out: row sinograms and lazy reconstruction.

A projection stack is ``(angle, row, column)`` as acquired (DESIGN.md); each
detector row is one sinogram ``(column, angle)``, and the volume is the
stack of row reconstructions ``(row, y, x)``. Everything here is lazy: the
result is a dask array computed row chunk by row chunk, so napari can scroll
through a volume that was never reconstructed whole, and
:func:`napari_backproject.io.tiff.write_tiff` streams it to disk.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .center import check_center, to_centered

__all__ = [
    "check_projections",
    "prepare_projections",
    "prepared_row",
    "projection_angles",
    "reconstruct_volume",
    "sinograms",
]

_FBP_OPTIONS = ("filter_name", "interpolation", "output_size", "circle")


def projection_angles(
    count: int | None = None,
    *,
    start: float = 0.0,
    stop: float = 180.0,
    endpoint: bool = False,
    path: str | os.PathLike | None = None,
    metadata: Mapping | None = None,
) -> np.ndarray:
    """Projection angles in degrees, from a file, metadata or start/stop/count.

    The first source given wins: ``path`` (a text file of numbers, one per
    line or separated by spaces or commas), then ``metadata["theta"]`` (or
    ``metadata["angles"]``), then ``count`` angles from ``start`` to
    ``stop``.

    Parameters
    ----------
    count : int, optional
        Number of angles (also checked against a file or metadata).
    start, stop : float, optional
        Range in degrees (default ``[0, 180)``).
    endpoint : bool, optional
        Include ``stop`` (default False).
    path : path, optional
        Text file of angles in degrees.
    metadata : mapping, optional
        A layer's or file's metadata.

    Returns
    -------
    (count,) float64 array

    Raises
    ------
    ValueError
        No source, non-finite angles, or a count that does not match.

    Examples
    --------
    >>> projection_angles(4).tolist()
    [0.0, 45.0, 90.0, 135.0]
    >>> projection_angles(metadata={"theta": [0, 1, 2]}).tolist()
    [0.0, 1.0, 2.0]
    """
    if path is not None:
        text = open(path, encoding="utf-8").read().replace(",", " ")  # noqa: SIM115
        theta = np.array(text.split(), dtype=np.float64)
        source = f"the file {os.fspath(path)!r}"
    elif metadata is not None and (
        metadata.get("theta") is not None or metadata.get("angles") is not None
    ):
        value = metadata.get("theta")
        theta = np.asarray(
            value if value is not None else metadata["angles"], dtype=np.float64
        ).ravel()
        source = "the metadata"
    elif count is not None:
        if int(count) < 1:
            raise ValueError(f"count must be >= 1, got {count}.")
        return np.linspace(float(start), float(stop), int(count), endpoint=endpoint)
    else:
        raise ValueError(
            "no angles: give a file (path=), metadata with 'theta', or count "
            "(with start/stop)."
        )
    if theta.size == 0 or not np.isfinite(theta).all():
        raise ValueError(f"the angles from {source} are empty or not finite.")
    if count is not None and theta.size != int(count):
        raise ValueError(
            f"{source} has {theta.size} angles but the projections have "
            f"{int(count)}; check the file or the angle axis."
        )
    return theta


def check_projections(projections: Any, theta: Any) -> tuple[Any, np.ndarray]:
    """Validate a projection stack ``(angle, row, column)`` and its angles.

    Parameters
    ----------
    projections : (angle, row, column) array (NumPy, dask, zarr, memmap)
    theta : (angle,) array of float
        Degrees.

    Returns
    -------
    projections, theta : the array (NumPy for other array-likes) and float64 angles

    Raises
    ------
    ValueError
        Not 3-D, empty, or ``len(theta)`` different from the angle axis
        (saying which axis has that length, if one does).

    Examples
    --------
    >>> import numpy as np
    >>> p, th = check_projections(np.zeros((3, 2, 4)), [0, 60, 120])
    >>> p.shape, th.tolist()
    ((3, 2, 4), [0.0, 60.0, 120.0])
    """
    if not hasattr(projections, "ndim") or not hasattr(projections, "shape"):
        projections = np.asarray(projections)
    shape = tuple(int(s) for s in projections.shape)
    if len(shape) != 3 or 0 in shape:
        raise ValueError(
            f"projections must be a 3-D stack (angle, row, column), got shape {shape}."
        )
    if np.dtype(projections.dtype).kind not in "biuf":
        raise TypeError(f"projections must be real numbers, got {projections.dtype}.")
    theta = np.asarray(theta, dtype=np.float64).ravel()
    if theta.size == 0 or not np.isfinite(theta).all():
        raise ValueError("theta must hold at least one finite angle in degrees.")
    if theta.size != shape[0]:
        others = [k for k in (1, 2) if shape[k] == theta.size]
        hint = (
            f"; axis {others[0]} has {theta.size} entries: the angle axis is "
            f"expected first (axis 0), move it with np.moveaxis(p, {others[0]}, 0)"
            if others
            else ""
        )
        raise ValueError(
            f"theta has {theta.size} angles but the projection stack has "
            f"{shape[0]} projections on axis 0 (shape {shape}, expected "
            f"(angle, row, column)){hint}."
        )
    return projections, theta


def _as_dask(projections: Any, rows_per_chunk: int):
    import dask.array as da

    if (
        isinstance(rows_per_chunk, bool)
        or not isinstance(rows_per_chunk, (int, np.integer))
        or rows_per_chunk < 1
    ):
        raise ValueError(
            f"rows_per_chunk must be an integer >= 1, got {rows_per_chunk!r}."
        )
    chunks = (projections.shape[0], int(rows_per_chunk), projections.shape[2])
    if isinstance(projections, da.Array):
        return projections.rechunk(chunks)
    return da.from_array(projections, chunks=chunks)


def sinograms(projections: Any, *, rows_per_chunk: int = 1):
    """The sinogram of every detector row, lazily: ``(row, column, angle)``.

    ``sinograms(p)[r]`` is the sinogram ``(detector, angle)`` of row ``r``,
    laid out as :func:`napari_backproject.iradon_stack` wants it.

    Parameters
    ----------
    projections : (angle, row, column) array (NumPy, dask, zarr, memmap)
    rows_per_chunk : int, optional
        Rows per dask chunk (default 1).

    Returns
    -------
    dask.array.Array

    Examples
    --------
    >>> import numpy as np
    >>> sinograms(np.zeros((180, 4, 32))).shape
    (4, 32, 180)
    """
    if not hasattr(projections, "ndim"):
        projections = np.asarray(projections)
    if projections.ndim != 3:
        raise ValueError(
            f"projections must be (angle, row, column), got shape "
            f"{tuple(projections.shape)}."
        )
    return _as_dask(projections, rows_per_chunk).transpose(1, 2, 0)


def reconstruct_volume(
    projections: Any,
    theta: Sequence[float] | np.ndarray,
    *,
    center: float | None = None,
    rows_per_chunk: int = 1,
    **fbp_options: Any,
):
    """Lazy FBP of every detector row: the volume as a dask array.

    Nothing is computed until a part of the result is: napari computes the
    row on screen, :func:`napari_backproject.io.tiff.write_tiff` one row
    chunk at a time. Each chunk reads all angles of its rows.

    Parameters
    ----------
    projections : (angle, row, column) array (NumPy, dask, zarr, memmap)
        Prepared projections (flat-field corrected, :func:`minus_log`).
    theta : (angle,) array of float
        Angles in degrees.
    center : float, optional
        Rotation axis in detector pixels (default ``column // 2``, as
        scikit-image); see :func:`napari_backproject.find_center`.
    rows_per_chunk : int, optional
        Detector rows per dask chunk (default 1).
    **fbp_options
        ``filter_name``, ``interpolation``, ``output_size``, ``circle`` as
        in :func:`napari_backproject.iradon`.

    Returns
    -------
    dask.array.Array
        ``(row, S, S)``, chunked by rows; float32 for float32 input.

    Raises
    ------
    ValueError
        Bad projections or angles (see :func:`check_projections`), a centre
        outside the detector, bad FBP options.
    TypeError
        An unknown keyword.

    Examples
    --------
    >>> import numpy as np
    >>> theta = np.linspace(0, 180, 90, endpoint=False)
    >>> vol = reconstruct_volume(np.ones((90, 3, 32), np.float32), theta, center=15.5)
    >>> vol.shape, vol.dtype, vol.chunksize
    ((3, 32, 32), dtype('float32'), (1, 32, 32))
    """
    from ..tomography import iradon

    unknown = sorted(set(fbp_options) - set(_FBP_OPTIONS))
    if unknown:
        raise TypeError(
            f"reconstruct_volume got unexpected keyword(s) {unknown}; "
            f"allowed: {list(_FBP_OPTIONS)}."
        )
    projections, theta = check_projections(projections, theta)
    n_det = int(projections.shape[2])
    if center is not None:
        center = check_center(center, n_det)
    stack = sinograms(projections, rows_per_chunk=rows_per_chunk)
    # one row now, for the output size and dtype and to report bad options here
    probe = iradon(np.zeros((n_det, theta.size), stack.dtype), theta, **fbp_options)
    size, dtype = probe.shape[0], probe.dtype

    def block(b: np.ndarray) -> np.ndarray:
        out = np.empty((b.shape[0], size, size), dtype=dtype)
        for i in range(b.shape[0]):
            sino = to_centered(np.asarray(b[i]), center)
            out[i] = iradon(sino, theta, parallel=False, **fbp_options)
        return out

    return stack.map_blocks(
        block,
        dtype=dtype,
        chunks=(stack.chunks[0], (size,), (size,)),
        meta=np.empty((0, 0, 0), dtype=dtype),
    )


def prepare_projections(
    projections: Any,
    flats: Any = None,
    darks: Any = None,
    *,
    method: str = "median",
    outliers: bool = True,
    threshold: float | None = None,
    log: bool = True,
    rings: bool = True,
    ring_size: int | None = None,
) -> Any:
    """The usual preparation of raw projections, in order, lazily for dask input.

    :func:`~napari_backproject.flat_field` (when ``flats`` are given),
    :func:`~napari_backproject.remove_outliers`,
    :func:`~napari_backproject.minus_log`,
    :func:`~napari_backproject.remove_rings`; each step can be switched off.

    Parameters
    ----------
    projections : (angle, row, column) array (NumPy or dask)
    flats, darks : arrays or None
        As in :func:`~napari_backproject.flat_field`; without flats the
        projections are taken as transmission already.
    method : {'median', 'mean'}
        How flats and darks are combined.
    outliers, log, rings : bool
        Which steps run (default all).
    threshold : float or None
        Outlier threshold (None: automatic, see ``remove_outliers``).
    ring_size : int or None
        Median width of the ring filter (None: automatic).

    Returns
    -------
    array
        float32 (angle, row, column); NumPy in, NumPy out; dask in, dask out.

    Examples
    --------
    >>> import numpy as np
    >>> raw = np.full((8, 2, 16), 50, np.uint16)
    >>> prepare_projections(raw, flats=np.full((2, 16), 100, np.uint16)).max()
    np.float32(0.6931472)
    """
    from .scan import flat_field, minus_log, remove_outliers, remove_rings

    data = projections
    if flats is not None:
        data = flat_field(data, flats, darks, method=method)
    elif darks is not None:
        raise ValueError("darks without flats: give the flats too.")
    if outliers:
        data = remove_outliers(data, threshold)
    if log:
        data = minus_log(data)
    if rings:
        data = remove_rings(data, size=ring_size)
    if not any((flats is not None, outliers, log, rings)):
        data = data.astype(np.float32)
    return data


def prepared_row(
    projections: Any, row: int, flats: Any = None, darks: Any = None, **options: Any
) -> tuple[np.ndarray, np.ndarray]:
    """The sinogram of one detector row before and after :func:`prepare_projections`.

    Only the row and its two neighbours (for the outlier filter) are read.

    Parameters
    ----------
    projections : (angle, row, column) array
    row : int
        Detector row.
    flats, darks, **options
        As in :func:`prepare_projections`.

    Returns
    -------
    before, after : (column, angle) numpy.ndarray
        The raw row as a sinogram, and the prepared one (float32).

    Examples
    --------
    >>> import numpy as np
    >>> before, after = prepared_row(np.ones((6, 3, 8)), 1, log=False, rings=False)
    >>> before.shape, after.shape
    ((8, 6), (8, 6))
    """
    n_rows = int(projections.shape[1])
    if not 0 <= int(row) < n_rows:
        raise ValueError(f"row {row} is outside the detector's rows [0, {n_rows - 1}].")
    lo, hi = max(0, int(row) - 1), min(n_rows, int(row) + 2)

    def rows(a: Any) -> Any:
        if a is None:
            return None
        a = a if hasattr(a, "ndim") else np.asarray(a)
        part = a[..., lo:hi, :]
        return np.asarray(part.compute() if hasattr(part, "compute") else part)

    raw = rows(projections)
    after = prepare_projections(raw, rows(flats), rows(darks), **options)
    k = int(row) - lo
    return np.ascontiguousarray(raw[:, k, :].T), np.ascontiguousarray(after[:, k, :].T)
