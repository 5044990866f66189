"""Preview a segmentation of the straightened stack on its source (napari glue).

A :class:`SlabPreview` shows, in the source space, the slab of a Labels
layer painted on the straightened stack around the current slice,
backprojected on the fly by
:meth:`~napari_backproject.linking.LinkedSpaces.backproject_slab`. It follows
the current slice and every paint stroke, so the user sees where the
segmentation lands before running the full backprojection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..linking import LinkedSpaces

PREVIEW = "link: labels preview"


def _qt_app() -> Any:
    """The running Qt application, or None (no Qt imported: plain napari model)."""
    import sys

    if "qtpy" not in sys.modules:
        return None
    from qtpy.QtWidgets import QApplication

    return QApplication.instance()


class SlabPreview:
    """The current slab of ``labels`` drawn in the source viewer.

    Parameters
    ----------
    spaces : LinkedSpaces
        The link's model (geometry and where the stack is drawn).
    labels : napari.layers.Labels
        Painted on the straightened stack (its shape).
    source_viewer : napari.Viewer
        Where the preview layer is added.
    current_slice : callable
        Returns the slice the user is looking at.
    half_width : int
        Slices on each side of the current one.

    Examples
    --------
    >>> from napari.components import ViewerModel
    >>> from napari_backproject.data import helix_neurite
    >>> from napari_backproject.linking import LinkedSpaces
    >>> from napari_backproject import straighten
    >>> s = helix_neurite(shape=(48, 48, 48), seed=0)
    >>> labels, g = straighten(s.mask, s.points, width=16, height=16, scale=s.scale)
    >>> v = ViewerModel()
    >>> layer = v.add_labels(labels)
    >>> p = SlabPreview(LinkedSpaces(g), layer, v, lambda: 10, half_width=2)
    >>> p.layer.name, p.slab
    ('link: labels preview', (8, 13))
    >>> p.close(); PREVIEW in v.layers
    False
    """

    def __init__(
        self,
        spaces: LinkedSpaces,
        labels: Any,
        source_viewer: Any,
        current_slice: Any,
        *,
        half_width: int = 4,
    ) -> None:
        if type(labels).__name__ != "Labels":
            raise ValueError(
                f"layer {getattr(labels, 'name', labels)!r} is not a Labels layer; "
                "preview a segmentation painted on the straightened stack."
            )
        if getattr(labels, "multiscale", False):
            raise ValueError(
                f"layer {labels.name!r} is multiscale; preview a single-scale Labels "
                "layer."
            )
        shape = tuple(labels.data.shape)
        if shape != spaces.geometry.straightened_shape:
            raise ValueError(
                f"layer {labels.name!r} has shape {shape} but the straightened stack "
                f"is {spaces.geometry.straightened_shape}; paint on a layer of the "
                "stack's shape."
            )
        if int(half_width) < 0:
            raise ValueError(f"half_width must be >= 0 slices; got {half_width}.")
        self.spaces = spaces
        self.labels = labels
        self.viewer = source_viewer
        self.current_slice = current_slice
        self.half_width = int(half_width)
        self.slab: tuple[int, int] | None = None
        self._closed = False
        self._pending = False
        keep = source_viewer.layers.selection.active
        self.layer = source_viewer.add_labels(
            np.zeros((1, 1, 1), dtype=labels.data.dtype),
            name=PREVIEW,
            opacity=0.7,
            colormap=labels.colormap,
        )
        if keep is not None and keep in source_viewer.layers:
            source_viewer.layers.selection.active = keep
        self._events = [labels.events.paint, labels.events.data]
        for ev in self._events:
            ev.connect(self._on_labels)
        self.update(force=True)

    def _on_labels(self, event: Any = None) -> None:
        # napari announces a paint before it writes the pixels (outside a
        # mouse stroke): update once the event loop has finished the edit
        app = _qt_app()
        if app is None:
            self.update(force=True)
            return
        if not self._pending:
            self._pending = True
            from qtpy.QtCore import QTimer

            QTimer.singleShot(0, self._deferred)

    def _deferred(self) -> None:
        self._pending = False
        self.update(force=True)

    def update(self, *, force: bool = False) -> tuple[int, int] | None:
        """Recompute the preview if the slab moved (or ``force``); the slab."""
        if self._closed:
            return None
        index = int(self.current_slice())
        slab = self.spaces.slab(index, self.half_width)
        if slab == self.slab and not force:
            return slab
        self.slab = slab
        res = self.spaces.backproject_slab(
            self.labels.data, index, half_width=self.half_width
        )
        if res is None:  # the slab misses the source volume
            self.layer.data = np.zeros((1, 1, 1), dtype=self.labels.data.dtype)
            self.layer.visible = False
            return slab
        data, place = res
        self.layer.data = data
        self.layer.scale = place["scale"]
        self.layer.translate = place["translate"]
        self.layer.visible = True
        return slab

    def close(self) -> None:
        """Stop following the labels and remove the preview layer."""
        if self._closed:
            return
        self._closed = True
        for ev in self._events:
            ev.disconnect(self._on_labels)
        if self.layer in self.viewer.layers:
            self.viewer.layers.remove(self.layer)
