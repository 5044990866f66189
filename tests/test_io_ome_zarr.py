"""OME-Zarr in and out, checked with ome-zarr-py's reader and ome-zarr-models."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

zarr = pytest.importorskip("zarr")
pytest.importorskip("ome_zarr")

from ome_zarr.io import parse_url  # noqa: E402
from ome_zarr.reader import Reader  # noqa: E402

from napari_backproject import (  # noqa: E402
    backproject,
    placement,
    save_straightened,
    straighten,
    write_backprojection,
)
from napari_backproject._progress import Cancelled  # noqa: E402
from napari_backproject.data import helix_neurite  # noqa: E402
from napari_backproject.io.ome_zarr import read_ome_zarr, write_ome_zarr  # noqa: E402


def _independent(path):
    """Levels (NumPy) and per-level (scale, translate) as ome-zarr-py reads them."""
    node = next(iter(Reader(parse_url(str(path)))()))
    cts = node.metadata["coordinateTransformations"]
    st = []
    for ct in cts:
        d = {t["type"]: t for t in ct}
        st.append((d["scale"]["scale"], d["translation"]["translation"]))
    return [np.asarray(d) for d in node.data], st, node.metadata["axes"]


def _validate(path):
    from ome_zarr_models import open_ome_zarr

    return open_ome_zarr(str(path))


def test_image_pyramid_mean_scale_translate_units(tmp_path):
    rng = np.random.default_rng(0)
    img = rng.random((20, 36, 40)).astype(np.float32)
    p = write_ome_zarr(
        img,
        tmp_path / "img.zarr",
        scale=(2.0, 0.5, 0.5),
        translate=(10.0, -3.0, 4.0),
        units="micrometer",
        levels=3,
        chunks=(8, 16, 16),
    )
    model = _validate(p)
    assert type(model).__name__ == "Image"
    levels, st, axes = _independent(p)
    np.testing.assert_array_equal(levels[0], img)
    # z (2.0) is coarser than y, x (0.5): only y, x are halved at first
    assert [lv.shape for lv in levels] == [(20, 36, 40), (20, 18, 20), (20, 9, 10)]
    ref1 = img.reshape(20, 18, 2, 20, 2).mean(axis=(2, 4))
    np.testing.assert_allclose(levels[1], ref1, rtol=1e-6)
    assert st[0] == ([2.0, 0.5, 0.5], [10.0, -3.0, 4.0])
    # the mean of 2 voxels sits half a fine voxel further on
    assert st[1] == ([2.0, 1.0, 1.0], [10.0, -2.75, 4.25])
    assert [a["unit"] for a in axes] == ["micrometer"] * 3
    arr = zarr.open_array(str(p / "0"), mode="r")
    assert arr.chunks == (8, 16, 16)
    assert arr.compressors  # compressed


def test_labels_pyramid_never_invents_a_label(tmp_path):
    rng = np.random.default_rng(1)
    lab = rng.integers(0, 5, (32, 32, 32)).astype(np.uint16) * 1000 + 7
    p = write_ome_zarr(lab, tmp_path / "lab.zarr", levels=3)
    levels, st, _ = _independent(p)
    np.testing.assert_array_equal(levels[1], lab[::2, ::2, ::2])
    np.testing.assert_array_equal(levels[2], lab[::4, ::4, ::4])
    assert set(np.unique(levels[2])) <= set(np.unique(lab))
    assert st[2] == ([4.0, 4.0, 4.0], [0.0, 0.0, 0.0])
    data, md = read_ome_zarr(p)
    assert md["kind"] == "labels" and md["units"] is None
    assert data[0].dtype == np.uint16


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_read_files_written_by_ome_zarr_py(tmp_path, version):
    from ome_zarr.format import FormatV04, FormatV05
    from ome_zarr.writer import write_image

    img = np.arange(16 * 32 * 32, dtype=np.uint16).reshape(16, 32, 32)
    fmt, zf = (FormatV04(), 2) if version == "0.4" else (FormatV05(), 3)
    g = zarr.open_group(str(tmp_path / "x.zarr"), mode="w", zarr_format=zf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_image(
            img,
            g,
            axes="zyx",
            fmt=fmt,
            scale_factors=(2,),
            scale={"z": 3.0, "y": 1.0, "x": 1.0},
        )
    levels, md = read_ome_zarr(tmp_path / "x.zarr")
    assert md["version"] == version
    assert [lv.shape for lv in levels] == [(16, 32, 32), (16, 16, 16)]
    assert md["scale"] == [[3.0, 1.0, 1.0], [3.0, 2.0, 2.0]]
    assert md["translate"] == [[0.0, 0.0, 0.0], [0.0, 0.5, 0.5]]
    np.testing.assert_array_equal(levels[0].compute(), img)
    one, md1 = read_ome_zarr(tmp_path / "x.zarr", level=-1)
    assert len(one) == 1 and one[0].shape == (16, 16, 16)
    assert md1["scale"] == [[3.0, 2.0, 2.0]]


def test_bad_inputs_say_what_is_wrong(tmp_path):
    zarr.open_group(str(tmp_path / "plain.zarr"), mode="w").create_array(
        "a", shape=(2, 2), dtype="u1"
    )
    with pytest.raises(ValueError, match="not an OME-Zarr image.*multiscales"):
        read_ome_zarr(tmp_path / "plain.zarr")
    with pytest.raises(FileNotFoundError):
        read_ome_zarr(tmp_path / "missing.zarr")
    p = write_ome_zarr(np.ones((4, 4, 4), np.uint8), tmp_path / "a.zarr")
    with pytest.raises(ValueError, match="level 3 is out of range.*1 level"):
        read_ome_zarr(p, level=3)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_ome_zarr(np.zeros((4, 4, 4), np.uint8), p)
    write_ome_zarr(np.full((4, 4, 4), 3, np.uint8), p, overwrite=True)
    assert int(read_ome_zarr(p)[0][0].max().compute()) == 3
    with pytest.raises(ValueError, match="3D"):
        write_ome_zarr(np.zeros((4, 4), np.uint8), tmp_path / "b.zarr")
    assert sorted(os.listdir(tmp_path)) == ["a.zarr", "plain.zarr"]


def test_read_only_folder_and_cancel_leave_nothing(tmp_path, monkeypatch):
    real = os.access
    ro = tmp_path / "ro"
    ro.mkdir()
    monkeypatch.setattr(
        os, "access", lambda p, m, **k: False if str(p) == str(ro) else real(p, m)
    )
    with pytest.raises(PermissionError, match="not writable"):
        write_ome_zarr(np.zeros((4, 4, 4), np.uint8), ro / "x.zarr")
    assert list(ro.iterdir()) == []

    def cancel(done, total):
        if done >= 8:
            raise Cancelled

    with pytest.raises(Cancelled):
        write_ome_zarr(
            np.zeros((64, 64, 64), np.uint8),
            tmp_path / "c.zarr",
            chunks=(8, 64, 64),
            progress=cancel,
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ro"]


def test_backprojection_and_straightened_as_ome_zarr(tmp_path):
    s = helix_neurite(shape=(40, 48, 48), scale=(2.0, 1.0, 1.0), radius=3.0)
    st, g = straighten(s.volume, s.points, width=13, height=13, scale=s.scale)
    tif, js = save_straightened(tmp_path / "st.zarr", st, g)
    assert js.name == "st.geometry.json" and js.exists()
    levels, st_, _ = _independent(tif)
    np.testing.assert_array_equal(levels[0], st)
    assert st_[0][0] == [g.spacing] * 3
    seg = (st > 120).astype(np.uint16) * 4
    ref, off = backproject(seg, g)  # extent="bbox"
    p, off2 = write_backprojection(seg, g, tmp_path / "b.zarr", chunk_z=5)
    assert off2 == off
    levels, st_b, _ = _independent(p)
    np.testing.assert_array_equal(levels[0], ref)
    place = placement(g, off)
    assert st_b[0] == (place["scale"], place["translate"])  # the box's place
    _, md = read_ome_zarr(p)
    assert md["kind"] == "labels" and md["offset"] == list(off)
    with pytest.raises(FileExistsError):
        write_backprojection(seg, g, p)
