"""OME-Zarr levels and labels: CLI --level/--target, label images, npe2 writer, bad input.

Files are checked with ome-zarr-py's reader and ome-zarr-models, not our
own code; references are the library calls on arrays.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

zarr = pytest.importorskip("zarr")
pytest.importorskip("ome_zarr")

from ome_zarr.io import parse_url  # noqa: E402
from ome_zarr.reader import Label, Multiscales, Reader  # noqa: E402

from napari_backproject import backproject, straighten, write_backprojection  # noqa: E402
from napari_backproject.cli import main  # noqa: E402
from napari_backproject.data import helix_neurite  # noqa: E402
from napari_backproject.io.ome_zarr import read_ome_zarr, write_ome_zarr  # noqa: E402
from napari_backproject.io.paths import write_path  # noqa: E402

TRANSLATE = (10.0, -5.0, 3.0)


@pytest.fixture(scope="module")
def helix():
    return helix_neurite(shape=(40, 48, 48), scale=(1.0, 1.0, 1.0), radius=3.0)


@pytest.fixture
def source(helix, tmp_path):
    """The helix as a 2-level image pyramid (level 1: 20 x 24 x 24, voxel 2)."""
    return write_ome_zarr(
        helix.volume,
        tmp_path / "src.zarr",
        scale=helix.scale,
        translate=TRANSLATE,
        kind="image",
        levels=2,
    )


def _ome_nodes(path):
    """(kind, level-0 array, transforms) of every node ome-zarr-py finds."""
    out = []
    for node in Reader(parse_url(str(path)))():
        if node.load(Multiscales) is None:
            continue
        kind = "label" if node.load(Label) is not None else "image"
        d = {t["type"]: t for t in node.metadata["coordinateTransformations"][0]}
        out.append(
            (
                kind,
                np.asarray(node.data[0]),
                d["scale"]["scale"],
                d["translation"]["translation"],
            )
        )
    return out


def _level1_reference(helix, source):
    levels, md = read_ome_zarr(source)
    s1, t1 = md["scale"][1], md["translate"][1]
    world = helix.points * helix.scale + TRANSLATE
    return straighten(
        levels[1],
        (world - t1) / s1,
        width=11,
        height=11,
        scale=s1,
        translate=t1,
    )


# ---------------------------------------------------------------- CLI levels
def test_cli_straighten_at_a_level_and_backproject_onto_level_0(
    helix, source, tmp_path
):
    pts = write_path(helix.points, tmp_path / "p.csv")  # level-0 voxels
    st = tmp_path / "st.zarr"
    argv = ["straighten", str(source), "--path", str(pts), "--width", "11"]
    assert main(argv + ["--height", "11", "--level", "1", "-o", str(st)]) == 0
    ref, g = _level1_reference(helix, source)
    [(_, st_data, _, _)] = _ome_nodes(st)
    np.testing.assert_allclose(st_data, np.asarray(ref), atol=1e-4)

    seg = tmp_path / "seg.zarr"
    write_ome_zarr(
        (st_data > 100).astype(np.uint8), seg, metadata={"geometry": g.to_dict()}
    )
    out = tmp_path / "bp.zarr"
    argv = ["backproject", str(seg), "-o", str(out), "--extent", "full"]
    assert main(argv + ["--target", str(source), "--target-level", "0"]) == 0
    expected, _ = backproject(
        (st_data > 100).astype(np.uint8),
        g,
        target=(helix.volume.shape, helix.scale, TRANSLATE),
        extent="full",
    )
    [(_, data, scale, translation)] = _ome_nodes(out)
    np.testing.assert_array_equal(data, expected)
    assert data.shape == helix.volume.shape
    assert scale == list(helix.scale) and translation == list(TRANSLATE)


def test_cli_level_errors(helix, source, tmp_path, capsys):
    pts = write_path(helix.points, tmp_path / "p.csv")
    base = ["straighten", str(source), "--path", str(pts), "--width", "11"]
    base += ["--height", "11"]
    assert main(base + ["--level", "5", "-o", str(tmp_path / "x.zarr")]) == 2
    assert "level 5 is out of range" in capsys.readouterr().err
    tif = tmp_path / "v.tif"
    from napari_backproject.io.tiff import write_tiff

    write_tiff(helix.volume, tif)
    argv = [
        "straighten",
        str(tif),
        "--path",
        str(pts),
        "--width",
        "11",
        "--height",
        "9",
    ]
    assert main(argv + ["--level", "1", "-o", str(tmp_path / "y.zarr")]) == 2
    assert "not an OME-Zarr pyramid" in capsys.readouterr().err
    st = tmp_path / "st.zarr"
    assert main(base + ["--level", "1", "-o", str(st)]) == 0
    bp = ["backproject", str(st), "-o", str(tmp_path / "b.zarr")]
    assert main(bp + ["--target-level", "1"]) == 2
    assert "needs --target" in capsys.readouterr().err
    far = write_ome_zarr(
        np.zeros((8, 8, 8), np.uint8), tmp_path / "far.zarr", translate=(1e4, 0, 0)
    )
    assert main(bp + ["--target", str(far)]) == 2
    assert "does not overlap" in capsys.readouterr().err
    assert main(base + ["--level", "1", "-o", str(st)]) == 2  # exists
    assert "already exists" in capsys.readouterr().err
    assert main(base + ["--level", "1", "-o", str(st), "--overwrite"]) == 0
    assert not (tmp_path / "b.zarr").exists() and not (tmp_path / "x.zarr").exists()


# ---------------------------------------------------------------- labels group
def test_backprojection_into_the_labels_group_of_its_image(helix, source, tmp_path):
    st, g = _level1_reference(helix, source)
    seg = (np.asarray(st) > 100).astype(np.uint16) * 3
    target = (helix.volume.shape, helix.scale, TRANSLATE)
    p, off = write_backprojection(
        seg, g, source / "labels" / "seg", target=target, extent="full"
    )
    expected, _ = backproject(seg, g, target=target, extent="full")
    nodes = _ome_nodes(source)
    kinds = [k for k, *_ in nodes]
    assert kinds == ["image", "label"]
    _, data, scale, translation = nodes[1]
    np.testing.assert_array_equal(data, expected)
    assert scale == list(helix.scale) and translation == list(TRANSLATE)
    from ome_zarr_models import open_ome_zarr
    from ome_zarr_models.v05.image_label import ImageLabel
    from ome_zarr_models.v05.labels import Labels

    assert isinstance(open_ome_zarr(str(source / "labels")), Labels)
    assert isinstance(open_ome_zarr(str(source / "labels" / "seg")), ImageLabel)
    # a second label is listed beside the first; an existing name is refused
    write_ome_zarr(expected > 0, source / "labels" / "fg")
    listed = zarr.open_group(str(source / "labels"), mode="r").attrs["ome"]["labels"]
    assert listed == ["seg", "fg"]
    with pytest.raises(FileExistsError, match="already exists"):
        write_backprojection(seg, g, source / "labels" / "seg", target=target)


def test_label_image_bad_input_writes_nothing(helix, source, tmp_path):
    lab = np.ones((8, 8, 8), np.uint16)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_ome_zarr(lab, tmp_path / "missing.zarr" / "labels" / "seg")
    plain = tmp_path / "plain.zarr"
    zarr.open_group(str(plain), mode="w", zarr_format=3)
    with pytest.raises(ValueError, match="not an OME-Zarr image"):
        write_ome_zarr(lab, plain / "labels" / "seg")
    with pytest.raises(ValueError, match="integer labels, not float32"):
        write_ome_zarr(lab.astype(np.float32), source / "labels" / "seg")
    with pytest.raises(ValueError, match="float64 cannot hold label"):
        write_ome_zarr(lab * 0.5, tmp_path / "f.zarr", kind="labels")
    assert not (tmp_path / "f.zarr").exists()
    assert not (source / "labels").exists() and not (plain / "labels").exists()
    assert not (tmp_path / "missing.zarr").exists()


# ---------------------------------------------------------------- npe2
def test_npe2_zarr_writers_and_reader(helix, source, tmp_path):
    from napari_backproject.io.napari_zarr import get_reader, write_image, write_labels

    lab = (helix.mask * 2).astype(np.uint8)
    meta = {"scale": helix.scale, "translate": TRANSLATE, "name": "truth"}
    [p] = write_labels(str(source / "labels" / "truth"), lab, meta)
    [img] = write_image(
        str(tmp_path / "img.zarr"),
        [helix.volume, helix.volume[::2, ::2, ::2]],
        {**meta, "name": "img", "units": ("micrometer",) * 3, "metadata": {"a": 1}},
    )
    [(kind, data, scale, translation)] = _ome_nodes(img)
    np.testing.assert_array_equal(data, helix.volume)
    assert translation == list(TRANSLATE)
    layers = get_reader(str(source))(str(source))
    assert [t for _, _, t in layers] == ["image", "labels"]
    data, m, _ = layers[1]
    level0 = data[0] if isinstance(data, list) else data
    np.testing.assert_array_equal(np.asarray(level0), lab)
    assert m["translate"] == list(TRANSLATE) and m["name"] == "truth"
    [(data, m, kind)] = get_reader(img)(img)
    assert kind == "image" and m["units"] == ["micrometer"] * 3
    n = len(data) if isinstance(data, list) else 1
    assert m["metadata"]["a"] == 1
    assert len(m["metadata"]["multiscale"]["scale"]) == n
    assert get_reader(str(tmp_path / "none.zarr")) is None
    assert get_reader(str(tmp_path / "a.tif")) is None
    with pytest.raises(ValueError, match="3D"):
        write_image(str(tmp_path / "2d.zarr"), np.zeros((4, 4)), {})


def test_every_contribution_loads():
    import importlib
    from pathlib import Path

    from npe2 import PluginManifest

    import napari_backproject

    yaml = Path(napari_backproject.__file__).with_name("napari.yaml")
    manifest = PluginManifest.from_file(yaml)
    names = [c.python_name for c in manifest.contributions.commands]
    assert "napari_backproject.io.napari_zarr:write_labels" in names
    for name in names:
        module, _, attr = name.partition(":")
        assert callable(getattr(importlib.import_module(module), attr)), name
    zarr_writers = [
        w for w in manifest.contributions.writers if ".zarr" in w.filename_extensions
    ]
    assert sorted(t for w in zarr_writers for t in w.layer_types) == [
        "image",
        "labels",
    ]


def test_not_ome_zarr_and_read_only_say_so_and_write_nothing(
    helix, source, tmp_path, monkeypatch, capsys
):
    from napari_backproject.io.napari_zarr import get_reader

    plain = tmp_path / "plain.zarr"
    zarr.open_group(str(plain), mode="w").create_array("a", shape=(4, 4, 4), dtype="u1")
    assert get_reader(str(plain)) is None  # napari then tries other readers
    pts = write_path(helix.points, tmp_path / "p.csv")
    argv = ["straighten", str(plain), "--path", str(pts), "--width", "5"]
    assert main(argv + ["--height", "5", "-o", str(tmp_path / "o.zarr")]) == 2
    err = capsys.readouterr().err
    assert "not an OME-Zarr image" in err and "'multiscales'" in err
    real = os.access
    monkeypatch.setattr(
        os,
        "access",
        lambda p, m, **k: False if str(p).startswith(str(source)) else real(p, m),
    )
    with pytest.raises(PermissionError, match="not writable"):
        write_ome_zarr(np.ones((8, 8, 8), np.uint8), source / "labels" / "seg")
    assert not (source / "labels").exists()
    assert not (tmp_path / "o.zarr").exists()
