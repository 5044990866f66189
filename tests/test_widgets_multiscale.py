"""Multiscale layers in the Straighten and Backproject widgets (issue 14, done-when).

A user opens an OME-Zarr pyramid (written by our writer from the helix
sample) through the plugin's reader, straightens it at a coarse level with
the Straighten widget, thresholds a segmentation, backprojects it onto the
finest level with the Backproject widget, saves it as OME-Zarr (npe2
writer) and reopens it: it lies exactly on the source. Files are checked
with ome-zarr-py's reader and ome-zarr-models, not our own code.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ome_zarr")

from ome_zarr.io import parse_url  # noqa: E402
from ome_zarr.reader import Reader  # noqa: E402

from napari_backproject import backproject, straighten  # noqa: E402
from napari_backproject._widgets._layers import geometry_of  # noqa: E402
from napari_backproject._widgets._levels import layer_levels  # noqa: E402
from napari_backproject._widgets.backproject import BackprojectWidget  # noqa: E402
from napari_backproject._widgets.straighten import StraightenWidget  # noqa: E402
from napari_backproject.io.ome_zarr import read_ome_zarr, write_ome_zarr  # noqa: E402

TRANSLATE = (10.0, -5.0, 3.0)
SIZE = 16
PLUGIN = "napari-backproject"


def _transforms(path):
    """Level-0 (shape, scale, translation) as ome-zarr-py reads the file."""
    node = next(iter(Reader(parse_url(str(path)))()))
    d = {t["type"]: t for t in node.metadata["coordinateTransformations"][0]}
    return (
        tuple(node.data[0].shape),
        d["scale"]["scale"],
        d["translation"]["translation"],
    )


@pytest.fixture
def pyramid(tmp_path, small_helix):
    """The helix as a 2-level OME-Zarr image pyramid (level 1: 48 x 32 x 32)."""
    return write_ome_zarr(
        small_helix.volume,
        tmp_path / "helix.zarr",
        scale=small_helix.scale,
        translate=TRANSLATE,
        units="micrometer",
        kind="image",
        levels=2,
    )


def _dice(a, b):
    a, b = np.asarray(a) > 0, np.asarray(b) > 0
    return 2 * np.logical_and(a, b).sum() / (a.sum() + b.sum())


def test_open_straighten_coarse_backproject_fine_save_reopen(
    make_napari_viewer, qtbot, pyramid, small_helix, tmp_path
):
    viewer = make_napari_viewer()
    [source] = viewer.open(str(pyramid), plugin=PLUGIN)
    assert source.multiscale and len(source.data) == 2
    np.testing.assert_allclose(source.scale, small_helix.scale)
    np.testing.assert_allclose(source.translate, TRANSLATE)
    viewer.add_points(
        small_helix.points,
        scale=small_helix.scale,
        translate=TRANSLATE,
        units="micrometer",
        name="helix path",
    )

    # straighten at level 1 (coarse), sampled at the fine voxel size
    st_widget = StraightenWidget(viewer)
    viewer.window.add_dock_widget(st_widget)
    st_widget.image.value = source
    assert not st_widget.level.native.isHidden()
    combo = st_widget.level.native
    labels = [combo.itemText(i) for i in range(combo.count())]
    assert labels[1].startswith("1: 48×32×32, voxel 2×2×2")
    st_widget.level.value = 1
    st_widget.path.value = viewer.layers["helix path"]
    st_widget.width.value = SIZE
    st_widget.height.value = SIZE
    st_widget.spacing.value = 1.0
    st_widget.run_button.click()
    name = f"{source.name} straightened"
    qtbot.waitUntil(lambda: name in viewer.layers, timeout=60000)
    straightened = viewer.layers[name]
    g = geometry_of(straightened)
    assert g.source_shape == (48, 32, 32)  # level 1 was sampled

    # the same call in the library, on level 1 with its file transforms
    levels, md = read_ome_zarr(pyramid)
    ref, ref_g = straighten(
        levels[1],
        (small_helix.points * small_helix.scale + TRANSLATE - md["translate"][1])
        / md["scale"][1],
        width=SIZE,
        height=SIZE,
        spacing=1.0,
        scale=md["scale"][1],
        translate=md["translate"][1],
    )
    np.testing.assert_allclose(np.asarray(straightened.data), np.asarray(ref))

    # threshold a segmentation on the straightened stack
    seg = (np.asarray(straightened.data) > 110).astype(np.uint8)
    viewer.add_labels(
        seg,
        name="seg",
        scale=straightened.scale,
        translate=straightened.translate,
    )

    # backproject onto the finest level (the default target)
    bp_widget = BackprojectWidget(viewer)
    bp_widget.layer.value = viewer.layers["seg"]
    assert bp_widget.target.value == 0
    assert len(bp_widget.target.choices) == 3  # 2 levels + as straightened
    bp_widget.extent.value = "full"
    bp_widget.run_button.click()
    qtbot.waitUntil(lambda: "seg backprojected" in viewer.layers, timeout=60000)
    result = viewer.layers["seg backprojected"]
    assert type(result).__name__ == "Labels"
    assert result.data.shape == source.data[0].shape
    np.testing.assert_allclose(result.scale, source.scale)
    np.testing.assert_allclose(result.translate, source.translate)
    units = [str(u) for u in source.units]
    assert units == ["micrometer"] * 3
    assert [str(u) for u in result.units] == units
    assert [str(u) for u in straightened.units] == units
    fine, _ = backproject(
        seg,
        ref_g,
        target=(source.data[0].shape, small_helix.scale, TRANSLATE),
        extent="full",
    )
    np.testing.assert_array_equal(np.asarray(result.data), fine)
    assert _dice(fine, small_helix.mask) > 0.6

    # save as OME-Zarr (npe2 writer) and reopen: exactly on the source
    out = tmp_path / "seg.zarr"
    result.save(str(out), plugin=PLUGIN)
    shape, scale, translation = _transforms(out)
    assert shape == source.data[0].shape
    np.testing.assert_allclose(scale, source.scale)
    np.testing.assert_allclose(translation, source.translate)
    from ome_zarr_models import open_ome_zarr

    open_ome_zarr(str(out))  # validates
    [reopened] = viewer.open(str(out), plugin=PLUGIN)
    assert type(reopened).__name__ == "Labels"
    level0 = reopened.data[0] if reopened.multiscale else reopened.data
    assert level0.shape == source.data[0].shape
    np.testing.assert_allclose(reopened.scale, source.scale)
    np.testing.assert_allclose(reopened.translate, source.translate)
    np.testing.assert_array_equal(np.asarray(level0), fine)
    assert np.allclose(reopened.extent.world, source.extent.world)

    # the widget itself can save to OME-Zarr too
    saved = tmp_path / "widget.zarr"
    n_layers = len(viewer.layers)
    bp_widget.save_file.value = str(saved)
    bp_widget.run_button.click()
    qtbot.waitUntil(lambda: len(viewer.layers) == n_layers + 1, timeout=60000)
    shape, scale, translation = _transforms(saved)
    assert shape == source.data[0].shape
    np.testing.assert_allclose(translation, source.translate)
    np.testing.assert_array_equal(np.asarray(viewer.layers[-1].data), fine)


def test_levels_from_the_file_and_napari_convention(make_napari_viewer, pyramid):
    viewer = make_napari_viewer()
    [layer] = viewer.open(str(pyramid), plugin=PLUGIN)
    (_, s0, t0), (a1, s1, t1) = layer_levels(layer)
    _, md = read_ome_zarr(pyramid)
    np.testing.assert_allclose(s1, md["scale"][1])
    np.testing.assert_allclose(t1, md["translate"][1])  # the half-voxel shift
    # a layer without file transforms follows napari's convention
    plain = viewer.add_image(list(layer.data), scale=(2, 1, 1), multiscale=True)
    (_, _, _), (_, s1, t1) = layer_levels(plain)
    np.testing.assert_allclose(s1, (2, 2, 2))
    np.testing.assert_allclose(t1, (0, 0, 0))


def test_single_level_hides_the_choice_and_bad_target_is_refused(
    make_napari_viewer, qtbot, small_helix, pyramid
):
    viewer = make_napari_viewer()
    viewer.add_image(small_helix.volume, scale=small_helix.scale, name="plain")
    w = StraightenWidget(viewer)
    viewer.window.add_dock_widget(w)
    w.image.value = viewer.layers["plain"]
    assert w.level.native.isHidden()
    # a target grid away from the planes: an error, no layer
    [source] = viewer.open(str(pyramid), plugin=PLUGIN)
    viewer.add_points(
        small_helix.points, scale=small_helix.scale, translate=TRANSLATE, name="p"
    )
    w.image.value = source
    w.path.value = viewer.layers["p"]
    w.width.value = w.height.value = SIZE
    w.run_button.click()
    qtbot.waitUntil(
        lambda: f"{source.name} straightened" in viewer.layers, timeout=60000
    )
    st = viewer.layers[f"{source.name} straightened"]
    viewer.add_labels(np.ones(st.data.shape, np.uint8), name="seg")
    source.translate = (1e4, 0, 0)  # the source moved far away
    b = BackprojectWidget(viewer)
    b.layer.value = viewer.layers["seg"]
    b.target.value = 0
    b.run_button.click()
    assert "does not overlap" in b.job.status.text()
    assert "seg backprojected" not in viewer.layers


def test_our_files_open_with_napari_ome_zarr(make_napari_viewer, small_helix, tmp_path):
    """napari-ome-zarr (File > Open's reader) gives the same levels and voxel size.

    napari-ome-zarr 0.10 reads only the scale of level 0 (not its
    translation), so the source here sits at the origin.
    """
    pytest.importorskip("napari_ome_zarr")
    src = write_ome_zarr(
        small_helix.volume,
        tmp_path / "src.zarr",
        scale=small_helix.scale,
        kind="image",
        levels=2,
    )
    lab = small_helix.mask.astype(np.uint8)
    write_ome_zarr(lab, src / "labels" / "truth", scale=small_helix.scale)
    viewer = make_napari_viewer()
    layers = viewer.open(str(src), plugin="napari-ome-zarr")
    assert [type(layer).__name__ for layer in layers] == ["Image", "Labels"]
    image, labels = layers
    assert image.multiscale and [a.shape for a in image.data] == [
        (48, 64, 64),
        (48, 32, 32),
    ]
    np.testing.assert_allclose(image.scale, small_helix.scale)
    np.testing.assert_allclose(labels.scale, small_helix.scale)
    np.testing.assert_array_equal(np.asarray(labels.data[0]), lab)
    assert np.allclose(labels.extent.world, image.extent.world)
