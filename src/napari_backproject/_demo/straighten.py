"""Demo step: straighten the helix sample through the docked Straighten widget.

Sets the widget up as a user would (image ``helix``, path ``helix path``,
40 x 40 px planes), clicks Preview (plane outlines and the fitted curve over
the helix in 3D: ``straighten-preview.png``), then Run with a save file, so the
widget writes ``straightened.tif`` and ``straightened.geometry.json``. The
straightened volume is shown as a longitudinal section (slice axis running
left to right: ``straightened.png``), where the curved tube is a straight
band.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path

from . import PLUGIN, screenshot

#: plane size (pixels) and preview stride of the demo
SIZE = 40
EVERY = 25


def wait_for(job, what: str, timeout: float = 600.0) -> None:
    """Process Qt events until a widget's background job has finished.

    Examples
    --------
    >>> wait_for(widget.job, "straighten")  # doctest: +SKIP
    """
    from qtpy.QtWidgets import QApplication

    t0 = time.monotonic()
    while job.running:
        QApplication.processEvents()
        time.sleep(0.01)
        if time.monotonic() - t0 > timeout:
            job.cancel()
            raise RuntimeError(f"demo: {what} did not finish in {timeout:.0f} s")
    QApplication.processEvents()
    if job.last_error is not None:
        raise RuntimeError(f"demo: {what} failed: {job.last_error}")


def settle() -> None:
    """Let Qt lay out and draw the window before a screenshot."""
    from qtpy.QtWidgets import QApplication

    for _ in range(5):
        QApplication.processEvents()
        time.sleep(0.02)


@contextmanager
def caption(viewer, text: str):
    """Show ``text`` in the canvas's text overlay while the block runs.

    Examples
    --------
    >>> with caption(viewer, "after"):  # doctest: +SKIP
    ...     screenshot(viewer, out, "after.png", context)
    """
    was = viewer.text_overlay.visible, viewer.text_overlay.text
    position = viewer.text_overlay.position
    viewer.text_overlay.text = text
    viewer.text_overlay.position = "top_left"
    viewer.text_overlay.visible = True
    settle()
    try:
        yield
    finally:
        viewer.text_overlay.visible, viewer.text_overlay.text = was
        viewer.text_overlay.position = position


def show_3d(viewer, zoom: float = 1.0, layers=None) -> None:
    """A side view of the volume, its z axis along the canvas's longer side.

    The camera looks mostly along x, tilted a little for depth; the visible
    layers (or ``layers``) are then fitted in the canvas and the zoom
    multiplied by ``zoom``.

    Examples
    --------
    >>> show_3d(viewer)  # doctest: +SKIP
    """
    settle()
    height, width = viewer.canvas.size
    if height >= width:  # z runs down the canvas
        viewer.camera.set_view_direction((0.25, -0.45, 1.0), (-1.0, 0.0, 0.0))
    else:  # z runs left to right
        viewer.camera.set_view_direction((0.25, -0.45, 1.0), (0.0, -1.0, 0.0))
    viewer.reset_view(layers=layers, reset_camera_angle=False, margin=0.05)
    viewer.camera.zoom = viewer.camera.zoom * zoom
    settle()


def run(viewer, out: Path | None, context: dict) -> None:
    """Preview, straighten and save the helix sample (see module docstring)."""
    from .._widgets.straighten import PREVIEW_CURVE, PREVIEW_PLANES
    from ..straighten import geometry_json_path

    helix = context["helix"]
    image, path = helix["helix"], helix["helix path"]
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Straighten")
    widget.reset_choices()
    widget.image.value = image
    widget.path.value = path
    widget.width.value = SIZE
    widget.height.value = SIZE
    widget.every.value = EVERY

    # Preview: plane outlines (cyan) and fitted curve (yellow) over the helix
    widget.preview_button.click()
    if "helix ground truth" in helix:
        helix["helix ground truth"].visible = False
    viewer.dims.ndisplay = 3
    show_3d(viewer, layers=[viewer.layers[PREVIEW_PLANES]])
    n = widget.geometry().n_slices
    text = f"Preview: every {EVERY}th of\n{n} planes ({SIZE} x {SIZE} px)\nand the fitted curve"
    with caption(viewer, text):
        screenshot(viewer, out, "straighten-preview.png", context)

    # Run (and save straightened.tif + straightened.geometry.json)
    if out is not None:
        widget.save_file.value = str(out / "straightened.tif")
    widget.run_button.click()
    wait_for(widget.job, "straighten")
    name = f"{image.name} straightened"
    if name not in viewer.layers:
        raise RuntimeError("demo: the Straighten widget added no layer")
    straightened = viewer.layers[name]
    context["straightened"] = straightened
    if out is not None:
        context["files"] += [
            "straightened.tif",
            geometry_json_path(out / "straightened.tif").name,
        ]

    # a longitudinal section through the tube's centre, the slice axis along
    # the canvas's longer side
    visible = {layer: layer.visible for layer in viewer.layers}
    for layer in viewer.layers:
        layer.visible = layer is straightened
    viewer.dims.ndisplay = 2
    height, width = viewer.canvas.size
    viewer.dims.order = (1, 2, 0) if width >= height else (1, 0, 2)
    viewer.dims.set_point(1, (SIZE - 1) / 2 * straightened.scale[1])
    contrast = straightened.contrast_limits
    straightened.contrast_limits = (0, contrast[1])  # show the planes' extent
    settle()
    viewer.reset_view(layers=[straightened])
    settle()
    n = straightened.data.shape[0]
    with caption(viewer, f"straightened helix:\nsection v = {SIZE // 2}\n{n} planes"):
        screenshot(viewer, out, "straightened.png", context)
    straightened.contrast_limits = contrast

    # restore a 3D view of the source for the next steps
    viewer.dims.order = (0, 1, 2)
    for layer, was in visible.items():
        layer.visible = was
    for layer_name in (PREVIEW_PLANES, PREVIEW_CURVE):
        if layer_name in viewer.layers:
            viewer.layers[layer_name].visible = False
    straightened.visible = False
    viewer.dims.ndisplay = 3
    viewer.reset_view()
