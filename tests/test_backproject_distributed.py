"""The lazy backprojection gives identical output under dask.distributed."""

from __future__ import annotations

import time

import numpy as np
import pytest

from napari_backproject import backproject
from napari_backproject.data import helix_neurite
from napari_backproject.straighten import straighten


@pytest.mark.slow
def test_distributed_matches_local():
    distributed = pytest.importorskip("distributed")
    t0 = time.perf_counter()
    s = helix_neurite(shape=(40, 48, 48), scale=(2.0, 1.0, 1.0), radius=4.0)
    st_, g = straighten(
        s.mask.astype(np.float32),
        s.points,
        width=13,
        height=13,
        spacing=1.0,
        scale=s.scale,
        dtype=np.float32,
    )
    labels = (st_ >= 0.5).astype(np.uint16) * 513
    ref_pull, off = backproject(labels, g, chunk_z=6)
    ref_splat, off_s = backproject(st_, g, method="splat", chunk_z=6)
    with (
        distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        lazy, off2 = backproject(labels, g, chunk_z=6, lazy=True)
        out = client.compute(lazy).result()
        lazy_s, off3 = backproject(st_, g, method="splat", chunk_z=6, lazy=True)
        out_s = client.compute(lazy_s).result()
    assert off2 == off and off3 == off_s
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, ref_pull)
    np.testing.assert_array_equal(out_s, ref_splat)
    assert set(np.unique(out).tolist()) == {0, 513}
    assert time.perf_counter() - t0 < 60
