"""Resolution levels: pick a level of a pyramid, name levels, retarget a geometry.

A multiscale image is a list of arrays, finest first (napari's convention,
and what :func:`napari_backproject.io.ome_zarr.read_ome_zarr` and
napari-ome-zarr give). Everything geometric is in world units, so:

- a path traced on one level works on any other: :func:`level_grid` gives
  the array, ``scale`` and ``translate`` of a level, and
  :func:`path_to_level` moves path points from one level's data
  coordinates to another's;
- a :class:`~napari_backproject.slice_geometry.SliceGeometry` made at one
  level backprojects onto any grid: :func:`retarget` (used by
  ``backproject(..., target=(shape, scale, translate))``) replaces the
  source grid and keeps the planes.

:func:`level_names` gives the Qt-free labels a level choice shows
(shape and voxel size of each level).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from .slice_geometry import SliceGeometry

__all__ = ["level_grid", "level_names", "path_to_level", "retarget"]


def _triple(v: Any, name: str) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64).reshape(-1)
    if a.shape != (3,) or not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be 3 finite numbers (z, y, x); got {v!r}.")
    return a


def _check_levels(levels: Sequence[Any]) -> list[Any]:
    if not isinstance(levels, (list, tuple)) or not levels:
        raise ValueError(
            "a multiscale image is a non-empty list of arrays, finest first; "
            f"got {type(levels).__name__}."
        )
    for k, a in enumerate(levels):
        if not hasattr(a, "shape") or len(a.shape) != 3:
            raise ValueError(
                f"level {k} must be a 3D (z, y, x) array; got "
                f"{getattr(a, 'shape', type(a).__name__)}."
            )
    return list(levels)


def level_grid(
    levels: Sequence[Any],
    level: int,
    *,
    scale: Any = (1.0, 1.0, 1.0),
    translate: Any = (0.0, 0.0, 0.0),
    scales: Sequence[Any] | None = None,
    translates: Sequence[Any] | None = None,
) -> tuple[Any, np.ndarray, np.ndarray]:
    """The array, voxel size and world position of one level of a pyramid.

    Parameters
    ----------
    levels : list of arrays
        The pyramid, finest first.
    level : int
        Level index (negative counts from the coarsest).
    scale, translate : sequence of 3 floats
        Of the finest level (a napari multiscale layer's ``scale`` and
        ``translate``). Coarser levels then follow napari's convention:
        ``scale * shape_0 / shape_k`` and the same ``translate``.
    scales, translates : list of sequences, optional
        Per-level values from a file (``read_ome_zarr``'s metadata); they
        take precedence.

    Returns
    -------
    array, scale, translate

    Raises
    ------
    ValueError
        ``level`` out of range, or levels that are not 3D arrays.

    Examples
    --------
    >>> import numpy as np
    >>> pyr = [np.zeros((8, 8, 8)), np.zeros((4, 4, 4))]
    >>> a, s, t = level_grid(pyr, 1, scale=(2, 1, 1))
    >>> a.shape, s.tolist(), t.tolist()
    ((4, 4, 4), [4.0, 2.0, 2.0], [0.0, 0.0, 0.0])
    """
    levels = _check_levels(levels)
    n = len(levels)
    if not -n <= int(level) < n:
        raise ValueError(
            f"level {level} is out of range: the image has {n} level(s), "
            f"0 (finest) to {n - 1} (coarsest)."
        )
    k = int(level) % n
    if scales is not None:
        s = _triple(scales[k], f"scales[{k}]")
    else:
        s0 = _triple(scale, "scale")
        ratio = np.asarray(levels[0].shape, float) / np.asarray(levels[k].shape, float)
        s = s0 * ratio
    if translates is not None:
        t = _triple(translates[k], f"translates[{k}]")
    else:
        t = _triple(translate, "translate")
    if np.any(s <= 0):
        raise ValueError(f"scale must be positive; got {s.tolist()}.")
    return levels[k], s, t


def level_names(
    levels: Sequence[Any],
    *,
    scale: Any = (1.0, 1.0, 1.0),
    scales: Sequence[Any] | None = None,
    units: str | None = None,
) -> list[str]:
    """Labels for a level choice: index, shape and voxel size of each level.

    Examples
    --------
    >>> import numpy as np
    >>> level_names([np.zeros((8, 8, 8)), np.zeros((4, 4, 4))], units="nm")
    ['0: 8×8×8, voxel 1×1×1 nm', '1: 4×4×4, voxel 2×2×2 nm']
    """
    levels = _check_levels(levels)
    out = []
    for k, a in enumerate(levels):
        _, s, _ = level_grid(levels, k, scale=scale, scales=scales)
        shp = "×".join(str(int(v)) for v in a.shape)
        vox = "×".join(f"{v:g}" for v in s)
        out.append(f"{k}: {shp}, voxel {vox}" + (f" {units}" if units else ""))
    return out


def path_to_level(
    points: Any,
    scale_from: Any,
    translate_from: Any,
    scale_to: Any,
    translate_to: Any,
) -> np.ndarray:
    """Move points between the data coordinates of two levels (same world).

    Examples
    --------
    >>> path_to_level([[4, 4, 4]], (1, 1, 1), (0, 0, 0), (2, 2, 2), (0.5, 0.5, 0.5)).tolist()
    [[1.75, 1.75, 1.75]]
    """
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(f"points must be (N, 3) (z, y, x); got shape {p.shape}.")
    world = p * _triple(scale_from, "scale_from") + _triple(
        translate_from, "translate_from"
    )
    return (world - _triple(translate_to, "translate_to")) / _triple(
        scale_to, "scale_to"
    )


def retarget(
    geometry: SliceGeometry,
    target: tuple[Any, Any, Any],
) -> SliceGeometry:
    """The geometry with its source grid replaced by ``(shape, scale, translate)``.

    The planes are in world units and stay where they are; only the voxel
    grid that backprojection fills changes (another resolution level, a
    region of the full-resolution volume, ...).

    Parameters
    ----------
    geometry : SliceGeometry
    target : (shape, scale, translate)
        The target grid: 3 ints and two sequences of 3 floats.

    Returns
    -------
    SliceGeometry

    Raises
    ------
    ValueError
        A malformed target, or a target grid the straightened planes do
        not reach.

    Examples
    --------
    >>> from napari_backproject.geometry import make_slice_geometry
    >>> g = make_slice_geometry([[1, 4, 4], [6, 4, 4]], source_shape=(8, 8, 8),
    ...                         source_dtype="uint8", width=3, height=3)
    >>> g2 = retarget(g, ((16, 16, 16), (0.5, 0.5, 0.5), (-0.25, -0.25, -0.25)))
    >>> g2.source_shape, g2.path[0].tolist()
    ((16, 16, 16), [2.5, 8.5, 8.5])
    """
    if not isinstance(target, (tuple, list)) or len(target) != 3:
        raise ValueError(
            "target must be (shape, scale, translate), e.g. "
            "((512, 512, 512), (1, 1, 1), (0, 0, 0)); "
            f"got {target!r}."
        )
    shape, scale, translate = target
    shp = tuple(int(v) for v in np.asarray(shape).reshape(-1))
    if len(shp) != 3 or min(shp) < 1:
        raise ValueError(f"target shape must be 3 positive ints; got {shape!r}.")
    s = _triple(scale, "target scale")
    if np.any(s <= 0):
        raise ValueError(f"target scale must be positive; got {s.tolist()}.")
    t = _triple(translate, "target translate")
    path = path_to_level(geometry.path, geometry.scale, geometry.translate, s, t)
    new = replace(geometry, source_shape=shp, scale=s, translate=t, path=path)
    from .straighten import plane_bounding_box

    if plane_bounding_box(new) is None:
        lo = t - s / 2
        hi = t + (np.asarray(shp) - 0.5) * s
        raise ValueError(
            "the target grid does not overlap the straightened planes: it spans "
            f"{lo.tolist()} to {hi.tolist()} (world z, y, x); check its scale "
            "and translate (they must be in the same world units as the "
            "geometry's)."
        )
    return new
