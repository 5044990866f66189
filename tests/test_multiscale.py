"""Resolution levels: straighten at any level, backproject onto any grid."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_backproject import backproject, straighten
from napari_backproject.data import helix_neurite
from napari_backproject.multiscale import (
    level_grid,
    level_names,
    path_to_level,
    retarget,
)


def _dice(a, b):
    a, b = a != 0, b != 0
    return 2 * np.sum(a & b) / (a.sum() + b.sum())


def test_a_path_works_at_any_level():
    # a linear field: trilinear interpolation is exact on both grids
    z, y, x = np.mgrid[0:40, 0:40, 0:40].astype(np.float64)
    vol0 = 0.5 * z + 0.25 * y - 0.1 * x
    vol1 = vol0[::2, ::2, ::2]  # napari's multiscale convention
    path = [[6, 14, 12], [20, 22, 24], [32, 26, 20]]  # level-0 data coordinates
    kw = dict(width=5, height=5, spacing=2.0, scale=(1.5, 1, 1), translate=(3, 0, 0))
    st0, g0 = straighten(vol0, path, **kw)
    st1, g1 = straighten([vol0, vol1], path, level=1, **kw)
    np.testing.assert_allclose(g1.centers, g0.centers, atol=1e-9)
    assert g1.source_shape == (20, 20, 20)
    np.testing.assert_allclose(g1.scale, [3.0, 2.0, 2.0])
    np.testing.assert_allclose(st1, st0, atol=1e-9)
    # the same call with the level's own array, scale and translate
    p1 = path_to_level(path, (1.5, 1, 1), (3, 0, 0), g1.scale, g1.translate)
    kw1 = dict(kw, scale=g1.scale)
    st1b, _ = straighten(vol1, p1, **kw1)
    np.testing.assert_allclose(st1b, st0, atol=1e-9)


def test_segmentation_of_a_coarse_level_fills_the_fine_grid():
    s = helix_neurite(shape=(64, 64, 64), scale=(1.0, 1.0, 1.0), radius=5.0, noise=2)
    vol0 = s.volume.astype(np.float32)
    vol1 = vol0.reshape(32, 2, 32, 2, 32, 2).mean(axis=(1, 3, 5))
    s1, t1 = (2.0, 2.0, 2.0), (0.5, 0.5, 0.5)  # mean pooling: half a voxel on
    p1 = path_to_level(s.points, (1, 1, 1), (0, 0, 0), s1, t1)
    st, g = straighten(vol1, p1, width=13, height=13, scale=s1, translate=t1)
    thr = 0.5 * (st.max() + np.median(st))
    seg = (st > thr).astype(np.uint16) * 9
    fine, off = backproject(
        seg, g, target=(vol0.shape, (1, 1, 1), (0, 0, 0)), extent="full"
    )
    assert fine.shape == vol0.shape and off == (0, 0, 0)
    assert set(np.unique(fine).tolist()) == {0, 9}  # labels exact
    fg = fine != 0
    assert np.array_equal(ndi.binary_fill_holes(fg), fg)  # hole-free
    coarse, _ = backproject(seg, g, extent="full")
    up = np.repeat(np.repeat(np.repeat(coarse, 2, 0), 2, 1), 2, 2)
    d_fine, d_up = _dice(fine, s.mask), _dice(up, s.mask)
    assert d_fine > 0.8
    assert d_fine >= d_up - 0.01  # at least as good as nearest upsampling


def test_target_errors_and_level_helpers():
    s = helix_neurite(shape=(32, 32, 32), radius=3.0, n_blobs=0)
    st, g = straighten(s.volume, s.points, width=7, height=7, scale=s.scale)
    with pytest.raises(ValueError, match="does not overlap"):
        backproject(st, g, target=((8, 8, 8), (1, 1, 1), (1000, 0, 0)))
    with pytest.raises(ValueError, match=r"\(shape, scale, translate\)"):
        backproject(st, g, target=((8, 8, 8), (1, 1, 1)))
    with pytest.raises(ValueError, match="target shape must be 3"):
        backproject(st, g, target=(8, 8, 8))
    g2 = retarget(g, (g.source_shape, g.scale, g.translate))
    np.testing.assert_allclose(g2.path, g.path)
    pyr = [s.volume, s.volume[::2, ::2, ::2]]
    with pytest.raises(ValueError, match="level 2 is out of range"):
        level_grid(pyr, 2)
    with pytest.raises(ValueError, match="level 5 is out of range"):
        straighten(pyr, s.points, width=5, height=5, level=5)
    with pytest.raises(ValueError, match="multiscale"):
        straighten(s.volume, s.points, width=5, height=5, level=1)
    assert level_names(pyr, scale=(2, 1, 1), units="µm") == [
        "0: 32×32×32, voxel 2×1×1 µm",
        "1: 16×16×16, voxel 4×2×2 µm",
    ]
