"""A lazy segmentation backprojects out of core: same voxels, bounded graph."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest
from dask.optimization import cull

from napari_backproject import backproject, straighten, write_backprojection
from napari_backproject.data import helix_neurite
from napari_backproject.io import tiff
from napari_backproject.io._blocks import iter_blocks
from napari_backproject.io.tiff import read_tiff, write_tiff


def _straight(n):
    vol = np.zeros((n, 24, 24), np.uint8)
    vol[:, 10:14, 10:14] = 200
    return straighten(vol, [[1, 12, 12], [n - 2, 12, 12]], width=9, height=9)


def _slab_tasks(out, j):
    dsk = dict(out.__dask_graph__())
    sub, _ = cull(dsk, [(out.name, j, 0, 0)])
    return len(sub)


def test_graph_of_one_slab_does_not_grow_with_the_volume():
    counts = []
    for n in (40, 160):
        st, g = _straight(n)
        seg = (da.from_array(st, chunks=(1, 9, 9)) > 100).astype(np.uint8)
        out, _ = backproject(seg, g, extent="full", chunk_z=4)
        assert out.chunks[0][0] == 4
        counts.append((_slab_tasks(out, 2), _slab_tasks(out, 5)))
    # the same slab needs the same few input chunks, whatever the volume
    assert counts[0] == counts[1]
    assert counts[0][0] < 40


@pytest.mark.parametrize("pages_per_chunk", [None, 5])
def test_lazy_segmentation_written_equals_numpy(tmp_path, monkeypatch, pages_per_chunk):
    s = helix_neurite(shape=(48, 40, 40), scale=(2.0, 1.0, 1.0), radius=3.0)
    st, g = straighten(s.volume, s.points, width=15, height=15, scale=s.scale)
    p = write_tiff(st, tmp_path / "st.tif")
    if pages_per_chunk:  # slabs that gather slices across several chunks
        monkeypatch.setattr(tiff, "READ_CHUNK_BYTES", pages_per_chunk * st[0].nbytes)
    lazy_seg = (read_tiff(p)[0] > 120).astype(np.uint16) * 7
    assert lazy_seg.chunks[0][0] == (pages_per_chunk or st.shape[0])
    ref, off = backproject(np.asarray(lazy_seg), g, extent="full", chunk_z=3)
    assert set(np.unique(ref).tolist()) == {0, 7}
    out, off2 = write_backprojection(
        lazy_seg, g, tmp_path / "b.tif", extent="full", chunk_z=3
    )
    got, _ = read_tiff(out)
    assert off2 == off
    np.testing.assert_array_equal(got.compute(), ref)
    lazy, _ = backproject(lazy_seg, g, extent="full", chunk_z=3)
    np.testing.assert_array_equal(lazy.compute(scheduler="sync"), ref)


def test_iter_blocks_matches_slicing_and_reads_shared_chunks_once():
    calls = []

    def record(b, block_info=None):
        calls.append(block_info[0]["chunk-location"])
        return b + 1

    x = da.from_array(np.arange(60.0).reshape(20, 3), chunks=(3, 3))
    y = x.map_blocks(record, dtype=x.dtype)
    ranges = [(0, 5), (4, 9), (9, 20), (2, 3)]
    with dask.config.set(scheduler="threads"):
        got = [(a, b, blk) for a, b, blk in iter_blocks(y, ranges)]
    for a, b, blk in got:
        np.testing.assert_array_equal(blk, np.arange(60.0).reshape(20, 3)[a:b] + 1)
    # chunk 1 (rows 3:6) is shared by the first two ranges: computed once there
    assert calls.count((1, 0)) == 1 + 0  # (2, 3) is in chunk 0
    assert calls.count((0, 0)) == 2  # ranges 1 and 4 (not consecutive)
