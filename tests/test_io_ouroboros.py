"""Ouroboros option files, its planes rebuilt exactly, rects export.

The reference below re-implements Ouroboros 1.4's slicing from its documented
formulas (``helpers/spline.py``, ``helpers/slice.py``,
``pipeline/slices_geom_pipeline.py``): smoothing spline with splprep's
defaults, arc length as a Riemann sum at the fit parameters, Rodrigues
rotation matrices for the frames, rectangle corners split with ``divmod``
and pixel grids made with ``linspace`` between corners.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.interpolate import splev, splprep
from scipy.ndimage import map_coordinates

from napari_backproject.io.ouroboros import (
    check_ouroboros_stack,
    ouroboros_geometry,
    read_ouroboros_options,
    write_rects,
)


# ----------------------------------------------------- reference (from formulas)
def _ref_adaptive(tck, total, dist, ratio):
    """Ouroboros adaptive parameters (arc length + curvature mix)."""
    n = int(total / dist) + 1
    x = np.linspace(0, 1, 10 * n)
    d1 = np.array(splev(x, tck, der=1))  # (3, m)
    d2 = np.array(splev(x, tck, der=2))
    arc = np.cumsum(np.sqrt((d1**2).sum(0)) * np.diff(x, prepend=0))
    # its curvature divides by the Frobenius norm of all derivatives, cubed
    kappa = np.sqrt((np.cross(d1.T, d2.T) ** 2).sum(1)) / np.sqrt((d1**2).sum()) ** 3
    curv = np.cumsum(kappa * np.sqrt((d1**2).sum()))
    w = ratio / (1 + ratio)
    hybrid = (1 - w) * arc / arc[-1] + w * curv / curv[-1]
    return np.interp(np.linspace(0, 1, n), hybrid, x)


def ref_rects(pts_xyz, W, H, dist=1.0, adaptive=False, ratio=0.5):
    """Ouroboros slicing: rects (n, 4, 3), voxel x, y, z."""
    _, first = np.unique(pts_xyz.round(2), axis=0, return_index=True)
    pts = pts_xyz[sorted(first)]
    tck, u = splprep([pts[:, 0], pts[:, 1], pts[:, 2]], k=3)
    speed = np.linalg.norm(np.array(splev(u, tck, der=1)), axis=0)
    arc = np.cumsum(speed * np.diff(u, prepend=0))
    if adaptive:
        t = _ref_adaptive(tck, arc[-1], dist, ratio)
    else:
        n = int(np.floor(arc[-1] / dist)) + 1
        t = np.interp(np.linspace(0, arc[-1], n), arc, u)
    n = len(t)
    P = np.array(splev(t, tck)).T
    d = np.array(splev(t, tck, der=1)).T
    T = d / np.linalg.norm(d, axis=1)[:, None]
    t0 = T[0]
    N = np.array([-t0[1], t0[0], 0.0])
    N /= np.linalg.norm(N)
    B = np.cross(t0, N)
    N = np.cross(B, t0)
    Ts, Ns, Bs = [t0], [N], [B]
    for i in range(1, n):
        a = np.cross(Ts[-1], T[i])
        if np.linalg.norm(a) < 1e-6:
            Ts.append(Ts[-1]), Ns.append(Ns[-1]), Bs.append(Bs[-1])
            continue
        a /= np.linalg.norm(a)
        th = np.arccos(np.clip(Ts[-1] @ T[i], -1, 1))
        K = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
        R = np.eye(3) + np.sin(th) * K + (1 - np.cos(th)) * K @ K
        Ts.append(T[i]), Ns.append(R @ Ns[-1]), Bs.append(R @ Bs[-1])
    rects = []
    for p, nn, bb in zip(P, Ns, Bs, strict=True):
        nn, bb = nn / np.linalg.norm(nn), bb / np.linalg.norm(bb)
        wl, wr = divmod(W, 2)[0], sum(divmod(W, 2))
        ht, hb = divmod(H, 2)[0], sum(divmod(H, 2))
        rects.append(
            [
                p - wl * nn + ht * bb,
                p + wr * nn + ht * bb,
                p + wr * nn - hb * bb,
                p - wl * nn - hb * bb,
            ]
        )
    return np.array(rects)


def ref_grid(rect, W, H):
    """Ouroboros coordinate_grid: (H, W, 3) voxel x, y, z."""
    u = np.linspace(rect[0], rect[1], W)
    v = np.linspace(rect[0], rect[3], H)
    return u[None, :, :] + v[:, None, :] - rect[0]


def _ng_state(points_zyx, offset=0.0):
    """Neuroglancer stores x, y, z with the voxel origin at its corner (+0.5)."""
    return {
        "layers": [
            {"type": "image", "name": "em", "source": "precomputed://gs://b/em"},
            {
                "type": "annotation",
                "name": "trace",
                "annotations": [
                    {"type": "point", "point": (p[::-1] + offset).tolist()}
                    for p in points_zyx
                ],
            },
        ]
    }


def _slice_options(W, H, adaptive=False, **kw):
    d = {
        "output_file_folder": "./out/",
        "output_file_name": "helix",
        "flush_cache": False,
        "make_single_file": True,
        "output_mip_level": 0,
        "slice_width": W,
        "slice_height": H,
        "neuroglancer_json": "ng.json",
        "neuroglancer_image_layer": "",
        "neuroglancer_annotation_layer": "trace",
        "slicing_params": {
            "dist_between_slices": 1,
            "use_adaptive_slicing": adaptive,
            "adaptive_slicing_ratio": 0.5,
        },
        "bounding_box_params": {"max_depth": 10, "target_slices_per_box": 128},
        "connect_start_and_end": False,
        "annotation_mip_level": 0,
        "normalize_output": True,
        "zeroguard_output": True,
    }
    d.update(kw)
    return d


# -------------------------------------------------------------------- options
def test_every_key_of_both_files_is_mapped():
    o = read_ouroboros_options(_slice_options(40, 30, adaptive=True))
    assert o.kind == "slice"
    assert o.straighten == {"width": 40, "height": 30, "spacing": 1.0, "closed": False}
    assert o.output["annotation_layer"] == "trace" and o.output["single_file"]
    missing = {k for k, _, _ in o.no_equivalent}
    assert "slicing_params.use_adaptive_slicing" in missing
    assert any("arc-length" in why for _, _, why in o.no_equivalent)
    b = read_ouroboros_options(
        {
            "output_file_folder": "./out/",
            "output_file_name": "helix",
            "flush_cache": False,
            "make_single_file": False,
            "output_mip_level": 0,
            "straightened_volume_path": "helix.tif",
            "slice_options_path": "helix-slice-options.json",
            "backproject_min_bounding_box": False,
            "make_backprojection_binary": True,
            "make_backprojection_discrete": False,
            "backprojection_compression": "zlib",
            "upsample_order": 0,
            "offset_in_name": True,
            "process_count": 8,
            "chunk_size": 160,
        }
    )
    assert b.backproject == {
        "extent": "full",
        "binary": True,
        "order": 0,
        "compression": "zlib",
    }
    assert {"offset_in_name", "process_count"} <= {k for k, _, _ in b.no_equivalent}


def test_unknown_keys_are_listed(tmp_path):
    p = tmp_path / "x-slice-options.json"
    p.write_text(json.dumps(_slice_options(4, 4, new_thing=1, other=2)))
    with pytest.raises(ValueError, match=r"\['new_thing', 'other'\]"):
        read_ouroboros_options(p)
    with pytest.raises(ValueError, match="not an Ouroboros options file"):
        read_ouroboros_options({"layers": []})
    with pytest.raises(ValueError, match="'slice_width'"):
        read_ouroboros_options(_slice_options(1, 4))


# ------------------------------------------------------------- exact planes
@pytest.mark.parametrize(
    "W,H,adaptive", [(24, 24, False), (25, 19, False), (20, 20, True)]
)
def test_rebuilt_planes_match_ouroboros_formulas(small_helix, W, H, adaptive):
    pts = small_helix.points
    g = ouroboros_geometry(
        _slice_options(W, H, adaptive=adaptive),
        _ng_state(pts),
        source_shape=small_helix.volume.shape,
    )
    rects = ref_rects(pts[:, ::-1], W, H, adaptive=adaptive)
    assert g.n_slices == len(rects)
    ours = g.world_coordinates()  # (3, n, H, W), z y x voxel units
    for i in (0, len(rects) // 2, len(rects) - 1):
        ref = ref_grid(rects[i], W, H)[..., ::-1]  # -> z, y, x
        np.testing.assert_allclose(np.moveaxis(ours[:, i], 0, -1), ref, atol=1e-9)


@pytest.fixture(scope="module")
def iso_helix():
    """Isotropic voxels: Ouroboros fits and slices in voxel space, so only
    there are its ~1-voxel pixels as fine as ours (anisotropic voxels give it
    coarser sampling along z, and a lower Dice: 0.987 at scale 2, 1, 1)."""
    from napari_backproject.data import helix_neurite

    return helix_neurite(
        shape=(64, 96, 96), scale=(1.0, 1.0, 1.0), radius=10.0, turns=1.5
    )


@pytest.mark.parametrize("W,H", [(30, 30), (31, 26)])
def test_ouroboros_stack_backprojects_onto_the_tube(iso_helix, W, H):
    from napari_backproject import backproject

    pts, mask = iso_helix.points, iso_helix.mask
    rects = ref_rects(pts[:, ::-1], W, H)
    # an "Ouroboros-straightened segmentation": its stack of the tube mask
    # (sampled on its grids), thresholded
    grids = np.stack([ref_grid(r, W, H) for r in rects])  # (n, H, W, 3) x y z
    stack = map_coordinates(
        mask.astype(np.float32).transpose(2, 1, 0), grids.reshape(-1, 3).T, order=1
    ).reshape(len(rects), H, W)
    seg = (stack >= 0.5).astype(np.uint8)
    g = ouroboros_geometry(
        _slice_options(W, H), _ng_state(pts), source_shape=mask.shape
    )
    check_ouroboros_stack(seg.shape, g)
    out, _ = backproject(seg, g, extent="full")
    cov, _ = backproject(np.ones_like(seg), g, extent="full")
    slab = cov > 0  # the rounded tube ends lie beyond the end planes
    a, b = (out > 0) & slab, (mask > 0) & slab
    dice = 2 * np.sum(a & b) / (a.sum() + b.sum())
    assert dice >= 0.99, dice  # measured 0.9915 (30 x 30), 0.9914 (31 x 26)
    assert set(np.unique(out)) == {0, 1}
    with pytest.raises(ValueError, match="planes of"):
        check_ouroboros_stack((len(rects) - 1, H, W), g)


def test_write_rects_are_ouroboros_corners(tmp_path):
    from napari_backproject.geometry import make_slice_geometry

    g = make_slice_geometry(
        [[2, 10, 10], [10, 14, 12], [20, 12, 18]],
        source_shape=(24, 24, 24),
        source_dtype="uint8",
        width=6,
        height=5,
        scale=(2, 1, 1),
        spacing=1.0,
    )
    r = np.load(write_rects(g, tmp_path / "g_rects.npy"))
    assert r.shape == (g.n_slices, 4, 3)
    # top-left is our pixel (0, 0); |r1 - r0| = W, |r3 - r0| = H (in voxels of x)
    p00 = g.voxel_coordinates(0, g.n_slices)[:, :, 0, 0].T[:, ::-1]
    np.testing.assert_allclose(r[:, 0], p00, atol=1e-9)
    world = r[:, :, ::-1] * g.scale
    np.testing.assert_allclose(np.linalg.norm(world[:, 1] - world[:, 0], axis=1), 6.0)
    np.testing.assert_allclose(np.linalg.norm(world[:, 3] - world[:, 0], axis=1), 5.0)


# ------------------------------------------------------------- done when
def _dice(a, b):
    return 2 * np.sum(a & b) / (a.sum() + b.sum())


@pytest.fixture(scope="module")
def run_files(tmp_path_factory):
    """The helix sample as an Ouroboros user has it: NG state + slice options."""
    from napari_backproject.data import helix_neurite

    s = helix_neurite(shape=(48, 96, 96), scale=(2.0, 1.0, 1.0), radius=8.0, turns=1.5)
    d = tmp_path_factory.mktemp("run")
    state = _ng_state(s.points, offset=0.5)
    state["dimensions"] = {"x": [1e-6, "m"], "y": [1e-6, "m"], "z": [2e-6, "m"]}
    (d / "ng.json").write_text(json.dumps(state))
    opts = _slice_options(23, 23, adaptive=True)
    (d / "helix-slice-options.json").write_text(json.dumps(opts))
    return s, d


def test_done_when_imported_run_reaches_our_dice(run_files):
    from napari_backproject import backproject, straighten
    from napari_backproject.io import read_neuroglancer

    s, d = run_files
    o = read_ouroboros_options(d / "helix-slice-options.json")
    lay = read_neuroglancer(d / o.output["neuroglancer_json"])[
        o.output["annotation_layer"]
    ]
    np.testing.assert_allclose(lay.scale, s.scale)
    np.testing.assert_allclose(lay.points, s.points)

    def dice_of(points, scale, **kw):
        st_, g = straighten(
            s.mask.astype(np.float32), points, scale=scale, dtype=np.float32, **kw
        )
        labels = (st_ >= 0.5).astype(np.uint8)
        out, _ = backproject(labels, g, extent="full")
        cov, _ = backproject(np.ones_like(labels), g, extent="full")
        slab = cov > 0
        return _dice((s.mask > 0) & slab, (out > 0) & slab)

    imported = dice_of(lay.points, lay.scale, **o.straighten_kwargs(scale=lay.scale))
    ours = dice_of(s.points, s.scale, width=23, height=23, spacing=1.0)
    assert imported >= 0.99
    assert imported == pytest.approx(ours, abs=1e-6)


def test_cli_straighten_with_ouroboros_options(run_files, tmp_path, capsys):
    from napari_backproject.cli import main
    from napari_backproject.io.tiff import read_tiff, write_tiff

    s, d = run_files
    vol = write_tiff(s.volume, tmp_path / "vol.tif", scale=s.scale)
    out = tmp_path / "st.tif"
    code = main(
        [
            "straighten",
            str(vol),
            "--ouroboros-options",
            str(d / "helix-slice-options.json"),
            "-o",
            str(out),
        ]
    )
    assert code == 0
    data, md = read_tiff(out)
    assert data.shape[1:] == (23, 23)
    assert "use_adaptive_slicing" in capsys.readouterr().out  # said what we do instead
    g = md["geometry"]
    np.testing.assert_allclose(np.asarray(g["path"]), s.points)


def test_straightened_tiff_carries_ouroboros_tags(tmp_path):
    import tifffile

    from napari_backproject import straighten
    from napari_backproject.io.ouroboros import save_straightened_ouroboros
    from napari_backproject.io.tiff import read_tiff
    from napari_backproject.mapping import to_straightened

    path = np.array([[2.0, 10, 10], [10, 14, 12], [20, 12, 18], [28, 8, 12]])
    vol = np.zeros((32, 32, 32), np.uint8)
    st_, g = straighten(vol, path, width=9, height=7, scale=(2, 0.5, 0.5), spacing=0.5)
    tif, js = save_straightened_ouroboros(tmp_path / "s.tif", st_, g, unit_size=1.0)
    assert js.exists() and not list(tmp_path.glob(".*part*"))
    with tifffile.TiffFile(tif) as tf:
        desc = tf.shaped_metadata[0]
        xres = tf.pages.first.tags["XResolution"].value
        runit = tf.pages.first.tags["ResolutionUnit"].value
    pts = np.asarray(desc["annotation_points"], float)
    ref = to_straightened(path * g.scale, g)[:, ::-1]  # Ouroboros order u, v, slice
    np.testing.assert_allclose(pts, ref, atol=1e-9)
    # first point on plane 0; the last in the end cap (half a spacing)
    assert abs(pts[0, 2]) < 1e-6 and g.n_slices - 1 <= pts[-1, 2] <= g.n_slices - 0.5
    assert desc["unit"] == "um" and desc["spacing"] == pytest.approx(0.5)
    assert xres[0] / xres[1] == pytest.approx(1 / 0.5e-4) and runit == 3
    assert read_tiff(tif)[1]["geometry"]["plane"]["width"] == 9  # ours kept


# ---------------------------------------------------------------- reuse a run
def test_run_settings_from_geometry_tiff_and_ouroboros(tmp_path, run_files):
    from napari_backproject import save_straightened, straighten
    from napari_backproject.io.reuse import run_settings

    path = np.array([[2.0, 10, 10], [10, 14, 12], [20, 12, 18]])
    st_, g = straighten(
        np.zeros((24, 24, 24), np.uint8),
        path,
        width=9,
        height=7,
        smoothing=0.5,
        roll=10,
    )
    tif, js = save_straightened(tmp_path / "a.tif", st_, g)
    for f, kind in ((js, "geometry"), (tif, "tiff")):
        r = run_settings(f)
        assert r.source == kind
        assert r.straighten == {
            "width": 9,
            "height": 7,
            "spacing": 1.0,
            "smoothing": 0.5,
            "closed": False,
            "roll": 10.0,
        }
        np.testing.assert_allclose(r.path, path)
    s, d = run_files
    r = run_settings(d / "helix-slice-options.json")
    assert r.straighten["width"] == 23 and r.straighten["spacing_voxels"] == 1.0
    np.testing.assert_allclose(r.path, s.points)
    assert any("use_adaptive_slicing" in n for n in r.notes)
    (tmp_path / "x.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="not an Ouroboros options file"):
        run_settings(tmp_path / "x.json")
