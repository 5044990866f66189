"""The Prepare projections dock widget: raw projections -> prepared projections.

Thin: it reads the layers and options and calls
:func:`napari_backproject._ct.projections.prepare_projections` (flat/dark,
zingers, log, rings) in a background job with progress and Cancel, and
:func:`~napari_backproject._ct.projections.prepared_row` for the before/after
preview of one detector row's sinogram.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Optional

import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FloatSpinBox,
    SpinBox,
    create_widget,
)
from napari.layers import Image
from napari.utils.notifications import show_warning
from qtpy.QtWidgets import QPushButton, QWidget

from .._ct.projections import prepare_projections, prepared_row
from .._ct.scan import remove_rings
from .._progress import Progress, iter_chunks
from ._dock import dock_layout, follow_layers
from ._job import JobControls
from ._projections import PROJECTION_AXES, guarded, projections_layer

if TYPE_CHECKING:  # pragma: no cover
    import napari

__all__ = ["PrepareProjectionsWidget", "prepare_job", "BEFORE_NAME", "AFTER_NAME"]

#: names of the two preview layers (a row's sinogram before and after)
BEFORE_NAME = "sinogram before"
AFTER_NAME = "sinogram after"


def prepare_job(projections: Any, flats: Any, darks: Any, options: dict):
    """Generator job: prepare the projections in two passes.

    Flat/dark, outliers and log run on a few projections at a time (their
    natural chunks); rings then run on a few detector rows at a time (each
    needs all angles of its rows). Yields
    :class:`~napari_backproject._progress.Progress` after every chunk, and
    the text of each distinct warning raised on the way (clipped
    non-positive values, dead pixels: napari does not relay a worker's
    warnings); returns the prepared ``(angle, row, column)`` float32 array.

    Examples
    --------
    >>> import numpy as np
    >>> gen = prepare_job(np.ones((8, 4, 16)), np.full((16,), 2.0)[None, None]
    ...                   .repeat(4, 1), None, {"rings": False})
    >>> try:
    ...     while True:
    ...         _ = next(gen)
    ... except StopIteration as stop:
    ...     round(float(stop.value.max()), 4)
    0.6931
    """
    import dask.array as da

    options = dict(options)
    rings, ring_size = options.pop("rings", True), options.pop("ring_size", None)
    seen: set[str] = set()

    def news(caught: list) -> list[str]:
        texts = [str(w.message) for w in caught if str(w.message) not in seen]
        seen.update(texts)
        caught.clear()
        return list(dict.fromkeys(texts))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        lazy_in = projections
        if not isinstance(lazy_in, da.Array):
            lazy_in = da.from_array(projections, chunks=(8, -1, -1))
        lazy = prepare_projections(lazy_in, flats, darks, rings=False, **options)
        out = np.empty(lazy.shape, dtype=np.float32)
        n_angles, n_rows = int(lazy.shape[0]), int(lazy.shape[1])
        total = n_angles + (n_rows if rings else 0)
        yield from news(caught)
        yield Progress(0, total, "Preparing")
        for start, stop, block in iter_chunks(lazy, axis=0):
            out[start:stop] = block
            yield from news(caught)
            yield Progress(stop, total, f"Corrected projections {stop}/{n_angles}")
        if rings:
            for start in range(0, n_rows, 8):
                stop = min(n_rows, start + 8)
                out[:, start:stop] = remove_rings(out[:, start:stop], size=ring_size)
                yield from news(caught)
                yield Progress(n_angles + stop, total, f"Rings: rows {stop}/{n_rows}")
    return out


class PrepareProjectionsWidget(QWidget):
    """Dock widget: flat/dark correction, zingers, log and rings for projections.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        The viewer whose layers are offered and receives the result.

    Examples
    --------
    >>> widget = PrepareProjectionsWidget(viewer)  # doctest: +SKIP
    >>> widget.preview_button.click()  # doctest: +SKIP
    >>> widget.run_button.click()  # doctest: +SKIP
    """

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.projections = create_widget(annotation=Image, label="projections")
        self.flats = create_widget(annotation=Optional[Image], label="flats")  # noqa: UP045
        self.darks = create_widget(annotation=Optional[Image], label="darks")  # noqa: UP045
        self.method = ComboBox(
            choices=["median", "mean"], value="median", label="combine"
        )
        self.outliers = CheckBox(value=True, text="remove zingers / outliers")
        self.threshold = FloatSpinBox(
            value=0.0, min=0.0, max=1e9, step=0.01, label="threshold (0: auto)"
        )
        self.log = CheckBox(value=True, text="-log (attenuation)")
        self.rings = CheckBox(value=True, text="remove rings (stripes)")
        self.ring_size = SpinBox(value=0, min=0, max=201, label="ring filter (0: auto)")
        self.row = SpinBox(value=0, min=0, max=100000, label="preview row")
        self.preview_button = QPushButton("Preview row", self)
        self.run_button = QPushButton("Prepare", self)
        self.container = Container(
            widgets=[
                self.projections,
                self.flats,
                self.darks,
                self.method,
                self.outliers,
                self.threshold,
                self.log,
                self.rings,
                self.ring_size,
                self.row,
            ]
        )
        self.controls = JobControls(self)
        dock_layout(
            self, self.container, [self.preview_button, self.run_button], self.controls
        )
        #: warnings of the last run (also shown as notifications)
        self.warnings: list[str] = []
        self.preview_button.clicked.connect(guarded(self.controls, self.preview))
        self.run_button.clicked.connect(guarded(self.controls, self.run))
        self.projections.changed.connect(self._on_projections_changed)
        follow_layers(self.viewer, self.reset_choices)
        self._on_projections_changed()

    # ------------------------------------------------------------- state
    def reset_choices(self, event: Any = None) -> None:
        """Refresh the layer lists (called when layers are added or removed).

        Examples
        --------
        >>> widget.reset_choices()  # doctest: +SKIP
        """
        self.container.reset_choices()

    def _on_projections_changed(self, *_: Any) -> None:
        layer = self.projections.value
        if layer is not None and layer.data.ndim == 3:
            self.row.max = int(layer.data.shape[1]) - 1
            self.row.value = int(layer.data.shape[1]) // 2

    def options(self) -> dict:
        """Keyword arguments for ``prepare_projections`` from the form.

        Examples
        --------
        >>> widget.options()["log"]  # doctest: +SKIP
        True
        """
        return {
            "method": self.method.value,
            "outliers": bool(self.outliers.value),
            "threshold": float(self.threshold.value) or None,
            "log": bool(self.log.value),
            "rings": bool(self.rings.value),
            "ring_size": int(self.ring_size.value) or None,
        }

    def _inputs(self) -> tuple[Image, Any, Any]:
        layer = projections_layer(self.projections.value)
        flats = None if self.flats.value is None else self.flats.value.data
        darks = None if self.darks.value is None else self.darks.value.data
        return layer, flats, darks

    # ------------------------------------------------------------- actions
    def preview(self) -> None:
        """Show one row's sinogram before and after preparation, side by side.

        Examples
        --------
        >>> widget.preview()  # doctest: +SKIP
        """
        layer, flats, darks = self._inputs()
        row = int(self.row.value)
        before, after = prepared_row(layer.data, row, flats, darks, **self.options())
        gap = max(4, before.shape[1] // 20)
        for name, data, shift in (
            (BEFORE_NAME, before, 0),
            (AFTER_NAME, after, before.shape[1] + gap),
        ):
            meta = {"source": layer.name, "row": row, **self.options()}
            if name in self.viewer.layers:
                target = self.viewer.layers[name]
                target.data = data
                target.metadata = meta
                target.reset_contrast_limits()
            else:
                self.viewer.add_image(
                    data,
                    name=name,
                    translate=(0, shift),
                    colormap="gray",
                    metadata=meta,
                    axis_labels=("detector", "angle"),
                )
        self.controls.status.setText(
            f"Row {row}: before (left) and after (right), detector down, angle across"
        )

    def run(self):
        """Prepare the whole stack in a background job; returns the worker.

        Examples
        --------
        >>> worker = widget.run()  # doctest: +SKIP
        """
        if self.controls.running:
            raise RuntimeError("already preparing; cancel it first")
        layer, flats, darks = self._inputs()
        options = self.options()
        name = f"{layer.name} prepared"
        metadata = {
            key: value for key, value in layer.metadata.items() if key != "center"
        }
        metadata.update({"source": layer.name, "prepared": options})

        def returned(result: np.ndarray) -> None:
            if name in self.viewer.layers:
                self.viewer.layers.remove(name)
            self.viewer.add_image(
                result,
                name=name,
                scale=layer.scale,
                translate=layer.translate,
                colormap="gray",
                metadata=metadata,
                axis_labels=PROJECTION_AXES,
            )

        def warned(text: str) -> None:
            self.warnings.append(text)
            show_warning(text)

        self.warnings: list[str] = []
        return self.controls.start(
            prepare_job,
            layer.data,
            flats,
            darks,
            options,
            on_returned=returned,
            on_yielded=warned,
            description="Prepare projections",
        )
