"""Tests for straighten.py and kernels/sample.py."""

from __future__ import annotations

import json
import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import dask.array as da
import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_backproject._progress import Cancelled
from napari_backproject.io.tiff import read_tiff
from napari_backproject.kernels.sample import sample_planes
from napari_backproject.slice_geometry import SliceGeometry
from napari_backproject.straighten import (
    geometry_json_path,
    plane_bounding_box,
    save_straightened,
    straighten,
)


def helix_path(shape, n=12, turns=1.5):
    Z, Y, X = shape
    t = np.linspace(0, 2 * np.pi * turns, n)
    return np.c_[
        2 + (Z - 4) * t / t[-1],
        Y / 2 + 0.3 * Y * np.sin(t),
        X / 2 + 0.3 * X * np.cos(t),
    ]


@pytest.fixture(scope="module")
def vol():
    rng = np.random.default_rng(0)
    return rng.random((24, 30, 28))


KW = {"width": 9, "height": 8, "scale": (1.5, 1.0, 0.8), "translate": (3, -2, 1)}


@pytest.mark.parametrize("order", [0, 1])
def test_matches_map_coordinates(vol, order):
    # the path goes near and past the borders: the border convention is
    # scipy's mode="constant" exactly (outside [0, n-1] -> fill)
    out, g = straighten(vol, helix_path(vol.shape), order=order, fill_value=-2.5, **KW)
    ref = ndi.map_coordinates(
        vol, g.voxel_coordinates(), order=order, mode="constant", cval=-2.5
    )
    assert out.dtype == vol.dtype and out.shape == g.straightened_shape
    assert (out == -2.5).any() and (out != -2.5).any()
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12)


def test_linear_function_is_reproduced_exactly():
    # trilinear interpolation is exact on a function linear in world
    # coordinates: an independent check of geometry + sampling (anisotropic)
    scale, translate = np.array([4.0, 1.0, 2.0]), np.array([10.0, 0.0, -5.0])
    zz, yy, xx = np.meshgrid(*[np.arange(n) for n in (20, 60, 30)], indexing="ij")
    w = (
        np.stack([zz, yy, xx], 0) * scale[:, None, None, None]
        + translate[:, None, None, None]
    )
    coef = np.array([0.3, -0.7, 1.1])
    vol = np.tensordot(coef, w, axes=1)
    path = np.c_[
        np.linspace(3, 16, 6), 30 + 8 * np.sin(np.linspace(0, 3, 6)), np.full(6, 15)
    ]
    out, g = straighten(vol, path, width=7, height=5, scale=scale, translate=translate)
    expected = np.tensordot(coef, g.world_coordinates(), axes=1)
    inside = np.all(
        (g.voxel_coordinates() >= 0)
        & (g.voxel_coordinates() <= np.array([19, 59, 29])[:, None, None, None]),
        axis=0,
    )
    assert inside.mean() > 0.9
    np.testing.assert_allclose(out[inside], expected[inside], atol=1e-9)
    # default spacing = min(scale) = 1 world unit
    assert g.spacing == 1.0
    d = np.linalg.norm(np.diff(g.centers, axis=0), axis=1)
    assert (d.max() - d.min()) / d.mean() < 0.01


def test_axis_aligned_path_is_a_crop():
    rng = np.random.default_rng(1)
    vol = rng.integers(0, 255, (20, 16, 16), dtype=np.uint8)
    out, g = straighten(vol, [[2, 8, 7], [15, 8, 7]], width=5, height=3)
    # +z path: (slice, v, u) == (z, y, x), no mirroring
    np.testing.assert_array_equal(out, vol[2:16, 7:10, 5:10])
    np.testing.assert_allclose(np.cross(g.e_v, g.e_u), g.tangents, atol=1e-12)
    # reversed path: slices reversed, still a proper rotation (e_u stays +x,
    # so e_v = -y: v flips)
    out_r, g_r = straighten(vol, [[15, 8, 7], [2, 8, 7]], width=5, height=3)
    assert np.linalg.det(np.stack([g_r.tangents[0], g_r.e_v[0], g_r.e_u[0]])) > 0
    np.testing.assert_array_equal(out_r, vol[15:1:-1, 7:10, 5:10][:, ::-1, :])


