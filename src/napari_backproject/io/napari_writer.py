"""npe2 single-layer writers: save Image / Labels layers as (Big)TIFF.

The data are written chunk by chunk along axis 0 (a dask layer is never
computed whole), zlib-compressed, under a temporary name and renamed when
complete. The layer's ``scale``, ``translate`` and JSON-serialisable
``metadata`` are stored so that :func:`napari_backproject.io.napari_reader.get_reader`
restores them, and a Labels layer opens again as Labels.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

__all__ = ["write_image", "write_labels", "jsonable"]


def jsonable(obj: Any, _where: str = "metadata") -> Any:
    """A JSON-ready copy of ``obj`` (numpy -> lists, SliceGeometry -> dict).

    Items that cannot be represented are dropped with a warning.

    Examples
    --------
    >>> jsonable({"a": np.arange(2), "b": np.float32(1.5)})
    {'a': [0, 1], 'b': 1.5}
    """
    from ..slice_geometry import SliceGeometry

    if isinstance(obj, SliceGeometry):
        return obj.to_dict()
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if np.isfinite(f) else None
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist(), _where)
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            try:
                out[str(k)] = jsonable(v, f"{_where}[{k!r}]")
            except TypeError:
                warnings.warn(
                    f"not saving {_where}[{k!r}]: {type(v).__name__} is not "
                    "JSON-serialisable.",
                    UserWarning,
                    stacklevel=2,
                )
        return out
    if isinstance(obj, (list, tuple)):
        return [jsonable(v, _where) for v in obj]
    raise TypeError(type(obj).__name__)


def _write(path: str, data: Any, meta: dict, layer_type: str) -> list[str]:
    from .tiff import write_tiff

    if isinstance(data, list):  # multiscale: save the full-resolution level
        data = data[0]
    md = jsonable(dict(meta.get("metadata") or {}))
    md["layer_type"] = layer_type
    if meta.get("name"):
        md.setdefault("name", str(meta["name"]))
    out = write_tiff(
        data,
        path,
        compression="zlib",
        metadata=md,
        scale=meta.get("scale"),
        translate=meta.get("translate"),
    )
    return [str(out)]


def write_image(path: str, data: Any, meta: dict) -> list[str]:
    """Write an Image layer to a (Big)TIFF file (npe2 single-layer writer).

    Parameters
    ----------
    path : str
        Output ``.tif``/``.tiff`` path.
    data : array_like
        ``layer.data`` (NumPy or dask; 2D to 4D).
    meta : dict
        Layer attributes (``scale``, ``translate``, ``metadata``, ``name``).

    Returns
    -------
    list of str
        The path written.

    Examples
    --------
    >>> # write_image("out.tif", layer.data, {"scale": layer.scale})
    """
    return _write(path, data, meta, "image")


def write_labels(path: str, data: Any, meta: dict) -> list[str]:
    """Write a Labels layer to a (Big)TIFF file; it reopens as Labels.

    Examples
    --------
    >>> # write_labels("seg.tif", labels.data, {"scale": labels.scale})
    """
    return _write(path, data, meta, "labels")
