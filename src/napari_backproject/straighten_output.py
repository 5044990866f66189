"""Save a straightened stack with its geometry (TIFF or OME-Zarr).

:func:`save_straightened` writes ``OUT.tif`` (or an OME-Zarr pyramid for
``OUT.zarr``) plus ``OUT.geometry.json``, the file
:func:`~napari_backproject.backproject` needs to put a segmentation of the
stack back into the source space; :func:`geometry_json_path` gives that
JSON's name for an output path.
"""

from __future__ import annotations

from typing import Any

from .slice_geometry import SliceGeometry

__all__ = ["geometry_json_path", "save_straightened"]


def save_straightened(
    path: Any,
    data: Any,
    geometry: SliceGeometry,
    **write_kw: Any,
) -> tuple[Any, Any]:
    """Write a straightened stack as ``OUT.tif`` plus ``OUT.geometry.json``.

    A path ending in ``.zarr`` is written as an OME-Zarr pyramid with
    :func:`napari_backproject.io.ome_zarr.write_ome_zarr` instead (geometry
    in its attributes and beside it: ``out.zarr`` -> ``out.geometry.json``;
    ``write_kw`` then goes to that function: ``overwrite``, ``progress``,
    ``levels``, ``kind``, ...). ``IMAGE.zarr/labels/NAME`` adds a label
    image to an existing OME-Zarr image (a stack straightened with
    ``order=0`` from labels).

    The TIFF is written chunk by chunk with
    :func:`napari_backproject.io.tiff.write_tiff` (its metadata also holds the
    geometry under ``"geometry"``); the geometry JSON goes beside it with the
    TIFF's suffix replaced: ``out.tif`` -> ``out.geometry.json``.

    Parameters
    ----------
    path : str or PathLike
        Output TIFF path (``.tif``/``.tiff``; a folder with ``folder=True``).
    data : array_like
        The straightened stack (NumPy or dask).
    geometry : SliceGeometry
        Its geometry.
    **write_kw
        Passed to :func:`~napari_backproject.io.tiff.write_tiff`
        (``compression``, ``folder``, ``progress``, ...).

    Returns
    -------
    tif_path, json_path : pathlib.Path

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from napari_backproject import straighten
    >>> volume = np.zeros((20, 20, 20), np.uint8)
    >>> volume[:, 8:12, 8:12] = 1
    >>> stack, geometry = straighten(volume, [[2, 10, 10], [17, 10, 10]],
    ...                              width=6, height=6)
    >>> d = tempfile.mkdtemp()
    >>> tif, js = save_straightened(os.path.join(d, "axon.tif"), stack, geometry)
    >>> tif.name, js.name
    ('axon.tif', 'axon.geometry.json')
    """
    from pathlib import Path

    from .io.tiff import write_tiff

    if not isinstance(geometry, SliceGeometry):
        geometry = SliceGeometry.coerce(geometry)
    if tuple(data.shape[:3]) != geometry.straightened_shape:
        raise ValueError(
            f"data shape {tuple(data.shape)} does not match the geometry's "
            f"straightened shape {geometry.straightened_shape}."
        )
    path = Path(path)
    json_path = geometry_json_path(path)
    md = dict(write_kw.pop("metadata", None) or {})
    md["geometry"] = geometry.to_dict()
    md.setdefault("kind", "straightened")
    D = geometry.spacing
    scale = write_kw.pop("scale", [D, D, D])
    from .io.ome_zarr import is_ome_zarr_path

    if is_ome_zarr_path(path):  # OME-Zarr pyramid (or IMAGE.zarr/labels/NAME)
        from .io.ome_zarr import write_ome_zarr

        md.pop("kind")
        write_kw.pop("compression", None)  # zarr's own codec (zstd) is used
        labels = geometry.options.get("order") == 0
        write_kw.setdefault("kind", "labels" if labels else "image")
        out = write_ome_zarr(data, path, scale=scale, metadata=md, **write_kw)
        geometry.to_json(json_path)
        return out, json_path
    tif = write_tiff(data, path, metadata=md, scale=scale, **write_kw)
    geometry.to_json(json_path)
    return tif, json_path


def geometry_json_path(path: Any):
    """``out.tif`` -> ``out.geometry.json`` (the name :func:`save_straightened` uses).

    Examples
    --------
    >>> geometry_json_path("a/b.tif").name
    'b.geometry.json'
    """
    from pathlib import Path

    path = Path(path)
    stem = path.name
    for suf in (".ome.tiff", ".ome.tif", ".tiff", ".tif", ".ome.zarr", ".zarr"):
        if stem.lower().endswith(suf):
            stem = stem[: -len(suf)]
            break
    return path.with_name(stem + ".geometry.json")
