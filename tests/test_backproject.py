"""Backprojection: exactness, labels, no holes, extents, streaming, bad input."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import dask.array as da
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage as ndi
from scipy.spatial import cKDTree

from napari_backproject import SliceGeometry, backproject
from napari_backproject._progress import Cancelled
from napari_backproject.backproject import placement, write_backprojection
from napari_backproject.data import helix_neurite
from napari_backproject.straighten import straighten

# ----------------------------------------------------------------- fixtures
SHAPE = (80, 80, 80)
RADIUS = 7.0


@pytest.fixture(scope="module")
def helix():
    return helix_neurite(shape=SHAPE, scale=(1.0, 1.0, 1.0), radius=RADIUS, turns=1.5)


def _width(spacing: float) -> int:
    return 2 * int(np.ceil((RADIUS + 3) / spacing)) + 1


def _straighten_mask(sample, spacing):
    w = _width(spacing)
    st_, g = straighten(
        sample.mask.astype(np.float32),
        sample.points,
        width=w,
        height=w,
        spacing=spacing,
        scale=sample.scale,
        dtype=np.float32,
    )
    return st_, g


@pytest.fixture(scope="module")
def straight1(helix):
    return _straighten_mask(helix, 1.0)


def _world_grid(shape, scale=(1, 1, 1), translate=(0, 0, 0)):
    idx = np.indices(shape, dtype=np.float64)
    return np.stack(
        [idx[k] * scale[k] + translate[k] for k in range(3)], axis=-1
    )  # (Z, Y, X, 3)


def _interior(g: SliceGeometry, shape, margin=2):
    """Voxels whose nearest plane centre is an interior plane (not near the ends)."""
    pts = _world_grid(shape, g.scale, g.translate).reshape(-1, 3)
    _, k = cKDTree(g.centers).query(pts)
    return ((k >= margin) & (k <= g.n_slices - 1 - margin)).reshape(shape)


def _between_planes(g: SliceGeometry, shape):
    """Voxels on the far side of the first plane and before the last one."""
    p = _world_grid(shape, g.scale, g.translate)
    d0 = (p - g.centers[0]) @ g.tangents[0]
    dn = (p - g.centers[-1]) @ g.tangents[-1]
    return (d0 >= 0) & (dn < 0)


def _dice(a, b):
    a, b = a.astype(bool), b.astype(bool)
    return 2.0 * (a & b).sum() / (a.sum() + b.sum())


def _axis_geometry(shape=(12, 10, 11), n=4, width=5, height=3, z0=3, y0=4, x0=2):
    """Planes perpendicular to z at integer positions: pixel (s, v, u) is voxel
    (z0 + s, y0 + v, x0 + u), so the backprojection is a plain copy."""
    cy = y0 + (height - 1) / 2.0
    cx = x0 + (width - 1) / 2.0
    return SliceGeometry(
        source_shape=shape,
        source_dtype="uint8",
        scale=(1, 1, 1),
        translate=(0, 0, 0),
        width=width,
        height=height,
        spacing=1.0,
        centers=[[z0 + i, cy, cx] for i in range(n)],
        tangents=[[1, 0, 0]] * n,
        e_u=[[0, 0, 1]] * n,
        e_v=[[0, 1, 0]] * n,
        path=[[z0, cy, cx], [z0 + n - 1, cy, cx]],
    )


# ------------------------------------------------------ exactness / geometry
@pytest.mark.parametrize("method", ["pull", "splat"])
@pytest.mark.parametrize("dtype", [np.float32, np.uint16])
def test_axis_aligned_planes_copy_the_stack(method, dtype):
    g = _axis_geometry()
    rng = np.random.default_rng(1)
    data = rng.integers(1, 60000, size=g.straightened_shape).astype(dtype)
    out, offset = backproject(data, g, method=method, extent="full")
    expected = np.zeros(g.source_shape, dtype)
    expected[3:7, 4:7, 2:7] = data
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == dtype


@pytest.mark.parametrize("scale", [(1.0, 1.0, 1.0), (2.0, 1.0, 0.75)])
@pytest.mark.parametrize("spacing", [1.0, 2.5])
def test_linear_field_round_trips_exactly(helix, scale, spacing):
    """Trilinear sampling reproduces a linear field exactly, so
    straighten -> backproject must too (between the first and last plane)."""
    shape = tuple(int(round(s * 1.0 / sc)) for s, sc in zip(SHAPE, scale, strict=True))
    shape = (min(shape[0], 60), shape[1], shape[2])
    world = _world_grid(shape, scale)
    f = world @ np.array([0.3, -0.7, 1.1]) + 5.0
    pts = helix.points * np.asarray(helix.scale) / np.asarray(scale)
    pts = pts[pts[:, 0] < shape[0] - 8]
    w = _width(spacing)
    s_, g = straighten(
        f, pts, width=w, height=w, spacing=spacing, scale=scale, dtype=np.float64
    )
    out, offset = backproject(s_, g, extent="full")
    cov, _ = backproject(np.ones(g.straightened_shape, np.uint8), g, extent="full")
    # inside the volume by 1 voxel (straighten fills outside with 0)
    inside = np.zeros(shape, bool)
    inside[1:-1, 1:-1, 1:-1] = True
    # nearer the centre line than the plane's half-width minus a pixel
    pts_w = world.reshape(-1, 3)
    dist, _ = cKDTree(g.centers).query(pts_w)
    near = (dist < (w - 3) / 2 * spacing).reshape(shape)
    sel = inside & near & (cov > 0) & _between_planes(g, shape)
    assert sel.sum() > 1000
    np.testing.assert_allclose(out[sel], f[sel], atol=1e-6)


def test_straighten_then_backproject_reproduces_smooth_volume(helix):
    """A smooth image comes back to interpolation accuracy inside the slab."""
    vol = ndi.gaussian_filter(helix.volume.astype(np.float32), 2.0)
    s_, g = straighten(
        vol, helix.points, width=25, height=25, spacing=1.0, dtype=np.float32
    )
    out, offset = backproject(s_, g, extent="full")
    sel = helix.mask.astype(bool) & _interior(g, SHAPE) & (out != 0)
    assert sel.sum() > 0.9 * (helix.mask.astype(bool) & _interior(g, SHAPE)).sum()
    err = np.abs(out[sel] - vol[sel])
    # reference: the same volume resampled half a voxel off-grid and back
    idx = np.indices(SHAPE).astype(np.float64)
    there = ndi.map_coordinates(vol, idx + 0.5, order=1)
    ref = np.abs(ndi.map_coordinates(there, idx - 0.5, order=1) - vol)[sel]
    assert err.mean() <= ref.mean()
    assert err.max() <= 1.2 * ref.max()
    assert err.mean() < 0.02 * vol[sel].mean()


# ------------------------------------------------------------------ quality
def test_threshold_backproject_dice(helix, straight1):
    s_, g = straight1
    labels = (s_ >= 0.5).astype(np.uint8)
    out, _ = backproject(labels, g, extent="full")
    near, _ = backproject(labels, g, extent="full", order=0)
    cov, _ = backproject(np.ones_like(labels), g, extent="full")
    slab = cov > 0
    d1 = _dice(helix.mask.astype(bool) & slab, out.astype(bool) & slab)
    d0 = _dice(helix.mask.astype(bool) & slab, near.astype(bool) & slab)
    # an isotropic r = 7 voxel tube: 0.988 (two interpolations shrink a
    # convex shape slightly); nearest-label sampling: 0.976
    assert d1 >= 0.985, d1
    assert d1 > d0 + 0.005  # indicator interpolation beats nearest labels
    assert set(np.unique(out)) == {0, 1}


def test_threshold_backproject_dice_sample_data():
    """The sample data's anisotropic helix (scale 2, 1, 1), tube radius 8."""
    s = helix_neurite(shape=(48, 96, 96), scale=(2.0, 1.0, 1.0), radius=8.0, turns=1.5)
    st_, g = straighten(
        s.mask.astype(np.float32),
        s.points,
        width=23,
        height=23,
        spacing=1.0,
        scale=s.scale,
        dtype=np.float32,
    )
    labels = (st_ >= 0.5).astype(np.uint8)
    out, _ = backproject(labels, g, extent="full")
    cov, _ = backproject(np.ones_like(labels), g, extent="full")
    slab = cov > 0
    d1 = _dice(s.mask.astype(bool) & slab, out.astype(bool) & slab)
    assert d1 >= 0.99, d1


