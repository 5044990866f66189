"""Make docs/images/linked-views.png and linked-views-preview.png (helix sample).

Run from the repository root under a display, e.g.
``xvfb-run -a -s "-screen 0 1600x1000x24" python docs/scripts/linked_views_screenshot.py``.
Left: the source in 3D with the current plane (cyan), the curve (yellow), the
tick (red) and the linked cursor (magenta). Right: the straightened slice with
the cursor that was moved over it. The preview image: a segmentation painted
on the stack (right) and its current slab previewed on the source (left).
"""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import napari
import numpy as np

from napari_backproject import straighten
from napari_backproject._widgets._layers import geometry_metadata
from napari_backproject.data import helix_neurite
from napari_backproject.linking import link

OUT = Path(__file__).resolve().parents[1] / "images" / "linked-views.png"
OUT_PREVIEW = OUT.with_name("linked-views-preview.png")


def main() -> None:
    sample = helix_neurite(shape=(96, 128, 128), scale=(2.0, 1.0, 1.0), radius=5.0)
    data, g = straighten(
        sample.volume, sample.points, width=40, height=40, scale=sample.scale
    )
    d = g.spacing
    stack_viewer = napari.Viewer(title="straightened", show=True)
    source_viewer = napari.Viewer(title="source", show=True)
    src = source_viewer.add_image(
        sample.volume,
        name="helix",
        scale=sample.scale,
        colormap="gray",
        rendering="mip",
        opacity=0.6,
    )
    st = stack_viewer.add_image(
        data,
        name="helix straightened",
        scale=(d, d, d),
        metadata=geometry_metadata(g, "helix"),
    )
    lk = link(stack_viewer, st, src, source_viewer=source_viewer, marker_size=8 * d)
    source_viewer.dims.ndisplay = 3
    source_viewer.camera.angles = (0, 30, 70)
    source_viewer.camera.zoom = 2.2
    i = g.n_slices // 3
    stack_viewer.dims.set_point(0, lk.spaces.slice_world(i))
    stack_viewer.camera.zoom = 10
    pixel = np.array([i, 24.0, 27.0])
    stack_viewer.layers.selection.active = st
    stack_viewer.cursor.position = tuple(pixel * st.scale + st.translate)
    print(lk.status)
    left = source_viewer.screenshot(canvas_only=True, size=(600, 600))
    right = stack_viewer.screenshot(canvas_only=True, size=(600, 600))
    gap = np.full((600, 8, 4), 255, np.uint8)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(OUT, np.hstack([left, gap, right])[..., :3])
    print("wrote", OUT)

    # a segmentation of the stack (threshold), previewed slab by slab
    v, u = np.ogrid[: data.shape[1], : data.shape[2]]
    near_axis = (v - data.shape[1] / 2) ** 2 + (u - data.shape[2] / 2) ** 2 < 12**2
    seg = ((data > np.percentile(data, 90)) & near_axis).astype(np.uint8) * 2
    labels = stack_viewer.add_labels(seg, name="segmentation", scale=(d, d, d))
    lk.preview_labels(labels, half_width=20)
    source_viewer.layers["link: labels preview"].rendering = "translucent"
    left = source_viewer.screenshot(canvas_only=True, size=(600, 600))
    right = stack_viewer.screenshot(canvas_only=True, size=(600, 600))
    iio.imwrite(OUT_PREVIEW, np.hstack([left, gap, right])[..., :3])
    print("wrote", OUT_PREVIEW)
    lk.close()
    stack_viewer.close()
    source_viewer.close()


if __name__ == "__main__":
    main()
