"""Tests for io/tiff.py: lazy read, chunked write."""

from __future__ import annotations

import json
import os

import dask.array as da
import numpy as np
import pytest
import tifffile
from dask.core import flatten
from dask.optimization import cull

from napari_backproject._progress import Cancelled
from napari_backproject.io import tiff
from napari_backproject.io.tiff import METADATA_KEY, read_tiff, write_tiff


@pytest.fixture
def vol():
    rng = np.random.default_rng(0)
    return rng.integers(0, 200, size=(9, 21, 34), dtype=np.uint16)


@pytest.mark.parametrize("compression", ["zlib", "zstd", "none", None])
def test_round_trip_compression(tmp_path, vol, compression):
    md = {"geometry": {"a": [1, 2, 3], "b": None}, "name": "x"}
    p = write_tiff(
        vol,
        tmp_path / "a.tif",
        compression=compression,
        metadata=md,
        scale=(4, 2, 2),
        translate=(1, 0, -3),
    )
    assert p == tmp_path / "a.tif"
    data, meta = read_tiff(p)
    assert isinstance(data, da.Array)
    assert data.dtype == vol.dtype
    np.testing.assert_array_equal(data.compute(), vol)
    assert meta["geometry"] == md["geometry"]
    assert meta["name"] == "x"
    assert meta["scale"] == [4.0, 2.0, 2.0]
    assert meta["translate"] == [1.0, 0.0, -3.0]
    with tifffile.TiffFile(p) as tf:
        codec = tf.pages.first.compression
        expected = {
            "zlib": tifffile.COMPRESSION.ADOBE_DEFLATE,
            "zstd": tifffile.COMPRESSION.ZSTD,
            "none": tifffile.COMPRESSION.NONE,
            None: tifffile.COMPRESSION.NONE,
        }[compression]
        assert codec == expected
    # nothing left behind
    assert sorted(os.listdir(tmp_path)) == ["a.tif"]


def test_compression_shrinks(tmp_path):
    a = np.zeros((4, 64, 64), np.uint8)
    a[:, 10:20, 10:20] = 7
    n = os.path.getsize(write_tiff(a, tmp_path / "n.tif", compression="none"))
    z = os.path.getsize(write_tiff(a, tmp_path / "z.tif", compression="zlib"))
    s = os.path.getsize(write_tiff(a, tmp_path / "s.tif", compression="zstd"))
    assert z < n / 4 and s < n / 4


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float32, np.float64, bool])
def test_dtypes_and_2d_4d(tmp_path, dtype):
    rng = np.random.default_rng(1)
    a = (rng.random((3, 10, 12, 2)) * 50).astype(dtype)
    for arr, name in ((a, "4d"), (a[..., 0], "3d"), (a[0, ..., 0], "2d")):
        data, _ = read_tiff(write_tiff(arr, tmp_path / f"{name}.tif"))
        assert data.shape == arr.shape, name
        assert data.dtype == arr.dtype, name
        np.testing.assert_array_equal(data.compute(), arr)


def test_tiled_pages(tmp_path):
    rng = np.random.default_rng(2)
    a = rng.random((3, 40, 50, 2)).astype(np.float32)
    data, _ = read_tiff(write_tiff(a, tmp_path / "t.tif", tile=(16, 32)))
    np.testing.assert_array_equal(data.compute(), a)
    assert data.chunks[1][0] == 16 and data.chunks[2][0] == 32
    with pytest.raises(ValueError, match="multiples of 16"):
        write_tiff(a, tmp_path / "bad.tif", tile=(10, 10))


def test_dask_written_chunk_by_chunk(tmp_path, vol):
    # every block that is computed is one dask chunk along axis 0, never all
    computed = []

    def record(block, block_info=None):
        computed.append(block_info[0]["array-location"][0])
        return block

    d = da.from_array(vol, chunks=(2, 21, 34)).map_blocks(record, dtype=vol.dtype)
    calls = []
    write_tiff(d, tmp_path / "d.tif", progress=lambda i, n: calls.append((i, n)))
    assert sorted(computed) == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 9)]
    assert calls == [(2, 9), (4, 9), (6, 9), (8, 9), (9, 9)]
    np.testing.assert_array_equal(read_tiff(tmp_path / "d.tif")[0].compute(), vol)


def test_array_like_read_in_blocks(tmp_path, vol, recording_array):
    rec = recording_array(vol)
    write_tiff(rec, tmp_path / "r.tif", chunk_slices=4)
    assert rec.requests == [slice(0, 4), slice(4, 8), slice(8, 9)]


@pytest.mark.parametrize("folder", [False, True])
def test_cancel_leaves_nothing(tmp_path, vol, folder):
    def cancel(done, total):
        if done >= 4:
            raise Cancelled

    with pytest.raises(Cancelled):
        write_tiff(
            vol, tmp_path / "c.tif", chunk_slices=2, folder=folder, progress=cancel
        )
    assert os.listdir(tmp_path) == []


def test_error_leaves_nothing_and_keeps_old(tmp_path, vol):
    target = tmp_path / "e.tif"
    write_tiff(vol[:1], target)
    before = target.read_bytes()

    def fail(block, block_info=None):
        if block_info[0]["array-location"][0][0] >= 4:
            raise RuntimeError("disk on fire")
        return block

    d = da.from_array(vol, chunks=(2, 21, 34)).map_blocks(fail, dtype=vol.dtype)
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_tiff(d, target)
    assert os.listdir(tmp_path) == ["e.tif"]
    assert target.read_bytes() == before