def test_integer_rounding_and_clipping():
    vol = np.zeros((3, 3, 4), np.uint8)
    vol[:, :, 1:] = 1
    vol[:, :, 3] = 200
    # plane through z=1, pixel centres at x = 0.5 and 1.5 (width 4, centre 1.5)
    g_kw = {"width": 4, "height": 1}
    out, g = straighten(vol, [[0, 1, 1.5], [2, 1, 1.5]], **g_kw)
    # x = 0, 1, 2, 3 exactly at the voxel centres
    np.testing.assert_array_equal(out[1, 0], [0, 1, 1, 200])
    out, g = straighten(vol, [[0, 1, 1.0], [2, 1, 1.0]], **g_kw)
    # x = -0.5 (outside), 0.5 (0.5 -> rounds half up to 1), 1.5, 2.5 (100.5 -> 101)
    np.testing.assert_array_equal(out[1, 0], [0, 1, 1, 101])
    outf, _ = straighten(vol, [[0, 1, 1.0], [2, 1, 1.0]], dtype=np.float32, **g_kw)
    assert outf.dtype == np.float32
    np.testing.assert_allclose(outf[1, 0], [0, 0.5, 1, 100.5])
    out8, _ = straighten(vol, [[0, 1, 1.5], [2, 1, 1.5]], dtype=np.int8, **g_kw)
    np.testing.assert_array_equal(out8[1, 0], [0, 1, 1, 127])  # clipped
    # uint8 against scipy on random data: equal to round-half-up of float result
    rng = np.random.default_rng(2)
    v8 = rng.integers(0, 255, (20, 22, 24), dtype=np.uint8)
    o8, g = straighten(v8, helix_path(v8.shape), width=6, height=6, fill_value=7)
    ref = ndi.map_coordinates(
        v8.astype(float), g.voxel_coordinates(), order=1, mode="constant", cval=7
    )
    expected = np.clip(np.floor(ref + 0.5), 0, 255)
    diff = np.abs(o8.astype(float) - expected)
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3


def test_labels_nearest_keeps_values():
    rng = np.random.default_rng(3)
    lab = rng.choice(np.array([0, 5, 70000], dtype=np.uint32), size=(16, 18, 18))
    out, g = straighten(lab, helix_path(lab.shape), width=6, height=6, order=0)
    assert out.dtype == np.uint32
    assert set(np.unique(out)) <= {0, 5, 70000}
    ref = ndi.map_coordinates(lab, g.voxel_coordinates(), order=0, mode="constant")
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("channel_axis", [0, -1, 3])
def test_multichannel_channels_last(vol, channel_axis):
    chans = np.stack([vol, 2 * vol, -vol], axis=channel_axis)
    out, g = straighten(chans, helix_path(vol.shape), channel_axis=channel_axis, **KW)
    single, _ = straighten(vol, helix_path(vol.shape), **KW)
    assert out.shape == single.shape + (3,)
    np.testing.assert_allclose(out[..., 0], single)
    np.testing.assert_allclose(out[..., 1], 2 * single)
    np.testing.assert_allclose(out[..., 2], -single)
    lazy, _ = straighten(
        da.from_array(chans, chunks=8),
        helix_path(vol.shape),
        channel_axis=channel_axis,
        **KW,
    )
    np.testing.assert_allclose(lazy.compute(), out)


