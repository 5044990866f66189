"""Link the straightened space and its source: the model behind linked views.

Qt-free and napari-free. A :class:`LinkedSpaces` knows a
:class:`~napari_backproject.slice_geometry.SliceGeometry` and where the
straightened stack is drawn (its layer's ``scale`` and ``translate``), and
answers the questions a linked viewer asks:

- where is the mouse of one space in the other (a marker),
- which slice's plane contains a point of the source (click to jump),
- where is the current slice's plane in the source (outline and quad, world
  coordinates), and where is the curve with a tick at the current slice,
- where do a Points/Shapes layer's vertices go in the other space,
- what does the current slab of a segmentation look like in the source
  (:meth:`LinkedSpaces.backproject_slab`, a preview before the full
  backprojection).

"Source world" is the world of the source image (the geometry's world,
``(z, y, x)``); "straightened world" is the world in which the straightened
layer is drawn, ``pixel * scale + translate`` with pixel ``(slice, v, u)``.
All mapping is done by :func:`~napari_backproject.mapping.to_straightened`
and :func:`~napari_backproject.mapping.from_straightened`, so it agrees with
the backprojection; points on no plane map to NaN.

The napari glue is :func:`link` (it imports napari only when called).

Examples
--------
>>> from napari_backproject.geometry import make_slice_geometry
>>> g = make_slice_geometry([[0, 5, 5], [8, 5, 5]], source_shape=(9, 11, 11),
...                         source_dtype="uint8", width=5, height=5)
>>> spaces = LinkedSpaces(g)
>>> spaces.to_straightened_world([[2.5, 5, 5]]).round(6).tolist()
[[2.5, 2.0, 2.0]]
>>> spaces.nearest_slice([2.6, 5, 5])
3
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .mapping import from_straightened, to_straightened
from .slice_geometry import SliceGeometry

__all__ = ["LinkedSpaces", "link", "slab_geometry"]

_SIGNS = np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])


def _triple(value: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be 3 numbers (slice, v, u).") from None
    if arr.shape != (3,) or not np.all(np.isfinite(arr)):
        raise ValueError(
            f"{name} must be 3 finite numbers (slice, v, u); got {value!r}. "
            "Use the straightened layer's scale/translate."
        )
    return arr


def _rows(points: Any, name: str) -> tuple[np.ndarray, bool]:
    try:
        p = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a point (3,) or points (N, 3).") from None
    single = p.ndim == 1
    p = p.reshape(1, -1) if single else p
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(
            f"{name} must be a point (3,) or points (N, 3); got shape {p.shape}."
        )
    return p, single


class LinkedSpaces:
    """The two spaces of a straightened stack, and how they correspond.

    Parameters
    ----------
    geometry : SliceGeometry, dict or path
        The straightened stack's geometry (``layer.metadata`` of a
        straightened layer, or its JSON).
    scale : array_like of 3 floats, optional
        The straightened layer's ``scale``; default ``(D, D, D)`` with ``D``
        the geometry's spacing (what the Straighten widget uses).
    translate : array_like of 3 floats, optional
        The straightened layer's ``translate``; default zeros.

    Examples
    --------
    >>> from napari_backproject.geometry import make_slice_geometry
    >>> g = make_slice_geometry([[0, 5, 5], [8, 5, 5]], source_shape=(9, 11, 11),
    ...                         source_dtype="uint8", width=5, height=5)
    >>> s = LinkedSpaces(g)
    >>> s.to_source_world([2.0, 2.0, 2.0]).round(6).tolist()
    [2.0, 5.0, 5.0]
    >>> s.plane_quad(4).round(6).tolist()
    [[4.0, 2.5, 2.5], [4.0, 2.5, 7.5], [4.0, 7.5, 7.5], [4.0, 7.5, 2.5]]
    """

    def __init__(self, geometry: Any, scale: Any = None, translate: Any = None) -> None:
        self.geometry = SliceGeometry.coerce(geometry)
        d = self.geometry.spacing
        self.scale = _triple((d, d, d) if scale is None else scale, "scale")
        if np.any(self.scale <= 0):
            raise ValueError(f"scale must be positive; got {self.scale.tolist()}.")
        self.translate = _triple(
            (0.0, 0.0, 0.0) if translate is None else translate, "translate"
        )

    # ------------------------------------------------------------ pixels
    @property
    def n_slices(self) -> int:
        """Number of planes (slices of the straightened stack)."""
        return self.geometry.n_slices

    def pixel_of(self, straightened_world: Any) -> np.ndarray:
        """Straightened world -> stack pixel ``(slice, v, u)`` (same shape)."""
        p, single = _rows(straightened_world, "straightened_world")
        out = (p - self.translate) / self.scale
        return out[0] if single else out

    def world_of_pixel(self, pixel: Any) -> np.ndarray:
        """Stack pixel ``(slice, v, u)`` -> straightened world (same shape)."""
        p, single = _rows(pixel, "pixel")
        out = p * self.scale + self.translate
        return out[0] if single else out

    def slice_world(self, index: int) -> float:
        """The straightened world coordinate (axis 0) of slice ``index``.

        Examples
        --------
        >>> from napari_backproject.geometry import make_slice_geometry
        >>> g = make_slice_geometry([[0, 5, 5], [8, 5, 5]], source_shape=(9, 11, 11),
        ...                         source_dtype="uint8", width=5, height=5)
        >>> LinkedSpaces(g, scale=(2, 1, 1), translate=(10, 0, 0)).slice_world(3)
        16.0
        """
        return float(index * self.scale[0] + self.translate[0])

    def slice_index(self, straightened_world_z: float) -> int:
        """The slice shown at straightened world coordinate ``z`` (clipped).

        Examples
        --------
        >>> from napari_backproject.geometry import make_slice_geometry
        >>> g = make_slice_geometry([[0, 5, 5], [8, 5, 5]], source_shape=(9, 11, 11),
        ...                         source_dtype="uint8", width=5, height=5)
        >>> LinkedSpaces(g).slice_index(3.4), LinkedSpaces(g).slice_index(99)
        (3, 8)
        """
        z = float(straightened_world_z)
        if not np.isfinite(z):
            raise ValueError(f"the slice position must be finite; got {z}.")
        i = int(np.floor((z - self.translate[0]) / self.scale[0] + 0.5))
        return min(max(i, 0), self.n_slices - 1)

    # ----------------------------------------------------------- mapping
    def to_straightened_world(self, source_world: Any) -> np.ndarray:
        """Source world ``(z, y, x)`` -> straightened world; NaN on no plane.

        Accepts one point ``(3,)`` or ``(N, 3)``; returns the same shape.
        """
        p, single = _rows(source_world, "source_world")
        out = to_straightened(p, self.geometry) * self.scale + self.translate
        return out[0] if single else out

    def to_source_world(self, straightened_world: Any) -> np.ndarray:
        """Straightened world -> source world ``(z, y, x)``; NaN off the stack.

        Accepts one point ``(3,)`` or ``(N, 3)``; returns the same shape.
        """
        p, single = _rows(straightened_world, "straightened_world")
        out = from_straightened((p - self.translate) / self.scale, self.geometry)
        return out[0] if single else out

    def nearest_slice(self, source_world: Any) -> int | None:
        """The slice whose plane (its slab, +-half a spacing) contains a point.

        Parameters
        ----------
        source_world : (3,) array_like
            A point in the source's world coordinates.

        Returns
        -------
        int or None
            The nearest slice index (the straightened coordinate rounded), or
            None when no plane reaches the point.

        Examples
        --------
        >>> from napari_backproject.geometry import make_slice_geometry
        >>> g = make_slice_geometry([[0, 5, 5], [8, 5, 5]], source_shape=(9, 11, 11),
        ...                         source_dtype="uint8", width=5, height=5)
        >>> LinkedSpaces(g).nearest_slice([6.4, 6, 4]), LinkedSpaces(g).nearest_slice([4, 5, 30])
        (6, None)
        """
        p, _ = _rows(source_world, "source_world")
        if p.shape[0] != 1:
            raise ValueError("nearest_slice takes one point (3,).")
        s = to_straightened(p, self.geometry)[0, 0]
        if not np.isfinite(s):
            return None
        return min(max(int(np.floor(s + 0.5)), 0), self.n_slices - 1)

    def nearest_slice_to_ray(
        self, origin: Any, direction: Any, *, reach: float | None = None
    ) -> int | None:
        """The slice whose centre is nearest to a viewing ray (3D clicks).

        Parameters
        ----------
        origin, direction : (3,) array_like
            A point on the ray and its direction, source world coordinates
            (napari: ``event.position`` and ``event.view_direction``).
        reach : float, optional
            Largest accepted distance from the ray to a plane centre; default
            half the plane's diagonal. None is returned beyond it.

        Examples
        --------
        >>> from napari_backproject.geometry import make_slice_geometry
        >>> g = make_slice_geometry([[0, 5, 5], [8, 5, 5]], source_shape=(9, 11, 11),
        ...                         source_dtype="uint8", width=5, height=5)
        >>> LinkedSpaces(g).nearest_slice_to_ray([5, 0, 5], [0, 1, 0])
        5
        """
        o, _ = _rows(origin, "origin")
        d, _ = _rows(direction, "direction")
        norm = np.linalg.norm(d[0])
        if not norm > 0:
            raise ValueError("direction must be a non-zero vector.")
        d = d[0] / norm
        r = self.geometry.centers - o[0]
        perp = r - np.outer(r @ d, d)
        dist = np.linalg.norm(perp, axis=1)
        i = int(np.argmin(dist))
        g = self.geometry
        if reach is None:
            reach = 0.5 * g.spacing * float(np.hypot(g.width, g.height))
        return i if dist[i] <= reach else None

    # ------------------------------------------------------------ drawing
    def plane_quad(self, index: int) -> np.ndarray:
        """Corners ``(4, 3)`` of slice ``index``'s plane, source world.

        The corners are the outer edges of the plane's pixels (half a pixel
        beyond the outer pixel centres), i.e. the area that maps to the slice.
        """
        g = self.geometry
        i = int(index)
        if not 0 <= i < g.n_slices:
            raise ValueError(f"slice index must be in [0, {g.n_slices}); got {i}.")
        hu, hv = g.width * g.spacing / 2.0, g.height * g.spacing / 2.0
        return (
            g.centers[i]
            + (_SIGNS[:, :1] * hu) * g.e_u[i]
            + (_SIGNS[:, 1:] * hv) * g.e_v[i]
        )

    def plane_outline(self, index: int) -> np.ndarray:
        """The closed outline ``(5, 3)`` of slice ``index``'s plane (first corner repeated)."""
        q = self.plane_quad(index)
        return np.vstack([q, q[:1]])

    def curve(self) -> np.ndarray:
        """The curve (plane centres) ``(n, 3)``, source world."""
        return self.geometry.centers.copy()

    def tick(self, index: int, length: float | None = None) -> np.ndarray:
        """A short segment ``(2, 3)`` across the curve at slice ``index``.

        Along the plane's ``e_u``, centred on the curve; ``length`` defaults
        to a quarter of the plane width (world units).

        Examples
        --------
        >>> from napari_backproject.geometry import make_slice_geometry
        >>> g = make_slice_geometry([[0, 5, 5], [8, 5, 5]], source_shape=(9, 11, 11),
        ...                         source_dtype="uint8", width=8, height=8)
        >>> LinkedSpaces(g).tick(2).round(6).tolist()
        [[2.0, 5.0, 4.0], [2.0, 5.0, 6.0]]
        """
        g = self.geometry
        self.plane_quad(index)  # validates index
        if length is None:
            length = g.width * g.spacing / 4.0
        half = 0.5 * float(length) * g.e_u[int(index)]
        c = g.centers[int(index)]
        return np.vstack([c - half, c + half])

    # -------------------------------------------------------- annotations
    def map_points(self, world: Any, *, to: str) -> np.ndarray:
        """Map ``(N, 3)`` world points to the other space; NaN rows on no plane.

        Parameters
        ----------
        world : (N, 3) array_like
            Points in the world of the space they were drawn in.
        to : {"straightened", "source"}
            The space to map them into.
        """
        if to == "straightened":
            return self.to_straightened_world(np.reshape(world, (-1, 3)))
        if to == "source":
            return self.to_source_world(np.reshape(world, (-1, 3)))
        raise ValueError(f"to must be 'straightened' or 'source'; got {to!r}.")

    # ------------------------------------------------------- slab preview
    def slab(self, index: int, half_width: int) -> tuple[int, int]:
        """Slices ``(start, stop)`` of the slab around slice ``index``.

        Examples
        --------
        >>> from napari_backproject.geometry import make_slice_geometry
        >>> g = make_slice_geometry([[0, 5, 5], [8, 5, 5]], source_shape=(9, 11, 11),
        ...                         source_dtype="uint8", width=5, height=5)
        >>> LinkedSpaces(g).slab(1, 3), LinkedSpaces(g).slab(8, 3)
        ((0, 5), (5, 9))
        """
        i, h = int(index), int(half_width)
        if not 0 <= i < self.n_slices:
            raise ValueError(
                f"slice {i} is outside the stack (0 to {self.n_slices - 1})."
            )
        if h < 0:
            raise ValueError(f"half_width must be >= 0 slices; got {h}.")
        return max(0, i - h), min(self.n_slices, i + h + 1)

    def backproject_slab(
        self, labels: Any, index: int, *, half_width: int = 4
    ) -> tuple[np.ndarray, dict[str, list[float]]] | None:
        """Backproject only the slab of slices around ``index`` (a preview).

        The slices ``index - half_width`` to ``index + half_width`` of
        ``labels`` are pulled into the source grid by
        :func:`~napari_backproject.backproject` with the planes of those
        slices only (:func:`slab_geometry`): inside the slab the result is
        the one the full backprojection gives; at its two ends it reaches
        half a spacing past the end planes.

        Parameters
        ----------
        labels : array_like, shape (slice, v, u)
            A segmentation of the straightened stack (any array that slices:
            NumPy, dask, zarr; only the slab is read).
        index : int
            The current slice.
        half_width : int
            Slices on each side of ``index``.

        Returns
        -------
        (data, placement) or None
            The slab in the source grid, as a small array over its bounding
            box, and the napari ``scale``/``translate`` that put it in the
            source world; None if the slab's planes miss the source volume.

        Examples
        --------
        >>> import numpy as np
        >>> from napari_backproject.geometry import make_slice_geometry
        >>> g = make_slice_geometry([[0, 5, 5], [8, 5, 5]], source_shape=(9, 11, 11),
        ...                         source_dtype="uint8", width=5, height=5)
        >>> labels = np.zeros(g.straightened_shape, dtype=np.uint8)
        >>> labels[:, 1:4, 1:4] = 3
        >>> data, place = LinkedSpaces(g).backproject_slab(labels, 4, half_width=1)
        >>> data.shape, place["translate"], np.unique(data).tolist()
        ((3, 5, 5), [3.0, 3.0, 3.0], [0, 3])
        """
        from .backproject import backproject, placement

        shape = tuple(int(s) for s in getattr(labels, "shape", ()))
        if shape != self.geometry.straightened_shape:
            raise ValueError(
                f"the labels have shape {shape} but the straightened stack is "
                f"{self.geometry.straightened_shape}; paint on a layer of the "
                "stack's shape."
            )
        start, stop = self.slab(index, half_width)
        sub = slab_geometry(self.geometry, start, stop)
        try:
            data, offset = backproject(np.asarray(labels[start:stop]), sub)
        except ValueError as exc:  # no plane of the slab reaches the source
            if "do not intersect" in str(exc):
                return None
            raise
        return data, placement(sub, offset)