@pytest.mark.parametrize("spacing", [1.0, 2.0, 3.0, 4.0])
def test_no_empty_tube_voxels(helix, spacing):
    s_, g = _straighten_mask(helix, spacing)
    tube = helix.mask.astype(bool) & _interior(g, SHAPE)
    assert tube.sum() > 5000
    ones = np.ones(g.straightened_shape, np.uint8)
    cov, _ = backproject(ones, g, extent="full")
    assert int((tube & (cov == 0)).sum()) == 0
    labels = (s_ >= 0.5).astype(np.uint8)
    out, _ = backproject(labels, g, extent="full")
    if spacing <= 2:  # the tube core is labelled everywhere
        pts = _world_grid(SHAPE).reshape(-1, 3)
        dense = helix.curve(np.linspace(*helix.t_range, 4000))
        dist = cKDTree(dense).query(pts)[0].reshape(SHAPE)
        core = tube & (dist <= RADIUS - 2 * spacing - 1)
        assert core.sum() > 1000
        assert int((core & (out == 0)).sum()) == 0
    if spacing >= 3:  # Ouroboros-style splatting leaves holes here
        splat, _ = backproject(ones, g, extent="full", method="splat")
        assert (tube & (splat == 0)).sum() > 0.1 * tube.sum()


def test_two_labels_come_back_exactly(helix, straight1):
    s_, g = straight1
    labels = (s_ >= 0.5).astype(np.uint8)
    labels[g.n_slices // 2 :] *= 2
    for method in ("pull", "splat"):
        out, _ = backproject(labels, g, method=method)
        assert set(np.unique(out).tolist()) == {0, 1, 2}


@pytest.mark.parametrize("method", ["pull", "splat"])
@pytest.mark.parametrize(
    "dtype, ids",
    [
        (np.uint16, [0, 1000, 1001, 65535]),
        (np.uint32, [0, 70000, 2**31 + 7, 2**32 - 1]),
        (np.int32, [0, 5, 2**31 - 1, 123456]),
    ],
)
def test_label_ids_stay_exact(helix, straight1, method, dtype, ids):
    s_, g = straight1
    rng = np.random.default_rng(0)
    # blocky random labels so that many voxels see several labels at once
    nb = g.width // 4 + 1
    small = rng.choice(np.asarray(ids, dtype=dtype), size=(g.n_slices // 4 + 1, nb, nb))
    labels = np.repeat(np.repeat(np.repeat(small, 4, 0), 4, 1), 4, 2)
    labels = np.ascontiguousarray(labels[: g.n_slices, : g.height, : g.width])
    out, _ = backproject(labels, g, method=method)
    assert out.dtype == dtype
    assert set(np.unique(out).tolist()) <= set(ids)
    assert len(np.unique(out)) == len(ids)  # every ID survives somewhere


_LABEL_DTYPES = ["bool", "u1", "u2", "u4", "u8", "i1", "i2", "i4", "i8"]


@settings(max_examples=12, deadline=None)
@given(
    dtype=st.sampled_from(_LABEL_DTYPES),
    raw=st.lists(st.integers(-(2**63), 2**64 - 1), min_size=1, max_size=5),
    method=st.sampled_from(["pull", "splat"]),
    seed=st.integers(0, 2**16),
)
def test_any_label_dtype_gives_the_same_labels(straight1, dtype, raw, method, seed):
    """Labels of every integer dtype (int64 above 2**32 included) come back
    exactly: backprojecting ``values[idx]`` equals ``values`` indexed by the
    backprojection of the indices, for increasing (as unsigned) values with
    0 first, since only equality, zero and the ID order matter."""
    s_, g = straight1
    dt = np.dtype(dtype)
    if dt.kind == "b":
        values = np.array([False, True])
    else:
        info = np.iinfo(dt)
        vals = {int(np.array(v).astype(np.uint64)) for v in raw}  # wrap into range
        vals = {v % (int(info.max) - int(info.min) + 1) + int(info.min) for v in vals}
        values = np.array(sorted(vals - {0}), dtype=dt)
        u = values.view(f"u{dt.itemsize}")
        values = np.concatenate([np.zeros(1, dt), values[np.argsort(u)]])
    rng = np.random.default_rng(seed)
    nb = g.width // 4 + 1
    small = rng.integers(0, values.size, size=(g.n_slices // 4 + 1, nb, nb))
    idx = np.repeat(np.repeat(np.repeat(small, 4, 0), 4, 1), 4, 2)
    idx = np.ascontiguousarray(idx[: g.n_slices, : g.height, : g.width], np.uint8)
    out, off = backproject(values[idx], g, method=method)
    ref, off_ref = backproject(idx, g, method=method)
    assert out.dtype == dt and off == off_ref
    np.testing.assert_array_equal(out, values[ref])


def test_label_vote_tie_rule():
    """A voxel exactly half-way between a label and background takes the label;
    between two labels, the smaller ID."""
    g = _axis_geometry(n=2, width=2, height=1)
    g.centers[:, 2] = 2.5  # pixels at x = 2, 3 -> voxel x=2,3; half-way is 2.5
    data = np.array([[[0, 9]], [[0, 9]]], np.uint16)
    # shift the planes by half a voxel in x: every voxel is half-way
    g2 = SliceGeometry.from_dict(g.to_dict())
    g2.centers[:, 2] = 3.0
    out, off = backproject(data, g2, extent="full")
    row = out[3, 4]
    assert row[3] == 9  # 0.5 background vs 0.5 label 9 -> label
    data2 = np.array([[[7, 9]], [[7, 9]]], np.uint16)
    out2, _ = backproject(data2, g2, extent="full")
    assert out2[3, 4, 3] == 7  # tie between labels -> smaller ID


# ---------------------------------------------------------- extents / world
@pytest.mark.parametrize("method", ["pull", "splat"])
def test_bbox_and_full_agree(helix, straight1, method):
    s_, g = straight1
    labels = (s_ >= 0.5).astype(np.uint8)
    full, off0 = backproject(labels, g, extent="full", method=method)
    box, off = backproject(labels, g, extent="bbox", method=method, chunk_z=7)
    assert off0 == (0, 0, 0)
    sl = tuple(slice(o, o + n) for o, n in zip(off, box.shape, strict=True))
    np.testing.assert_array_equal(full[sl], box)
    rest = full.copy()
    rest[sl] = 0
    assert not rest.any()
    ones, _ = backproject(np.ones_like(labels), g, extent="bbox", method=method)
    # near-minimal: the box is that of the planes' extent; what is claimed
    # reaches within 2 voxels of every face
    nz = np.argwhere(ones)
    assert np.all(nz.min(axis=0) <= 2)
    assert np.all(nz.max(axis=0) >= np.array(ones.shape) - 3)


def test_anisotropic_round_trip(helix):
    s = helix_neurite(shape=(40, 80, 80), scale=(2.0, 1.0, 1.0), radius=RADIUS)
    w = _width(1.0)
    st_, g = straighten(
        s.mask.astype(np.float32),
        s.points,
        width=w,
        height=w,
        spacing=1.0,
        scale=s.scale,
        dtype=np.float32,
    )
    labels = (st_ >= 0.5).astype(np.uint8)
    out, off = backproject(labels, g)
    full = np.zeros(s.mask.shape, np.uint8)
    full[tuple(slice(o, o + n) for o, n in zip(off, out.shape, strict=True))] = out
    cov, _ = backproject(np.ones_like(labels), g, extent="full")
    slab = cov > 0
    assert _dice(s.mask.astype(bool) & slab, full.astype(bool) & slab) >= 0.97
    assert int((s.mask.astype(bool) & _interior(g, s.mask.shape) & ~slab).sum()) == 0
    pl = placement(g, off)
    assert pl["scale"] == [2.0, 1.0, 1.0]
    np.testing.assert_allclose(pl["translate"], np.asarray(off) * [2.0, 1.0, 1.0])


def test_placement_puts_bbox_on_source():
    g = _axis_geometry()
    g.translate[:] = (10.0, -3.0, 4.0)
    g.centers[:] = g.centers + g.translate
    data = np.ones(g.straightened_shape, np.float32)
    out, off = backproject(data, g)
    assert off == (3, 4, 2) and out.shape == g.straightened_shape
    pl = placement(g, off)
    # world position of out[0, 0, 0] is the first pixel of the first plane
    first = g.world_coordinates(0, 1)[:, 0, 0, 0]
    np.testing.assert_allclose(pl["translate"], first)
    g.scale[:] = (2.0, 0.5, 1.5)
    pl = placement(g.to_dict(), (1, 2, 3))
    assert pl["scale"] == [2.0, 0.5, 1.5]
    assert pl["translate"] == [12.0, -2.0, 8.5]


@settings(max_examples=20, deadline=None)
@given(
    angles=st.tuples(
        st.floats(0, 2 * np.pi), st.floats(0, np.pi), st.floats(0, 2 * np.pi)
    ),
    scale=st.tuples(*[st.sampled_from([0.5, 1.0, 1.5, 2.0])] * 3),
    spacing=st.sampled_from([0.7, 1.0, 1.6]),
    shift=st.tuples(*[st.floats(-0.5, 0.5)] * 3),
)
def test_tilted_straight_stack_properties(angles, scale, spacing, shift):
    """Any rigid stack of parallel planes: a linear field round-trips exactly,
    everything claimed lies in the bbox, and bbox == full crop."""
    a, b, c = angles
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rx = np.array([[1, 0, 0], [0, np.cos(c), -np.sin(c)], [0, np.sin(c), np.cos(c)]])
    rot = rz @ ry @ rx
    t, eu, ev = rot[:, 0], rot[:, 1], rot[:, 2]
    n, w, h = 6, 5, 4
    shape = (16, 16, 16)
    centre = np.array(shape) * np.asarray(scale) / 2 + np.asarray(shift)
    centers = centre + (np.arange(n) - (n - 1) / 2)[:, None] * spacing * t
    g = SliceGeometry(
        source_shape=shape,
        source_dtype="float32",
        scale=scale,
        translate=(0, 0, 0),
        width=w,
        height=h,
        spacing=spacing,
        centers=centers,
        tangents=[t] * n,
        e_u=[eu] * n,
        e_v=[ev] * n,
        path=centers[[0, -1]],
    )
    coef = np.array([0.3, -0.2, 0.5])
    data = np.einsum("ksvu,k->svu", g.world_coordinates(), coef) + 2.0
    out, off = backproject(data, g, extent="full")
    world = _world_grid(shape, scale)
    f = world @ coef + 2.0
    rel = world - centers[0]
    d0 = rel @ t
    dn = (world - centers[-1]) @ t
    au = np.abs(rel @ eu) <= (w - 1) / 2 * spacing
    av = np.abs(rel @ ev) <= (h - 1) / 2 * spacing
    inner = (d0 >= 0) & (dn < 0) & au & av
    np.testing.assert_allclose(out[inner], f[inner], atol=1e-9)
    claimed = out != 0
    # claimed only within half a pixel of the planes and half a spacing of ends
    ext = (
        (d0 >= -spacing / 2 - 1e-9)
        & (dn < spacing / 2 + 1e-9)
        & (np.abs(rel @ eu) <= w / 2 * spacing + 1e-9)
        & (np.abs(rel @ ev) <= h / 2 * spacing + 1e-9)
    )
    assert not (claimed & ~ext).any()
    box, boff = backproject(data, g, extent="bbox", chunk_z=3)
    sl = tuple(slice(o, o + k) for o, k in zip(boff, box.shape, strict=True))
    np.testing.assert_array_equal(out[sl], box)
    rest = out.copy()
    rest[sl] = 0
    assert not rest.any()


def test_closed_loop_has_no_seam():
    shape = (24, 48, 48)
    th = np.linspace(0, 2 * np.pi, 9)[:-1]
    pts = np.stack(
        [12 + 2 * np.sin(2 * th), 24 + 15 * np.sin(th), 24 + 15 * np.cos(th)], 1
    )
    world = _world_grid(shape)
    f = world @ np.array([0.5, 0.25, -0.4]) + 3.0
    st_, g = straighten(f, pts, width=9, height=9, closed=True, dtype=np.float64)
    assert g.options["closed"]
    out, _ = backproject(st_, g, extent="full")
    cov, _ = backproject(np.ones(g.straightened_shape, np.uint8), g, extent="full")
    dist, k = cKDTree(g.centers).query(world.reshape(-1, 3))
    near = (dist < 3.0).reshape(shape)
    assert near.sum() > 2000
    assert not (near & (cov == 0)).any()  # covered all round, seam included
    seam = near & np.isin(k.reshape(shape), [0, g.n_slices - 1])
    assert seam.sum() > 20
    np.testing.assert_allclose(out[near], f[near], atol=1e-6)


def _pull_reference(data, g, shape):
    """Brute-force NumPy version of the pull rule (every voxel x every segment),
    sampled with scipy.ndimage.map_coordinates."""
    p = _world_grid(shape, g.scale, g.translate).reshape(-1, 3)
    n, h, w, dd = g.n_slices, g.height, g.width, g.spacing
    best = np.full(len(p), np.inf)
    pos = np.zeros((len(p), 3))
    c, tg, eu, ev = g.centers, g.tangents, g.e_u, g.e_v
    for i in range(-1, n):
        k = min(max(i, 0), n - 1)
        q = p - c[k]
        d0 = q @ tg[k]
        if i == -1 or i == n - 1:
            m = (d0 >= -dd / 2) & (d0 < 0) if i == -1 else (d0 >= 0) & (d0 < dd / 2)
            t = np.zeros(m.sum())
            a, b = q[m] @ eu[k], q[m] @ ev[k]
        else:
            d1 = (p - c[k + 1]) @ tg[k + 1]
            m = (d0 >= 0) & (d1 < 0)
            qm = q[m]
            t = d0[m] / (d0[m] - d1[m])
            dc, du, dv = c[k + 1] - c[k], eu[k + 1] - eu[k], ev[k + 1] - ev[k]
            eut = eu[k] + t[:, None] * du
            evt = ev[k] + t[:, None] * dv
            r = qm - t[:, None] * dc
            a = np.sum(r * eut, 1) / np.sum(eut * eut, 1)
            b = np.sum(r * evt, 1) / np.sum(evt * evt, 1)
            for _ in range(8):
                eut = eu[k] + t[:, None] * du
                evt = ev[k] + t[:, None] * dv
                f = t[:, None] * dc + a[:, None] * eut + b[:, None] * evt - qm
                jac = np.stack(
                    [dc + a[:, None] * du + b[:, None] * dv, eut, evt], axis=-1
                )
                delta = np.linalg.solve(jac, -f[..., None])[..., 0]
                t, a, b = t + delta[:, 0], a + delta[:, 1], b + delta[:, 2]
            t = np.clip(t, 0, 1)
        ok = (np.abs(a) <= w * dd / 2) & (np.abs(b) <= h * dd / 2)
        dist = np.where(ok, a * a + b * b, np.inf)
        idx = np.flatnonzero(m)
        upd = dist < best[idx]
        best[idx[upd]] = dist[upd]
        pos[idx[upd]] = np.stack(
            [k + t, b / dd + (h - 1) / 2, a / dd + (w - 1) / 2], 1
        )[upd]
    hit = np.isfinite(best)
    vals = ndi.map_coordinates(data, pos[hit].T, order=1, mode="nearest")
    out = np.zeros(len(p))
    out[hit] = vals
    return out.reshape(shape)


def test_pull_matches_brute_force_at_a_hairpin():
    """Planes 31 px wide around a hairpin reach across to the other leg, so
    many voxels are claimed twice; the claim nearest the curve must win,
    exactly as the brute-force rule says."""
    shape = (20, 40, 40)
    pts = np.array(
        [[10, 4, 13], [10, 28, 13], [10, 34, 20], [10, 28, 27], [10, 4, 27]], float
    )
    world = _world_grid(shape)
    f = np.sin(world[..., 1] / 4) + np.cos(world[..., 2] / 5) + world[..., 0] / 10
    st_, g = straighten(f, pts, width=31, height=9, spacing=1.3, dtype=np.float64)
    out, _ = backproject(st_, g, extent="full")
    ref = _pull_reference(st_, g, shape)
    assert ((ref != 0) != (out != 0)).sum() <= 3
    both = (ref != 0) & (out != 0)
    bad = ~np.isclose(out, ref, atol=1e-6) & both
    assert bad.sum() <= 3, bad.sum()
    # the rule was exercised: many output voxels have 2+ candidate segments
    p = world.reshape(-1, 3)
    d = np.stack([(p - c) @ t for c, t in zip(g.centers, g.tangents, strict=True)], 1)
    claims = ((d[:, :-1] >= 0) & (d[:, 1:] < 0)).sum(1).reshape(shape)
    assert ((claims >= 2) & (out != 0)).sum() > 1000


# --------------------------------------------------------- splat reference
def _splat_reference(data, g, shape):
    """Trilinear splatting with np.add.at, normalised by the summed weight."""
    vox = g.voxel_coordinates().reshape(3, -1)
    vals = data.reshape(-1).astype(np.float64)
    base = np.floor(vox).astype(np.int64)
    frac = vox - base
    acc = np.zeros(shape)
    wsum = np.zeros(shape)
    for dz in (0, 1):
        for dy in (0, 1):
            for dx in (0, 1):
                idx = base + np.array([dz, dy, dx])[:, None]
                w = (
                    (frac[0] if dz else 1 - frac[0])
                    * (frac[1] if dy else 1 - frac[1])
                    * (frac[2] if dx else 1 - frac[2])
                )
                ok = np.all((idx >= 0) & (idx < np.array(shape)[:, None]), axis=0)
                ok &= w > 0
                ix = tuple(idx[:, ok])
                np.add.at(acc, ix, w[ok] * vals[ok])
                np.add.at(wsum, ix, w[ok])
    out = np.zeros(shape)
    np.divide(acc, wsum, out=out, where=wsum > 0)
    return out


def test_splat_matches_add_at_reference(straight1):
    s_, g = straight1
    ref = _splat_reference(s_, g, SHAPE)
    out, _ = backproject(s_.astype(np.float64), g, method="splat", extent="full")
    np.testing.assert_allclose(out, ref, atol=1e-9)


# ------------------------------------------------------------- streaming
class Recording:
    """An array-like that records which slices along axis 0 are read."""

    def __init__(self, a):
        self.a = a
        self.shape = a.shape
        self.dtype = a.dtype
        self.ndim = a.ndim
        self.reads: list[tuple[int, int]] = []

    def __getitem__(self, key):
        k0 = key[0] if isinstance(key, tuple) else key
        start, stop, _ = k0.indices(self.shape[0])
        if stop > start:  # dask probes with an empty slice for its meta
            self.reads.append((start, stop))
        return self.a[key]


def test_each_slab_reads_only_the_slices_that_reach_it(helix, straight1):
    s_, g = straight1
    labels = (s_ >= 0.5).astype(np.uint8)
    rec = Recording(labels)
    chunk = 8
    out, off = backproject(rec, g, chunk_z=chunk, lazy=False)
    ref, _ = backproject(labels, g)
    np.testing.assert_array_equal(out, ref)
    # z range (voxel index) each plane's extended rectangle reaches
    vz = g.voxel_coordinates()[0].reshape(g.n_slices, -1)
    zmin, zmax = vz.min(axis=1) - 2, vz.max(axis=1) + 2
    nblocks = -(-out.shape[0] // chunk)
    total = 0
    for start, stop in rec.reads:
        total += stop - start
    assert total < 0.5 * nblocks * g.n_slices  # far from reading everything
    # every read slice reaches the slab that read it (reads come in slab order)
    b = 0
    z_lo = off[0]
    for start, stop in rec.reads:
        s_idx = np.arange(start, stop)
        while b < nblocks:
            z0, z1 = z_lo + b * chunk, z_lo + min((b + 1) * chunk, out.shape[0]) - 1
            if np.all((zmax[s_idx] >= z0) & (zmin[s_idx] <= z1)):
                break
            b += 1
        assert b < nblocks, (start, stop)


def test_lazy_dask_input_gives_dask_output(straight1):
    s_, g = straight1
    labels = (s_ >= 0.5).astype(np.uint8)
    ref, off_ref = backproject(labels, g)
    rec = Recording(labels)
    lazy = da.from_array(rec, chunks=(1, g.height, g.width))
    out, off = backproject(lazy, g, chunk_z=10)
    assert isinstance(out, da.Array) and off == off_ref
    assert out.chunks[0][0] == 10
    assert rec.reads == []  # nothing read before compute
    part = out[10:20].compute()
    np.testing.assert_array_equal(part, ref[10:20])
    assert 0 < len(rec.reads) < g.n_slices // 2
    np.testing.assert_array_equal(out.compute(), ref)
    # lazy=True on NumPy input too
    out2, _ = backproject(labels, g, lazy=True)
    assert isinstance(out2, da.Array)
    np.testing.assert_array_equal(out2.compute(), ref)


def test_zarr_input_is_lazy(straight1, tmp_path):
    zarr = pytest.importorskip("zarr")
    s_, g = straight1
    labels = (s_ >= 0.5).astype(np.uint8)
    z = zarr.open(
        str(tmp_path / "s.zarr"),
        mode="w",
        shape=labels.shape,
        chunks=(4, g.height, g.width),
        dtype=labels.dtype,
    )
    z[:] = labels
    out, off = backproject(z, g)
    assert isinstance(out, da.Array)
    np.testing.assert_array_equal(out.compute(), backproject(labels, g)[0])


def test_progress_and_cancel(straight1):
    s_, g = straight1
    calls = []
    backproject(s_, g, chunk_z=16, progress=lambda d, t: calls.append((d, t)))
    assert calls[-1][0] == calls[-1][1] and len(calls) > 1

    def stop(done, total):
        raise Cancelled

    with pytest.raises(Cancelled):
        backproject(s_, g, chunk_z=16, progress=stop)


def test_kernels_are_thread_safe(straight1):
    s_, g = straight1
    labels = (s_ >= 0.5).astype(np.uint8)
    for method in ("pull", "splat"):
        ref, _ = backproject(labels, g, method=method, extent="full")
        with ThreadPoolExecutor(4) as ex:
            futs = [
                ex.submit(backproject, labels, g, method=method, extent="full")
                for _ in range(4)
            ]
            for f in futs:
                np.testing.assert_array_equal(f.result()[0], ref)
        # the dask (threaded) path runs slab kernels concurrently
        lazy, _ = backproject(labels, g, method=method, extent="full", lazy=True)
        np.testing.assert_array_equal(lazy.compute(scheduler="threads"), ref)


def test_binary_and_bool(straight1):
    s_, g = straight1
    labels = (s_ >= 0.5).astype(np.uint16) * 300
    out, _ = backproject(labels, g, binary=True)
    assert out.dtype == np.uint8 and set(np.unique(out)) == {0, 1}
    ref, _ = backproject(labels, g)
    np.testing.assert_array_equal(out, (ref != 0).astype(np.uint8))
    outb, _ = backproject(labels > 0, g)
    assert outb.dtype == bool
    np.testing.assert_array_equal(outb, ref != 0)


# ----------------------------------------------------------------- writing
def test_write_backprojection_tiff_and_folder(straight1, tmp_path):
    from napari_backproject.io.tiff import read_tiff

    s_, g = straight1
    labels = (s_ >= 0.5).astype(np.uint16) * 2
    ref, off = backproject(labels, g)
    calls = []
    p, off2 = write_backprojection(
        labels,
        g,
        tmp_path / "bp.tif",
        chunk_z=16,
        progress=lambda d, t: calls.append((d, t)),
    )
    assert off2 == off and calls[-1] == (ref.shape[0], ref.shape[0])
    data, md = read_tiff(p)
    np.testing.assert_array_equal(np.asarray(data), ref)
    assert md["offset"] == list(off) and md["kind"] == "labels"
    assert md["translate"] == placement(g, off)["translate"]
    pb, _ = write_backprojection(
        labels, g, tmp_path / "bpdir", folder=True, binary=True, compression="zstd"
    )
    data, md = read_tiff(pb)
    np.testing.assert_array_equal(np.asarray(data), (ref != 0).astype(np.uint8))
    assert sorted(x.name for x in tmp_path.iterdir()) == ["bp.tif", "bpdir"]


def test_cancelled_or_failed_write_leaves_nothing(straight1, tmp_path):
    s_, g = straight1

    def stop(done, total):
        raise Cancelled

    with pytest.raises(Cancelled):
        write_backprojection(s_, g, tmp_path / "x.tif", chunk_z=8, progress=stop)
    with pytest.raises(Cancelled):
        write_backprojection(
            s_, g, tmp_path / "d", folder=True, chunk_z=8, progress=stop
        )

    class Broken(Recording):
        def __getitem__(self, key):
            raise OSError("disk went away")

    with pytest.raises(OSError, match="disk went away"):
        write_backprojection(Broken(s_), g, tmp_path / "y.tif")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_backprojection(s_, g, tmp_path / "nope" / "x.tif")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------- bad input
def test_bad_input_errors(straight1, tmp_path):
    s_, g = straight1
    with pytest.raises(ValueError, match="shape"):
        backproject(s_[:-1], g)
    with pytest.raises(ValueError, match="3D"):
        backproject(s_[0], g)
    with pytest.raises(ValueError, match="3D"):
        backproject(s_[..., None], g)
    with pytest.raises(ValueError, match="extent"):
        backproject(s_, g, extent="tight")
    with pytest.raises(ValueError, match="method"):
        backproject(s_, g, method="push")
    with pytest.raises(ValueError, match="order"):
        backproject(s_, g, order=3)
    with pytest.raises(ValueError, match="dtype"):
        backproject(s_.astype(np.complex64), g)
    with pytest.raises(ValueError, match="chunk_z"):
        backproject(s_, g, chunk_z=0)
    with pytest.raises(TypeError, match="geometry"):
        backproject(s_, 42)


def test_geometry_json_path_and_bad_json(straight1, tmp_path):
    s_, g = straight1
    p = g.to_json(tmp_path / "g.json")
    a, oa = backproject(s_, p)
    b, ob = backproject(s_, str(p))
    c, oc = backproject(s_, g)
    np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(b, c)
    d = g.to_dict()
    d["version"] = 99
    (tmp_path / "v.json").write_text(json.dumps(d))
    with pytest.raises(ValueError, match="version"):
        backproject(s_, tmp_path / "v.json")
    d["version"] = 1
    d["format"] = "ouroboros-config"
    (tmp_path / "f.json").write_text(json.dumps(d))
    with pytest.raises(ValueError, match="not a slice geometry"):
        backproject(s_, tmp_path / "f.json")
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(ValueError, match="not valid JSON"):
        backproject(s_, tmp_path / "bad.json")


def test_planes_outside_volume():
    g = _axis_geometry()
    g.centers[:, 0] += 100
    with pytest.raises(ValueError, match="do not intersect"):
        backproject(np.ones(g.straightened_shape, np.uint8), g)
    out, off = backproject(np.ones(g.straightened_shape, np.uint8), g, extent="full")
    assert off == (0, 0, 0) and not out.any()
