"""Small helpers shared by the Straighten and Backproject widgets.

They translate between napari layers and the library's plain inputs: a traced
path (Points or Shapes layer) becomes an ``(N, 3)`` array in an image's data
coordinates, a :class:`~napari_backproject.slice_geometry.SliceGeometry`
lives in (and is read back from) ``layer.metadata``, and plane outlines for
the Preview are taken from the geometry. No voxel data is touched here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..slice_geometry import SliceGeometry

#: key of the geometry dict (``SliceGeometry.to_dict()``) in ``layer.metadata``
GEOMETRY_KEY = "slice_geometry"
#: key under which files written by ``save_straightened`` keep the geometry
#: (the plugin's reader puts the file's metadata in ``layer.metadata``)
FILE_GEOMETRY_KEY = "geometry"
#: key of the source image layer's name in ``layer.metadata``
SOURCE_KEY = "source_layer"
#: Shapes types that describe a path (a rectangle or an ellipse does not)
PATH_SHAPES = ("path", "line")


def _kind(layer: Any) -> str:
    return type(layer).__name__


def layer_path(
    path_layer: Any, image_layer: Any, shape_index: int | None = None
) -> np.ndarray:
    """The ordered points of a Points or Shapes layer in an image's data coordinates.

    Points are used in their order in ``layer.data``. For a Shapes layer the
    shape ``shape_index`` is used; by default the single selected shape, else
    the first ``path``/``line`` shape, else the first shape. Points are mapped
    through world coordinates, so a path layer with a different
    ``scale``/``translate`` than the image lands on the right voxels.

    Parameters
    ----------
    path_layer : napari.layers.Points or napari.layers.Shapes
        The traced path (3D).
    image_layer : napari.layers.Image
        The 3D image to straighten.
    shape_index : int, optional
        Which shape of a Shapes layer to use.

    Returns
    -------
    (N, 3) float64 ndarray
        The path in ``image_layer``'s data (voxel) coordinates, ``(z, y, x)``.

    Raises
    ------
    ValueError
        Wrong layer type, not 3D, or an empty layer.

    Examples
    --------
    >>> import numpy as np
    >>> from napari.layers import Image, Points
    >>> img = Image(np.zeros((4, 4, 4)), scale=(2, 1, 1))
    >>> pts = Points([[2.0, 1, 1], [4.0, 2, 2]], scale=(1, 1, 1))
    >>> layer_path(pts, img).tolist()
    [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]
    """
    kind = _kind(path_layer)
    if kind not in ("Points", "Shapes"):
        raise ValueError(
            f"the path must be a Points or Shapes layer; got a {kind} layer "
            f"({getattr(path_layer, 'name', '?')!r})."
        )
    if image_layer.ndim != 3:
        raise ValueError(
            f"image {image_layer.name!r} has {image_layer.ndim} dimensions; "
            "straightening needs a 3D (z, y, x) image."
        )
    if path_layer.ndim != 3:
        raise ValueError(
            f"path layer {path_layer.name!r} has {path_layer.ndim} dimensions; "
            "trace the path in 3D (a 3D Points or Shapes layer)."
        )
    if kind == "Points":
        pts = np.asarray(path_layer.data, dtype=np.float64)
    else:
        shapes = list(path_layer.data)
        if not shapes:
            raise ValueError(f"Shapes layer {path_layer.name!r} has no shapes.")
        if shape_index is None:
            selected = sorted(path_layer.selected_data)
            types = list(path_layer.shape_type)
            lines = [i for i, t in enumerate(types) if t in PATH_SHAPES]
            if len(selected) == 1 and types[selected[0]] in PATH_SHAPES:
                shape_index = selected[0]
            elif lines:
                shape_index = lines[0]
            else:
                shape_index = 0
        if not 0 <= shape_index < len(shapes):
            raise ValueError(
                f"shape_index {shape_index} is out of range: layer "
                f"{path_layer.name!r} has {len(shapes)} shapes."
            )
        kind_of = path_layer.shape_type[shape_index]
        if kind_of not in PATH_SHAPES:
            raise ValueError(
                f"shape {shape_index} of {path_layer.name!r} is a {kind_of}, not a "
                "path; trace the structure with the Shapes 'path' or 'line' tool, "
                "or with Points in order."
            )
        pts = np.asarray(shapes[shape_index], dtype=np.float64)
    if pts.shape[0] < 2:
        raise ValueError(
            f"path layer {path_layer.name!r} has {pts.shape[0]} point(s); "
            "add at least two points along the structure, in order."
        )
    world = [np.asarray(path_layer.data_to_world(p), dtype=np.float64) for p in pts]
    return np.array([image_layer.world_to_data(w) for w in world], dtype=np.float64)


def geometry_metadata(geometry: SliceGeometry, source_name: str | None) -> dict:
    """``layer.metadata`` entries for a straightened layer.

    Examples
    --------
    >>> geometry_metadata(g, "helix")["source_layer"]  # doctest: +SKIP
    'helix'
    """
    return {GEOMETRY_KEY: geometry.to_dict(), SOURCE_KEY: source_name}


def geometry_of(layer: Any) -> SliceGeometry | None:
    """The SliceGeometry stored in a layer's metadata, or None.

    Looks under ``"slice_geometry"`` (layers made by the Straighten widget),
    then under ``"geometry"`` (a straightened TIFF opened with the plugin's
    reader).

    Examples
    --------
    >>> geometry_of(viewer.layers["helix straightened"])  # doctest: +SKIP
    SliceGeometry(...)
    """
    metadata = getattr(layer, "metadata", None) or {}
    value = metadata.get(GEOMETRY_KEY)
    if value is None:
        value = metadata.get(FILE_GEOMETRY_KEY)
        if not isinstance(value, dict) or "format" not in value:
            return None
    return SliceGeometry.coerce(value)


def matching_geometry(layer: Any, layers: Iterable[Any]) -> tuple[SliceGeometry, str]:
    """The geometry for a layer painted on a straightened image.

    The layer's own metadata wins; otherwise the straightened layers (layers
    with a geometry in their metadata) whose ``straightened_shape`` equals
    ``layer.data.shape`` are used.

    Returns
    -------
    geometry : SliceGeometry
    origin : str
        Name of the layer the geometry was taken from.

    Raises
    ------
    ValueError
        No matching straightened layer, or several with different geometries.

    Examples
    --------
    >>> g, name = matching_geometry(labels, viewer.layers)  # doctest: +SKIP
    """
    own = geometry_of(layer)
    if own is not None:
        return own, layer.name
    shape = tuple(layer.data.shape)
    found: list[tuple[SliceGeometry, str]] = []
    for other in layers:
        if other is layer:
            continue
        g = geometry_of(other)
        if g is not None and tuple(g.straightened_shape) == shape:
            found.append((g, other.name))
    if not found:
        raise ValueError(
            f"no geometry for {layer.name!r} (shape {shape}): it has no "
            f"'{GEOMETRY_KEY}' metadata and no straightened layer has that shape. "
            "Choose the geometry JSON file written with the straightened volume."
        )
    distinct = distinct_geometries(found)
    if len(distinct) > 1:
        names = ", ".join(repr(n) for _, n in distinct)
        raise ValueError(
            f"several straightened layers have the shape {shape} ({names}) with "
            "different geometries; choose which one in 'geometry from'."
        )
    return distinct[0]


def distinct_geometries(
    found: Iterable[tuple[SliceGeometry, str]],
) -> list[tuple[SliceGeometry, str]]:
    """Keep the first of each group of identical geometries (options aside).

    Two straightened layers that differ only in interpolation order (or any
    other option) place the same planes and count as one.

    Examples
    --------
    >>> distinct_geometries([(g, "a"), (g, "b")])  # doctest: +SKIP
    [(g, 'a')]
    """
    from .._job_inputs import same_geometry

    out: list[tuple[SliceGeometry, str]] = []
    for g, name in found:
        if not any(same_geometry(g, h) for h, _ in out):
            out.append((g, name))
    return out


def geometry_candidates(
    layer: Any, layers: Iterable[Any]
) -> list[tuple[SliceGeometry, str]]:
    """Every distinct geometry that fits ``layer``: its own, else matching layers'.

    Examples
    --------
    >>> [name for _, name in geometry_candidates(labels, viewer.layers)]  # doctest: +SKIP
    ['helix straightened']
    """
    own = geometry_of(layer)
    if own is not None:
        return [(own, layer.name)]
    shape = tuple(layer.data.shape)
    found = []
    for other in layers:
        if other is layer:
            continue
        g = geometry_of(other)
        if g is not None and tuple(g.straightened_shape) == shape:
            found.append((g, other.name))
    return distinct_geometries(found)


def plane_outlines(geometry: SliceGeometry, every: int = 1) -> list[np.ndarray]:
    """Closed outlines (5 corners) of every ``every``-th plane, in source voxels.

    The corners are the outer pixel centres of each plane (the sampling
    definition of :class:`SliceGeometry`); the last plane is always included.
    Coordinates are the source's data coordinates, so a layer showing them
    takes the geometry's ``scale`` and ``translate``.

    Examples
    --------
    >>> [o.shape for o in plane_outlines(g, every=10)][:1]  # doctest: +SKIP
    [(5, 3)]
    """
    every = int(every)
    if every < 1:
        raise ValueError(f"every must be >= 1; got {every}.")
    idx = list(range(0, geometry.n_slices, every))
    if idx[-1] != geometry.n_slices - 1:
        idx.append(geometry.n_slices - 1)
    hu = (geometry.width - 1) / 2.0 * geometry.spacing
    hv = (geometry.height - 1) / 2.0 * geometry.spacing
    signs = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1], [-1, -1]], dtype=float)
    out = []
    for i in idx:
        c, eu, ev = geometry.centers[i], geometry.e_u[i], geometry.e_v[i]
        world = c + (signs[:, :1] * hu) * eu + (signs[:, 1:] * hv) * ev
        out.append((world - geometry.translate) / geometry.scale)
    return out


def curve_voxels(geometry: SliceGeometry) -> np.ndarray:
    """The plane centres (the fitted curve, sampled) in source voxel coordinates.

    Examples
    --------
    >>> curve_voxels(g).shape  # doctest: +SKIP
    (85, 3)
    """
    return (geometry.centers - geometry.translate) / geometry.scale
