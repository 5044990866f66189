"""Backproject dock widget: put a straightened segmentation back on its source.

Thin Qt front end of :func:`napari_backproject.backproject.backproject`. The
geometry comes from a JSON file when one is chosen, else from the layer's own
metadata, else from the straightened image it was painted on (matched by
shape). The result is added as a Labels layer (an Image layer for float data)
with the source's scale and a translate that includes the bounding-box
offset, so it lies exactly on the source image.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, FileEdit
from napari.layers import Image, Labels
from qtpy.QtWidgets import QPushButton, QWidget

from .._progress import Cancelled, Progress, iter_chunks
from ..backproject import backproject, placement, write_backprojection
from ..io.tiff import read_tiff
from ..slice_geometry import SliceGeometry
from ._dock import dock_layout, follow_layers
from ._job import JobControls
from ._layers import SOURCE_KEY, matching_geometry

if TYPE_CHECKING:
    import napari


def _file_value(edit: FileEdit) -> Path | None:
    text = str(edit.line_edit.value).strip()
    return Path(text) if text else None


def _write_polling(
    data: Any,
    geometry: SliceGeometry,
    save_to: Path,
    options: dict,
    compression: str,
    abort_requested,
):
    """Run :func:`write_backprojection` in a helper thread, yielding its progress.

    Returns ``(path, offset)``, or None when cancelled (the writer removes
    its temporary file when its progress callback raises ``Cancelled``).
    """
    state: dict[str, Any] = {"done": 0, "total": 1, "result": None, "error": None}
    stop = threading.Event()

    def _progress(done: int, total: int) -> None:
        state["done"], state["total"] = done, total
        if stop.is_set() or abort_requested():
            raise Cancelled

    def _target() -> None:
        try:
            state["result"] = write_backprojection(
                data,
                geometry,
                save_to,
                compression=compression,
                progress=_progress,
                **options,
            )
        except BaseException as exc:  # re-raised in the job below
            state["error"] = exc

    thread = threading.Thread(target=_target, daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.05)
            yield Progress(state["done"], state["total"], f"Writing {save_to.name}…")
    finally:  # closed early (job aborted): stop the writer, which cleans up
        if thread.is_alive():
            stop.set()
            thread.join()
    error = state["error"]
    if isinstance(error, Cancelled):
        return None
    if error is not None:
        raise error
    return state["result"]


def backproject_job(
    data: Any,
    geometry: SliceGeometry,
    options: dict,
    save_to: Path | None = None,
    compression: str = "zlib",
    abort_requested=lambda: False,
):
    """Generator job: backproject chunk by chunk (or stream to a file).

    Without ``save_to`` the lazy result is computed one slab at a time into a
    NumPy array; with ``save_to`` it is streamed to that TIFF by
    :func:`~napari_backproject.backproject.write_backprojection` and opened
    lazily. Yields :class:`~napari_backproject._progress.Progress`; returns
    ``(data, offset, saved_path_or_None)``, or None when cancelled.

    Examples
    --------
    >>> gen = backproject_job(labels, geometry, {"extent": "bbox"})  # doctest: +SKIP
    """
    if save_to is not None:
        result = yield from _write_polling(
            data, geometry, save_to, options, compression, abort_requested
        )
        if result is None:
            yield Progress(0, 1, "Cancelled")  # the worker aborts here
            return None
        path, offset = result
        lazy, _ = read_tiff(path)
        return lazy, tuple(offset), path
    lazy, offset = backproject(data, geometry, lazy=True, **options)
    out = np.zeros(lazy.shape, dtype=lazy.dtype)
    n = lazy.shape[0]
    yield Progress(0, n, "Backprojecting…")
    for start, stop, block in iter_chunks(lazy):
        out[start:stop] = block
        yield Progress(stop, n, f"Backprojected {stop}/{n} planes")
    return out, tuple(offset), None


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
            tooltip="Labels (or Image) layer made on a straightened volume",
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
        self.extent = ComboBox(label="extent", choices=["bbox", "full"], value="bbox")
        self.method = ComboBox(label="method", choices=["pull", "splat"], value="pull")
        self.binary = CheckBox(label="binary (foreground = 1)", value=False)
        self.save_file = FileEdit(
            label="save to (optional)", mode="w", filter="*.tif *.tiff"
        )
        self.run_button = QPushButton("Run")
        self.run_button.clicked.connect(self.run)
        self.container = Container(
            widgets=[
                self.layer,
                self.geometry_file,
                self.extent,
                self.method,
                self.binary,
                self.save_file,
            ]
        )
        self.job = JobControls(self)
        dock_layout(self, self.container, [self.run_button], self.job)
        follow_layers(self.viewer, self.reset_choices)

    def _layer_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        return [
            (layer.name, layer)
            for layer in self.viewer.layers
            if isinstance(layer, (Labels, Image))
            and layer.ndim == 3
            and not getattr(layer, "rgb", False)
        ]

    def reset_choices(self, event: Any = None) -> None:
        """Refresh the layer list (napari calls this when layers change)."""
        self.container.reset_choices()

    def geometry(self) -> tuple[SliceGeometry, str]:
        """The geometry to use and where it came from (file or layer name).

        Examples
        --------
        >>> g, origin = widget.geometry()  # doctest: +SKIP
        """
        layer = self.layer.value
        if layer is None:
            raise ValueError("choose the straightened Labels or Image layer.")
        path = _file_value(self.geometry_file)
        if path is not None:
            if not path.is_file():
                raise ValueError(f"geometry file {path} does not exist.")
            return SliceGeometry.from_json(path), path.name
        return matching_geometry(layer, self.viewer.layers)

    def run(self, _value: Any = None) -> None:
        """Backproject in a background job and add the result over the source."""
        from napari.utils.notifications import show_error

        try:
            layer = self.layer.value
            geometry, origin = self.geometry()
            data = layer.data[0] if layer.multiscale else layer.data
            if tuple(data.shape) != geometry.straightened_shape:
                raise ValueError(
                    f"{layer.name!r} has shape {tuple(data.shape)} but the geometry "
                    f"from {origin} describes {geometry.straightened_shape}."
                )
        except ValueError as exc:
            show_error(f"Backproject: {exc}")
            self.job.status.setText(f"Failed: {exc}")
            return
        options = {
            "extent": str(self.extent.value),
            "method": str(self.method.value),
            "binary": bool(self.binary.value),
        }
        save_to = _file_value(self.save_file)
        name = layer.name
        source = layer.metadata.get(SOURCE_KEY) or geometry.options.get(SOURCE_KEY)

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
            if np.dtype(out.dtype).kind in "iu":
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
        )
