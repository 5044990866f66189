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
from napari.layers import Image, Labels, Points, Shapes
from qtpy.QtWidgets import QPushButton, QWidget

from .._job_inputs import TIFF_SUFFIXES, check_memory, check_output_path
from .._jobs import straighten_job
from ..geometry import make_slice_geometry
from ..slice_geometry import SliceGeometry
from ._dock import (
    beside,
    dock_layout,
    follow_layers,
    layers_guard,
    persist,
    units_of,
)
from ._job import JobControls
from ._layers import (
    PATH_SHAPES,
    curve_voxels,
    geometry_metadata,
    layer_path,
    plane_outlines,
)
from ._levels import layer_levels, level_labels

if TYPE_CHECKING:
    import napari

#: where the straightened layer goes
PLACEMENTS = ("beside the source", "grid view", "at the origin")
#: names of the Preview layers (replaced on every Preview)
PREVIEW_PLANES = "straighten preview: planes"
PREVIEW_CURVE = "straighten preview: curve"


def _file_value(edit: FileEdit) -> Path | None:
    text = str(edit.line_edit.value).strip()
    return Path(text) if text and text != "." else None


def _level0(layer: Image) -> Any:
    return layer.data[0] if layer.multiscale else layer.data


def _multiscale(layer: Any) -> bool:
    return bool(layer is not None and getattr(layer, "multiscale", False))


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
        self.image = ComboBox(
            label="image",
            choices=self._image_choices,
            tooltip="3D Image, or Labels (sampled nearest, result is Labels)",
        )
        self.level = ComboBox(
            label="level",
            choices=self._level_choices,
            tooltip=(
                "resolution level of a multiscale image to sample (shape and "
                "voxel size); the path is in world coordinates, so it works at "
                "any level"
            ),
        )
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
        self.place = ComboBox(
            label="place result",
            choices=list(PLACEMENTS),
            value=PLACEMENTS[0],
            tooltip="beside the source (not on top of it), in a grid, or at 0",
        )
        self.link_views = CheckBox(
            label="link views",
            value=False,
            tooltip="link the result and its source: linked cursor, Alt-click "
            "to jump, the current plane drawn in the source",
        )
        self.every = SpinBox(
            label="preview every k-th plane", value=10, min=1, max=100000
        )
        self.save_file = FileEdit(
            label="save to (optional)",
            mode="w",
            filter="*.tif *.tiff *.zarr",
            tooltip="a .tif/.tiff file or a .zarr folder (OME-Zarr pyramid); its "
            "geometry JSON is written beside it",
        )
        self.preview_button = QPushButton("Preview")
        self.run_button = QPushButton("Run")
        self.preview_button.clicked.connect(self.preview)
        self.run_button.clicked.connect(self.run)
        self.container = Container(
            widgets=[
                self.image,
                self.level,
                self.path,
                self.width,
                self.height,
                self.spacing,
                self.order,
                self.smoothing,
                self.closed,
                self.roll,
                self.place,
                self.link_views,
                self.every,
                self.save_file,
            ]
        )
        self.job = JobControls(self, buttons=[self.run_button])
        dock_layout(
            self, self.container, [self.preview_button, self.run_button], self.job
        )
        follow_layers(self.viewer, self.reset_choices)
        persist(
            "straighten",
            [
                self.width,
                self.height,
                self.spacing,
                self.order,
                self.smoothing,
                self.closed,
                self.roll,
                self.place,
                self.link_views,
                self.every,
            ],
        )
        self.link: Any = None  # the ViewLink of the last result, if linked
        self._last: tuple[Any, Any] | None = None  # (result, source) layers
        self.link_views.changed.connect(self._toggle_link)
        self.image.changed.connect(self._warm)
        self.image.changed.connect(self._on_image_changed)
        self._on_image_changed()
        self._warm()

    def _warm(self, *_: Any) -> None:
        """Compile (in the background) the kernels a Run on the chosen layer needs."""
        layer = self.image.value
        dtypes = [np.dtype(layer.dtype)] if layer is not None else []
        self.job.start_warmup(["straighten"], dtypes)

    # ------------------------------------------------------------ choices
    def _image_layers(self) -> list[Any]:
        return [
            layer
            for layer in self.viewer.layers
            if (isinstance(layer, Labels) or isinstance(layer, Image))
            and layer.ndim == 3
            and not getattr(layer, "rgb", False)
        ]

    def _image_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        return [(layer.name, layer) for layer in self._image_layers()]

    def _level_choices(self, _widget: Any = None) -> list[tuple[str, int]]:
        image = self.image.value if hasattr(self, "image") else None
        if not _multiscale(image):
            return [("0", 0)]
        names = level_labels(image, units_of(image, 3))
        return [(name, k) for k, name in enumerate(names)]

    def _on_image_changed(self, *_: Any) -> None:
        self.level.reset_choices()
        self.level.visible = _multiscale(self.image.value)

    def _source_level(self, image: Any) -> tuple[int, Any, np.ndarray, np.ndarray]:
        """The chosen level of ``image``: index, array, scale, translate."""
        levels = layer_levels(image)
        k = int(self.level.value or 0) if _multiscale(image) else 0
        if not 0 <= k < len(levels):
            raise ValueError(
                f"level {k} is out of range: {image.name!r} has {len(levels)} "
                f"level(s), 0 (finest) to {len(levels) - 1} (coarsest)."
            )
        return (k, *levels[k])

    def _path_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        # Points, or Shapes holding at least one path/line (not rectangles)
        return [
            (layer.name, layer)
            for layer in self.viewer.layers
            if isinstance(layer, Points)
            or (
                isinstance(layer, Shapes)
                and any(t in PATH_SHAPES for t in layer.shape_type)
            )
        ]

    def reset_choices(self, event: Any = None) -> None:
        """Refresh the layer lists (napari calls this when layers change)."""
        self.container.reset_choices()
        self.level.visible = _multiscale(self.image.value)
        link = getattr(self, "link", None)
        if link is not None and not link.closed:
            layers = self.viewer.layers
            if link.straightened_layer not in layers or link.source_layer not in layers:
                link.close()  # a linked layer was removed
                self.link = None

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
        _, _, scale, translate = self._source_level(image)
        if _multiscale(image):  # level-0 data coordinates -> the chosen level's
            from ..multiscale import path_to_level

            path = path_to_level(
                path, image.scale[-3:], image.translate[-3:], scale, translate
            )
        labels = isinstance(image, Labels)
        options = {
            "width": int(self.width.value),
            "height": int(self.height.value),
            "spacing": float(self.spacing.value) or None,
            "scale": tuple(float(s) for s in scale),
            "translate": tuple(float(t) for t in translate),
            "order": 0 if labels else int(self.order.value),
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
        data = self._source_level(image)[1]
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

    def _toggle_link(self, on: bool) -> None:
        """Link the last result and its source (or unlink them)."""
        from napari.utils.notifications import show_error

        from .link import ViewLink

        if self.link is not None:
            self.link.close()
            self.link = None
        if not on:
            return
        last = self._last
        if last is None or any(layer not in self.viewer.layers for layer in last):
            self.job.status.setText("Views will be linked when Straighten finishes.")
            return
        try:
            self.link = ViewLink(self.viewer, *last)
        except ValueError as exc:
            show_error(f"Straighten: cannot link the views: {exc}")
            self.link_views.value = False
            return
        self.job.status.setText(
            f"Linked {last[0].name!r} and {last[1].name!r}: move the mouse over "
            "either; Alt-click to jump."
        )

    def run(self, _value: Any = None) -> None:
        """Straighten in a background job and add the result as an Image layer."""
        from napari.utils.notifications import show_error

        if self.job.running:
            self.job.status.setText("Straighten is running; wait or cancel it.")
            return
        try:
            image, path, options = self._inputs()
            save_to = _file_value(self.save_file)
            if save_to is not None:
                save_to = check_output_path(save_to, (*TIFF_SUFFIXES, ".zarr"))
            geometry = self.geometry()
            if save_to is None:
                data = self._source_level(image)[1]
                if isinstance(data, np.ndarray):
                    check_memory(geometry.straightened_shape, data.dtype, "straighten")
        except ValueError as exc:
            show_error(f"Straighten: {exc}")
            self.job.status.setText(f"Failed: {exc}")
            return
        source = image.name
        labels = isinstance(image, Labels)
        units = units_of(image, 3)
        place = str(self.place.value)
        translate = beside(image) if place == PLACEMENTS[0] else (0.0, 0.0, 0.0)
        look: dict[str, Any] = {}
        if not labels:
            look = {
                "contrast_limits": tuple(image.contrast_limits),
                "colormap": image.colormap.name,
            }

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
            kwargs = {
                "name": f"{source} straightened",
                "scale": (d, d, d),
                "translate": translate,
                "metadata": metadata,
            }
            if units:
                kwargs["units"] = units
            if labels:
                layer = self.viewer.add_labels(data, **kwargs)
            else:
                layer = self.viewer.add_image(data, **kwargs, **look)
            if place == PLACEMENTS[1]:
                self.viewer.canvas.grid.enabled = True
            self._last = (layer, image)
            if self.link_views.value:
                self._toggle_link(True)

        holder["worker"] = self.job.start(
            straighten_job,
            self._source_level(image)[1],
            path,
            options,
            save_to,
            abort_requested=_abort,
            units=units,
            on_returned=_returned,
            description="Straighten",
            guard=layers_guard(self.viewer, image),
        )
