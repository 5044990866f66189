"""Demo step: segment the straightened helix, backproject it with the widget.

The "segmentation" is a threshold of the straightened volume (``> 100``,
labels uint8), added as a Labels layer. The docked Backproject widget finds
its geometry on the straightened image (same shape), computes the minimum
bounding box (``extent="bbox"``) and writes ``backprojected.tif``; the result
is shown as labels on the source helix in 3D (``backprojected.png``). The
overlap with the sample's ground truth (Dice) is printed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import PLUGIN, screenshot
from .straighten import caption, show_3d, wait_for

#: intensity threshold that makes the demo's segmentation
THRESHOLD = 100


def run(viewer, out: Path | None, context: dict) -> None:
    """Threshold, backproject and overlay (see module docstring)."""
    straightened = context["straightened"]
    helix = context["helix"]
    source = helix["helix"]
    labels = viewer.add_labels(
        (np.asarray(straightened.data) > THRESHOLD).astype(np.uint8),
        name="straightened segmentation",
        scale=straightened.scale,
        visible=False,
    )
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Backproject")
    widget.reset_choices()
    widget.layer.value = labels
    widget.extent.value = "bbox"
    widget.method.value = "pull"
    if out is not None:
        widget.save_file.value = str(out / "backprojected.tif")
    widget.run_button.click()
    wait_for(widget.job, "backproject")
    name = f"{labels.name} backprojected"
    if name not in viewer.layers:
        raise RuntimeError("demo: the Backproject widget added no layer")
    result = viewer.layers[name]
    context["backprojected"] = result
    if out is not None:
        context["files"].append("backprojected.tif")

    truth = helix.get("helix ground truth")
    note = ""
    if truth is not None:
        z, y, x = result.metadata["offset"]
        nz, ny, nx = result.data.shape
        t = np.asarray(truth.data[z : z + nz, y : y + ny, x : x + nx]) > 0
        r = np.asarray(result.data) > 0
        outside = int(np.asarray(truth.data).astype(bool).sum()) - int(t.sum())
        dice = 2.0 * (t & r).sum() / max(1, t.sum() + outside + r.sum())
        print(f"demo: backprojected segmentation vs ground truth: Dice {dice:.3f}")
        note = f"\nDice vs ground truth {dice:.3f}"

    # the backprojected labels on the source, in 3D
    for layer in viewer.layers:
        layer.visible = layer in (source, result)
    result.opacity = 0.6
    result.blending = "translucent_no_depth"
    viewer.layers.move(viewer.layers.index(result), len(viewer.layers) - 1)
    viewer.dims.ndisplay = 3
    show_3d(viewer, layers=[result])
    text = f"segmentation (> {THRESHOLD})\nbackprojected (bbox)\nonto the helix{note}"
    with caption(viewer, text):
        screenshot(viewer, out, "backprojected.png", context)