def test_lazy_dask_and_zarr(vol, tmp_path):
    import zarr

    path = helix_path(vol.shape)
    eager, g = straighten(vol, path, **KW)
    lazy, g2 = straighten(
        da.from_array(vol, chunks=(6, 10, 10)), path, chunk_slices=5, **KW
    )
    assert isinstance(lazy, da.Array)
    assert lazy.chunks[0][0] == 5 and lazy.shape == eager.shape
    np.testing.assert_allclose(g2.centers, g.centers)
    np.testing.assert_allclose(lazy.compute(), eager, atol=1e-12)
    z = zarr.open_array(
        tmp_path / "v.zarr",
        mode="w",
        shape=vol.shape,
        chunks=(8, 8, 8),
        dtype=vol.dtype,
    )
    z[:] = vol
    lz, _ = straighten(z, path, **KW)
    assert isinstance(lz, da.Array)
    np.testing.assert_allclose(lz.compute(), eager, atol=1e-12)


def test_each_chunk_reads_only_its_bounding_box(vol, recording_array):
    rec = recording_array(vol)
    path = helix_path(vol.shape)
    lazy, g = straighten(rec, path, chunk_slices=4, **KW)
    assert rec.requests == []  # nothing read yet
    starts = np.cumsum((0,) + lazy.chunks[0])
    full = vol.size
    for k in range(len(lazy.chunks[0])):
        rec.requests.clear()
        block = lazy.blocks[k].compute()
        a, b = starts[k], starts[k + 1]
        # independent bounding box from every sample coordinate of the block
        c = g.voxel_coordinates(a, b).reshape(3, -1)
        lo = np.clip(np.floor(c.min(axis=1)).astype(int), 0, vol.shape)
        hi = np.clip(np.floor(c.max(axis=1)).astype(int) + 2, 0, vol.shape)
        assert len(rec.requests) == 1
        req = rec.requests[0]
        got = [(s.start, s.stop) for s in req]
        for (gl, gh), l_, h_ in zip(got, lo, hi, strict=True):
            assert l_ <= gl + 1 and gh <= h_ + 1 and gh - gl <= h_ - l_ + 1
        # and it contains every voxel the samples need
        needed_lo = np.floor(np.clip(c, 0, np.array(vol.shape)[:, None] - 1)).min(
            axis=1
        )
        assert all(gl <= nl for (gl, _), nl in zip(got, needed_lo, strict=True))
        assert np.prod([h - l_ for l_, h in got]) < full
        ref = ndi.map_coordinates(
            vol, g.voxel_coordinates(a, b), order=1, mode="constant"
        )
        np.testing.assert_allclose(block, ref, atol=1e-12)


def test_plane_bounding_box_outside_is_none():
    g = SliceGeometry(
        source_shape=(5, 5, 5),
        source_dtype="uint8",
        scale=(1, 1, 1),
        translate=(0, 0, 0),
        width=3,
        height=3,
        spacing=1.0,
        centers=[[50, 50, 50]],
        tangents=[[1, 0, 0]],
        e_u=[[0, 0, 1]],
        e_v=[[0, 1, 0]],
        path=[[0, 0, 0], [1, 0, 0]],
    )
    assert plane_bounding_box(g) is None


def test_path_leaving_volume_warns_and_fills():
    vol = np.ones((10, 10, 10), np.float32)
    with pytest.warns(UserWarning, match="leaves the volume"):
        out, g = straighten(
            vol, [[5, 5, 5], [5, 5, 40]], width=3, height=3, fill_value=-1
        )
    assert np.all(out[:3] == 1) and np.all(out[-5:] == -1)
    with pytest.warns(UserWarning, match="leaves the volume"):
        lazy, _ = straighten(
            da.from_array(vol),
            [[5, 5, 5], [5, 5, 40]],
            width=3,
            height=3,
            fill_value=-1,
            chunk_slices=4,
        )
    np.testing.assert_array_equal(lazy.compute(), out)