def slab_geometry(geometry: Any, start: int, stop: int) -> SliceGeometry:
    """The geometry of slices ``start:stop`` of a straightened stack.

    Parameters
    ----------
    geometry : SliceGeometry, dict or path
        The geometry of the whole stack.
    start, stop : int
        The slices to keep, ``0 <= start < stop <= n_slices``.

    Returns
    -------
    SliceGeometry
        Same source grid and plane size, the planes ``start:stop`` only (an
        open curve, even if the whole one is a closed loop).

    Examples
    --------
    >>> from napari_backproject.geometry import make_slice_geometry
    >>> g = make_slice_geometry([[0, 5, 5], [8, 5, 5]], source_shape=(9, 11, 11),
    ...                         source_dtype="uint8", width=5, height=5)
    >>> slab_geometry(g, 2, 5).straightened_shape
    (3, 5, 5)
    """
    g = SliceGeometry.coerce(geometry)
    start, stop = int(start), int(stop)
    if not 0 <= start < stop <= g.n_slices:
        raise ValueError(
            f"slices {start}:{stop} are not a non-empty range of the stack's "
            f"{g.n_slices} slices; use 0 <= start < stop <= {g.n_slices}."
        )
    options = dict(g.options)
    options["closed"] = False
    options["slab"] = [start, stop]
    return dataclasses.replace(
        g,
        centers=g.centers[start:stop],
        tangents=g.tangents[start:stop],
        e_u=g.e_u[start:stop],
        e_v=g.e_v[start:stop],
        options=options,
    )


