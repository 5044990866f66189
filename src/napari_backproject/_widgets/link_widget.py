"""The "Link views" dock widget: link a straightened layer and its source.

Chooses the two layers and turns a :class:`~napari_backproject._widgets.link.ViewLink`
on and off; maps annotation layers across and previews a Labels layer painted
on the stack on the source (the current slab).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from magicgui.widgets import CheckBox, ComboBox, Container, Label, PushButton

from ._layers import geometry_of
from .link import PREFIX, ViewLink

if TYPE_CHECKING:
    import napari


class LinkViewsWidget(Container):
    """Dock widget "Link views": link a straightened layer and its source.

    Examples
    --------
    >>> w = LinkViewsWidget(viewer)  # doctest: +SKIP
    >>> w.linked.value = True  # doctest: +SKIP
    """

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        self.viewer = napari_viewer
        self.straightened = ComboBox(label="straightened", choices=self._straightened)
        self.source = ComboBox(label="source", choices=self._sources)
        self.linked = CheckBox(text="Linked (cursor, Alt-click, plane)", value=False)
        self.annotations = ComboBox(label="annotations", choices=self._annotations)
        self.to_source = PushButton(text="Map to source")
        self.to_straightened = PushButton(text="Map to straightened")
        self.segmentation = ComboBox(
            label="labels",
            choices=self._segmentations,
            tooltip="a Labels layer painted on the straightened stack",
        )
        self.preview = CheckBox(
            text="Preview labels on source (current slab)", value=False
        )
        self.info = Label(value="")
        super().__init__(
            widgets=[
                self.straightened,
                self.source,
                self.linked,
                self.annotations,
                self.to_source,
                self.to_straightened,
                self.segmentation,
                self.preview,
                self.info,
            ]
        )
        self.link: ViewLink | None = None
        self.linked.changed.connect(self._toggle)
        self.to_source.changed.connect(lambda *_: self._map("source"))
        self.to_straightened.changed.connect(lambda *_: self._map("straightened"))
        self.preview.changed.connect(self._toggle_preview)
        self.segmentation.changed.connect(self._relabel)
        self.straightened.changed.connect(lambda *_: self.segmentation.reset_choices())
        for ev in (
            napari_viewer.layers.events.inserted,
            napari_viewer.layers.events.removed,
        ):
            ev.connect(self._refresh)

    def _refresh(self, event: Any = None) -> None:
        for combo in (
            self.straightened,
            self.source,
            self.annotations,
            self.segmentation,
        ):
            combo.reset_choices()
        if self.link is not None and (
            self.link.straightened_layer not in self.viewer.layers
            or self.link.source_layer not in self.viewer.layers
        ):
            self.linked.value = False

    def _straightened(self, _w: Any = None) -> list:
        return [
            (layer.name, layer)
            for layer in self.viewer.layers
            if layer.ndim == 3 and geometry_of(layer) is not None
        ]

    def _sources(self, _w: Any = None) -> list:
        return [
            (layer.name, layer)
            for layer in self.viewer.layers
            if type(layer).__name__ in ("Image", "Labels")
            and layer.ndim == 3
            and geometry_of(layer) is None
            and not layer.name.startswith(PREFIX)
        ]

    def _annotations(self, _w: Any = None) -> list:
        return [
            (layer.name, layer)
            for layer in self.viewer.layers
            if type(layer).__name__ in ("Points", "Shapes")
            and layer.ndim == 3
            and not layer.name.startswith(PREFIX)
        ]

    def _segmentations(self, _w: Any = None) -> list:
        s = self.straightened.value if hasattr(self, "straightened") else None
        if s is None:
            return []
        shape = tuple(s.data.shape)
        return [
            (layer.name, layer)
            for layer in self.viewer.layers
            if type(layer).__name__ == "Labels"
            and not getattr(layer, "multiscale", False)
            and tuple(layer.data.shape) == shape
            and not layer.name.startswith(PREFIX)
        ]

    def _relabel(self, *_: Any) -> None:
        if self.preview.value:
            self._toggle_preview(True)

    def _toggle_preview(self, on: bool) -> None:
        from napari.utils.notifications import show_error

        if self.link is not None:
            self.link.stop_preview()
        if not on:
            return
        labels = self.segmentation.value
        if self.link is None or labels is None:
            show_error(
                "Link views: turn the link on and choose a Labels layer painted on "
                "the straightened stack."
            )
            self.preview.value = False
            return
        try:
            p = self.link.preview_labels(labels)
        except ValueError as exc:
            show_error(f"Link views: {exc}")
            self.preview.value = False
            return
        self.info.value = (
            f"Previewing {labels.name!r} on the source: slices {p.slab[0]}-"
            f"{p.slab[1] - 1} around the current one."
        )

    def _toggle(self, on: bool) -> None:
        from napari.utils.notifications import show_error

        if self.link is not None:
            self.link.close()
            self.link = None
        if not on:
            self.info.value = "Not linked."
            if self.preview.value:
                self.preview.value = False
            return
        s, src = self.straightened.value, self.source.value
        if s is None or src is None:
            show_error("Link views: choose a straightened layer and its source.")
            self.linked.value = False
            return
        try:
            self.link = ViewLink(self.viewer, s, src)
        except ValueError as exc:
            show_error(f"Link views: {exc}")
            self.linked.value = False
            return
        self.info.value = f"Linked {s.name!r} ↔ {src.name!r}. Alt-click to jump."

    def _map(self, to: str) -> None:
        from napari.utils.notifications import show_error

        layer = self.annotations.value
        if self.link is None or layer is None:
            show_error("Link views: turn the link on and choose an annotation layer.")
            return
        try:
            new = self.link.map_annotations(layer, to)
        except ValueError as exc:
            show_error(f"Link views: {exc}")
            return
        self.info.value = f"Mapped {layer.name!r} to {to}: {len(new.data)} kept."