def test_closed_path_straightens():
    rng = np.random.default_rng(4)
    vol = rng.random((20, 40, 40))
    t = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    path = np.c_[10 + 3 * np.sin(2 * t), 20 + 12 * np.sin(t), 20 + 12 * np.cos(t)]
    out, g = straighten(vol, path, width=5, height=5, closed=True)
    assert g.options["closed"] is True
    ref = ndi.map_coordinates(vol, g.voxel_coordinates(), order=1, mode="constant")
    np.testing.assert_allclose(out, ref, atol=1e-12)


def test_progress_and_cancel(vol):
    calls = []
    straighten(
        vol,
        helix_path(vol.shape),
        chunk_slices=10,
        progress=lambda d, n: calls.append((d, n)),
        **KW,
    )
    n = calls[-1][1]
    assert calls[0] == (0, n) and calls[-1] == (n, n)
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)

    def cancel(done, total):
        if done > 0:
            raise Cancelled

    with pytest.raises(Cancelled):
        straighten(vol, helix_path(vol.shape), chunk_slices=10, progress=cancel, **KW)
    lazy_calls = []
    lazy, _ = straighten(
        da.from_array(vol),
        helix_path(vol.shape),
        chunk_slices=10,
        progress=lambda d, n: lazy_calls.append((d, n)),
        **KW,
    )
    lazy.compute()
    assert lazy_calls[-1][0] == lazy_calls[-1][1] == lazy.shape[0]


def test_kernel_is_thread_safe(vol):
    _, g = straighten(vol, helix_path(vol.shape), **KW)
    ref = ndi.map_coordinates(vol, g.voxel_coordinates(), order=1, mode="constant")

    def run(seed):
        return sample_planes(
            vol,
            (0, 0, 0),
            vol.shape,
            g.centers,
            g.e_u,
            g.e_v,
            g.scale,
            g.translate,
            g.spacing,
            g.width,
            g.height,
            order=1,
        )

    with ThreadPoolExecutor(4) as ex:
        results = list(ex.map(run, range(8)))
    for r in results:
        np.testing.assert_allclose(r, ref, atol=1e-12)
    lazy, _ = straighten(
        da.from_array(vol), helix_path(vol.shape), chunk_slices=3, **KW
    )
    np.testing.assert_allclose(
        lazy.compute(scheduler="threads", num_workers=4), ref, atol=1e-12
    )


def test_two_points_and_dtype_bool():
    vol = np.zeros((10, 10, 10), bool)
    vol[:, 4:6, 4:6] = True
    out, g = straighten(vol, [[1, 4.5, 4.5], [8, 4.5, 4.5]], width=4, height=4, order=0)
    assert out.dtype == bool
    np.testing.assert_array_equal(out, vol[1:9, 3:7, 3:7])


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"path": [[1, 1, 1]]}, "at least 2 distinct"),
        ({"path": [[1, 1, 1], [1, 1, 1]]}, "at least 2 distinct"),
        ({"path": [[1, 1, 1], [np.nan, 2, 2]]}, "non-finite"),
        ({"width": 0}, "width"),
        ({"height": -3}, "height"),
        ({"width": 2.5}, "width"),
        ({"spacing": 0}, "spacing"),
        ({"spacing": -1.0}, "spacing"),
        ({"scale": (1, 1)}, "scale must have 3"),
        ({"translate": (1, 1, 1, 1)}, "translate must have 3"),
        ({"order": 3}, "order"),
        ({"volume": np.zeros((5, 5))}, "3D"),
        ({"volume": np.zeros((2, 5, 5, 5))}, "channel_axis"),
        ({"volume": np.zeros((5, 5, 5)), "channel_axis": 0}, "4D"),
    ],
)
def test_bad_input(kwargs, match):
    args = {
        "volume": np.zeros((8, 8, 8)),
        "path": [[1, 1, 1], [6, 6, 6]],
        "width": 3,
        "height": 3,
    }
    args.update(kwargs)
    volume, path = args.pop("volume"), args.pop("path")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=match):
            straighten(volume, path, **args)


