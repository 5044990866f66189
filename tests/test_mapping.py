"""Points between world and straightened space: round trips, NaN off the slab."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from napari_backproject import SliceGeometry, backproject
from napari_backproject.geometry import make_slice_geometry
from napari_backproject.mapping import from_straightened, to_straightened

PATH = np.array([[0.0, 20, 20], [10, 24, 22], [20, 23, 28], [30, 18, 30], [40, 16, 26]])


def _geom(closed=False, scale=(2.0, 1.0, 1.0)):
    return make_slice_geometry(
        PATH / np.asarray(scale) * np.array([1.0, 1, 1]),
        source_shape=(48, 48, 48),
        source_dtype="uint8",
        width=9,
        height=7,
        scale=scale,
        spacing=1.0,
    )


G = _geom()


@settings(max_examples=60, deadline=None)
@given(
    s=st.floats(-0.5, G.n_slices - 0.5),
    v=st.floats(-0.5, G.height - 0.5),
    u=st.floats(-0.5, G.width - 0.5),
)
def test_round_trip_straightened_world_straightened(s, v, u):
    p = np.array([[s, v, u]])
    w = from_straightened(p, G)
    back = to_straightened(w, G)
    np.testing.assert_allclose(back, p, atol=1e-6)
    np.testing.assert_allclose(from_straightened(back, G), w, atol=1e-6)


def test_integer_positions_are_the_geometry_pixels():
    i = np.array([0, 3, G.n_slices - 1])
    v = np.array([0, 2, G.height - 1])
    u = np.array([0, 5, G.width - 1])
    w = from_straightened(np.c_[i, v, u], G)
    ref = G.world_coordinates()[:, i, v, u].T
    np.testing.assert_allclose(w, ref, atol=1e-12)


def test_off_the_slab_is_nan():
    far = np.array([[100.0, 100, 100], [PATH[0, 0] - 5, 20, 20]])
    assert np.isnan(to_straightened(far, G)).all()
    assert np.isnan(from_straightened([[G.n_slices + 1, 0, 0]], G)).all()
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        to_straightened([1, 2, 3], G)


def test_mapped_points_agree_with_backprojection():
    """A label at a straightened pixel comes back where to_straightened says."""
    stack = np.zeros(G.straightened_shape, np.uint8)
    stack[10:13, 2:5, 3:6] = 1
    out, off = backproject(stack, G, extent="full", order=0)
    vox = np.argwhere(out > 0)
    world = vox * G.scale + G.translate
    sv = to_straightened(world, G)
    assert np.all(np.isfinite(sv))
    r = np.rint(sv)
    inside = (r[:, 0] >= 10) & (r[:, 0] <= 12) & (r[:, 1] >= 2) & (r[:, 1] <= 4)
    inside &= (r[:, 2] >= 3) & (r[:, 2] <= 5)
    assert inside.all()


def test_ouroboros_geometry_with_unequal_pixel_pitch_round_trips():
    from napari_backproject.io.ouroboros import ouroboros_planes, rects_to_geometry

    t = np.linspace(0, 2.5, 7)
    rects = ouroboros_planes(np.c_[12 * t + 5, 6 * np.sin(t) + 20, 3 * t + 5], 11, 8)
    g = rects_to_geometry(rects, 11, 8, source_shape=(20, 40, 45))
    assert isinstance(g, SliceGeometry)
    rng = np.random.default_rng(0)
    p = np.c_[
        rng.uniform(0, g.n_slices - 1, 50),
        rng.uniform(0, 7, 50),
        rng.uniform(0, 10, 50),
    ]
    np.testing.assert_allclose(
        to_straightened(from_straightened(p, g), g), p, atol=1e-6
    )


def test_closed_loop_round_trip_across_the_seam():
    t = np.linspace(0, 2 * np.pi, 9)[:-1]
    ring = np.c_[20 + 3 * np.sin(2 * t), 20 + 12 * np.sin(t), 20 + 12 * np.cos(t)]
    g = make_slice_geometry(
        ring,
        source_shape=(40, 40, 40),
        source_dtype="uint8",
        width=5,
        height=5,
        closed=True,
    )
    p = np.array([[g.n_slices - 0.3, 2.0, 1.5], [0.2, 3.0, 2.5], [5.5, 1.0, 4.0]])
    np.testing.assert_allclose(
        to_straightened(from_straightened(p, g), g), p, atol=1e-6
    )
