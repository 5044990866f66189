"""Linked views of a straightened layer and its source (napari glue).

:class:`ViewLink` connects viewer events to the Qt-free model
:class:`~napari_backproject.linking.LinkedSpaces`: a linked cursor (a Points
marker in the other space and both world positions in the status bar),
Alt-click to jump, the current slice's plane and the curve drawn in the
source space, annotation layers mapped across, and a Labels layer painted on
the stack previewed on the source, slab by slab
(:class:`~napari_backproject._widgets.link_preview.SlabPreview`). The
"Link views" dock widget that turns a link on and off is in
:mod:`~napari_backproject._widgets.link_widget`.

In one viewer both layers share the world and the dims, so the space the
mouse is in is decided by the layers: if only one of the two is visible, that
one; otherwise the selected layer (the straightened layer, or a layer of its
shape, means the straightened space). With ``source_viewer=`` each viewer is
its own space.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..linking import LinkedSpaces
from ._layers import geometry_of
from .link_preview import SlabPreview

if TYPE_CHECKING:
    import napari

PREFIX = "link: "
SOURCE_MARKER = PREFIX + "source cursor"
STRAIGHT_MARKER = PREFIX + "straightened cursor"
PLANE = PREFIX + "current plane"
PLANE_QUAD = PREFIX + "current plane (quad)"
CURVE = PREFIX + "curve"
_FACES = np.array([[0, 1, 2], [0, 2, 3]])


def _fmt(p: np.ndarray) -> str:
    if p is None or not np.all(np.isfinite(p)):
        return "(no plane)"
    return "(" + ", ".join(f"{x:.2f}" for x in p) + ")"


def _place(layer: Any) -> dict:
    return {"scale": tuple(layer.scale), "translate": tuple(layer.translate)}


def _to_data(world: np.ndarray, layer: Any) -> np.ndarray:
    return (world - np.asarray(layer.translate)) / np.asarray(layer.scale)


def _to_world(data: np.ndarray, layer: Any) -> np.ndarray:
    return np.asarray(data, dtype=float) * np.asarray(layer.scale) + np.asarray(
        layer.translate
    )


class ViewLink:
    """A live link between a straightened layer and its source.

    Parameters
    ----------
    viewer : napari.Viewer
        The viewer of the straightened layer (and of the source unless
        ``source_viewer`` is given).
    straightened_layer : napari.layers.Layer
        A 3D layer with a slice geometry in its metadata.
    source_layer : napari.layers.Layer
        The 3D source image (drawn in the geometry's world).
    source_viewer : napari.Viewer, optional
        A second viewer showing the source.
    marker_size : float, optional
        Marker size in world units; default three plane spacings.
    show_plane : bool
        Draw the current slice's plane and the curve in the source space.
    jump_modifier : str
        Modifier key for click-to-jump (default ``"Alt"``).

    Examples
    --------
    >>> lk = ViewLink(viewer, viewer.layers["helix straightened"],
    ...               viewer.layers["helix"])  # doctest: +SKIP
    >>> lk.close()  # doctest: +SKIP
    """

    def __init__(
        self,
        viewer: napari.Viewer,
        straightened_layer: Any,
        source_layer: Any,
        *,
        source_viewer: napari.Viewer | None = None,
        marker_size: float | None = None,
        show_plane: bool = True,
        jump_modifier: str = "Alt",
    ) -> None:
        geometry = geometry_of(straightened_layer)
        if geometry is None:
            raise ValueError(
                f"layer {straightened_layer.name!r} has no slice geometry in its "
                "metadata; link a layer made by Straighten (or opened from its TIFF)."
            )
        for layer in (straightened_layer, source_layer):
            if layer.ndim != 3:
                raise ValueError(
                    f"layer {layer.name!r} has {layer.ndim} dimensions; linking "
                    "needs 3D (z, y, x) layers."
                )
        if straightened_layer is source_layer:
            raise ValueError("choose two different layers: straightened and source.")
        self.viewer = viewer
        self.source_viewer = viewer if source_viewer is None else source_viewer
        self.straightened_layer = straightened_layer
        self.source_layer = source_layer
        self.spaces = LinkedSpaces(
            geometry, straightened_layer.scale, straightened_layer.translate
        )
        self.jump_modifier = jump_modifier
        self.status = ""
        self.current_slice: int | None = None
        self.last_jump: int | None = None
        self.preview: SlabPreview | None = None
        self._closed = False
        size = 3 * geometry.spacing if marker_size is None else float(marker_size)

        keep_active = {v: v.layers.selection.active for v in self._viewers()}
        empty = np.zeros((0, 3))
        self.source_marker = self.source_viewer.add_points(
            empty,
            name=SOURCE_MARKER,
            size=size,
            face_color="magenta",
            border_color="white",
            **_place(source_layer),
        )
        self.straightened_marker = self.viewer.add_points(
            empty,
            name=STRAIGHT_MARKER,
            size=size,
            face_color="magenta",
            border_color="white",
            **_place(straightened_layer),
        )
        self._layers = [self.source_marker, self.straightened_marker]
        self.plane = self.plane_quad = self.curve = None
        if show_plane:
            self._add_plane_layers(geometry.spacing)
        for v, active in keep_active.items():
            if active is not None and active in v.layers:
                v.layers.selection.active = active

        self._connections: list[tuple[Any, Any]] = []
        self._base_status: dict = {}
        self._writing_status = False
        for v in self._viewers():
            self._connect(v.cursor.events.position, self._cursor_callback(v))
            self._connect(v.events.status, self._status_callback(v))
            v.mouse_drag_callbacks.append(self._on_click)
        self._connect(self.viewer.dims.events.point, self._on_dims)
        self._on_dims()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self._closed

    # ------------------------------------------------------------ set-up
    def _viewers(self) -> list:
        if self.source_viewer is self.viewer:
            return [self.viewer]
        return [self.viewer, self.source_viewer]

    def _connect(self, emitter: Any, callback: Any) -> None:
        emitter.connect(callback, position="last")  # after napari's status
        self._connections.append((emitter, callback))

    def _cursor_callback(self, viewer: Any) -> Any:
        def _on_cursor(event: Any = None) -> None:
            self.update_cursor(viewer.cursor.position, self.space_of(viewer))

        return _on_cursor

    def _status_callback(self, viewer: Any) -> Any:
        # napari's GUI computes its status in a thread and sets it later; keep
        # the link's text by appending it to whatever napari shows
        def _on_status(event: Any = None) -> None:
            if self._writing_status or not self.status:
                return
            now = viewer.status
            text = now.get("coordinates", "") if isinstance(now, dict) else now
            if str(text).endswith(self.status):  # ours (events may come late)
                return
            self._base_status[id(viewer)] = viewer.status
            self._show_status(viewer)

        return _on_status

    def _show_status(self, viewer: Any) -> None:
        base = self._base_status.get(id(viewer), "")
        if isinstance(base, dict):
            shown = dict(base)
            coords = str(shown.get("coordinates", ""))
            shown["coordinates"] = f"{coords}   {self.status}".strip()
        else:
            shown = (
                f"{base}   {self.status}".strip()
                if base not in ("", "Ready")
                else (self.status)
            )
        self._writing_status = True
        try:
            viewer.status = shown
        finally:
            self._writing_status = False

    def _add_plane_layers(self, spacing: float) -> None:
        src = self.source_layer
        place = _place(src)
        width = max(0.5, 0.5 * spacing / float(min(src.scale)))
        self.curve = self.source_viewer.add_shapes(
            [_to_data(self.spaces.curve(), src)],
            shape_type="path",
            name=CURVE,
            edge_color="yellow",
            edge_width=width,
            **place,
        )
        q = _to_data(self.spaces.plane_quad(0), src)
        self.plane_quad = self.source_viewer.add_surface(
            (q, _FACES), name=PLANE_QUAD, opacity=0.3, colormap="cyan", **place
        )
        self.plane = self.source_viewer.add_shapes(
            [_to_data(self.spaces.plane_outline(0), src)]
            + [_to_data(self.spaces.tick(0), src)],
            shape_type="path",
            name=PLANE,
            edge_color=["cyan", "red"],
            edge_width=[width, 2 * width],
            **place,
        )
        self._layers += [self.curve, self.plane_quad, self.plane]

    # ------------------------------------------------------------ spaces
    def space_of(self, viewer: Any) -> str | None:
        """Which space the mouse of ``viewer`` is in: ``"straightened"``, ``"source"`` or None.

        Two viewers: the viewer's. Grid mode: the cell under the mouse (the
        layer it shows). One view: the only visible one of the two layers,
        else the selected layer.
        """
        if self.source_viewer is not self.viewer:
            return "straightened" if viewer is self.viewer else "source"
        s, src = self.straightened_layer, self.source_layer
        grid = getattr(getattr(viewer, "canvas", None), "grid", None)
        cell = getattr(viewer.cursor, "viewbox", None)
        if grid is not None and grid.enabled and cell is not None:
            # grid mode: the cell under the mouse holds the layer it shows
            inside = [viewer.layers[i] for i in grid.contents_at(cell, viewer.layers)]
            if any(layer is s for layer in inside):
                return "straightened"
            if any(layer is src for layer in inside):
                return "source"
            return None
        if s.visible != src.visible:
            return "straightened" if s.visible else "source"
        active = viewer.layers.selection.active
        if active is None or active in self._layers:
            return None
        if active is s or (
            active is not src
            and tuple(active.data.shape[-3:]) == tuple(s.data.shape[-3:])
            and np.allclose(active.scale[-3:], s.scale)
        ):
            return "straightened"
        return "source"

    # ------------------------------------------------------------ cursor
    def update_cursor(self, position: Any, space: str | None) -> str:
        """Move the markers for a cursor at world ``position`` in ``space``.

        Returns (and shows in the status bar) the world coordinates of both.
        """
        pos = np.asarray(position, dtype=float)[-3:]
        if self._closed or space is None or pos.shape != (3,):
            return self.status  # e.g. a viewer emptied while closing
        if space == "straightened":
            other = self.spaces.to_source_world(pos)
            target, layer, clear = (
                self.source_marker,
                self.source_layer,
                (self.straightened_marker),
            )
            text = f"straightened {_fmt(pos)} ↔ source {_fmt(other)}"
            status_viewer = self.viewer
        elif space == "source":
            other = self.spaces.to_straightened_world(pos)
            target, layer, clear = (
                self.straightened_marker,
                (self.straightened_layer),
                self.source_marker,
            )
            text = f"source {_fmt(pos)} ↔ straightened {_fmt(other)}"
            status_viewer = self.source_viewer
        else:
            raise ValueError(
                f"space must be 'straightened' or 'source'; got {space!r}."
            )
        if np.all(np.isfinite(other)):
            target.data = _to_data(other, layer)[None, :]
        elif len(target.data):
            target.data = np.zeros((0, 3))
        if len(clear.data):
            clear.data = np.zeros((0, 3))
        self.status = text
        self._show_status(status_viewer)
        return text

    # ------------------------------------------------------------- click
    def _on_click(self, viewer: Any, event: Any) -> None:
        if self._closed or getattr(event, "type", "mouse_press") != "mouse_press":
            return
        if self.jump_modifier not in tuple(getattr(event, "modifiers", ())):
            return
        space = self.space_of(viewer)
        if space is None:
            return
        direction = None
        if viewer.dims.ndisplay == 3:
            direction = getattr(event, "view_direction", None)
        self.jump(event.position, space, view_direction=direction)

    def jump(
        self, position: Any, space: str, *, view_direction: Any = None
    ) -> int | np.ndarray | None:
        """Click-to-jump from world ``position`` in ``space``.

        From the source: the straightened stack moves to the nearest slice
        whose plane contains the point (or nearest to the viewing ray in 3D)
        and that index is returned. From the straightened space: the source
        view is centred on the corresponding point, which is returned.
        None (with a notification) when no plane reaches the point.
        """
        from napari.utils.notifications import show_info

        pos = np.asarray(position, dtype=float)[-3:]
        if space == "source":
            if view_direction is not None:
                index = self.spaces.nearest_slice_to_ray(pos, view_direction[-3:])
            else:
                index = self.spaces.nearest_slice(pos)
            if index is None:
                show_info(f"No plane of the straightened stack reaches {_fmt(pos)}.")
                return None
            self.viewer.dims.set_point(0, self.spaces.slice_world(index))
            self.last_jump = index
            return index
        if space == "straightened":
            world = self.spaces.to_source_world(pos)
            if not np.all(np.isfinite(world)):
                show_info(f"{_fmt(pos)} is outside the straightened stack.")
                return None
            v = self.source_viewer
            camera = v.scene.camera if hasattr(v, "scene") else v.camera
            camera.center = tuple(world[list(v.dims.displayed)])
            if v is not self.viewer:  # one viewer: the dims belong to the stack
                v.dims.set_point(range(3), tuple(world))
            return world
        raise ValueError(f"space must be 'straightened' or 'source'; got {space!r}.")

    # ------------------------------------------------------------- plane
    def _on_dims(self, event: Any = None) -> None:
        if self._closed:
            return
        index = self.spaces.slice_index(self.viewer.dims.point[0])
        if index == self.current_slice:
            return
        self.current_slice = index
        if self.preview is not None:
            self.preview.update()
        if self.plane is None:
            return
        src = self.source_layer
        self.plane_quad.data = (_to_data(self.spaces.plane_quad(index), src), _FACES)
        self.plane.data = [
            _to_data(self.spaces.plane_outline(index), src),
            _to_data(self.spaces.tick(index), src),
        ]
        self.plane.edge_color = ["cyan", "red"]

    # ------------------------------------------------------ labels preview
    def preview_labels(self, labels: Any, *, half_width: int = 4) -> SlabPreview:
        """Preview ``labels`` (painted on the stack) on the source, slab by slab.

        The slices within ``half_width`` of the current one are backprojected
        on the fly into a Labels layer of the source space (``link: labels
        preview``), again whenever the slice changes or the labels are
        painted. Replaces an earlier preview.
        """
        self.stop_preview()
        self.preview = SlabPreview(
            self.spaces,
            labels,
            self.source_viewer,
            lambda: self.spaces.slice_index(self.viewer.dims.point[0]),
            half_width=half_width,
        )
        self._layers.append(self.preview.layer)
        return self.preview

    def stop_preview(self) -> None:
        """Remove the labels preview, if any."""
        if self.preview is not None:
            if self.preview.layer in self._layers:
                self._layers.remove(self.preview.layer)
            self.preview.close()
            self.preview = None

    # ------------------------------------------------------- annotations
    def map_annotations(self, layer: Any, to: str) -> Any:
        """Map a Points or Shapes layer into the other space (a new layer).

        Features/properties travel with their rows; points or shapes that
        lie on no plane are dropped (with a notification).

        Parameters
        ----------
        layer : napari.layers.Points or napari.layers.Shapes
            Drawn on the space opposite to ``to``.
        to : {"source", "straightened"}

        Returns
        -------
        napari.layers.Points or napari.layers.Shapes
            The new layer, added to the viewer of the target space.
        """
        from napari.utils.notifications import show_info

        kind = type(layer).__name__
        if kind not in ("Points", "Shapes"):
            raise ValueError(
                f"only Points and Shapes layers can be mapped; got {kind}."
            )
        if layer.ndim != 3:
            raise ValueError(f"layer {layer.name!r} must be 3D; it is {layer.ndim}D.")
        if to == "source":
            target, viewer = self.source_layer, self.source_viewer
        elif to == "straightened":
            target, viewer = self.straightened_layer, self.viewer
        else:
            raise ValueError(f"to must be 'source' or 'straightened'; got {to!r}.")
        name = f"{layer.name} → {to}"
        if kind == "Points":
            world = self.spaces.map_points(_to_world(layer.data, layer), to=to)
            keep = np.all(np.isfinite(world), axis=1)
            new = viewer.add_points(
                _to_data(world[keep], target),
                features=layer.features.iloc[np.flatnonzero(keep)].reset_index(
                    drop=True
                ),
                size=np.asarray(layer.size)[keep] if keep.any() else 10,
                name=name,
                **_place(target),
            )
        else:
            shapes, types, rows = [], [], []
            for i, (verts, st) in enumerate(
                zip(layer.data, layer.shape_type, strict=True)
            ):
                world = self.spaces.map_points(_to_world(verts, layer), to=to)
                if np.all(np.isfinite(world)):
                    shapes.append(_to_data(world, target))
                    types.append("polygon" if st == "rectangle" else st)
                    rows.append(i)
            keep = np.zeros(len(layer.data), dtype=bool)
            keep[rows] = True
            new = viewer.add_shapes(
                shapes or None,
                shape_type=types or "polygon",
                features=layer.features.iloc[rows].reset_index(drop=True),
                edge_color=np.asarray(layer.edge_color)[rows] if rows else "red",
                face_color=np.asarray(layer.face_color)[rows]
                if rows
                else "transparent",
                name=name,
                **_place(target),
            )
        dropped = int((~keep).sum())
        if dropped:
            what = "points" if kind == "Points" else "shapes"
            show_info(f"{dropped} {what} of {layer.name!r} lie on no plane; left out.")
        return new

    # ------------------------------------------------------------- close
    def close(self) -> None:
        """Disconnect every callback and remove the link's layers."""
        if self._closed:
            return
        self.stop_preview()
        self._closed = True
        for emitter, callback in self._connections:
            emitter.disconnect(callback)
        self._connections.clear()
        for v in self._viewers():
            if self._on_click in v.mouse_drag_callbacks:
                v.mouse_drag_callbacks.remove(self._on_click)
            for layer in self._layers:
                if layer in v.layers:
                    v.layers.remove(layer)
