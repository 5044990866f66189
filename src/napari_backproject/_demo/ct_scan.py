"""Demo step: a measured-style CT scan to a lazy volume, via the widgets.

Opens the simulated scan (File > Open Sample), previews one row with
Prepare projections and prepares the stack, finds the centre with Find
centre and shows the sweep (at the automatic centre and at a wrong one),
accepts the centre and reconstructs the whole volume lazily with
Reconstruct (saved as OME-Zarr on the way). Writes ``ct-scan-prepare.png``,
``ct-scan-sweep.png``, ``ct-scan-sweep-wrong.png`` and ``ct-scan-volume.png``
(window screenshots, so the widgets show), then restores the viewer.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from . import PLUGIN
from .ct import _parts, _settle, _wait

#: how far (px) from the automatic centre the "wrong centre" screenshot is
WRONG_BY = 3.0


def _fit(viewer, layers) -> None:
    """Fit the view to ``layers`` only (hidden layers of other steps aside)."""
    layers = list(layers)
    if all(layer.ndim == viewer.dims.ndim for layer in layers):
        try:
            viewer.reset_view(layers=layers)
            return
        except TypeError:  # pragma: no cover - napari without layers=
            pass
    # napari 0.9 indexes the extent of layers with fewer dimensions than the
    # world by world axis: fit their last two axes by hand
    viewer.reset_view()
    lo = np.min([layer.extent.world[0][-2:] for layer in layers], axis=0)
    hi = np.max([layer.extent.world[1][-2:] for layer in layers], axis=0)
    canvas = getattr(viewer, "canvas", None)
    try:
        height, width = (float(v) for v in canvas.size)
    except (AttributeError, TypeError, ValueError):  # pragma: no cover
        return
    size = np.maximum(hi - lo, 1e-9)
    camera = _parts(viewer)[2]
    camera.center = (*camera.center[:-2], *((lo + hi) / 2))
    camera.zoom = 0.75 * min(height / size[0], width / size[1])


def _close_toasts(viewer) -> None:
    """Close notification pop-ups, which would cover the canvas."""
    try:
        window = viewer.window._qt_window
    except AttributeError:  # pragma: no cover
        return
    from qtpy.QtWidgets import QWidget

    for child in window.findChildren(QWidget):
        if type(child).__name__ == "NapariQtNotification":
            child.close()


def _window_shot(viewer, out: Path | None, name: str, context: dict) -> None:
    if out is None:
        return
    _settle()
    _close_toasts(viewer)
    _settle()
    viewer.screenshot(str(out / name), canvas_only=False, flash=False)
    context["files"].append(name)


def _only(viewer, layers) -> None:
    keep = set(id(layer) for layer in layers)
    for layer in viewer.layers:
        layer.visible = id(layer) in keep


def run(viewer, out: Path | None, context: dict) -> None:
    """Run the scan workflow on the simulated scan (see module docstring)."""
    grid, overlay, camera_model = _parts(viewer)
    ndisplay = viewer.dims.ndisplay
    earlier = {layer: layer.visible for layer in viewer.layers}
    overlay_was, overlay_position = overlay.visible, overlay.position
    viewer.dims.ndisplay = 2
    overlay.position = "top_left"
    overlay.visible = True

    raw, flats, darks, truth = viewer.open_sample(PLUGIN, "ct_scan")
    theta = raw.metadata["theta"]

    # --- Prepare projections: one row before and after, then the stack
    prep_dock, prep = viewer.window.add_plugin_dock_widget(
        PLUGIN, "Prepare projections", tabify=True
    )
    prep.reset_choices()
    prep.projections.value, prep.flats.value, prep.darks.value = raw, flats, darks
    row = int(raw.data.shape[1]) // 2
    prep.row.value = row
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the dead pixel, shown
        prep.preview()
    before, after = viewer.layers["sinogram before"], viewer.layers["sinogram after"]
    _only(viewer, [before, after])
    overlay.text = (
        f"Prepare projections: row {row} as a sinogram\n(detector down, "
        f"{len(theta)} angles across)\nleft: raw counts\nright: flat/dark, "
        "zingers, -log, rings"
    )
    prep_dock.raise_()
    _fit(viewer, [before, after])
    _window_shot(viewer, out, "ct-scan-prepare.png", context)
    prep.run()
    _wait(prep.controls, "prepare projections")
    prepared = viewer.layers[f"{raw.name} prepared"]
    for layer in (before, after):
        viewer.layers.remove(layer)

    # --- Find centre: the automatic value and the sweep around it
    find_dock, find = viewer.window.add_plugin_dock_widget(
        PLUGIN, "Find centre", tabify=True
    )
    find.reset_choices()
    find.projections.value = prepared
    find.row.value = row
    find.half_range.value = 5.0
    find.step.value = 0.5
    find.run()
    _wait(find.controls, "find centre")
    sweep = viewer.layers["centre sweep"]
    _only(viewer, [sweep])
    find_dock.raise_()
    _fit(viewer, [sweep])
    auto = float(find.found)
    for name, centre, words in (
        ("ct-scan-sweep-wrong.png", auto - WRONG_BY, "a wrong centre: arcs"),
        ("ct-scan-sweep.png", auto, "the automatic centre: sharp"),
    ):
        viewer.dims.set_point(0, centre)
        shown = find.shown_center()
        overlay.text = (
            f"Find centre: sweep of row {row}\nslice at centre {shown:.2f} px "
            f"({words})\nautomatic {auto:.2f} px, true "
            f"{raw.metadata['simulated_center']:.2f} px"
        )
        _window_shot(viewer, out, name, context)
    find.use_center()

    # --- Reconstruct: the whole volume, lazily, saved on the way
    rec_dock, rec = viewer.window.add_plugin_dock_widget(
        PLUGIN, "Reconstruct", tabify=True
    )
    rec.reset_choices()
    rec.sinogram.value = prepared
    if out is not None:
        rec.save_file.value = str(out / "ct-scan-volume.zarr")
    rec.run()
    _wait(rec.controls, "reconstruct volume")
    if out is not None:
        context["files"].append("ct-scan-volume.zarr")
    volume = viewer.layers[f"{prepared.name} volume"]
    truth.colormap = "gray"
    truth.contrast_limits = volume.contrast_limits
    _only(viewer, [volume, truth])
    viewer.layers.move_multiple(
        [viewer.layers.index(volume), viewer.layers.index(truth)], 0
    )
    grid.enabled = True
    grid.shape = (1, 2)
    grid.stride = 1
    viewer.dims.set_point(0, row)
    overlay.text = (
        f"Reconstruct: the volume, lazily ({volume.data.shape[0]} rows,\n"
        f"each computed when shown), row {row}, centre {auto:.2f} px\n"
        "left: reconstructed; right: the true volume"
    )
    rec_dock.raise_()
    _fit(viewer, [volume, truth])
    _window_shot(viewer, out, "ct-scan-volume.png", context)
    rec.save_file.value = ""
    context["ct_scan"] = {
        layer.name: layer for layer in (raw, prepared, sweep, volume, truth)
    }

    # restore the viewer for the next steps
    grid.enabled = False
    overlay.text = ""
    overlay.visible, overlay.position = overlay_was, overlay_position
    for layer in viewer.layers:
        layer.visible = earlier.get(layer, False)
    viewer.dims.ndisplay = ndisplay
    viewer.reset_view()
