"""Demo step: open the helix sample through the plugin's contribution."""

from __future__ import annotations

from pathlib import Path

from qtpy.QtWidgets import QApplication

from . import PLUGIN, screenshot


def run(viewer, out: Path | None, context: dict) -> None:
    layers = viewer.open_sample(PLUGIN, "helix")
    context["helix"] = {layer.name: layer for layer in layers}
    viewer.dims.ndisplay = 3
    # let the window take its final size before fitting the view to it
    QApplication.processEvents()
    viewer.reset_view()
    viewer.camera.angles = (0.0, 25.0, 75.0)
    screenshot(viewer, out, "helix.png", context)