# ---------------------------------------------------------------- saving
def test_save_straightened(vol, tmp_path):
    out, g = straighten(vol.astype(np.float32), helix_path(vol.shape), **KW)
    tif, js = save_straightened(tmp_path / "axon.tif", out, g, compression="zstd")
    assert tif.name == "axon.tif" and js.name == "axon.geometry.json"
    assert sorted(os.listdir(tmp_path)) == ["axon.geometry.json", "axon.tif"]
    g2 = SliceGeometry.from_json(js)
    np.testing.assert_allclose(g2.e_u, g.e_u)
    data, meta = read_tiff(tif)
    np.testing.assert_array_equal(data.compute(), out)
    g3 = SliceGeometry.from_dict(meta["geometry"])
    np.testing.assert_allclose(g3.centers, g.centers)
    assert meta["scale"] == [g.spacing] * 3
    with open(js) as fh:
        assert json.load(fh)["format"] == "napari-backproject.slice-geometry"
    assert geometry_json_path("x/y.ome.tif").name == "y.geometry.json"
    with pytest.raises(ValueError, match="does not match"):
        save_straightened(tmp_path / "bad.tif", out[:2], g)


def test_package_level_straighten_is_callable(vol):
    import napari_backproject

    out, g = napari_backproject.straighten(vol, helix_path(vol.shape), **KW)
    assert out.shape == g.straightened_shape


def test_two_lazy_results_computed_together_do_not_collide(vol):
    import dask

    d = da.from_array(vol, chunks=8)
    path = helix_path(vol.shape)
    a, _ = straighten(d, path, order=0, chunk_slices=6, **KW)
    b, _ = straighten(d, path, order=1, chunk_slices=6, **KW)
    ra, rb = dask.compute(a, b)
    np.testing.assert_array_equal(ra, straighten(vol, path, order=0, **KW)[0])
    np.testing.assert_allclose(rb, straighten(vol, path, order=1, **KW)[0], atol=1e-12)
    assert not np.array_equal(ra, rb)


def test_lazy_from_tiff(vol, tmp_path):
    from napari_backproject.io.tiff import write_tiff

    v8 = (vol * 255).astype(np.uint8)
    data, _ = read_tiff(write_tiff(v8, tmp_path / "v.tif", tile=(16, 16)))
    path = helix_path(vol.shape)
    lazy, g = straighten(data, path, chunk_slices=8, **KW)
    assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(lazy.compute(), straighten(v8, path, **KW)[0])
    # and straight back to a tiff, chunk by chunk, with its geometry
    tif, js = save_straightened(tmp_path / "s.tif", lazy, g)
    np.testing.assert_array_equal(read_tiff(tif)[0].compute(), lazy.compute())
    assert js.exists()


def test_kernel_refuses_a_region_that_is_too_small(vol):
    _, g = straighten(vol, helix_path(vol.shape), **KW)
    with pytest.raises(ValueError, match="does not cover"):
        sample_planes(
            vol[2:10],
            (2, 0, 0),
            vol.shape,
            g.centers,
            g.e_u,
            g.e_v,
            g.scale,
            g.translate,
            g.spacing,
            g.width,
            g.height,
        )


@pytest.mark.parametrize("order", [0, 1])
def test_thin_volumes_match_scipy(order):
    rng = np.random.default_rng(5)
    for shape in [(1, 12, 13), (9, 1, 11), (2, 2, 15)]:
        v = rng.random(shape)
        path = [[0, 0, 0.5], [shape[0] - 1, shape[1] - 1, shape[2] - 1.5]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out, g = straighten(v, path, width=5, height=5, order=order, spacing=0.5)
        ref = ndi.map_coordinates(
            v, g.voxel_coordinates(), order=order, mode="constant"
        )
        np.testing.assert_allclose(out, ref, atol=1e-12)
