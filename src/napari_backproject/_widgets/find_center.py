"""The Find centre dock widget: the rotation axis, found and checked by eye.

Thin: it takes one detector row of a projections layer (angle, row, column),
calls :func:`napari_backproject.find_center` and
:func:`napari_backproject.center_sweep` in a background job, and shows the
sweep as an image layer whose first axis *is* the centre (its scale is the
step and its translate the first candidate, so the slider reads in detector
pixels). Scrolling the sweep sets the centre box; *Use centre* stores the
value in the projections layer's ``metadata["center"]``, where the
Reconstruct widget reads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import Container, FloatSpinBox, Label, SpinBox, create_widget
from napari.layers import Image
from napari.utils.notifications import show_info, show_warning
from qtpy.QtWidgets import QPushButton, QWidget

from .._ct.center import CenterSweep, center_sweep, check_center, find_center
from .._ct.projections import projection_angles
from .._progress import Progress
from ._dock import dock_layout, follow_layers
from ._job import JobControls
from ._projections import guarded, projections_layer

if TYPE_CHECKING:  # pragma: no cover
    import napari

__all__ = ["FindCenterWidget", "center_job", "SWEEP_NAME"]

#: name of the sweep layer
SWEEP_NAME = "centre sweep"


def center_job(sinogram: np.ndarray, theta: np.ndarray, half_range: float, step: float):
    """Generator job: the automatic centre, then the sweep around it.

    Yields :class:`~napari_backproject._progress.Progress` (one step for the
    search, one per candidate) and returns ``(center, sweep)``.

    Examples
    --------
    >>> import numpy as np
    >>> gen = center_job(np.ones((32, 40)), np.linspace(0, 180, 40, endpoint=False),
    ...                  1.0, 0.5)
    >>> try:
    ...     while True:
    ...         _ = next(gen)
    ... except StopIteration as stop:
    ...     center, sweep = stop.value
    >>> sweep.images.shape
    (5, 32, 32)
    """
    n_det = sinogram.shape[0]
    offsets = np.arange(-half_range, half_range + 0.5 * step, step)
    total = offsets.size + 1
    yield Progress(0, total, "Searching the centre")
    center = find_center(sinogram, theta)
    yield Progress(1, total, f"Automatic centre {center:.2f}; sweeping")
    centers = center + offsets
    centers = centers[(centers >= 0) & (centers <= n_det - 1)]
    images = []
    for k, c in enumerate(centers):  # one at a time: Cancel stops in between
        images.append(center_sweep(sinogram, theta, [c]).images[0])
        yield Progress(k + 2, total, f"Centre {c:.2f}")
    sweep = CenterSweep(np.stack(images), centers)
    return center, sweep


class FindCenterWidget(QWidget):
    """Dock widget: find the rotation centre and confirm it on a sweep.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer

    Examples
    --------
    >>> widget = FindCenterWidget(viewer)  # doctest: +SKIP
    >>> widget.run_button.click()  # doctest: +SKIP
    >>> widget.use_button.click()  # doctest: +SKIP
    """

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.projections = create_widget(annotation=Image, label="projections")
        self.theta_info = Label(value="", label="θ")
        self.row = SpinBox(value=0, min=0, max=100000, label="detector row")
        self.half_range = FloatSpinBox(
            value=5.0, min=0.5, max=500.0, step=0.5, label="sweep ± (px)"
        )
        self.step = FloatSpinBox(value=0.5, min=0.05, max=10.0, step=0.05, label="step")
        self.auto = Label(value="—", label="automatic")
        self.center = FloatSpinBox(
            value=0.0, min=0.0, max=1e6, step=0.05, label="centre (px)"
        )
        self.run_button = QPushButton("Find centre", self)
        self.use_button = QPushButton("Use centre", self)
        self.container = Container(
            widgets=[
                self.projections,
                self.theta_info,
                self.row,
                self.half_range,
                self.step,
                self.auto,
                self.center,
            ]
        )
        self.controls = JobControls(self)
        dock_layout(
            self, self.container, [self.run_button, self.use_button], self.controls
        )
        #: the automatic centre of the last run (None before)
        self.found: float | None = None
        self._source: Image | None = None
        self.run_button.clicked.connect(guarded(self.controls, self.run))
        self.use_button.clicked.connect(guarded(self.controls, self.use_center))
        self.projections.changed.connect(self._on_projections_changed)
        self.viewer.dims.events.current_step.connect(self._on_step)
        follow_layers(self.viewer, self.reset_choices)
        self._on_projections_changed()

    # ------------------------------------------------------------- state
    def reset_choices(self, event: Any = None) -> None:
        """Refresh the layer list.

        Examples
        --------
        >>> widget.reset_choices()  # doctest: +SKIP
        """
        self.container.reset_choices()

    def _layer(self) -> Image:
        return projections_layer(self.projections.value)

    def theta(self) -> np.ndarray:
        """The angles of the chosen layer (its metadata, else uniform [0, 180)).

        Examples
        --------
        >>> widget.theta()[:2]  # doctest: +SKIP
        array([0., 1.])
        """
        layer = self._layer()
        n = int(layer.data.shape[0])
        try:
            return projection_angles(n, metadata=layer.metadata)
        except ValueError:
            return projection_angles(n)

    def _on_projections_changed(self, *_: Any) -> None:
        layer = self.projections.value
        if layer is None or layer.data.ndim != 3:
            self.theta_info.value = "no projections layer"
            return
        n_rows, n_det = int(layer.data.shape[1]), int(layer.data.shape[2])
        self.row.max = n_rows - 1
        self.row.value = n_rows // 2
        self.center.max = n_det - 1
        self.center.value = float(layer.metadata.get("center", n_det // 2))
        theta = self.theta()
        self.theta_info.value = f"{theta.size} angles, {theta[0]:g}…{theta[-1]:g}°"

    def _sweep_layer(self) -> Image | None:
        if SWEEP_NAME in self.viewer.layers:
            return self.viewer.layers[SWEEP_NAME]
        return None

    def shown_center(self) -> float | None:
        """The candidate centre of the sweep slice on screen (None: no sweep).

        Examples
        --------
        >>> widget.shown_center()  # doctest: +SKIP
        67.25
        """
        layer = self._sweep_layer()
        if layer is None:
            return None
        centers = np.asarray(layer.metadata["centers"])
        point = np.asarray(self.viewer.dims.point, dtype=float)[-layer.ndim :]
        index = int(
            np.clip(np.round(layer.world_to_data(point)[0]), 0, centers.size - 1)
        )
        return float(centers[index])

    def _on_step(self, *_: Any) -> None:
        shown = self.shown_center()
        if shown is not None:
            self.center.value = shown
            self.controls.status.setText(
                f"Showing centre {shown:.2f} px (automatic {self.found:.2f})"
                if self.found is not None
                else f"Showing centre {shown:.2f} px"
            )

    # ------------------------------------------------------------- actions
    def run(self):
        """Find the centre of the chosen row and add the sweep; returns the worker.

        Examples
        --------
        >>> worker = widget.run()  # doctest: +SKIP
        """
        if self.controls.running:
            raise RuntimeError("already searching; cancel it first")
        layer = self._layer()
        theta = self.theta()
        row = int(self.row.value)
        if np.dtype(layer.data.dtype).kind in "iu":
            show_warning(
                f"{layer.name!r} holds integers: raw counts? The centre is found "
                "on prepared projections (Prepare projections: flats, -log)."
            )
        plane = layer.data[:, row, :]
        plane = np.asarray(plane.compute() if hasattr(plane, "compute") else plane)
        sinogram = np.ascontiguousarray(plane.T, dtype=np.float32)
        step = float(self.step.value)
        pixel = float(layer.scale[-1])
        self._source = layer

        def returned(result) -> None:
            center, sweep = result
            self.found = float(center)
            self.auto.value = f"{center:.2f} px"
            meta = {
                "centers": sweep.centers.tolist(),
                "center": float(center),
                "source": layer.name,
                "row": row,
            }
            if SWEEP_NAME in self.viewer.layers:
                self.viewer.layers.remove(SWEEP_NAME)
            self.viewer.add_image(
                sweep.images,
                name=SWEEP_NAME,
                scale=(step, pixel, pixel),
                translate=(float(sweep.centers[0]), 0.0, 0.0),
                colormap="gray",
                metadata=meta,
                axis_labels=("centre (px)", "y", "x"),
            )
            # show the automatic centre's slice first
            nearest = int(np.argmin(np.abs(sweep.centers - center)))
            axis = self.viewer.dims.ndim - 3  # the sweep's first axis, in world
            self.viewer.dims.set_point(axis, float(sweep.centers[nearest]))
            self.center.value = float(sweep.centers[nearest])
            self.controls.status.setText(
                f"Automatic centre {center:.2f} px; scroll the sweep to check, "
                "then Use centre"
            )

        return self.controls.start(
            center_job,
            sinogram,
            theta,
            float(self.half_range.value),
            step,
            on_returned=returned,
            description="Find centre",
        )

    def use_center(self) -> float:
        """Store the centre box's value in the projections layer's metadata.

        Returns the centre. The Reconstruct widget reads
        ``metadata["center"]`` (its centre box follows it) and shows the
        row of ``metadata["center_row"]`` first.

        Examples
        --------
        >>> widget.use_center()  # doctest: +SKIP
        67.25
        """
        layer = self._source if self._source in self.viewer.layers else self._layer()
        value = check_center(self.center.value, int(layer.data.shape[2]))
        layer.metadata = {
            **layer.metadata,
            "center": value,
            "center_row": int(self.row.value),
        }
        show_info(f"Rotation centre {value:.2f} px stored in {layer.name!r}")
        self.controls.status.setText(f"Centre {value:.2f} px stored in {layer.name!r}")
        return value
