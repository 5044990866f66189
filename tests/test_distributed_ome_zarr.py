"""OME-Zarr -> OME-Zarr on a 2-process LocalCluster equals one process."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("distributed")
pytest.importorskip("ome_zarr")

from ome_zarr.io import parse_url  # noqa: E402
from ome_zarr.reader import Reader  # noqa: E402

from napari_backproject import (  # noqa: E402
    save_straightened,
    straighten,
    write_backprojection,
)
from napari_backproject._distributed import parse_scheduler, scheduler  # noqa: E402
from napari_backproject.data import helix_neurite  # noqa: E402
from napari_backproject.io.ome_zarr import read_ome_zarr, write_ome_zarr  # noqa: E402


def _levels(path):
    node = next(iter(Reader(parse_url(str(path)))()))
    return [np.asarray(d) for d in node.data]


def _pipeline(src, out, tag):
    levels, md = read_ome_zarr(src)
    vol = levels[0]  # lazy dask array read from the file
    s = helix_neurite(shape=(48, 48, 48), scale=(1.0, 1.0, 1.0), radius=4.0)
    st, g = straighten(
        vol,
        s.points,
        width=13,
        height=13,
        scale=md["scale"][0],
        translate=md["translate"][0],
        chunk_slices=16,
    )
    sp, _ = save_straightened(out / f"st-{tag}.zarr", st, g)
    seg_levels, _ = read_ome_zarr(sp)
    seg = (seg_levels[0] > 100).astype(np.uint16) * 3
    bp, _ = write_backprojection(
        seg, g, out / f"bp-{tag}.zarr", extent="full", chunk_z=8
    )
    return sp, bp


@pytest.mark.slow
def test_local_cluster_writes_the_same_voxels(tmp_path):
    s = helix_neurite(shape=(48, 48, 48), scale=(1.0, 1.0, 1.0), radius=4.0)
    src = write_ome_zarr(s.volume, tmp_path / "src.zarr", chunks=(16, 48, 48))
    ref = _pipeline(src, tmp_path, "one")
    with scheduler("local:2") as client:
        assert len(client.scheduler_info()["workers"]) == 2
        got = _pipeline(src, tmp_path, "two")
        # the workers stored the chunks themselves: they touched the store
        logs = client.run(lambda: __import__("os").getpid())
        assert len(set(logs.values())) == 2
    for a, b in zip(ref, got, strict=True):
        la, lb = _levels(a), _levels(b)
        assert len(la) == len(lb)
        for x, y in zip(la, lb, strict=True):
            np.testing.assert_array_equal(x, y)
    assert set(np.unique(_levels(got[1])[0]).tolist()) == {0, 3}


def test_parse_scheduler_errors():
    assert parse_scheduler("local:3") == ("local", 3)
    with pytest.raises(ValueError, match="local:N"):
        parse_scheduler("local:zero")


@pytest.mark.slow
def test_cli_zarr_in_and_out_with_a_local_cluster(tmp_path, capsys):
    from napari_backproject.cli import main
    from napari_backproject.io.paths import write_path

    s = helix_neurite(shape=(40, 40, 40), scale=(1.0, 1.0, 1.0), radius=3.0)
    src = write_ome_zarr(s.volume, tmp_path / "vol.zarr", scale=(2, 1, 1))
    pts = write_path(s.points, tmp_path / "p.csv")
    st = tmp_path / "st.zarr"
    argv = ["straighten", str(src), "--path", str(pts), "--width", "11"]
    assert main(argv + ["--height", "11", "-o", str(st)]) == 0
    levels, md = read_ome_zarr(st)
    assert md["geometry"]["source"]["scale"] == [2.0, 1.0, 1.0]
    out = tmp_path / "bp.zarr"
    argv = ["backproject", str(st), "-o", str(out), "--scheduler", "local:2"]
    assert main(argv) == 0
    bp, md_b = read_ome_zarr(out)
    assert md_b["scale"][0] == [2.0, 1.0, 1.0]
    assert main(argv) == 2  # exists: clear error, nothing replaced
    assert "already exists" in capsys.readouterr().err