def test_folder_mode(tmp_path, vol):
    p = write_tiff(
        vol, tmp_path / "stack", folder=True, scale=(3, 1, 1), metadata={"k": 1}
    )
    names = sorted(os.listdir(p))
    assert names == ["metadata.json"] + [f"slice_{i:05d}.tif" for i in range(9)]
    np.testing.assert_array_equal(tifffile.imread(p / "slice_00003.tif"), vol[3])
    with open(p / "metadata.json") as fh:
        assert json.load(fh)[METADATA_KEY]["k"] == 1
    data, meta = read_tiff(p)
    np.testing.assert_array_equal(data.compute(), vol)
    assert meta["scale"] == [3.0, 1.0, 1.0] and meta["k"] == 1
    # overwrite an existing folder with fewer slices: old files are gone
    write_tiff(vol[:2], p, folder=True)
    assert sorted(os.listdir(p)) == [
        "metadata.json",
        "slice_00000.tif",
        "slice_00001.tif",
    ]
    assert sorted(os.listdir(tmp_path)) == ["stack"]


def test_bigtiff_switch(tmp_path, vol):
    write_tiff(vol, tmp_path / "big.tif", bigtiff=True)
    write_tiff(vol, tmp_path / "small.tif")
    with tifffile.TiffFile(tmp_path / "big.tif") as tf:
        assert tf.is_bigtiff
    with tifffile.TiffFile(tmp_path / "small.tif") as tf:
        assert not tf.is_bigtiff


def test_read_is_lazy(tmp_path, vol, monkeypatch):
    p = write_tiff(vol, tmp_path / "l.tif")
    data, _ = read_tiff(p)
    assert data.chunks[0] == (9,)  # small pages: grouped into one chunk
    np.testing.assert_array_equal(data[3:5, 2:4].compute(), vol[3:5, 2:4])
    # chunks of ~READ_CHUNK_BYTES: a slice reads only the chunk that holds it
    page = vol[0].nbytes
    monkeypatch.setattr(tiff, "READ_CHUNK_BYTES", 4 * page)
    data, _ = read_tiff(p)
    assert data.chunks == ((4, 4, 1), (21,), (34,))
    sub = data[5:7, 2:4]
    graph, _ = cull(dict(sub.__dask_graph__()), list(flatten(sub.__dask_keys__())))
    assert [k for k in graph if k[0] == data.name] == [(data.name, 1, 0, 0)]
    np.testing.assert_array_equal(sub.compute(), vol[5:7, 2:4])
    # pages of at least READ_CHUNK_BYTES keep the file's own chunks (strips)
    monkeypatch.setattr(tiff, "READ_CHUNK_BYTES", page)
    data, _ = read_tiff(p)
    assert data.chunks[0] == (1,) * 9
    np.testing.assert_array_equal(data.compute(), vol)


def test_foreign_tiff_imagej_scale(tmp_path):
    a = np.zeros((3, 8, 8), np.uint8)
    tifffile.imwrite(
        tmp_path / "ij.tif",
        a,
        imagej=True,
        resolution=(1 / 0.5, 1 / 0.25),
        metadata={"spacing": 2.0, "axes": "ZYX"},
    )
    data, meta = read_tiff(tmp_path / "ij.tif")
    assert data.shape == (3, 8, 8)
    np.testing.assert_allclose(meta["scale"], [2.0, 0.25, 0.5])


def test_write_errors(tmp_path, vol):
    with pytest.raises(ValueError, match="compression"):
        write_tiff(vol, tmp_path / "x.tif", compression="lzma9")
    with pytest.raises(ValueError, match="2D"):
        write_tiff(np.zeros((2, 2, 2, 2, 2)), tmp_path / "x.tif")
    with pytest.raises(ValueError, match="JSON"):
        write_tiff(vol, tmp_path / "x.tif", metadata={"a": object()})
    with pytest.raises(TypeError, match="dict"):
        write_tiff(vol, tmp_path / "x.tif", metadata=[1])
    with pytest.raises(FileNotFoundError):
        read_tiff(tmp_path / "missing.tif")
    (tmp_path / "junk.tif").write_bytes(b"not a tiff at all")
    with pytest.raises(ValueError, match="not a readable TIFF"):
        read_tiff(tmp_path / "junk.tif")
    assert sorted(os.listdir(tmp_path)) == ["junk.tif"]


# ------------------------------------------------------- npe2 reader / writer


# ---------------------------------------------------------------- path files


def test_grouped_pages_read_directly_pickle_and_follow_rewrites(tmp_path, vol):
    import pickle

    p = write_tiff(vol, tmp_path / "g.tif")
    data, _ = read_tiff(p)
    np.testing.assert_array_equal(data[2:7:2, 3:9].compute(), vol[2:7:2, 3:9])
    np.testing.assert_array_equal(data[4].compute(), vol[4])
    # a dask.distributed worker gets the array by pickle and reopens the file
    again = pickle.loads(pickle.dumps(data))
    np.testing.assert_array_equal(again.compute(scheduler="threads"), vol)
    # the same path rewritten is another array (no stale dask cache hit)
    write_tiff(vol[::-1].copy(), p)
    data2, _ = read_tiff(p)
    assert data2.name != data.name
    np.testing.assert_array_equal(data2.compute(), vol[::-1])