def link(viewer: Any, straightened_layer: Any, source_layer: Any, **kwargs: Any) -> Any:
    """Link a straightened layer and its source in napari (console API).

    Moving the mouse over one space shows a marker at the corresponding place
    in the other, Alt-click jumps between them, and the current slice's
    plane and the curve are drawn in the source space. See
    :class:`napari_backproject._widgets.link.ViewLink` for the options.

    Parameters
    ----------
    viewer : napari.Viewer
        The viewer showing the straightened layer (and the source, unless
        ``source_viewer`` is given).
    straightened_layer : napari.layers.Image or Labels
        A layer whose metadata carries a slice geometry.
    source_layer : napari.layers.Layer
        The source image (its world is the geometry's world).
    **kwargs
        Passed to ``ViewLink`` (e.g. ``source_viewer=``, ``marker_size=``).

    Returns
    -------
    ViewLink
        The live link; ``.close()`` removes its layers and callbacks.

    Examples
    --------
    >>> from napari.components import ViewerModel
    >>> from napari_backproject import straighten
    >>> from napari_backproject.data import helix_neurite
    >>> s = helix_neurite(shape=(48, 48, 48), seed=0)
    >>> data, g = straighten(s.volume, s.points, width=16, height=16, scale=s.scale)
    >>> viewer = ViewerModel()
    >>> src = viewer.add_image(s.volume, name="helix", scale=s.scale)
    >>> st = viewer.add_image(data, name="helix straightened",
    ...                       metadata={"slice_geometry": g.to_dict()})
    >>> lk = link(viewer, st, src)
    >>> viewer.layers.selection.active = st
    >>> viewer.cursor.position = (10.0, 8.0, 8.0)  # the mouse over the stack
    >>> lk.status.startswith("straightened (10.00, 8.00, 8.00)")
    True
    >>> lk.close()
    """
    from ._widgets.link import ViewLink

    return ViewLink(viewer, straightened_layer, source_layer, **kwargs)
