"""Linked views: one cursor update on a 2,000-plane geometry (model only),
and the labels preview of the current slab against the full backprojection.

The napari round trip (marker layer redrawn, status) is timed by
``benchmarks/link_latency.py`` (needs a display: run it under xvfb-run).
"""

from __future__ import annotations

import numpy as np

from benchmarks.harness import Case
from napari_backproject.geometry import make_slice_geometry
from napari_backproject.linking import LinkedSpaces


def long_geometry(n_planes: int = 2000, width: int = 32):
    """A helix path whose geometry has about ``n_planes`` planes (spacing 1)."""
    t = np.linspace(0, 6 * np.pi, 40)
    path = np.c_[10 + 8 * t, 60 + 30 * np.sin(t), 60 + 30 * np.cos(t)]
    length = np.sum(np.linalg.norm(np.diff(path, axis=0), axis=1))
    path = path[0] + (path - path[0]) * (n_planes / length)
    return make_slice_geometry(
        path,
        source_shape=(4096, 4096, 4096),
        source_dtype="uint8",
        width=width,
        height=width,
        spacing=1.0,
    )


def cases(quick: bool) -> list[Case]:
    n = 400 if quick else 2000
    state: dict = {}

    def setup() -> None:
        if "spaces" in state:
            return
        g = long_geometry(n)
        spaces = LinkedSpaces(g)
        rng = np.random.default_rng(0)
        pix = np.c_[
            rng.uniform(0, g.n_slices - 1, 20),
            rng.uniform(0, g.height - 1, 20),
            rng.uniform(0, g.width - 1, 20),
        ]
        state.update(
            spaces=spaces, world=spaces.to_source_world(pix), grid=g.world_coordinates()
        )

    def ours() -> None:
        s = state["spaces"]
        for p in state["world"]:
            state["ours"] = s.to_straightened_world(p)

    def reference() -> None:
        # what one would do without the mapping: nearest pixel centre, brute force
        grid = state["grid"].reshape(3, -1).T
        for p in state["world"]:
            state["ref"] = int(np.argmin(np.sum((grid - p) ** 2, axis=1)))

    def notes() -> str:
        g = state["spaces"].geometry
        return (
            f"{g.n_slices} planes of {g.height} x {g.width}; ours: 20 cursor "
            "updates (exact, sub-pixel); reference: 20 nearest-pixel searches"
        )

    pstate: dict = {}

    def preview_setup() -> None:
        if "labels" in pstate:
            return
        g = long_geometry(200 if quick else 500, width=48)
        labels = np.zeros(g.straightened_shape, dtype=np.uint16)
        labels[:, 12:36, 10:30] = 1  # a tube segmented along the whole stack
        labels[::7, 20:28, 30:40] = 2
        pstate.update(spaces=LinkedSpaces(g), labels=labels)

    def preview() -> None:
        s, labels = pstate["spaces"], pstate["labels"]
        pstate["slab"] = s.backproject_slab(labels, s.n_slices // 2, half_width=4)

    def full() -> None:
        from napari_backproject import backproject

        pstate["full"] = backproject(pstate["labels"], pstate["spaces"].geometry)

    def preview_notes() -> str:
        g = pstate["spaces"].geometry
        data = pstate["slab"][0]
        return (
            f"ours: the 9-slice slab around the current slice of a {g.n_slices}-plane "
            f"uint16 segmentation ({g.height} x {g.width} px), {data.size / 1e6:.2f} "
            "M voxels; reference: backprojecting the whole segmentation "
            "(what the user runs otherwise)"
        )

    return [
        Case(
            name="labels preview, current slab",
            ours=preview,
            reference=full,
            reference_name="full backprojection",
            setup=preview_setup,
            repeats=5,
            notes=preview_notes,
        ),
        Case(
            name=f"linked cursor, source -> straightened ({n} planes)",
            ours=ours,
            reference=reference,
            reference_name="brute-force nearest pixel centre",
            setup=setup,
            repeats=5,
            notes=notes,
        ),
    ]
