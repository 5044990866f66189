"""The Sinogram dock widget: an image layer (2D or a stack) -> a sinogram layer.

The widget is thin: it reads parameters, calls
:func:`napari_backproject.tomography.radon` (one slice) or
:func:`napari_backproject.tomography.radon_stack` (a stack, computed chunk by
chunk in a background job with progress and Cancel) and adds the result as an
image layer whose angle axis is scaled in degrees.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import (
    CheckBox,
    Container,
    FloatSpinBox,
    Label,
    SpinBox,
    create_widget,
)
from napari.layers import Image
from napari.utils.notifications import show_error, show_warning
from qtpy.QtWidgets import QPushButton, QWidget

from .. import tomography
from .._progress import Progress, iter_chunks
from ._dock import dock_layout, follow_layers
from ._job import JobControls

if TYPE_CHECKING:  # pragma: no cover
    import napari

__all__ = ["SinogramWidget", "sinogram_job", "uniform_theta"]

#: axis labels of a sinogram layer (the slice axis only for stacks)
SINOGRAM_AXES = ("slice", "detector", "angle (deg)")


def uniform_theta(n_angles: int, start: float = 0.0, end: float = 180.0) -> np.ndarray:
    """``n_angles`` projection angles in degrees over ``[start, end)``.

    Parameters
    ----------
    n_angles : int
        Number of projections (at least 1).
    start, end : float
        Angle range in degrees; ``end`` is excluded and must exceed ``start``.

    Returns
    -------
    numpy.ndarray
        Float64 angles ``start + k * (end - start) / n_angles``.

    Examples
    --------
    >>> uniform_theta(4).tolist()
    [0.0, 45.0, 90.0, 135.0]
    """
    if int(n_angles) < 1:
        raise ValueError(f"the number of projections must be >= 1; got {n_angles}.")
    if not np.isfinite(start) or not np.isfinite(end) or end <= start:
        raise ValueError(
            f"the angle range must be finite with end > start; got [{start}, {end})."
        )
    return np.linspace(float(start), float(end), int(n_angles), endpoint=False)


def sinogram_job(data: Any, theta: np.ndarray, circle: bool):
    """Generator job: the sinogram(s) of ``data``, one chunk at a time.

    Yields :class:`~napari_backproject._progress.Progress` after every chunk
    (so a JobControls Cancel stops it there) and returns the sinogram:
    ``(detector, angle)`` for a 2D image, ``(slice, detector, angle)`` for a
    stack.

    Examples
    --------
    >>> import numpy as np
    >>> stack = np.zeros((2, 8, 8)); stack[:, 3:5, 3:5] = 1.0
    >>> gen = sinogram_job(stack, np.arange(0, 180, 45.0), True)
    >>> try:
    ...     while True:
    ...         _ = next(gen)
    ... except StopIteration as stop:
    ...     stop.value.shape
    (2, 8, 4)
    """
    theta = np.asarray(theta, dtype=float)
    if data.ndim == 2:
        yield Progress(0, 1, "Radon transform")
        plane = data.compute() if hasattr(data, "compute") else np.asarray(data)
        sino = tomography.radon(plane, theta=theta, circle=circle)
        yield Progress(1, 1, "Radon transform")
        return sino
    lazy = tomography.radon_stack(data, theta=theta, circle=circle)
    out = np.empty(lazy.shape, dtype=lazy.dtype)
    total = int(lazy.shape[0])
    yield Progress(0, total, "Radon transform")
    for start, stop, block in iter_chunks(lazy):
        out[start:stop] = block
        yield Progress(stop, total, f"slice {stop}/{total}")
    return out


class SinogramWidget(QWidget):
    """Dock widget: Radon transform of an image layer into a sinogram layer.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        The viewer whose image layers are offered and receives the result.

    Examples
    --------
    >>> widget = SinogramWidget(viewer)  # doctest: +SKIP
    >>> widget.n_angles.value = 90  # doctest: +SKIP
    >>> widget.run_button.click()  # doctest: +SKIP
    """

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.image = create_widget(annotation=Image, label="image")
        self.n_angles = SpinBox(value=180, min=1, max=100000, label="projections")
        self.angle_start = FloatSpinBox(
            value=0.0, min=-3600.0, max=3600.0, step=1.0, label="start (deg)"
        )
        self.angle_end = FloatSpinBox(
            value=180.0, min=-3600.0, max=3600.0, step=1.0, label="end (deg, excl.)"
        )
        self.circle = CheckBox(value=True, text="circle (object inside the circle)")
        self.info = Label(value="")
        self.run_button = QPushButton("Compute sinogram", self)
        self.container = Container(
            widgets=[
                self.image,
                self.n_angles,
                self.angle_start,
                self.angle_end,
                self.circle,
                self.info,
            ]
        )
        self.controls = JobControls(self)
        dock_layout(self, self.container, [self.run_button], self.controls)
        self.run_button.clicked.connect(self._on_run_clicked)
        self.container.changed.connect(self._update_info)
        follow_layers(self.viewer, self.reset_choices)

    # ------------------------------------------------------------- helpers
    def reset_choices(self, event: Any = None) -> None:
        """Refresh the layer list (napari calls this when layers change).

        Examples
        --------
        >>> widget.reset_choices()  # doctest: +SKIP
        """
        self.container.reset_choices()
        self._update_info()

    def theta(self) -> np.ndarray:
        """The projection angles (degrees) the current settings give.

        Examples
        --------
        >>> widget.n_angles.value = 4  # doctest: +SKIP
        >>> widget.theta().tolist()  # doctest: +SKIP
        [0.0, 45.0, 90.0, 135.0]
        """
        return uniform_theta(
            self.n_angles.value, self.angle_start.value, self.angle_end.value
        )

    def _update_info(self, *_: Any) -> None:
        try:
            theta = self.theta()
        except ValueError as exc:
            self.info.value = str(exc)
            return
        step = theta[1] - theta[0] if theta.size > 1 else 0.0
        self.info.value = f"angles {theta[0]:g}, {theta[0] + step:g}, … {theta[-1]:g}"

    def _on_run_clicked(self, *_: Any) -> None:
        try:
            self.run()
        except (ValueError, RuntimeError) as exc:
            self.controls.status.setText(str(exc))
            show_error(str(exc))

    # ------------------------------------------------------------- run
    def run(self):
        """Start the sinogram job; returns the worker.

        Raises
        ------
        ValueError
            No image selected, an image that is not 2D or 3D, RGB or
            multiscale, or a bad angle range.
        RuntimeError
            A job is already running.

        Examples
        --------
        >>> worker = widget.run()  # doctest: +SKIP
        """
        layer = self.image.value
        if layer is None:
            raise ValueError("Choose an image layer (open one or a sample first).")
        if getattr(layer, "rgb", False) or getattr(layer, "multiscale", False):
            raise ValueError(
                f"{layer.name!r} is RGB or multiscale; the Radon transform needs a "
                "single-channel 2D image or 3D stack."
            )
        if layer.data.ndim not in (2, 3):
            raise ValueError(
                f"{layer.name!r} has {layer.data.ndim} dimensions; choose a 2D "
                "image or a 3D stack of slices (slice, y, x)."
            )
        theta = self.theta()
        circle = bool(self.circle.value)
        name = layer.name
        scale = [float(s) for s in layer.scale]
        if not np.isclose(scale[-2], scale[-1]):
            show_warning(
                f"{name!r} has non-square pixels (scale {scale[-2]:g} x "
                f"{scale[-1]:g}); the Radon transform treats them as square and "
                f"the detector spacing is {scale[-1]:g}. Resample to square pixels "
                "for a geometrically exact sinogram."
            )
        translate = [float(t) for t in layer.translate]
        in_plane = [int(s) for s in layer.data.shape[-2:]]

        def returned(sino: np.ndarray) -> None:
            step = float(theta[1] - theta[0]) if theta.size > 1 else 1.0
            lead = list(scale[:-2])
            axes = SINOGRAM_AXES[-sino.ndim :]
            self.viewer.add_image(
                sino,
                name=f"{name} sinogram",
                scale=(*lead, scale[-1], step),
                translate=(*translate[:-2], 0.0, float(theta[0])),
                axis_labels=axes,
                colormap="gray",
                metadata={
                    "kind": "sinogram",
                    "theta": [float(t) for t in theta],
                    "circle": circle,
                    "source": name,
                    "angle_range": [
                        float(self.angle_start.value),
                        float(self.angle_end.value),
                    ],
                    "source_shape": in_plane,
                    "source_scale": scale,
                    "source_translate": translate,
                },
            )

        return self.controls.start(
            sinogram_job,
            layer.data,
            theta,
            circle,
            on_returned=returned,
            description="Sinogram",
        )
