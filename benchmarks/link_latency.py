"""Latency of one linked-cursor update in napari (marker redrawn, status set).

Run under a display: ``xvfb-run -a python -m benchmarks.link_latency``.
Prints the median and 95th percentile per update, each direction, for a
2,000-plane geometry; the budget is 20 ms.
"""

from __future__ import annotations

import time

import numpy as np


def main(n_planes: int = 2000, updates: int = 200) -> None:
    import napari

    from benchmarks.bench_link import long_geometry
    from napari_backproject._widgets._layers import geometry_metadata
    from napari_backproject.linking import link

    g = long_geometry(n_planes)
    viewer = napari.Viewer(show=True)
    lo = np.floor(g.centers.min(axis=0)) - 20
    src = viewer.add_image(
        np.zeros((8, 8, 8), np.uint8),
        name="source",
        scale=(np.ptp(g.centers, axis=0) + 40) / 8,
        translate=lo,
    )
    st = viewer.add_image(
        np.zeros(g.straightened_shape, np.uint8),
        name="straightened",
        metadata=geometry_metadata(g, "source"),
    )
    lk = link(viewer, st, src)
    rng = np.random.default_rng(0)
    pix = np.c_[
        rng.uniform(0, g.n_slices - 1, updates),
        rng.uniform(0, g.height - 1, updates),
        rng.uniform(0, g.width - 1, updates),
    ]
    world_src = lk.spaces.to_source_world(pix)
    for space, layer, points in (
        ("straightened", st, lk.spaces.world_of_pixel(pix)),
        ("source", src, world_src),
    ):
        viewer.layers.selection.active = layer
        times = []
        for p in points:
            t0 = time.perf_counter()
            viewer.cursor.position = tuple(p)  # napari's status + our handler
            times.append(time.perf_counter() - t0)
        napari.qt.get_qapp().processEvents()
        ms = np.array(times[5:]) * 1e3
        print(
            f"{g.n_slices} planes, cursor over {space}: median {np.median(ms):.2f} ms, "
            f"p95 {np.percentile(ms, 95):.2f} ms, max {ms.max():.2f} ms "
            f"({len(ms)} updates)"
        )
    t = []
    for i in range(0, g.n_slices, max(1, g.n_slices // 100)):
        t0 = time.perf_counter()
        viewer.dims.set_point(0, lk.spaces.slice_world(i))
        t.append(time.perf_counter() - t0)
    ms = np.array(t) * 1e3
    print(
        f"scroll one slice (napari slicing + plane overlay): median {np.median(ms):.2f} ms"
    )
    t = []
    for i in range(0, g.n_slices, max(1, g.n_slices // 100)):
        lk.current_slice = None
        viewer.dims.point = (lk.spaces.slice_world(i),) + tuple(viewer.dims.point[1:])
        lk.current_slice = None
        t0 = time.perf_counter()
        lk._on_dims()
        t.append(time.perf_counter() - t0)
    ms = np.array(t) * 1e3
    print(f"plane overlay update alone: median {np.median(ms):.2f} ms")
    lk.close()
    viewer.close()


if __name__ == "__main__":
    main()
