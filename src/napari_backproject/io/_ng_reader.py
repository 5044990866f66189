"""npe2 reader for Neuroglancer states: one Points layer per annotation layer.

Only ``.json`` files that are Neuroglancer states are claimed (never our
geometry JSON); see :mod:`napari_backproject.io.neuroglancer`.
"""

from __future__ import annotations

import os
from typing import Any

from .neuroglancer import is_neuroglancer_state, read_neuroglancer

__all__ = ["get_reader", "read_layers"]


# ------------------------------------------------------------- napari reader
def get_reader(path: str | list[str]) -> Any:
    """npe2 reader: a Points layer per annotation layer of a Neuroglancer state.

    Claims only ``.json`` files that are Neuroglancer states (never our
    geometry JSON). Each Points layer gets the state's ``scale`` and units,
    so it lies on an image opened with the same voxel size.

    Examples
    --------
    >>> get_reader("geometry.json") is None
    True
    """
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    if not paths or not all(is_neuroglancer_state(p) for p in paths):
        return None
    return read_layers


def read_layers(path: str | list[str]) -> list[tuple]:
    """Layer data tuples (Points) for one or more Neuroglancer states.

    Examples
    --------
    >>> # read_layers("state.json")[0][2]
    >>> # 'points'
    """
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    out = []
    for p in paths:
        state = read_neuroglancer(p)
        for lay in state.annotations:
            meta = {
                "name": lay.name,
                "scale": lay.scale.tolist(),
                "metadata": {
                    "neuroglancer_state": str(p),
                    "image_source": state.image_source,
                },
            }
            if lay.unit != "pixel":
                meta["units"] = (lay.unit,) * 3
            out.append((lay.points, meta, "points"))
    return out
