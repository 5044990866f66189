"""Neuroglancer state reading/writing and the npe2 reader."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_backproject.io._ng_reader import get_reader
from napari_backproject.io.neuroglancer import (
    flythrough,
    is_neuroglancer_state,
    open_source,
    read_neuroglancer,
    write_neuroglancer,
)


def _state(points_xyz, dims=True, **extra):
    st = {
        "layers": [
            {"type": "image", "name": "em", "source": {"url": "gs://b/em|zarr2:"}},
            {
                "type": "annotation",
                "name": "axon",
                "annotations": [
                    {"type": "point", "id": str(i), "point": list(map(float, p))}
                    for i, p in enumerate(points_xyz)
                ]
                + [{"type": "line", "pointA": [0, 0, 0], "pointB": [1, 1, 1]}],
            },
        ]
    }
    if dims:
        st["dimensions"] = {"x": [4e-9, "m"], "y": [4e-9, "m"], "z": [4e-8, "m"]}
    st.update(extra)
    return st


def test_points_are_zyx_with_world_scale():
    xyz = np.array([[10, 20, 3], [12, 22, 5], [15, 21, 7]], float)
    s = read_neuroglancer(_state(xyz))
    lay = s["axon"]
    np.testing.assert_array_equal(lay.raw, xyz[:, ::-1])
    # Neuroglancer's voxel origin is its corner: napari index = stored - 0.5
    np.testing.assert_array_equal(lay.points, xyz[:, ::-1] - 0.5)
    np.testing.assert_allclose(lay.scale, [40, 4, 4])
    assert lay.unit == "nm"
    np.testing.assert_allclose(lay.world, (xyz[:, ::-1] - 0.5) * [40, 4, 4])
    assert s.image_source == "zarr://gs://b/em"  # Ouroboros's rewriting of |zarr2:
    assert s.layer_names == ["em", "axon"]


def test_dimension_order_other_than_xyz():
    st = _state([[1, 2, 3], [4, 5, 6]])
    st["dimensions"] = {"z": [4e-8, "m"], "y": [4e-9, "m"], "x": [4e-9, "m"]}
    lay = read_neuroglancer(st)["axon"]
    np.testing.assert_array_equal(lay.raw, [[1, 2, 3], [4, 5, 6]])
    np.testing.assert_allclose(lay.scale, [40, 4, 4])


def test_legacy_state_without_dimensions_is_voxel_indices():
    lay = read_neuroglancer(_state([[1, 2, 3], [4, 5, 6]], dims=False))["axon"]
    np.testing.assert_array_equal(lay.raw, [[3, 2, 1], [6, 5, 4]])
    np.testing.assert_array_equal(lay.scale, [1, 1, 1])
    assert lay.unit == "pixel"


def test_legacy_dict_layers_point_annotation():
    st = {
        "navigation": {"pose": {"position": {"voxelSize": [4, 4, 40]}}},
        "layers": {
            "trace": {"type": "pointAnnotation", "points": [[1, 2, 3], [4, 5, 6]]}
        },
    }
    lay = read_neuroglancer(st)["trace"]
    np.testing.assert_array_equal(lay.raw[0], [3, 2, 1])
    np.testing.assert_allclose(lay.scale, [40, 4, 4])


def test_errors_name_the_field(tmp_path):
    with pytest.raises(ValueError, match="'layers'"):
        read_neuroglancer({"format": "napari-backproject.slice-geometry"})
    st = {"layers": [{"type": "image", "name": "em", "source": "precomputed://x"}]}
    with pytest.raises(ValueError, match=r"layers found: 'em' \(image\)"):
        read_neuroglancer(st)
    with pytest.raises(ValueError, match="1 distinct point"):
        read_neuroglancer(_state([[1, 2, 3], [1, 2, 3]]))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_neuroglancer(bad)


def test_reader_claims_only_neuroglancer_states(tmp_path):
    from napari_backproject.geometry import make_slice_geometry

    ng = tmp_path / "state.json"
    ng.write_text(json.dumps(_state([[10, 20, 3], [12, 22, 5]])))
    g = make_slice_geometry(
        [[0, 5, 5], [4, 5, 5]],
        source_shape=(5, 10, 10),
        source_dtype="uint8",
        width=3,
        height=3,
    )
    geo = g.to_json(tmp_path / "a.geometry.json")
    assert is_neuroglancer_state(ng) and not is_neuroglancer_state(geo)
    assert get_reader(str(geo)) is None
    layers = get_reader(str(ng))(str(ng))
    assert len(layers) == 1
    data, meta, kind = layers[0]
    assert kind == "points" and meta["name"] == "axon"
    assert meta["scale"] == [40.0, 4.0, 4.0]


def test_open_source_local_zarr_and_clear_error(tmp_path):
    zarr = pytest.importorskip("zarr")
    arr = zarr.open(str(tmp_path / "v.zarr"), mode="w", shape=(4, 5, 6), dtype="u1")
    arr[:] = 7
    d = open_source(f"zarr://file://{tmp_path / 'v.zarr'}")
    assert d.shape == (4, 5, 6) and int(d.sum().compute()) == 7 * 120
    with pytest.raises(ValueError, match="precomputed://gs://b/em.*yourself"):
        open_source("precomputed://gs://b/em")


def test_write_neuroglancer_round_trip_and_flythrough(tmp_path):
    from napari_backproject.geometry import make_slice_geometry

    path = np.array([[2.0, 10, 10], [10, 14, 12], [20, 12, 18], [28, 8, 12]])
    g = make_slice_geometry(
        path,
        source_shape=(32, 32, 32),
        source_dtype="uint8",
        width=5,
        height=5,
        scale=(40, 4, 4),
        spacing=4.0,
    )
    p = write_neuroglancer(g, tmp_path / "out.json", unit="nm")
    s = read_neuroglancer(p)
    np.testing.assert_allclose(s["path"].points, path)
    np.testing.assert_allclose(s["path"].scale, [40, 4, 4])
    cs = s["cross-sections"]
    np.testing.assert_allclose(cs.points * cs.scale, g.centers, atol=1e-9)
    from scipy.spatial.transform import Rotation

    fly = flythrough(g)
    m = Rotation.from_quat([f["crossSectionOrientation"] for f in fly]).as_matrix()
    # first row is e_u in voxel x, y, z (unit length)
    eu = (g.e_u / g.scale)[:, ::-1]
    eu /= np.linalg.norm(eu, axis=1, keepdims=True)
    np.testing.assert_allclose(m[:, 0, :], eu, atol=1e-9)


def test_file_open_adds_points_layers_with_scale(make_napari_viewer, tmp_path):
    """File > Open of a Neuroglancer state: one Points layer per annotation layer."""
    st = _state([[10, 20, 3], [12, 22, 5], [15, 21, 7]])
    st["layers"].append(
        {
            "type": "annotation",
            "name": "dendrite",
            "annotations": [
                {"type": "point", "point": [1.0, 2.0, 3.0]},
                {"type": "point", "point": [4.0, 5.0, 6.0]},
            ],
        }
    )
    ng = tmp_path / "state.json"
    ng.write_text(json.dumps(st))
    viewer = make_napari_viewer()
    viewer.open(str(ng), plugin="napari-backproject")
    assert [lay.name for lay in viewer.layers] == ["axon", "dendrite"]
    axon = viewer.layers["axon"]
    assert type(axon).__name__ == "Points"
    np.testing.assert_allclose(axon.scale, [40, 4, 4])
    np.testing.assert_allclose(axon.data[0], [2.5, 19.5, 9.5])
    assert str(axon.units[0]) in ("nanometer", "nm")
