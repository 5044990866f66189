"""Straighten dock widget: resample an image on planes along a traced path.

Thin Qt front end of :func:`napari_backproject.straighten.straighten`: it
reads the path from a Points or Shapes layer, shows a Preview of the plane
outlines and the fitted curve, and runs the straightening in a background job
(chunk by chunk, with progress and Cancel). The result is added as an Image
layer carrying its geometry in ``layer.metadata["slice_geometry"]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    FloatSpinBox,
    SpinBox,
)
from napari.layers import Image, Points, Shapes
from qtpy.QtWidgets import QPushButton, QWidget

from .._progress import Cancelled, Progress, iter_chunks
from ..geometry import make_slice_geometry
from ..slice_geometry import SliceGeometry
from ..straighten import save_straightened, straighten
from ._dock import dock_layout, follow_layers
from ._job import JobControls
from ._layers import curve_voxels, geometry_metadata, layer_path, plane_outlines

if TYPE_CHECKING:
    import napari

#: names of the Preview layers (replaced on every Preview)
PREVIEW_PLANES = "straighten preview: planes"
PREVIEW_CURVE = "straighten preview: curve"


def _file_value(edit: FileEdit) -> Path | None:
    text = str(edit.line_edit.value).strip()
    return Path(text) if text else None


def _level0(layer: Image) -> Any:
    return layer.data[0] if layer.multiscale else layer.data


def straighten_job(
    volume: Any,
    path: np.ndarray,
    options: dict,
    save_to: Path | None = None,
    compression: str = "zlib",
    abort_requested=lambda: False,
):
    """Generator job: straighten chunk by chunk, then (optionally) save.

    Yields :class:`~napari_backproject._progress.Progress` after every chunk
    and returns ``(data, geometry, saved_paths)``. A NumPy volume is
    straightened into memory, chunk of planes by chunk of planes, so the work
    can be reported and cancelled. A lazy volume (dask, zarr, a lazily read
    tiff) gives a lazy result: nothing is computed here unless it is saved,
    and napari then computes only the planes it shows.
    ``abort_requested()`` is polled while saving; a cancelled save leaves no
    file.

    Examples
    --------
    >>> gen = straighten_job(vol, pts, {"width": 9, "height": 9})  # doctest: +SKIP
    """
    import dask.array as da

    in_memory = isinstance(volume, np.ndarray)
    if in_memory:
        volume = da.from_array(volume, chunks=volume.shape)
    lazy, geometry = straighten(volume, path, **options)
    n = lazy.shape[0]
    if in_memory:
        out = np.empty(lazy.shape, dtype=lazy.dtype)
        yield Progress(0, n, "Straightening…")
        for start, stop, block in iter_chunks(lazy):
            out[start:stop] = block
            yield Progress(stop, n, f"Straightened {stop}/{n} planes")
    else:
        out = lazy
        yield Progress(n, n, f"{n} planes, computed as they are shown")
    saved: tuple = ()
    if save_to is not None:
        state = {"done": 0, "total": n}

        def _progress(done: int, total: int) -> None:
            state.update(done=done, total=total)
            if abort_requested():
                raise Cancelled

        yield Progress(0, n, f"Saving {save_to.name}…")
        try:
            saved = save_straightened(
                save_to, out, geometry, compression=compression, progress=_progress
            )
        except Cancelled:
            yield Progress(state["done"], state["total"], "Cancelled")
            return None  # the worker aborts at the yield above
        yield Progress(n, n, f"Saved {save_to.name}")
    return out, geometry, tuple(saved)


class StraightenWidget(QWidget):
    """Straighten an image along a path traced with a Points or Shapes layer.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        The viewer whose layers are used.

    Examples
    --------
    >>> w = StraightenWidget(viewer)  # doctest: +SKIP
    >>> w.width.value = 40; w.run_button.click()  # doctest: +SKIP
    """

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.image = ComboBox(label="image", choices=self._image_choices)
        self.path = ComboBox(
            label="path",
            choices=self._path_choices,
            tooltip="Points (in order) or a Shapes path tracing the structure",
        )
        self.width = SpinBox(label="width (px)", value=40, min=1, max=8192)
        self.height = SpinBox(label="height (px)", value=40, min=1, max=8192)
        self.spacing = FloatSpinBox(
            label="spacing (0: auto)",
            value=0.0,
            min=0.0,
            max=1e9,
            step=0.1,
            tooltip="world distance between pixels and planes; 0 = smallest voxel size",
        )
        self.order = ComboBox(
            label="interpolation",
            choices=[("0 nearest", 0), ("1 trilinear", 1)],
            value=1,
        )
        self.smoothing = FloatSpinBox(
            label="smoothing", value=0.0, min=0.0, max=1e9, step=0.5
        )
        self.closed = CheckBox(label="closed loop", value=False)
        self.roll = FloatSpinBox(
            label="roll (deg)",
            value=0.0,
            min=-360.0,
            max=360.0,
            step=5.0,
            tooltip="rotate the planes about the curve's tangent",
        )
        self.every = SpinBox(
            label="preview every k-th plane", value=10, min=1, max=100000
        )
        self.save_file = FileEdit(
            label="save to (optional)", mode="w", filter="*.tif *.tiff"
        )
        self.preview_button = QPushButton("Preview")
        self.run_button = QPushButton("Run")
        self.preview_button.clicked.connect(self.preview)
        self.run_button.clicked.connect(self.run)
        self.container = Container(
            widgets=[
                self.image,
                self.path,
                self.width,
                self.height,
                self.spacing,
                self.order,
                self.smoothing,
                self.closed,
                self.roll,
                self.every,
                self.save_file,
            ]
        )
        self.job = JobControls(self)
        dock_layout(
            self, self.container, [self.preview_button, self.run_button], self.job
        )
        follow_layers(self.viewer, self.reset_choices)

    # ------------------------------------------------------------ choices
    def _image_choices(self, _widget: Any = None) -> list[tuple[str, Image]]:
        return [
            (layer.name, layer)
            for layer in self.viewer.layers
            if isinstance(layer, Image) and layer.ndim == 3 and not layer.rgb
        ]

    def _path_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        return [
            (layer.name, layer)
            for layer in self.viewer.layers
            if isinstance(layer, (Points, Shapes))
        ]

    def reset_choices(self, event: Any = None) -> None:
        """Refresh the layer lists (napari calls this when layers change)."""
        self.container.reset_choices()

    # ------------------------------------------------------------ inputs
    def _inputs(self) -> tuple[Image, np.ndarray, dict]:
        image, path_layer = self.image.value, self.path.value
        if image is None:
            raise ValueError("choose a 3D image layer to straighten.")
        if path_layer is None:
            raise ValueError(
                "choose the path: a Points layer (points in order) or a Shapes path."
            )
        path = layer_path(path_layer, image)
        options = {
            "width": int(self.width.value),
            "height": int(self.height.value),
            "spacing": float(self.spacing.value) or None,
            "scale": tuple(float(s) for s in image.scale),
            "translate": tuple(float(t) for t in image.translate),
            "order": int(self.order.value),
            "smoothing": float(self.smoothing.value),
            "closed": bool(self.closed.value),
            "roll": float(self.roll.value),
        }
        return image, path, options

    def geometry(self) -> SliceGeometry:
        """The SliceGeometry the current settings give (no voxels are read).

        Examples
        --------
        >>> widget.geometry().straightened_shape  # doctest: +SKIP
        (85, 40, 40)
        """
        image, path, options = self._inputs()
        data = _level0(image)
        return make_slice_geometry(
            path,
            source_shape=tuple(data.shape),
            source_dtype=data.dtype,
            width=options["width"],
            height=options["height"],
            spacing=options["spacing"],
            scale=options["scale"],
            translate=options["translate"],
            smoothing=options["smoothing"],
            closed=options["closed"],
            roll=options["roll"],
        )

    # ------------------------------------------------------------ actions
    def preview(self, _value: Any = None) -> None:
        """Draw the outlines of every k-th plane and the fitted curve.

        Two Shapes layers (paths) in the image's data coordinates, with its
        scale and translate, replaced on every Preview.
        """
        from napari.utils.notifications import show_error

        try:
            geometry = self.geometry()
        except ValueError as exc:
            show_error(f"Preview: {exc}")
            self.job.status.setText(f"Preview failed: {exc}")
            return
        place = {
            "scale": tuple(geometry.scale),
            "translate": tuple(geometry.translate),
        }
        outlines = plane_outlines(geometry, int(self.every.value))
        curve = curve_voxels(geometry)
        for name in (PREVIEW_PLANES, PREVIEW_CURVE):
            if name in self.viewer.layers:
                self.viewer.layers.remove(name)
        self.viewer.add_shapes(
            outlines,
            shape_type="path",
            name=PREVIEW_PLANES,
            edge_color="cyan",
            edge_width=max(0.5, 0.4 * geometry.spacing / min(geometry.scale)),
            **place,
        )
        self.viewer.add_shapes(
            [curve],
            shape_type="path",
            name=PREVIEW_CURVE,
            edge_color="yellow",
            edge_width=max(0.5, 0.6 * geometry.spacing / min(geometry.scale)),
            **place,
        )
        n, h, w = geometry.straightened_shape
        self.job.status.setText(
            f"Preview: {n} planes of {h} x {w} px, spacing {geometry.spacing:g}"
        )

    def run(self, _value: Any = None) -> None:
        """Straighten in a background job and add the result as an Image layer."""
        from napari.utils.notifications import show_error

        try:
            image, path, options = self._inputs()
        except ValueError as exc:
            show_error(f"Straighten: {exc}")
            self.job.status.setText(f"Failed: {exc}")
            return
        save_to = _file_value(self.save_file)
        source = image.name
        contrast = tuple(image.contrast_limits)
        colormap = image.colormap.name

        holder: dict[str, Any] = {}

        def _abort() -> bool:
            # the worker's flag stays set after it aborted, so a writer still
            # running in a helper thread sees it too
            worker = holder.get("worker")
            return bool(worker is not None and worker.abort_requested)

        def _returned(result: Any) -> None:
            if result is None:
                return
            data, geometry, saved = result
            metadata = geometry_metadata(geometry, source)
            if saved:
                metadata["saved"] = [str(p) for p in saved]
            d = geometry.spacing
            self.viewer.add_image(
                data,
                name=f"{source} straightened",
                scale=(d, d, d),
                metadata=metadata,
                contrast_limits=contrast,
                colormap=colormap,
            )

        holder["worker"] = self.job.start(
            straighten_job,
            _level0(image),
            path,
            options,
            save_to,
            abort_requested=_abort,
            on_returned=_returned,
            description="Straighten",
        )
