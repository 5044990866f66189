"""Where a backprojection lies on its source, and writing it to disk.

:func:`placement` gives the napari layer ``scale`` and ``translate`` of a
result of :func:`~napari_backproject.backproject.backproject`;
:func:`write_backprojection` backprojects and streams the result slab by slab
to a BigTIFF, a TIFF folder or an OME-Zarr pyramid. Both are re-exported from
:mod:`napari_backproject.backproject` and the package.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._progress import ProgressCallback
from .slice_geometry import SliceGeometry

__all__ = ["placement", "write_backprojection"]


def placement(
    geometry: SliceGeometry | dict | str | os.PathLike,
    offset: Sequence[int] = (0, 0, 0),
) -> dict[str, list[float]]:
    """The napari layer ``scale`` and ``translate`` of a backprojection.

    Parameters
    ----------
    geometry : SliceGeometry, dict or path
        The geometry used for :func:`backproject`.
    offset : sequence of 3 ints
        The ``offset`` returned by :func:`backproject`.

    Returns
    -------
    dict
        ``{"scale": [...], "translate": [...]}`` with ``scale`` the source's
        scale and ``translate = geometry.translate + offset * scale``, so the
        result lies exactly on the source image.

    Examples
    --------
    >>> from napari_backproject import SliceGeometry
    >>> g = SliceGeometry(
    ...     source_shape=(8, 8, 8), source_dtype="uint8", scale=(2, 1, 1),
    ...     translate=(10, 0, 0), width=3, height=3, spacing=1.0,
    ...     centers=[[4, 4, 4]], tangents=[[1, 0, 0]], e_u=[[0, 0, 1]],
    ...     e_v=[[0, 1, 0]], path=[[2, 4, 4]])
    >>> placement(g, (1, 2, 3))
    {'scale': [2.0, 1.0, 1.0], 'translate': [12.0, 2.0, 3.0]}
    """
    g = SliceGeometry.coerce(geometry)
    off = np.asarray(offset, dtype=np.float64).reshape(-1)
    if off.shape != (3,):
        raise ValueError(f"offset must have 3 values (z, y, x); got {off.size}.")
    return {
        "scale": [float(s) for s in g.scale],
        "translate": [float(t) for t in g.translate + off * g.scale],
    }


def write_backprojection(
    straightened: Any,
    geometry: SliceGeometry | dict | str | os.PathLike,
    path: str | os.PathLike,
    *,
    extent: str = "bbox",
    method: str = "pull",
    order: int = 1,
    binary: bool = False,
    compression: str | None = "zlib",
    folder: bool = False,
    chunk_z: int | None = None,
    overwrite: bool = False,
    target: tuple[Any, Any, Any] | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[Path, tuple[int, int, int]]:
    """Backproject and stream the result to a BigTIFF, TIFF folder or OME-Zarr.

    A path ending in ``.zarr`` is written as an OME-Zarr multiscale pyramid
    (:func:`napari_backproject.io.ome_zarr.write_ome_zarr`; labels levels by
    nearest, image levels by mean; the box of ``extent="bbox"`` is its
    ``translation``; ``compression`` and ``folder`` do not apply).
    ``IMAGE.zarr/labels/NAME`` writes labels into the ``labels`` group of
    the existing OME-Zarr image ``IMAGE.zarr`` (its segmentation, beside it).

    The output is computed and written slab by slab, so memory is bounded by
    the slab size. It is written under a temporary name and renamed when
    complete: a cancelled or failed run leaves nothing behind. The TIFF
    metadata holds ``offset``, ``scale``, ``translate`` (see
    :func:`placement`), ``kind`` ("labels" or "image"), the
    ``source_shape`` and the ``units`` if the geometry records them;
    :func:`napari_backproject.io.tiff.read_tiff` returns it.

    Parameters
    ----------
    straightened, geometry, extent, method, order, binary, chunk_z, target
        As for :func:`backproject`.
    path : str or PathLike
        Output ``.tif`` file, or directory with ``folder=True``.
    compression : {"zlib", "zstd", "none"}
        Lossless compression of each plane.
    folder : bool
        Write one TIFF per z plane into the directory ``path``.
    overwrite : bool
        Replace an existing ``.zarr`` output (TIFF outputs are replaced
        anyway); otherwise an existing ``.zarr`` raises FileExistsError.
    progress : callable, optional
        ``progress(done_planes, total_planes)``; raise
        :class:`napari_backproject._progress.Cancelled` to stop.

    Returns
    -------
    path : pathlib.Path
        The path written.
    offset : tuple of 3 ints
        As returned by :func:`backproject`.

    Raises
    ------
    FileNotFoundError
        The output's parent directory does not exist.
    PermissionError
        The output's parent directory is not writable.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from napari_backproject import SliceGeometry
    >>> g = SliceGeometry(
    ...     source_shape=(8, 8, 8), source_dtype="uint8", scale=(1, 1, 1),
    ...     translate=(0, 0, 0), width=3, height=3, spacing=1.0,
    ...     centers=[[4, 4, 4]], tangents=[[1, 0, 0]], e_u=[[0, 0, 1]],
    ...     e_v=[[0, 1, 0]], path=[[4, 4, 4]])
    >>> out = os.path.join(tempfile.mkdtemp(), "labels.tif")
    >>> p, offset = write_backprojection(np.ones((1, 3, 3), np.uint8), g, out)
    >>> offset
    (4, 3, 3)
    """
    from .backproject import backproject  # imported here: it re-exports us
    from .io.ome_zarr import is_ome_zarr_path, label_target, write_ome_zarr
    from .io.tiff import write_tiff

    path = Path(path)
    if is_ome_zarr_path(path) and path.exists() and not overwrite:
        raise FileExistsError(
            f"{path} already exists; pass overwrite=True to replace it."
        )
    in_image = label_target(path) is not None  # IMAGE.zarr/labels/NAME
    if in_image:
        from .io.ome_zarr_labels import check_label_output

        check_label_output(path, overwrite)
    parent = path.resolve().parent
    if not in_image and not parent.is_dir():
        raise FileNotFoundError(
            f"cannot write {path}: the directory {parent} does not exist; "
            "create it first or choose another location."
        )
    if not in_image and not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(
            f"cannot write {path}: the directory {parent} is not writable; "
            "choose another location."
        )
    g = SliceGeometry.coerce(geometry)
    if target is not None:
        from .multiscale import retarget

        g = retarget(g, target)
    data, offset = backproject(
        straightened,
        g,
        extent=extent,
        method=method,
        order=order,
        binary=binary,
        chunk_z=chunk_z,
        lazy=True,
    )
    kind = "image" if np.dtype(data.dtype).kind == "f" else "labels"
    place = placement(g, offset)
    metadata = {
        "offset": list(offset),
        "kind": kind,
        "source_shape": list(g.source_shape),
    }
    if g.options.get("units"):  # the source's units (Straighten records them)
        metadata["units"] = [str(u) for u in g.options["units"]]
    if is_ome_zarr_path(path):  # OME-Zarr pyramid (io.ome_zarr)
        metadata["geometry"] = g.to_dict()
        written = write_ome_zarr(
            data,
            path,
            scale=place["scale"],
            translate=place["translate"],
            units=g.options.get("units"),
            kind=kind,
            metadata=metadata,
            overwrite=overwrite,
            progress=progress,
        )
        return Path(written), offset
    written = write_tiff(
        data,
        path,
        compression=compression,
        folder=folder,
        metadata=metadata,
        scale=place["scale"],
        translate=place["translate"],
        bigtiff=None if folder else True,
        progress=progress,
    )
    return Path(written), offset
