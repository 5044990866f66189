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
    ComboBox,
    Container,
    FileEdit,
    FloatSpinBox,
    Label,
    SpinBox,
)
from napari.layers import Image
from napari.utils.notifications import show_error, show_warning
from qtpy.QtWidgets import QPushButton, QWidget

from .._job_inputs import check_output_path, uniform_theta
from .._jobs import saving_job, sinogram_job
from ._dock import dock_layout, follow_layers, layers_guard, persist, units_of
from ._job import JobControls

if TYPE_CHECKING:  # pragma: no cover
    import napari

__all__ = ["SinogramWidget"]

#: axis labels of a sinogram layer (the slice axis only for stacks)
SINOGRAM_AXES = ("slice", "detector", "angle (deg)")


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
        self.image = ComboBox(
            label="image",
            choices=self._image_choices,
            tooltip="2D image or 3D stack (slice, y, x); sinograms are not offered",
        )
        self.n_angles = SpinBox(value=180, min=1, max=100000, label="projections")
        self.angle_start = FloatSpinBox(
            value=0.0, min=-3600.0, max=3600.0, step=1.0, label="start (deg)"
        )
        self.angle_end = FloatSpinBox(
            value=180.0, min=-3600.0, max=3600.0, step=1.0, label="end (deg, excl.)"
        )
        self.circle = CheckBox(value=True, text="circle (object inside the circle)")
        self.info = Label(value="")
        self.save_file = FileEdit(
            label="save to (optional)",
            mode="w",
            filter="*.tif *.tiff",
            tooltip="also write the sinogram (with its angles) to this TIFF",
        )
        self.run_button = QPushButton("Compute sinogram", self)
        self.container = Container(
            widgets=[
                self.image,
                self.n_angles,
                self.angle_start,
                self.angle_end,
                self.circle,
                self.info,
                self.save_file,
            ]
        )
        self.controls = JobControls(self, buttons=[self.run_button])
        dock_layout(self, self.container, [self.run_button], self.controls)
        self.run_button.clicked.connect(self._on_run_clicked)
        self.container.changed.connect(self._update_info)
        follow_layers(self.viewer, self.reset_choices)
        persist(
            "sinogram", [self.n_angles, self.angle_start, self.angle_end, self.circle]
        )
        self.image.changed.connect(self._warm)
        self._warm()

    def _warm(self, *_: Any) -> None:
        """Compile (in the background) the kernels a Run on the chosen layer needs."""
        layer = self.image.value
        dtypes = [np.dtype(layer.dtype)] if layer is not None else []
        self.controls.start_warmup(["sinogram"], dtypes)

    # ------------------------------------------------------------- helpers
    def _image_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        # 2D/3D single-channel images; our own sinograms last
        layers = [
            layer
            for layer in self.viewer.layers
            if isinstance(layer, Image)
            and layer.ndim in (2, 3)
            and not layer.rgb
            and not layer.multiscale
        ]
        layers.sort(key=lambda layer: layer.metadata.get("kind") == "sinogram")
        return [(layer.name, layer) for layer in layers]

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
        if self.controls.running:
            raise RuntimeError("the sinogram is being computed; wait or cancel it.")
        theta = self.theta()
        circle = bool(self.circle.value)
        text = str(self.save_file.line_edit.value).strip()
        save_to = check_output_path(text) if text and text != "." else None
        name = layer.name
        units = units_of(layer)
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
        ndim = layer.data.ndim
        step = float(theta[1] - theta[0]) if theta.size > 1 else 1.0
        place = {
            "scale": (*scale[:-2], scale[-1], step),
            "translate": (*translate[:-2], 0.0, float(theta[0])),
        }
        # the angle axis is in degrees; the others keep the image's units
        out_units = (*units[:-1], "degree") if units else None
        metadata = {
            "kind": "sinogram",
            "theta": [float(t) for t in theta],
            "circle": circle,
            "source": name,
            "angle_range": [float(self.angle_start.value), float(self.angle_end.value)],
            "source_shape": in_plane,
            "source_scale": scale,
            "source_translate": translate,
        }
        if units:
            metadata["source_units"] = list(units)
        file_md = {
            **metadata,
            "axis_labels": list(SINOGRAM_AXES[-ndim:]),
            "units": list(out_units) if out_units else None,
        }

        def returned(sino: np.ndarray) -> None:
            meta = dict(metadata)
            if save_to is not None:
                meta["saved"] = str(save_to)
            kwargs = {"units": out_units} if out_units else {}
            self.viewer.add_image(
                sino,
                name=f"{name} sinogram",
                axis_labels=SINOGRAM_AXES[-sino.ndim :],
                colormap="gray",
                metadata=meta,
                **place,
                **kwargs,
            )

        return self.controls.start(
            saving_job,
            sinogram_job,
            layer.data,
            theta,
            circle,
            save_to=save_to,
            write={"metadata": file_md, **place},
            on_returned=returned,
            description="Sinogram",
            guard=layers_guard(self.viewer, layer),
        )
