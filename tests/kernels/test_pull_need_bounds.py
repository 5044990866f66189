"""need_bounds: the NumPy twin (once per eager call) equals the numba version."""

from __future__ import annotations

import numpy as np
import pytest

from napari_backproject.data import helix_neurite
from napari_backproject.kernels.backproject_pull import (
    PullPlan,
    need_bounds,
    need_bounds_numpy,
    nonzero_boxes,
    segment_bounds,
)
from napari_backproject.straighten import straighten


@pytest.mark.parametrize("closed", [False, True])
@pytest.mark.parametrize("spacing", [1.0, 2.3])
def test_numpy_twin_gives_the_same_bounds_to_the_bit(closed, spacing):
    s = helix_neurite(shape=(64, 60, 70), scale=(1.0, 1.0, 1.0), seed=2)
    labels, g = straighten(
        s.mask, s.points, width=20, height=16, spacing=spacing, closed=closed
    )
    labels = labels.astype(np.uint8)
    labels[::5] = 0  # some all-zero slices
    labels[1::7, :, :3] = 1  # some boxes reaching the plane's edge
    ids, boxes, proj = segment_bounds(
        g.centers,
        g.tangents,
        g.e_u,
        g.e_v,
        g.width,
        g.height,
        g.spacing,
        g.scale,
        g.translate,
        closed,
    )
    rng = np.random.default_rng(0)
    for trial in range(3):
        # all segments with every slice loaded, then subsets with a partial lut
        keep = (
            np.arange(ids.size)
            if trial == 0
            else np.sort(rng.choice(ids.size, ids.size // 2, replace=False))
        )
        loaded = (
            np.arange(g.n_slices)
            if trial < 2
            else np.sort(rng.choice(g.n_slices, g.n_slices // 2, replace=False))
        )
        lut = np.full(g.n_slices, -1, dtype=np.int64)
        lut[loaded] = np.arange(loaded.size)
        plan = PullPlan(
            origin=np.zeros(3, np.int64),
            scale=g.scale,
            translate=g.translate,
            centers=g.centers,
            tangents=g.tangents,
            e_u=g.e_u,
            e_v=g.e_v,
            width=g.width,
            height=g.height,
            spacing=g.spacing,
            ids=ids[keep],
            boxes=boxes[keep],
            proj=proj[keep],
            lut=lut,
            nzbox=nonzero_boxes(np.ascontiguousarray(labels[loaded])),
            mode=2,
            newton=2,
            closed=closed,
            groups=1,
        )
        ref = need_bounds(plan)
        ours = need_bounds_numpy(plan)
        assert ours.dtype == ref.dtype and ours.shape == ref.shape
        np.testing.assert_array_equal(ours, ref)
        assert set(np.unique(ref[:, 0])) >= {1.0}  # the bounds are exercised
