"""npe2 reader and writers for OME-Zarr (``.zarr`` folders).

Reader: an OME-Zarr image opens as a multiscale layer (lazy dask levels,
finest first) with the ``scale`` and ``translate`` of level 0 from the
file's ``coordinateTransformations`` (read by ome-zarr-py through
:func:`napari_backproject.io.ome_zarr.read_ome_zarr`), its axis units, and
our metadata (a straightened stack's ``geometry``, a backprojection's
``offset``, ...) in ``layer.metadata``. Every level's own ``scale`` and
``translate`` go to ``layer.metadata["multiscale"]`` so the widgets sample a
coarse level on its true grid. The image's label images (its NGFF
``labels`` group) open as Labels layers; data written as labels (integers)
open as Labels.

Writers: an Image or Labels layer is written as an OME-Zarr pyramid with
:func:`napari_backproject.io.ome_zarr.write_ome_zarr` (level 0 of a
multiscale layer; the pyramid is made again), chunk by chunk, under a
temporary name. A path ``IMAGE.zarr/labels/NAME`` adds a Labels layer to
the labels group of an existing image.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["get_reader", "read_layers", "write_image", "write_labels"]

#: keys ``read_ome_zarr`` adds to our metadata (not ours to store again)
_READ_KEYS = ("scale", "translate", "axes", "units", "name", "version", "multiscale")


def get_reader(path: str | list[str]) -> Callable[[Any], list[tuple]] | None:
    """Return a reader for an OME-Zarr image folder, or None.

    Examples
    --------
    >>> get_reader("image.tif") is None
    True
    """
    from .ome_zarr import is_ome_zarr_path

    paths = [path] if isinstance(path, (str, Path)) else list(path)
    if len(paths) != 1 or not is_ome_zarr_path(paths[0]):
        return None
    p = Path(str(paths[0]))
    if not p.is_dir():
        return None
    try:
        import zarr

        from .ome_zarr import _multiscales

        attrs = dict(zarr.open_group(str(p), mode="r").attrs)
    except Exception:
        return None
    if not _multiscales(attrs):
        return None
    return read_layers


def _layer(path: Path, labels_group: bool = False) -> tuple:
    from .ome_zarr import read_ome_zarr

    levels, md = read_ome_zarr(path)
    ours = {k: v for k, v in md.items() if k not in _READ_KEYS}
    ours["multiscale"] = {"scale": md["scale"], "translate": md["translate"]}
    kind = md.get("kind")
    integer = levels[0].dtype.kind in "iub"
    labels = integer and (kind == "labels" or labels_group)
    layer_type = "labels" if labels else "image"
    if layer_type == "labels" and levels[0].dtype.kind == "b":
        levels = [lv.astype("uint8") for lv in levels]
    meta: dict[str, Any] = {
        "name": md.get("name") or path.name.split(".")[0],
        "scale": [float(v) for v in md["scale"][0]],
        "translate": [float(v) for v in md["translate"][0]],
        "metadata": ours,
    }
    if md.get("units"):
        meta["units"] = [u or "pixel" for u in md["units"]]
    data = levels if len(levels) > 1 else levels[0]
    if len(levels) > 1:
        meta["multiscale"] = True
    return (data, meta, layer_type)


def read_layers(path: str | list[str]) -> list[tuple]:
    """An OME-Zarr image (and its label images) as napari layer data tuples.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from napari_backproject.io.ome_zarr import write_ome_zarr
    >>> p = write_ome_zarr(np.ones((64, 64, 64), np.uint8), os.path.join(tempfile.mkdtemp(), "v.zarr"), kind="image", levels=2, translate=(3, 0, 0))
    >>> data, meta, kind = read_layers(str(p))[0]
    >>> len(data), meta["translate"], kind
    (2, [3.0, 0.0, 0.0], 'image')
    """
    import zarr

    p = Path(str(path[0] if isinstance(path, list) else path))
    out = [_layer(p)]
    labels = p / "labels"
    if labels.is_dir():
        try:
            names = dict(zarr.open_group(str(labels), mode="r").attrs)
            names = (names.get("ome") or names).get("labels", [])
        except Exception:
            names = []
        for name in names:
            if (labels / name).is_dir():
                out.append(_layer(labels / name, labels_group=True))
    return out


def _write(path: str, data: Any, meta: dict, kind: str) -> list[str]:
    from .napari_writer import jsonable
    from .ome_zarr import write_ome_zarr

    if isinstance(data, list):  # multiscale: write level 0, remake the pyramid
        data = data[0]
    if len(data.shape) != 3:
        raise ValueError(
            f"OME-Zarr here is for 3D (z, y, x) layers; this layer has shape "
            f"{tuple(data.shape)}. Save it as TIFF instead."
        )
    md = jsonable(dict(meta.get("metadata") or {}))
    for key in (*_READ_KEYS, "kind"):
        md.pop(key, None)
    units = meta.get("units")
    unit = None
    if units is not None:
        names = {str(u) for u in units}
        if len(names) == 1 and names != {"pixel"}:
            unit = names.pop()
    out = write_ome_zarr(
        data,
        path,
        scale=tuple(meta.get("scale") or (1.0, 1.0, 1.0))[-3:],
        translate=tuple(meta.get("translate") or (0.0, 0.0, 0.0))[-3:],
        units=unit,
        kind=kind,
        metadata=md,
        name=str(meta["name"]) if meta.get("name") else None,
    )
    return [str(out)]


def write_image(path: str, data: Any, meta: dict) -> list[str]:
    """Write a 3D Image layer as an OME-Zarr pyramid (npe2 single-layer writer).

    Examples
    --------
    >>> # write_image("out.zarr", layer.data, {"scale": layer.scale})
    """
    return _write(path, data, meta, "image")


def write_labels(path: str, data: Any, meta: dict) -> list[str]:
    """Write a 3D Labels layer as an OME-Zarr pyramid (levels by nearest).

    ``IMAGE.zarr/labels/NAME`` puts it into an existing image's labels group.

    Examples
    --------
    >>> # write_labels("seg.zarr", labels.data, {"scale": labels.scale})
    """
    return _write(path, data, meta, "labels")
