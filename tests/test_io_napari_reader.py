"""Tests for io/napari_reader.py and io/napari_writer.py (the npe2 reader/writer)."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest


@pytest.fixture
def vol():
    rng = np.random.default_rng(0)
    return rng.integers(0, 200, size=(9, 21, 34), dtype=np.uint16)


def test_npe2_writer_reader_round_trip(tmp_path, vol):
    from napari_backproject.io.napari_reader import get_reader
    from napari_backproject.io.napari_writer import write_image, write_labels
    from napari_backproject.slice_geometry import SliceGeometry

    g = SliceGeometry(
        source_shape=(5, 5, 5),
        source_dtype="uint8",
        scale=(1, 1, 1),
        translate=(0, 0, 0),
        width=3,
        height=3,
        spacing=1.0,
        centers=[[2, 2, 2]],
        tangents=[[1, 0, 0]],
        e_u=[[0, 0, 1]],
        e_v=[[0, 1, 0]],
        path=[[0, 2, 2], [4, 2, 2]],
    )
    meta = {
        "scale": (4.0, 2.0, 2.0),
        "translate": (0.0, 1.0, 2.0),
        "name": "img",
        "metadata": {"geometry": g, "arr": np.arange(3), "junk": object()},
    }
    with pytest.warns(UserWarning, match="junk"):
        paths = write_image(
            str(tmp_path / "img.tif"), da.from_array(vol, chunks=3), meta
        )
    assert paths == [str(tmp_path / "img.tif")]
    reader = get_reader(paths[0])
    assert callable(reader)
    [(data, m, layer_type)] = reader(paths[0])
    assert layer_type == "image"
    assert isinstance(data, da.Array)
    np.testing.assert_array_equal(data.compute(), vol)
    assert m["scale"] == [4.0, 2.0, 2.0] and m["translate"] == [0.0, 1.0, 2.0]
    assert SliceGeometry.from_dict(m["metadata"]["geometry"]).width == 3
    assert m["metadata"]["arr"] == [0, 1, 2]

    lab = (vol % 3).astype(np.uint16)
    write_labels(str(tmp_path / "lab.tif"), lab, {"scale": (1, 1, 1)})
    [(data, m, layer_type)] = get_reader(str(tmp_path / "lab.tif"))(
        str(tmp_path / "lab.tif")
    )
    assert layer_type == "labels" and data.dtype == np.uint16
    np.testing.assert_array_equal(data.compute(), lab)


def test_reader_rejects_other_files():
    from napari_backproject.io.napari_reader import get_reader

    assert get_reader("a.png") is None
    assert get_reader(["a.tif", "b.zarr"]) is None
    assert get_reader(["a.tif", "b.TIFF"]) is not None


def test_reader_in_napari(tmp_path, vol, make_napari_viewer):
    from napari_backproject.io.napari_writer import write_labels

    write_labels(str(tmp_path / "lab.tif"), vol.astype(np.uint16), {"scale": (2, 1, 1)})
    viewer = make_napari_viewer()
    layers = viewer.open(str(tmp_path / "lab.tif"), plugin="napari-backproject")
    assert layers[0].__class__.__name__ == "Labels"
    np.testing.assert_allclose(layers[0].scale, [2, 1, 1])


def test_backprojection_file_reopens_as_labels(tmp_path):
    """A segmentation written by write_backprojection opens as a Labels layer."""
    from napari_backproject import straighten, write_backprojection
    from napari_backproject.io.napari_reader import get_reader

    vol = np.zeros((20, 24, 24), np.uint8)
    vol[:, 10:14, 10:14] = 200
    path = np.array([[2.0, 12, 12], [17.0, 12, 12]])
    st, geom = straighten(vol, path, width=9, height=9)
    geom.options["units"] = ["micrometer"] * 3  # as the Straighten widget records
    seg = (st > 100).astype(np.uint8)
    out, offset = write_backprojection(seg, geom, tmp_path / "seg.tif")
    [(data, meta, layer_type)] = get_reader(str(out))(str(out))
    assert layer_type == "labels"
    assert meta["units"] == ["micrometer"] * 3
    assert np.issubdtype(data.dtype, np.integer)
    assert set(np.unique(np.asarray(data))) == {0, 1}
    np.testing.assert_allclose(meta["translate"], np.asarray(offset, float))
