"""Demo step: the helix as an OME-Zarr pyramid, straightened at a coarse level.

The helix sample is written as a 2-level OME-Zarr pyramid
(``helix.zarr``, level 1 halved in y and x where the voxel is finest) and
opened through the plugin's reader, as *File > Open* would: a multiscale
layer. The Straighten widget samples level 1 (the level choice lists each
level's shape and voxel size) at the fine voxel size; Preview over the
multiscale layer is ``big-data-straighten-level1.png`` (whole window, with
the widget). A threshold of the straightened stack is backprojected by the
Backproject widget onto level 0 (the finest level of the source, its
default target), saved as OME-Zarr with the plugin's npe2 writer
(``backprojected-level0.zarr``), reopened, and checked to lie exactly on
the source (same scale, translate and level-0 shape);
``big-data-backprojected.png`` shows it on the pyramid in 3D.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from . import PLUGIN, screenshot
from .straighten import SIZE, caption, settle, show_3d, wait_for

#: threshold of the segmentation made on the straightened level-1 stack
THRESHOLD = 100
#: name of the pyramid layer
NAME = "helix pyramid"
#: the docs screenshot of a multiscale layer being straightened
DOCS_SHOT = "big-data-straighten-level1.png"


def _window_png(viewer, path: Path, width: int = 1200) -> None:
    """A whole-window screenshot, scaled to ``width`` px (docs keep PNGs small)."""
    from PIL import Image

    img = viewer.screenshot(canvas_only=False, flash=False)
    pil = Image.fromarray(np.asarray(img)[..., :3])
    if pil.width > width:
        pil = pil.resize((width, round(pil.height * width / pil.width)), Image.LANCZOS)
    pil.save(path, optimize=True)  # RGB: the demo's screenshots are all colour


def run(viewer, out: Path | None, context: dict) -> None:
    """Pyramid in, level 1 straightened, level 0 backprojected, saved, reopened."""
    from ..io.ome_zarr import write_ome_zarr

    folder = out if out is not None else Path(tempfile.mkdtemp(prefix="nbp-demo-"))
    helix = context["helix"]
    image, path = helix["helix"], helix["helix path"]
    pyramid = write_ome_zarr(
        np.asarray(image.data),
        folder / "helix.zarr",
        scale=tuple(image.scale),
        translate=tuple(image.translate),
        kind="image",
        levels=2,
        name=NAME,
        overwrite=True,
    )
    [source] = viewer.open(str(pyramid), plugin=PLUGIN)
    source.colormap = image.colormap.name
    source.contrast_limits = image.contrast_limits
    if out is not None:
        context["files"].append(pyramid.name)

    # Straighten at level 1, sampled at the fine voxel size
    dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Straighten")
    dock.raise_()  # its tab in front for the window screenshot
    widget.reset_choices()
    widget.image.value = source
    widget.level.value = 1
    widget.path.value = path
    widget.width.value = SIZE
    widget.height.value = SIZE
    widget.spacing.value = float(min(image.scale))
    widget.save_file.line_edit.value = ""  # keep the first step's straightened.tif
    widget.preview_button.click()
    for layer in viewer.layers:
        layer.visible = layer is source or layer.name.startswith("straighten preview")
    viewer.dims.ndisplay = 3
    show_3d(viewer, layers=[source])
    level = widget.level.native.currentText()
    text = f"multiscale OME-Zarr layer\nStraighten at level {level}"
    with caption(viewer, text):
        if out is not None:
            _window_png(viewer, out / DOCS_SHOT)
            context["files"].append(DOCS_SHOT)
    widget.run_button.click()
    wait_for(widget.job, "straighten (level 1)")
    straightened = viewer.layers[f"{source.name} straightened"]
    straightened.visible = False

    # a threshold, backprojected onto level 0 (the default target)
    seg = viewer.add_labels(
        (np.asarray(straightened.data) > THRESHOLD).astype(np.uint8),
        name="level-1 segmentation",
        scale=straightened.scale,
        translate=straightened.translate,
        visible=False,
    )
    _, bp = viewer.window.add_plugin_dock_widget(PLUGIN, "Backproject")
    bp.reset_choices()
    bp.layer.value = seg
    bp.geometry_layer.reset_choices()
    bp.geometry_layer.value = straightened.name  # the level-1 geometry
    bp.target.reset_choices()
    bp.target.value = 0
    bp.extent.value = "full"
    bp.save_file.line_edit.value = ""  # no file: the npe2 writer saves below
    bp.run_button.click()
    wait_for(bp.job, "backproject (onto level 0)")
    result = viewer.layers[f"{seg.name} backprojected"]

    # save as OME-Zarr (npe2 writer), reopen, check it lies on the source
    saved = folder / "backprojected-level0.zarr"
    if saved.exists():
        import shutil

        shutil.rmtree(saved)
    result.save(str(saved), plugin=PLUGIN)
    [reopened] = viewer.open(str(saved), plugin=PLUGIN)
    level0 = reopened.data[0] if reopened.multiscale else reopened.data
    same = (
        tuple(level0.shape) == tuple(source.data[0].shape)
        and np.allclose(reopened.scale, source.scale)
        and np.allclose(reopened.translate, source.translate)
    )
    if not same:
        raise RuntimeError("demo: the reopened backprojection is not on the source")
    viewer.layers.remove(result)
    if out is not None:
        context["files"].append(saved.name)
    truth = helix.get("helix ground truth")
    note = ""
    if truth is not None:
        t, r = np.asarray(truth.data) > 0, np.asarray(level0) > 0
        dice = 2.0 * (t & r).sum() / max(1, t.sum() + r.sum())
        print(f"demo: level-1 segmentation on level 0 vs ground truth: Dice {dice:.3f}")
        note = f"\nDice vs ground truth {dice:.3f}"

    for layer in viewer.layers:
        layer.visible = layer in (source, reopened)
    reopened.opacity = 0.6
    reopened.blending = "translucent_no_depth"
    show_3d(viewer, layers=[source])
    settle()
    text = (
        f"segmentation made at level 1,\nbackprojected onto level 0,\n"
        f"saved as OME-Zarr and reopened{note}"
    )
    with caption(viewer, text):
        screenshot(viewer, out, "big-data-backprojected.png", context)
