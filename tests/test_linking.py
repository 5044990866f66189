"""The linked-views model: markers, nearest slice, plane quads, the curve tick."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from napari_backproject.geometry import make_slice_geometry
from napari_backproject.linking import LinkedSpaces
from napari_backproject.mapping import from_straightened

PATH = np.array([[0.0, 20, 20], [10, 24, 22], [20, 23, 28], [30, 18, 30], [40, 16, 26]])
G = make_slice_geometry(
    PATH / np.array([2.0, 1, 1]),
    source_shape=(48, 48, 48),
    source_dtype="uint8",
    width=9,
    height=7,
    scale=(2.0, 1.0, 1.0),
    spacing=1.0,
)
SCALE, TRANSLATE = np.array([1.5, 0.5, 0.5]), np.array([3.0, -2.0, 7.0])
SPACES = LinkedSpaces(G, SCALE, TRANSLATE)


@settings(max_examples=60, deadline=None)
@given(
    s=st.floats(-0.49, G.n_slices - 0.51),
    v=st.floats(-0.49, G.height - 0.51),
    u=st.floats(-0.49, G.width - 0.51),
)
def test_marker_positions_follow_the_geometry(s, v, u):
    pixel = np.array([s, v, u])
    world_s = pixel * SCALE + TRANSLATE  # where the straightened layer draws it
    src = SPACES.to_source_world(world_s)
    # reference: the plane's sampling formula, interpolated between planes
    np.testing.assert_allclose(src, from_straightened([pixel], G)[0], atol=1e-9)
    back = SPACES.to_straightened_world(src)
    np.testing.assert_allclose(back, world_s, atol=1e-6)
    # the nearest slice of the source point is the rounded slice (either
    # neighbour at an exact half, where rounding of the round trip decides)
    k = SPACES.nearest_slice(src)
    assert abs(k - s) <= 0.5 + 1e-6
    if abs(abs(s - round(s)) - 0.5) > 1e-6:
        assert k == int(np.floor(s + 0.5))


def test_integer_pixels_are_the_geometry_pixels():
    i, v, u = 5, 0, G.width - 1
    ref = G.world_coordinates(i, i + 1)[:, 0, v, u]
    got = SPACES.to_source_world(np.array([i, v, u]) * SCALE + TRANSLATE)
    np.testing.assert_allclose(got, ref, atol=1e-12)


def test_off_the_slab_is_none_and_nan():
    far = [100.0, 100, 100]
    assert SPACES.nearest_slice(far) is None
    assert np.isnan(SPACES.to_straightened_world(far)).all()
    assert np.isnan(SPACES.to_source_world([1e4, 0, 0])).all()


@settings(max_examples=30, deadline=None)
@given(i=st.integers(0, G.n_slices - 1))
def test_plane_quad_is_the_plane_edge(i):
    q = SPACES.plane_quad(i)
    # corners lie in the plane, at half a pixel beyond the outer pixel centres
    n = G.tangents[i]
    np.testing.assert_allclose((q - G.centers[i]) @ n, 0, atol=1e-9)
    shrunk = G.centers[i] + 0.999 * (q - G.centers[i])
    px = SPACES.pixel_of(SPACES.to_straightened_world(shrunk))
    np.testing.assert_allclose(px[:, 0], i, atol=1e-6)
    W, H = G.width, G.height
    su = np.array([-1, 1, 1, -1])
    sv = np.array([-1, -1, 1, 1])
    np.testing.assert_allclose(px[:, 2], (W - 1) / 2 + su * 0.999 * W / 2, atol=1e-6)
    np.testing.assert_allclose(px[:, 1], (H - 1) / 2 + sv * 0.999 * H / 2, atol=1e-6)
    edges = np.linalg.norm(np.diff(SPACES.plane_outline(i), axis=0), axis=1)
    np.testing.assert_allclose(edges, [9, 7, 9, 7], atol=1e-9)
    # the tick crosses the curve at the plane centre, along e_u
    t = SPACES.tick(i, length=2.0)
    np.testing.assert_allclose(t.mean(axis=0), G.centers[i], atol=1e-12)
    np.testing.assert_allclose(t[1] - t[0], 2.0 * G.e_u[i], atol=1e-12)


def test_slice_index_and_world_round_trip():
    for i in range(G.n_slices):
        assert SPACES.slice_index(SPACES.slice_world(i)) == i
    assert SPACES.slice_index(-1e6) == 0
    assert SPACES.slice_index(1e6) == G.n_slices - 1


def test_nearest_slice_to_ray():
    i = G.n_slices // 2
    c = G.centers[i]
    # a ray through the plane centre along e_v (in the plane)
    assert SPACES.nearest_slice_to_ray(c - 50 * G.e_v[i], G.e_v[i]) == i
    assert SPACES.nearest_slice_to_ray([500.0, 500, 500], [0, 0, 1]) is None


def test_validation_messages():
    with pytest.raises(ValueError, match="scale"):
        LinkedSpaces(G, scale=(1, 1))
    with pytest.raises(ValueError, match="positive"):
        LinkedSpaces(G, scale=(1, 0, 1))
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        SPACES.to_source_world([[1, 2]])
    with pytest.raises(ValueError, match="slice index"):
        SPACES.plane_quad(G.n_slices)
    with pytest.raises(ValueError, match="to must be"):
        SPACES.map_points([[0, 0, 0]], to="elsewhere")
    with pytest.raises(ValueError, match="one point"):
        SPACES.nearest_slice([[0, 0, 0], [1, 1, 1]])


def _random_labels(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    labels = np.zeros(G.straightened_shape, dtype=np.uint16)
    for _ in range(12):  # boxes of a few labels, some across many slices
        s0, v0, u0 = rng.integers(0, G.straightened_shape)
        ds, dv, du = rng.integers(1, (12, 5, 6))
        labels[s0 : s0 + ds, v0 : v0 + dv, u0 : u0 + du] = rng.integers(1, 5)
    return labels


@pytest.mark.parametrize("index", [0, 7, 20, G.n_slices - 1])
def test_slab_preview_is_the_full_backprojection_inside_the_slab(index):
    from napari_backproject import backproject

    labels = _random_labels(index)
    full, _ = backproject(labels, G, extent="full")
    half = 3
    data, place = SPACES.backproject_slab(labels, index, half_width=half)
    start, stop = SPACES.slab(index, half)
    # the preview put into the full grid, by its placement
    offset = np.rint((np.asarray(place["translate"]) - G.translate) / G.scale).astype(
        int
    )
    np.testing.assert_allclose(place["scale"], G.scale)
    preview = np.zeros_like(full)
    z, y, x = offset
    preview[z : z + data.shape[0], y : y + data.shape[1], x : x + data.shape[2]] = data
    # where a voxel's own plane pair lies inside the slab, the two agree
    grid = np.stack(np.indices(full.shape), axis=-1).reshape(-1, 3)
    world = grid * G.scale + G.translate
    s = SPACES.pixel_of(SPACES.to_straightened_world(world))[:, 0]
    inside = (s >= start + 1e-3) & (s <= stop - 1 - 1e-3)
    assert inside.sum() > 50
    np.testing.assert_array_equal(preview.reshape(-1)[inside], full.reshape(-1)[inside])
    # and nothing far from the slab is drawn
    far = ~np.isfinite(s) | (s < start - 1) | (s > stop)
    assert not preview.reshape(-1)[far].any()


def test_slab_preview_checks_its_input():
    with pytest.raises(ValueError, match="stack's shape"):
        SPACES.backproject_slab(np.zeros((3, 3, 3)), 0)
    with pytest.raises(ValueError, match="outside the stack"):
        SPACES.slab(G.n_slices, 2)
    with pytest.raises(ValueError, match="half_width"):
        SPACES.slab(0, -1)
