"""Demo step: open the helix sample through the plugin's contribution."""

from __future__ import annotations

from pathlib import Path

from . import PLUGIN, screenshot
from .straighten import show_3d


def run(viewer, out: Path | None, context: dict) -> None:
    layers = viewer.open_sample(PLUGIN, "helix")
    context["helix"] = {layer.name: layer for layer in layers}
    viewer.dims.ndisplay = 3
    show_3d(viewer)
    screenshot(viewer, out, "helix.png", context)
