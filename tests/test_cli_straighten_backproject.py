"""``napari-backproject straighten`` and ``backproject`` end to end on small data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_backproject import SliceGeometry
from napari_backproject.backproject import backproject
from napari_backproject.cli import main
from napari_backproject.io.paths import write_path
from napari_backproject.io.tiff import read_tiff, write_tiff
from napari_backproject.straighten import straighten

TRANSLATE = (10.0, -5.0, 3.0)


@pytest.fixture(scope="module")
def inputs(small_helix, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    volume = write_tiff(
        small_helix.volume,
        folder / "volume.tif",
        scale=small_helix.scale,
        translate=TRANSLATE,
    )
    path = write_path(small_helix.points, folder / "path.csv")
    return folder, volume, path


@pytest.fixture(scope="module")
def straightened(inputs):
    folder, volume, path = inputs
    out = folder / "straight.tif"
    code = main(
        [
            "straighten",
            str(volume),
            "--path",
            str(path),
            "--width",
            "16",
            "--height",
            "12",
            "--compression",
            "zstd",
            "-o",
            str(out),
        ]
    )
    assert code == 0
    return out


def test_straighten_writes_tif_and_geometry(small_helix, inputs, straightened, capsys):
    expected, geometry = straighten(
        small_helix.volume,
        small_helix.points,
        width=16,
        height=12,
        scale=small_helix.scale,
        translate=TRANSLATE,
    )
    data, meta = read_tiff(straightened)
    assert data.shape == expected.shape == (geometry.n_slices, 12, 16)
    assert data.dtype == np.uint8
    np.testing.assert_array_equal(data.compute(), expected)
    assert meta["scale"] == [1.0, 1.0, 1.0]
    json_path = straightened.with_name("straight.geometry.json")
    assert json_path.exists()
    saved = SliceGeometry.from_json(json_path)
    assert saved.straightened_shape == geometry.straightened_shape
    np.testing.assert_allclose(saved.translate, TRANSLATE)
    np.testing.assert_allclose(saved.scale, small_helix.scale)
    np.testing.assert_allclose(saved.centers, geometry.centers)
    assert json.loads(json_path.read_text())["format"].endswith("slice-geometry")
    assert SliceGeometry.from_dict(meta["geometry"]).to_dict() == saved.to_dict()


def test_straighten_options(small_helix, inputs, tmp_path):
    _, volume, path = inputs
    out = tmp_path / "s.tif"
    args = ["straighten", str(volume), "--path", str(path), "--width", "8"]
    args += ["--height", "8", "--spacing", "2", "--order", "0"]
    args += ["--scale", "4", "1", "1", "--compression", "none", "-o", str(out)]
    args += ["--roll", "45", "--smoothing", "0.5"]
    assert main(args) == 0
    expected, _ = straighten(
        small_helix.volume,
        small_helix.points,
        width=8,
        height=8,
        spacing=2.0,
        order=0,
        roll=45.0,
        smoothing=0.5,
        scale=(4, 1, 1),
        translate=TRANSLATE,
    )
    data, meta = read_tiff(out)
    np.testing.assert_array_equal(data.compute(), expected)
    assert meta["scale"] == [2.0, 2.0, 2.0]
    g = SliceGeometry.from_json(tmp_path / "s.geometry.json")
    np.testing.assert_allclose(g.scale, (4, 1, 1))
    assert g.options["roll"] == 45.0 and g.options["smoothing"] == 0.5


def test_backproject_bbox(small_helix, straightened, tmp_path):
    data, _ = read_tiff(straightened)
    seg = (data.compute() > 100).astype(np.uint8)
    seg_file = write_tiff(seg, tmp_path / "seg.tif")
    geometry = straightened.with_name("straight.geometry.json")
    out = tmp_path / "bp.tif"
    args = ["backproject", str(seg_file), "--geometry", str(geometry)]
    assert main(args + ["-o", str(out), "--compression", "zstd"]) == 0
    expected, offset = backproject(seg, geometry)
    result, meta = read_tiff(out)
    assert result.dtype == np.uint8
    np.testing.assert_array_equal(result.compute(), expected)
    assert meta["offset"] == list(offset)
    scale = np.asarray(small_helix.scale)
    np.testing.assert_allclose(meta["scale"], scale)
    np.testing.assert_allclose(
        meta["translate"], np.asarray(TRANSLATE) + offset * scale
    )
    # the tube lands on the ground truth
    z, y, x = offset
    nz, ny, nx = expected.shape
    truth = small_helix.mask[z : z + nz, y : y + ny, x : x + nx] > 0
    assert np.logical_and(expected > 0, truth).sum() / truth.sum() > 0.6


def test_backproject_full_binary_folder(small_helix, straightened, tmp_path):
    # geometry taken from the straightened file's own metadata
    out = tmp_path / "full"
    args = ["backproject", str(straightened), "-o", str(out), "--extent", "full"]
    args += ["--method", "splat", "--binary", "--folder"]
    assert main(args) == 0
    assert out.is_dir()
    result, meta = read_tiff(out)
    assert result.shape == small_helix.volume.shape
    assert result.dtype == np.uint8
    assert set(np.unique(result.compute()).tolist()) <= {0, 1}
    assert meta["offset"] == [0, 0, 0]
    np.testing.assert_allclose(meta["translate"], TRANSLATE)


def test_missing_inputs_exit_2(inputs, straightened, tmp_path, capsys):
    _, volume, path = inputs
    missing = tmp_path / "nope.tif"
    args = ["straighten", str(missing), "--path", str(path), "--width", "8"]
    assert main(args + ["--height", "8", "-o", str(tmp_path / "o.tif")]) == 2
    err = capsys.readouterr().err
    assert "nope.tif does not exist" in err and "straighten: error" in err
    args = ["backproject", str(straightened), "--geometry", str(missing)]
    assert main(args + ["-o", str(tmp_path / "b.tif")]) == 2
    assert "nope.tif does not exist" in capsys.readouterr().err
    # a segmentation without geometry needs --geometry
    plain = write_tiff(np.zeros((3, 4, 4), np.uint8), tmp_path / "plain.tif")
    assert main(["backproject", str(plain), "-o", str(tmp_path / "b.tif")]) == 2
    assert "pass --geometry" in capsys.readouterr().err
    # output folder must exist; nothing is written
    args = ["straighten", str(volume), "--path", str(path), "--width", "8"]
    assert main(args + ["--height", "8", "-o", str(tmp_path / "x" / "o.tif")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.tif"]


def test_bad_shape_and_bad_numbers(inputs, straightened, tmp_path, capsys):
    _, volume, path = inputs
    # a segmentation whose shape does not match the geometry
    wrong = write_tiff(np.zeros((3, 4, 4), np.uint8), tmp_path / "wrong.tif")
    geometry = straightened.with_name("straight.geometry.json")
    args = ["backproject", str(wrong), "--geometry", str(geometry)]
    assert main(args + ["-o", str(tmp_path / "b.tif")]) == 2
    err = capsys.readouterr().err
    assert "shape (3, 4, 4)" in err and "backproject: error" in err
    assert not (tmp_path / "b.tif").exists()
    with pytest.raises(SystemExit) as exc:
        main(["straighten", str(volume), "--path", str(path), "--width", "0"])
    assert exc.value.code == 2
