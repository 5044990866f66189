"""Tests for io/paths.py: read and write by path."""

from __future__ import annotations

import json

import numpy as np
import pytest


def test_read_path_formats(tmp_path):
    from napari_backproject.io.paths import read_path, write_path

    pts = np.array([[0.5, 1, 2], [3, 4, 5.25], [6, 7, 8]])
    # napari Points CSV
    p = write_path(pts, tmp_path / "napari.csv")
    assert p.read_text().splitlines()[0] == "index,axis-0,axis-1,axis-2"
    np.testing.assert_allclose(read_path(p), pts)
    # 4D napari points: last three axes
    (tmp_path / "n4.csv").write_text(
        "index,axis-0,axis-1,axis-2,axis-3\n0,9,0.5,1,2\n1,9,3,4,5.25\n"
    )
    np.testing.assert_allclose(read_path(tmp_path / "n4.csv"), pts[:2])
    # plain CSV, with and without a (reordered) header
    (tmp_path / "plain.csv").write_text("0.5,1,2\n3,4,5.25\n6,7,8\n")
    np.testing.assert_allclose(read_path(tmp_path / "plain.csv"), pts)
    (tmp_path / "xyz.csv").write_text("x,y,z\n2,1,0.5\n5.25,4,3\n8,7,6\n")
    np.testing.assert_allclose(read_path(tmp_path / "xyz.csv"), pts)
    # JSON list, dict, geometry JSON
    (tmp_path / "l.json").write_text(json.dumps(pts.tolist()))
    np.testing.assert_allclose(read_path(tmp_path / "l.json"), pts)
    (tmp_path / "d.json").write_text(json.dumps({"points": pts.tolist()}))
    np.testing.assert_allclose(read_path(tmp_path / "d.json"), pts)
    (tmp_path / "g.json").write_text(json.dumps({"format": "x", "path": pts.tolist()}))
    np.testing.assert_allclose(read_path(tmp_path / "g.json"), pts)


def test_read_path_errors(tmp_path):
    from napari_backproject.io.paths import read_path

    with pytest.raises(FileNotFoundError):
        read_path(tmp_path / "none.csv")
    (tmp_path / "p.txt").write_text("1,2,3")
    with pytest.raises(ValueError, match=".csv or .json"):
        read_path(tmp_path / "p.txt")
    (tmp_path / "two.csv").write_text("1,2\n3,4\n")
    with pytest.raises(ValueError, match="3 columns"):
        read_path(tmp_path / "two.csv")
    (tmp_path / "bad.csv").write_text("z,y,x\n1,a,3\n")
    with pytest.raises(ValueError, match="numbers"):
        read_path(tmp_path / "bad.csv")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_path(tmp_path / "bad.json")
    (tmp_path / "obj.json").write_text('{"a": 1}')
    with pytest.raises(ValueError, match="'path' or 'points'"):
        read_path(tmp_path / "obj.json")
