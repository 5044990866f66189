"""The Reconstruct dock widget: a sinogram layer -> an image layer (FBP or SART).

A projection stack ``(angle, row, column)`` is reconstructed as a lazy volume
instead (see :mod:`.reconstruct_volume`).

The widget is thin: it reads parameters and calls
:func:`napari_backproject.tomography.iradon` / ``iradon_stack`` (FBP) or
``iradon_sart_iter`` (SART, one iteration at a time) in background jobs with
progress and Cancel. A live preview reconstructs only the slice under the
viewer's current step into a ``"preview"`` layer.
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
from napari.utils.notifications import show_error
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QLabel, QPushButton, QWidget

from .._job_inputs import (
    check_output_path,
    check_sinogram_orientation,
    sinogram_theta,
)
from .._jobs import Partial, fbp_job, sart_job, saving_job
from ._dock import dock_layout, follow_layers, layers_guard, persist, units_of
from ._job import JobControls
from .reconstruct_preview import PREVIEW_NAME, SlicePreview
from .reconstruct_volume import VolumePanel

if TYPE_CHECKING:  # pragma: no cover
    import napari

__all__ = [
    "ReconstructWidget",
    "FILTERS",
    "INTERPOLATIONS",
]

#: filter choices of FBP ("None" means no filter)
FILTERS = ("ramp", "shepp-logan", "cosine", "hamming", "hann", "None")
#: interpolation choices of FBP
INTERPOLATIONS = ("linear", "nearest", "cubic")


class ReconstructWidget(SlicePreview, QWidget):
    """Dock widget: reconstruct a sinogram layer by FBP or SART.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        The viewer whose image layers are offered and receives the result.

    Examples
    --------
    >>> widget = ReconstructWidget(viewer)  # doctest: +SKIP
    >>> widget.method.value = "SART"  # doctest: +SKIP
    >>> widget.run_button.click()  # doctest: +SKIP
    """

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.sinogram = ComboBox(
            label="sinogram",
            choices=self._sinogram_choices,
            tooltip="(detector, angle) or (slice, detector, angle); layers with "
            "angles (theta) in their metadata come first",
        )
        self.theta_info = Label(value="", label="θ")
        #: the projection-stack mode (input layout, angles, centre, lazy volume)
        self.volume = VolumePanel(self)
        self.method = ComboBox(choices=["FBP", "SART"], value="FBP", label="method")
        self.filter_name = ComboBox(choices=list(FILTERS), value="ramp", label="filter")
        self.interpolation = ComboBox(
            choices=list(INTERPOLATIONS), value="linear", label="interpolation"
        )
        self.output_size = SpinBox(
            value=0, min=0, max=100000, label="output size (0: auto)"
        )
        self.circle = CheckBox(value=True, text="circle")
        self.iterations = SpinBox(value=1, min=1, max=1000, label="iterations")
        self.relaxation = FloatSpinBox(
            value=0.15, min=0.001, max=2.0, step=0.01, label="relaxation"
        )
        self.clip = CheckBox(value=False, text="clip values")
        self.clip_min = FloatSpinBox(value=0.0, min=-1e9, max=1e9, label="clip min")
        self.clip_max = FloatSpinBox(value=1.0, min=-1e9, max=1e9, label="clip max")
        self.preview = CheckBox(value=False, text="live preview (current slice)")
        self.save_file = FileEdit(
            label="save to (optional)",
            mode="w",
            filter="*.tif *.tiff",
            tooltip="also write the reconstruction to this TIFF",
        )
        self.run_button = QPushButton("Reconstruct", self)
        self._fbp_widgets = [
            self.filter_name,
            self.interpolation,
            self.output_size,
            self.circle,
        ]
        self._sart_widgets = [
            self.iterations,
            self.relaxation,
            self.clip,
            self.clip_min,
            self.clip_max,
        ]
        self.container = Container(
            widgets=[
                self.sinogram,
                self.volume.layout,
                self.theta_info,
                *self.volume.widgets,
                self.method,
                *self._fbp_widgets,
                *self._sart_widgets,
                self.preview,
                self.save_file,
            ]
        )
        self.controls = JobControls(self, buttons=[self.run_button])
        self.preview_controls = JobControls(self)
        self.preview_controls.progress_bar.setMaximumHeight(6)
        self.preview_controls.progress_bar.setTextVisible(False)
        self.preview_controls.row.insertWidget(0, QLabel("preview", self))
        dock_layout(
            self,
            self.container,
            [self.run_button],
            self.controls,
            self.preview_controls,
        )
        #: how many times the running job's result layer was updated
        self.n_updates = 0
        self._result_layer: Image | None = None
        self._returned = False
        self._preview_pending = False
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(150)
        self._preview_timer.timeout.connect(self._start_preview)

        self.run_button.clicked.connect(self._on_run_clicked)
        self.method.changed.connect(self._update_visibility)
        self.clip.changed.connect(self._update_visibility)
        self.sinogram.changed.connect(self._on_layer_changed)
        self.volume.layout.changed.connect(self._update_visibility)
        self.volume.layout.changed.connect(self._update_theta_info)
        self.volume.angles.changed.connect(self._update_theta_info)
        self.container.changed.connect(self._schedule_preview)
        self.viewer.dims.events.current_step.connect(self._on_step)
        self._update_visibility()
        follow_layers(self.viewer, self.reset_choices)
        persist(
            "reconstruct",
            [
                self.method,
                self.filter_name,
                self.interpolation,
                self.output_size,
                self.iterations,
                self.relaxation,
                self.clip,
                self.clip_min,
                self.clip_max,
            ],
        )
        self._update_visibility()
        self.sinogram.changed.connect(self._warm)
        self.method.changed.connect(self._warm)
        self._warm()

    def _warm(self, *_: Any) -> None:
        """Compile (in the background) the kernels a Run on the chosen layer needs."""
        layer = self.sinogram.value
        dtypes = [np.dtype(layer.dtype)] if layer is not None else []
        # the chosen method only: FBP is ready in seconds, SART compiles
        # while the user sets its parameters
        self.controls.start_warmup(
            ["sart" if self.method.value == "SART" else "fbp"], dtypes
        )

    # ------------------------------------------------------------- state
    def _sinogram_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        # 2D/3D images; sinograms (with theta in their metadata) first, the
        # preview and our own reconstructions last
        layers = [
            layer
            for layer in self.viewer.layers
            if isinstance(layer, Image)
            and layer.ndim in (2, 3)
            and not layer.rgb
            and not layer.multiscale
        ]

        def rank(layer: Image) -> int:
            md = layer.metadata
            if md.get("theta") is not None and "theta_source" not in md:
                return 0
            if layer.name == PREVIEW_NAME or "theta_source" in md:
                return 2
            return 1

        layers.sort(key=rank)
        return [(layer.name, layer) for layer in layers]

    def reset_choices(self, event: Any = None) -> None:
        """Refresh the layer list (napari calls this when layers change).

        Examples
        --------
        >>> widget.reset_choices()  # doctest: +SKIP
        """
        self.container.reset_choices()
        self._update_theta_info()

    def _update_visibility(self, *_: Any) -> None:
        sart = self.method.value == "SART"
        for w in self._fbp_widgets:
            w.visible = not sart
        for w in self._sart_widgets:
            w.visible = sart
        self.clip_min.enabled = self.clip_max.enabled = bool(self.clip.value)
        self.volume.update_visibility()

    def _on_layer_changed(self, *_: Any) -> None:
        layer = self.sinogram.value
        if layer is not None and "circle" in layer.metadata:
            self.circle.value = bool(layer.metadata["circle"])
        self.volume.on_layer(layer)
        self._update_theta_info()

    def _update_theta_info(self) -> None:
        layer = self.sinogram.value
        if layer is None:
            self.theta_info.value = "no sinogram layer"
            return
        if self.volume.active():
            self.theta_info.value = self.volume.info(layer)
            return
        n = int(layer.data.shape[-1])
        flipped = check_sinogram_orientation(layer.data.shape, layer.metadata)
        if flipped:
            self.theta_info.value = "transposed? " + flipped.split(": ", 1)[-1][:80]
            return
        theta, source = sinogram_theta(n, layer.metadata)
        if source == "metadata":
            self.theta_info.value = (
                f"from layer metadata: {n} angles, {theta[0]:g}…{theta[-1]:g}°"
            )
        elif layer.metadata.get("theta") is not None:
            k = np.size(layer.metadata["theta"])
            self.theta_info.value = (
                f"uniform over [0, 180): {n} angles (metadata theta has {k} "
                "values: ignored)"
            )
        else:
            self.theta_info.value = f"uniform over [0, 180): {n} angles (no metadata)"

    def theta(self) -> tuple[np.ndarray, str]:
        """Angles used for the selected sinogram and where they come from.

        Examples
        --------
        >>> theta, source = widget.theta()  # doctest: +SKIP
        >>> source  # doctest: +SKIP
        'metadata'
        """
        layer = self._layer()
        return sinogram_theta(int(layer.data.shape[-1]), layer.metadata)

    def parameters(self) -> dict:
        """The reconstruction parameters (method and its keyword arguments).

        Raises
        ------
        ValueError
            SART clipping with clip max not above clip min.

        Examples
        --------
        >>> widget.parameters()["method"]  # doctest: +SKIP
        'fbp'
        """
        if self.method.value == "FBP":
            filt = self.filter_name.value
            return {
                "method": "fbp",
                "filter_name": None if filt == "None" else filt,
                "interpolation": self.interpolation.value,
                "output_size": int(self.output_size.value) or None,
                "circle": bool(self.circle.value),
            }
        clip = None
        if self.clip.value:
            lo, hi = float(self.clip_min.value), float(self.clip_max.value)
            if hi <= lo:
                raise ValueError(f"clip max must exceed clip min; got [{lo}, {hi}].")
            clip = (lo, hi)
        return {
            "method": "sart",
            "iterations": int(self.iterations.value),
            "relaxation": float(self.relaxation.value),
            "clip": clip,
        }

    def _layer(self) -> Image:
        layer = self.sinogram.value
        if layer is None:
            raise ValueError("Choose a sinogram layer (make one with Sinogram first).")
        if getattr(layer, "rgb", False) or getattr(layer, "multiscale", False):
            raise ValueError(f"{layer.name!r} is RGB or multiscale, not a sinogram.")
        if layer.data.ndim not in (2, 3):
            raise ValueError(
                f"{layer.name!r} has {layer.data.ndim} dimensions; a sinogram is 2D "
                "(detector, angle) or 3D (slice, detector, angle)."
            )
        flipped = check_sinogram_orientation(layer.data.shape, layer.metadata)
        if flipped:
            raise ValueError(f"{layer.name!r}: {flipped}")
        return layer

    def _geometry(self, layer: Image) -> tuple[tuple, tuple]:
        """Scale and translate of the reconstruction of ``layer``."""
        pixel = float(layer.scale[-2])
        lead_s = tuple(float(s) for s in layer.scale[:-2])
        lead_t = tuple(float(t) for t in layer.translate[:-2])
        src_t = layer.metadata.get("source_translate")
        plane_t = tuple(float(t) for t in src_t[-2:]) if src_t else (0.0, 0.0)
        return (*lead_s, pixel, pixel), (*lead_t, *plane_t)

    @staticmethod
    def _job(params: dict):
        params = dict(params)
        method = params.pop("method")
        return (fbp_job if method == "fbp" else sart_job), params

    # ------------------------------------------------------------- run
    def _on_run_clicked(self, *_: Any) -> None:
        try:
            self.run()
        except (ValueError, RuntimeError) as exc:
            self.controls.status.setText(str(exc))
            show_error(str(exc))

    def run(self):
        """Reconstruct the whole sinogram layer in a background job.

        Returns the worker. SART updates the result layer after every
        iteration; a cancelled job removes the layer it created. With the
        input set to a projection stack, reconstructs the volume lazily
        instead (:meth:`.reconstruct_volume.VolumePanel.run`).

        Raises
        ------
        ValueError
            No (valid) sinogram layer or bad parameters.
        RuntimeError
            A job is already running.

        Examples
        --------
        >>> worker = widget.run()  # doctest: +SKIP
        """
        if self.volume.active():
            return self.volume.run()
        if self.controls.running:
            raise RuntimeError(
                "a reconstruction is already running; wait or cancel it."
            )
        layer = self._layer()
        theta, theta_source = self.theta()
        params = self.parameters()
        job, kwargs = self._job(params)
        kwargs.update(self._center(layer, params["method"]))
        text = str(self.save_file.line_edit.value).strip()
        save_to = check_output_path(text) if text and text != "." else None
        scale, translate = self._geometry(layer)
        units = self._units(layer)
        name = f"{layer.name} {params['method'].upper()}"
        metadata = {
            **params,
            "clip": list(params["clip"]) if params.get("clip") else None,
            "theta": [float(t) for t in theta],
            "theta_source": theta_source,
            "source": layer.name,
        }
        if params["method"] == "fbp":
            metadata.pop("clip")
        if "center" in kwargs:
            metadata["center"] = kwargs["center"]
        self.n_updates = 0
        self._result_layer = None
        self._returned = False

        def show(data: np.ndarray) -> Image:
            if (
                self._result_layer is None
                or self._result_layer not in self.viewer.layers
            ):
                self._result_layer = self.viewer.add_image(
                    data,
                    name=name,
                    scale=scale,
                    translate=translate,
                    colormap="gray",
                    metadata=metadata,
                    **({"units": units} if units else {}),
                )
            else:
                self._result_layer.data = data
            return self._result_layer

        finished_flag = [False]  # partial results queued after the end are stale

        def yielded(part: Partial) -> None:
            if finished_flag[0]:
                return
            if (
                self._result_layer is None
                or self._result_layer not in self.viewer.layers
            ):
                show(np.zeros(part.shape, dtype=part.block.dtype))
            result = self._result_layer
            if part.start is None:
                result.data = part.block
            else:
                result.data[part.start : part.stop] = part.block
                result.refresh()
            self.n_updates += 1

        def returned(image: np.ndarray) -> None:
            self._returned = True
            if metadata.get("output_size", 0) is None:
                metadata["output_size"] = int(image.shape[-1])  # what "auto" gave
            result = show(image)
            result.reset_contrast_limits()
            self.n_updates += 1

        def finished() -> None:
            finished_flag[0] = True
            if not self._returned and self._result_layer is not None:
                if self._result_layer in self.viewer.layers:
                    self.viewer.layers.remove(self._result_layer)
                self._result_layer = None

        if save_to is not None:
            metadata["saved"] = str(save_to)
        write = {
            "metadata": {**metadata, "units": list(units) if units else None},
            "scale": scale,
            "translate": translate,
        }
        return self.controls.start(
            saving_job,
            job,
            layer.data,
            theta,
            save_to=save_to,
            write=write,
            **kwargs,
            on_returned=returned,
            on_yielded=yielded,
            on_finished=finished,
            description=f"Reconstruct ({params['method'].upper()})",
            guard=layers_guard(self.viewer, layer),
        )

    @staticmethod
    def _units(layer: Image) -> tuple[str, ...] | None:
        """Units of the reconstruction: the sinogram's, detector unit in-plane."""
        source = layer.metadata.get("source_units")
        if source and len(source) == layer.ndim:
            return tuple(str(u) for u in source)
        units = units_of(layer)
        if not units:
            return None
        return (*units[:-2], units[-2], units[-2])

    @staticmethod
    def _center(layer: Image, method: str) -> dict:
        """``{"center": c}`` from the layer's metadata, when the method takes it."""
        import inspect

        from .. import tomography

        center = layer.metadata.get("center")
        if center is None:
            return {}
        if method == "fbp":
            functions = (tomography.iradon, tomography.iradon_stack)
        else:
            functions = (tomography.iradon_sart_iter,)
        try:
            accepts = all(
                "center" in inspect.signature(f).parameters for f in functions
            )
        except (TypeError, ValueError):  # pragma: no cover
            accepts = False
        return {"center": float(center)} if accepts else {}
