"""npe2 reader: open TIFF files lazily, with napari-backproject metadata.

The data come back as a dask array (nothing is read until napari displays a
plane); ``scale``/``translate``/``units`` and the stored metadata dict (e.g. a
straightened stack's ``geometry``) are taken from the file. Files whose
metadata says ``layer_type`` (or ``kind``) ``labels`` open as a Labels layer.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["get_reader", "read_layers"]

_SUFFIXES = (".tif", ".tiff")


def get_reader(path: str | list[str]) -> Callable[[Any], list[tuple]] | None:
    """Return a reader function for TIFF paths, or None for anything else.

    Parameters
    ----------
    path : str or list of str
        What napari asks to open.

    Returns
    -------
    callable or None
        ``reader(path) -> [(data, meta, layer_type), ...]``.

    Examples
    --------
    >>> get_reader("image.png") is None
    True
    """
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    if not paths or not all(str(p).lower().endswith(_SUFFIXES) for p in paths):
        return None
    return read_layers


def _layer_tuple(path: Path) -> tuple:
    from .tiff import read_tiff

    data, md = read_tiff(path)
    kind = md.get("layer_type", md.get("kind"))  # backprojections store "kind"
    layer_type = "labels" if kind == "labels" else "image"
    meta: dict[str, Any] = {"name": path.name.split(".")[0], "metadata": md}
    ndim = data.ndim
    channel_axis = md.get("channel_axis")
    spatial = ndim - (1 if channel_axis is not None and layer_type == "image" else 0)
    if channel_axis is not None and layer_type == "image" and ndim >= 3:
        meta["channel_axis"] = int(channel_axis)
    for key in ("scale", "translate"):
        val = md.get(key)
        if val is not None and len(val) == spatial:
            meta[key] = [float(v) for v in val]
    units = md.get("units")
    if units is not None and len(units) == spatial:
        meta["units"] = [str(u) for u in units]
    if layer_type == "labels" and data.dtype.kind not in "iub":
        layer_type = "image"  # napari labels must be integers
    if layer_type == "labels" and data.dtype.kind == "b":
        data = data.astype("uint8")
    return (data, meta, layer_type)


def read_layers(path: str | list[str]) -> list[tuple]:
    """Read one or more TIFF files into napari layer data tuples.

    Examples
    --------
    >>> # read_layers("straightened.tif")[0][2]
    >>> # 'image'
    """
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    return [_layer_tuple(Path(p)) for p in paths]
