"""Backproject dock widget: put a straightened segmentation back on its source.

Thin Qt front end of :func:`napari_backproject.backproject.backproject`. The
geometry comes from a JSON file when one is chosen, else from the layer's own
metadata, else from the straightened image it was painted on (matched by
shape). The result is added as a Labels layer (an Image layer for float data)
with the source's scale and a translate that includes the bounding-box
offset, so it lies exactly on the source image.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, FileEdit
from napari.layers import Image, Labels
from qtpy.QtWidgets import QPushButton, QWidget

from .._job_inputs import TIFF_SUFFIXES, check_memory, check_output_path
from .._jobs import backproject_job
from ..backproject import placement
from ..slice_geometry import SliceGeometry
from ._dock import dock_layout, follow_layers, layers_guard, persist, units_of
from ._job import JobControls
from ._layers import SOURCE_KEY, geometry_candidates, geometry_of
from ._levels import layer_levels, level_labels

if TYPE_CHECKING:
    import napari


def _file_value(edit: FileEdit) -> Path | None:
    text = str(edit.line_edit.value).strip()
    return Path(text) if text and text != "." else None


class BackprojectWidget(QWidget):
    """Backproject a segmentation (or any data) made on a straightened volume.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        The viewer whose layers are used.

    Examples
    --------
    >>> w = BackprojectWidget(viewer)  # doctest: +SKIP
    >>> w.extent.value = "full"; w.run_button.click()  # doctest: +SKIP
    """

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.layer = ComboBox(
            label="straightened data",
            choices=self._layer_choices,
            tooltip=(
                "Labels (or Image) layer that carries a straightened geometry or "
                "has the shape of a straightened layer"
            ),
        )
        self.geometry_layer = ComboBox(
            label="geometry from",
            choices=self._geometry_choices,
            tooltip=(
                "the straightened layer whose planes to use (identical geometries "
                "are listed once)"
            ),
        )
        self.geometry_file = FileEdit(
            label="geometry JSON (optional)",
            mode="r",
            filter="*.json",
            tooltip=(
                "leave empty to use the layer's metadata or the straightened "
                "image it was painted on"
            ),
        )
        self.target = ComboBox(
            label="target grid",
            choices=self._target_choices,
            tooltip=(
                "the voxel grid to fill: a level of the source image (the "
                "finest by default), or the grid the stack was straightened from"
            ),
        )
        self.extent = ComboBox(label="extent", choices=["bbox", "full"], value="bbox")
        self.method = ComboBox(label="method", choices=["pull", "splat"], value="pull")
        self.binary = CheckBox(label="binary (foreground = 1)", value=False)
        self.save_file = FileEdit(
            label="save to (optional)",
            mode="w",
            filter="*.tif *.tiff *.zarr",
            tooltip="a .tif/.tiff file, or a .zarr folder (OME-Zarr pyramid)",
        )
        self.run_button = QPushButton("Run")
        self.run_button.clicked.connect(self.run)
        self.container = Container(
            widgets=[
                self.layer,
                self.geometry_layer,
                self.geometry_file,
                self.target,
                self.extent,
                self.method,
                self.binary,
                self.save_file,
            ]
        )
        self.job = JobControls(self, buttons=[self.run_button])
        dock_layout(self, self.container, [self.run_button], self.job)
        self.layer.changed.connect(self._on_layer_changed)
        self.geometry_layer.changed.connect(self._on_geometry_changed)
        self.geometry_file.changed.connect(self.reset_choices)
        follow_layers(self.viewer, self.reset_choices)
        persist("backproject", [self.extent, self.method, self.binary])
        self.layer.changed.connect(self._warm)
        self._warm()

    def _warm(self, *_: Any) -> None:
        """Compile (in the background) the kernels a Run on the chosen layer needs."""
        layer = self.layer.value
        dtypes = [np.dtype(layer.dtype)] if layer is not None else []
        self.job.start_warmup(["backproject"], dtypes)

    def _layer_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        # layers that carry a geometry, or match one by shape; Labels first
        json_shape = None
        path = (
            _file_value(self.geometry_file) if hasattr(self, "geometry_file") else None
        )
        if path is not None and path.is_file():
            try:
                json_shape = SliceGeometry.from_json(path).straightened_shape
            except (OSError, ValueError):
                json_shape = None
        layers = [
            layer
            for layer in self.viewer.layers
            if isinstance(layer, (Labels, Image))
            and layer.ndim == 3
            and not getattr(layer, "rgb", False)
            and (
                geometry_candidates(layer, self.viewer.layers)
                or tuple(layer.data.shape) == json_shape
            )
        ]
        layers.sort(key=lambda layer: not isinstance(layer, Labels))
        return [(layer.name, layer) for layer in layers]

    def _geometry_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        layer = self.layer.value if hasattr(self, "layer") else None
        if layer is None or layer not in self.viewer.layers:
            return []
        return [
            (name, name) for _, name in geometry_candidates(layer, self.viewer.layers)
        ]

    def _on_layer_changed(self, *_: Any) -> None:
        self.geometry_layer.reset_choices()
        self.target.reset_choices()

    def _on_geometry_changed(self, *_: Any) -> None:
        self.target.reset_choices()

    def _source_layer(self) -> Any:
        """The source image layer named by the chosen layer or geometry, if open."""
        layer = self.layer.value if hasattr(self, "layer") else None
        if layer is None or layer not in self.viewer.layers:
            return None
        names = [layer.metadata.get(SOURCE_KEY)]
        found = geometry_candidates(layer, self.viewer.layers)
        chosen = self.geometry_layer.value if hasattr(self, "geometry_layer") else None
        found.sort(key=lambda item: item[1] != chosen)  # the chosen geometry first
        for g, name in found:
            names.append(g.options.get(SOURCE_KEY))
            if name in self.viewer.layers:
                names.append(self.viewer.layers[name].metadata.get(SOURCE_KEY))
        for name in names:
            if name and name in self.viewer.layers:
                return self.viewer.layers[name]
        return None

    def _target_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        # levels of the source layer (finest first, the default), then the
        # grid recorded in the geometry
        source = self._source_layer()
        out: list[tuple[str, Any]] = []
        if source is not None and getattr(source, "multiscale", False):
            names = level_labels(source, units_of(source, 3))
            out = [(f"{source.name} level {name}", k) for k, name in enumerate(names)]
        out.append(("as straightened (the geometry's source grid)", None))
        return out

    def target_grid(self) -> tuple[Any, Any, Any] | None:
        """The chosen target ``(shape, scale, translate)``, or None (the geometry's).

        Examples
        --------
        >>> widget.target_grid()  # doctest: +SKIP
        ((64, 64, 64), array([2., 1., 1.]), array([0., 0., 0.]))
        """
        k = self.target.value
        if k is None:
            return None
        source = self._source_layer()
        if source is None:
            raise ValueError(
                "the source image layer is no longer open; choose 'as "
                "straightened' as target grid, or open the source again."
            )
        levels = layer_levels(source)
        if not 0 <= int(k) < len(levels):
            raise ValueError(
                f"level {k} is out of range: {source.name!r} has {len(levels)} "
                f"level(s), 0 (finest) to {len(levels) - 1} (coarsest)."
            )
        data, scale, translate = levels[int(k)]
        return tuple(int(n) for n in data.shape[-3:]), scale, translate

    def reset_choices(self, event: Any = None) -> None:
        """Refresh the layer lists (napari calls this when layers change)."""
        self.container.reset_choices()
        self.geometry_layer.reset_choices()
        self.target.reset_choices()

    def geometry(self) -> tuple[SliceGeometry, str]:
        """The geometry to use and where it came from (file or layer name).

        Examples
        --------
        >>> g, origin = widget.geometry()  # doctest: +SKIP
        """
        layer = self.layer.value
        if layer is None:
            raise ValueError(
                "no geometry: no Labels or Image layer carries or matches a "
                "straightened geometry. Open the straightened layer (or its TIFF), "
                "or choose the geometry JSON file written with it."
            )
        path = _file_value(self.geometry_file)
        if path is not None:
            if not path.is_file():
                raise ValueError(f"geometry file {path} does not exist.")
            return SliceGeometry.from_json(path), path.name
        found = geometry_candidates(layer, self.viewer.layers)
        if not found:
            raise ValueError(
                f"no geometry for {layer.name!r} (shape {tuple(layer.data.shape)}): "
                "it carries none and no straightened layer has its shape. Choose "
                "the geometry JSON file written with the straightened volume."
            )
        chosen = self.geometry_layer.value
        for g, name in found:
            if name == chosen:
                return g, name
        return found[0]

    def run(self, _value: Any = None) -> None:
        """Backproject in a background job and add the result over the source."""
        from napari.utils.notifications import show_error

        if self.job.running:
            self.job.status.setText("Backproject is running; wait or cancel it.")
            return
        try:
            layer = self.layer.value
            geometry, origin = self.geometry()
            data = layer.data[0] if layer.multiscale else layer.data
            if tuple(data.shape) != geometry.straightened_shape:
                raise ValueError(
                    f"{layer.name!r} has shape {tuple(data.shape)} but the geometry "
                    f"from {origin} describes {geometry.straightened_shape}."
                )
            target = self.target_grid()
            if target is not None:  # checks that the planes reach that grid
                from ..multiscale import retarget

                geometry = retarget(geometry, target)
            save_to = _file_value(self.save_file)
            if save_to is not None:
                save_to = check_output_path(save_to, (*TIFF_SUFFIXES, ".zarr"))
            elif str(self.extent.value) == "full":
                check_memory(geometry.source_shape, data.dtype, "backproject")
        except ValueError as exc:
            show_error(f"Backproject: {exc}")
            self.job.status.setText(f"Failed: {exc}")
            return
        options = {
            "extent": str(self.extent.value),
            "method": str(self.method.value),
            "binary": bool(self.binary.value),
        }
        name = layer.name
        source = layer.metadata.get(SOURCE_KEY) or geometry.options.get(SOURCE_KEY)
        as_labels = isinstance(layer, Labels)
        units = geometry.options.get("units")
        if not units and source in self.viewer.layers:
            units = units_of(self.viewer.layers[source], 3)
        if not units:
            straightened = (
                self.viewer.layers[origin] if origin in self.viewer.layers else None
            )
            for candidate in (layer, straightened):
                if candidate is not None and geometry_of(candidate) is not None:
                    units = units_of(candidate, 3) or units

        holder: dict[str, Any] = {}

        def _abort() -> bool:
            # the worker's flag stays set after it aborted, so a writer still
            # running in a helper thread sees it too
            worker = holder.get("worker")
            return bool(worker is not None and worker.abort_requested)

        def _returned(result: Any) -> None:
            if result is None:
                return
            out, offset, saved = result
            place = placement(geometry, offset)
            metadata = {
                "backprojected_from": name,
                "geometry_from": origin,
                "offset": list(offset),
                "extent": options["extent"],
                "method": options["method"],
                "source_shape": list(geometry.source_shape),
                SOURCE_KEY: source,
            }
            if saved is not None:
                metadata["saved"] = str(saved)
            kwargs = {
                "name": f"{name} backprojected",
                "metadata": metadata,
                **place,
            }
            if units:
                kwargs["units"] = tuple(units)
            # Labels in, Labels out; an Image (intensities, even uint8) stays
            # an Image
            if as_labels and np.dtype(out.dtype).kind in "iub":
                self.viewer.add_labels(out, **kwargs)
            else:
                self.viewer.add_image(out, **kwargs)

        holder["worker"] = self.job.start(
            backproject_job,
            data,
            geometry,
            options,
            save_to,
            abort_requested=_abort,
            on_returned=_returned,
            description="Backproject",
            guard=layers_guard(self.viewer, layer),
        )
