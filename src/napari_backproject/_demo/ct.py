"""Demo step: sinogram, FBP and SART of the Shepp–Logan phantom, via the widgets.

Drives the docked Sinogram and Reconstruct widgets exactly as a user would
(set parameters, run, wait for the background job), shows phantom, sinogram,
FBP and SART side by side in a grid, writes ``ct.png`` and the sinogram and
reconstructions as TIFFs, then restores the viewer for the next steps.
"""

from __future__ import annotations

import time
from pathlib import Path

from . import PLUGIN, screenshot

#: parameters of the demo (kept small enough for a quick headless run)
N_ANGLES = 180
SART_ITERATIONS = 2


def _wait(controls, what: str, timeout: float = 600.0) -> None:
    """Process Qt events until the widget's background job has finished."""
    from qtpy.QtWidgets import QApplication

    t0 = time.monotonic()
    while controls.running:
        QApplication.processEvents()
        time.sleep(0.01)
        if time.monotonic() - t0 > timeout:
            controls.cancel()
            raise RuntimeError(f"demo: {what} did not finish in {timeout:.0f} s")
    QApplication.processEvents()
    if controls.last_error is not None:
        raise RuntimeError(f"demo: {what} failed: {controls.last_error}")


def _settle() -> None:
    """Let Qt lay out the window so the canvas has its final size."""
    from qtpy.QtWidgets import QApplication

    for _ in range(5):
        QApplication.processEvents()
        time.sleep(0.02)


def _parts(viewer):
    """Grid, text overlay and camera models (napari >= 0.9 names, else older)."""
    canvas = getattr(viewer, "canvas", None)
    if canvas is not None and hasattr(canvas, "grid"):
        return canvas.grid, canvas.overlays.text, viewer.scene.camera
    return viewer.grid, viewer.text_overlay, viewer.camera  # pragma: no cover


def _grid_shape(viewer) -> tuple[int, int]:
    """A 4-cell grid that suits the canvas: a row, a column or 2 x 2."""
    canvas = getattr(viewer, "canvas", None)
    if canvas is None or not hasattr(canvas, "size"):  # pragma: no cover
        canvas = viewer.window._qt_viewer.canvas
    try:
        height, width = (float(v) for v in canvas.size)
    except (AttributeError, TypeError, ValueError):  # pragma: no cover
        return (2, 2)
    if height > 2.0 * width:
        return (4, 1)
    if width > 2.0 * height:
        return (1, 4)
    return (2, 2)


def run(viewer, out: Path | None, context: dict) -> None:
    """Run the CT workflow on the Shepp–Logan sample (see module docstring)."""
    from ..io.tiff import write_tiff

    grid, overlay, camera_model = _parts(viewer)
    ndisplay = viewer.dims.ndisplay
    camera = camera_model.model_dump() if hasattr(camera_model, "model_dump") else {}
    earlier = {layer: layer.visible for layer in viewer.layers}
    for layer in earlier:
        layer.visible = False
    viewer.dims.ndisplay = 2

    (phantom,) = viewer.open_sample(PLUGIN, "shepp_logan")
    _, sino_widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Sinogram")
    _, rec_widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Reconstruct")

    sino_widget.reset_choices()
    sino_widget.image.value = phantom
    sino_widget.n_angles.value = N_ANGLES
    sino_widget.run()
    _wait(sino_widget.controls, "sinogram")
    sinogram = viewer.layers[f"{phantom.name} sinogram"]

    rec_widget.reset_choices()
    rec_widget.sinogram.value = sinogram
    rec_widget.method.value = "FBP"
    rec_widget.filter_name.value = "ramp"
    rec_widget.run()
    _wait(rec_widget.controls, "FBP")
    fbp = viewer.layers[f"{sinogram.name} FBP"]

    rec_widget.method.value = "SART"
    rec_widget.iterations.value = SART_ITERATIONS
    rec_widget.run()
    _wait(rec_widget.controls, "SART")
    sart = viewer.layers[f"{sinogram.name} SART"]
    rec_widget.method.value = "FBP"  # leave the widget on its default method

    ours = [phantom, sinogram, fbp, sart]
    context["ct"] = {layer.name: layer for layer in ours}
    # the grid fills its cells in layer-list order: phantom, sinogram / FBP, SART
    viewer.layers.move_multiple([viewer.layers.index(x) for x in ours], 0)
    grid.enabled = True
    grid.stride = 1
    grid.shape = _grid_shape(viewer)
    overlay_was = overlay.visible
    overlay_position = overlay.position
    overlay.text = (
        f"Shepp-Logan phantom, sinogram ({N_ANGLES} angles over 0-180°),\n"
        f"FBP (ramp filter), SART ({SART_ITERATIONS} iterations)"
    )
    overlay.position = "top_left"
    overlay.visible = True
    _settle()
    viewer.reset_view()
    _settle()
    screenshot(viewer, out, "ct.png", context)

    if out is not None:
        for layer, name in ((sinogram, "ct-sinogram.tif"), (fbp, "ct-fbp.tif")):
            write_tiff(
                layer.data,
                out / name,
                metadata=dict(layer.metadata),
                scale=layer.scale,
                translate=layer.translate,
            )
            context["files"].append(name)
        write_tiff(
            sart.data,
            out / "ct-sart.tif",
            metadata=dict(sart.metadata),
            scale=sart.scale,
            translate=sart.translate,
        )
        context["files"].append("ct-sart.tif")

    # restore the viewer for the next steps
    overlay.visible = overlay_was
    overlay.position = overlay_position
    overlay.text = ""
    grid.enabled = False
    for layer in ours:
        layer.visible = False
    for layer, visible in earlier.items():
        layer.visible = visible
    viewer.dims.ndisplay = ndisplay
    viewer.reset_view()
    for key in ("center", "zoom", "angles"):
        if key in camera:
            setattr(camera_model, key, camera[key])
