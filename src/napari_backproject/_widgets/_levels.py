"""Resolution levels of a napari layer, for the Straighten and Backproject widgets.

A multiscale napari layer holds a list of arrays, finest first; its
``scale`` and ``translate`` are those of level 0 (its data coordinates are
level 0's). The grid of a coarser level is taken from the file when the
layer was opened with the plugin's OME-Zarr reader (per-level transforms in
``layer.metadata["multiscale"]``, made relative to the layer's own level-0
``scale``/``translate``), else from napari's convention
(``scale * shape_0 / shape_k``, same ``translate``; see
:func:`napari_backproject.multiscale.level_grid`). Qt-free.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..multiscale import level_grid, level_names

#: key of the per-level ``{"scale": [...], "translate": [...]}`` in ``layer.metadata``
LEVELS_KEY = "multiscale"


def _file_levels(layer: Any, n: int) -> tuple[list, list] | None:
    md = (getattr(layer, "metadata", None) or {}).get(LEVELS_KEY)
    if not isinstance(md, dict):
        return None
    scales, translates = md.get("scale"), md.get("translate")
    try:
        s = np.asarray(scales, dtype=np.float64)
        t = np.asarray(translates, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if s.shape != (n, 3) or t.shape != (n, 3) or np.any(s <= 0):
        return None
    # relative to level 0 of the file, placed where the layer's level 0 is
    s0 = np.asarray(layer.scale, dtype=np.float64)[-3:]
    t0 = np.asarray(layer.translate, dtype=np.float64)[-3:]
    ratio = s0 / s[0]
    return [si * ratio for si in s], [t0 + (ti - t[0]) * ratio for ti in t]


def layer_levels(layer: Any) -> list[tuple[Any, np.ndarray, np.ndarray]]:
    """Every level of a layer as ``(array, scale, translate)``, finest first.

    A single-resolution layer gives one level (its data, scale, translate).

    Examples
    --------
    >>> import numpy as np
    >>> from napari.layers import Image
    >>> layer = Image([np.zeros((8, 8, 8)), np.zeros((4, 4, 4))], multiscale=True,
    ...               scale=(2, 1, 1), translate=(5, 0, 0))
    >>> [(a.shape, s.tolist(), t.tolist()) for a, s, t in layer_levels(layer)][1]
    ((4, 4, 4), [4.0, 2.0, 2.0], [5.0, 0.0, 0.0])
    """
    s0 = np.asarray(layer.scale, dtype=np.float64)[-3:]
    t0 = np.asarray(layer.translate, dtype=np.float64)[-3:]
    if not getattr(layer, "multiscale", False):
        return [(layer.data, s0, t0)]
    levels = list(layer.data)
    from_file = _file_levels(layer, len(levels))
    if from_file is not None:
        return [(a, s, t) for a, s, t in zip(levels, *from_file, strict=True)]
    return [level_grid(levels, k, scale=s0, translate=t0) for k in range(len(levels))]


def level_labels(layer: Any, units: Any = None) -> list[str]:
    """Labels of a layer's levels: index, shape and voxel size.

    Examples
    --------
    >>> import numpy as np
    >>> from napari.layers import Image
    >>> layer = Image([np.zeros((8, 8, 8)), np.zeros((4, 4, 4))], multiscale=True)
    >>> level_labels(layer, "µm")
    ['0: 8×8×8, voxel 1×1×1 µm', '1: 4×4×4, voxel 2×2×2 µm']
    """
    if isinstance(units, (list, tuple)):
        units = units[-1] if units else None
    unit = str(units) if units and str(units) not in ("pixel", "px") else None
    levels = layer_levels(layer)
    return level_names(
        [a for a, _, _ in levels], scales=[s for _, s, _ in levels], units=unit
    )
