"""Straighten dock widget, driven through a real napari viewer."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest

from napari_backproject import SliceGeometry
from napari_backproject._jobs import straighten_job
from napari_backproject._widgets._layers import (
    geometry_of,
    layer_path,
    plane_outlines,
)
from napari_backproject._widgets.straighten import (
    PREVIEW_CURVE,
    PREVIEW_PLANES,
    StraightenWidget,
)
from napari_backproject.straighten import geometry_json_path, straighten

TRANSLATE = (10.0, -5.0, 3.0)
SIZE = 16


@pytest.fixture
def helix_viewer(make_napari_viewer, small_helix):
    viewer = make_napari_viewer()
    viewer.add_image(
        small_helix.volume, scale=small_helix.scale, translate=TRANSLATE, name="helix"
    )
    viewer.add_points(
        small_helix.points,
        scale=small_helix.scale,
        translate=TRANSLATE,
        name="helix path",
    )
    return viewer


def _widget(viewer) -> StraightenWidget:
    widget = StraightenWidget(viewer)
    widget.image.value = viewer.layers["helix"]
    widget.path.value = viewer.layers["helix path"]
    widget.width.value = SIZE
    widget.height.value = SIZE
    return widget


def _expected(small_helix):
    return straighten(
        small_helix.volume,
        small_helix.points,
        width=SIZE,
        height=SIZE,
        scale=small_helix.scale,
        translate=TRANSLATE,
    )


def test_dock_widget_from_manifest_lists_layers(helix_viewer):
    _, widget = helix_viewer.window.add_plugin_dock_widget(
        "napari-backproject", "Straighten"
    )
    assert isinstance(widget, StraightenWidget)
    assert [c for c in widget.image.choices] == [helix_viewer.layers["helix"]]
    assert list(widget.path.choices) == [helix_viewer.layers["helix path"]]
    # layer lists follow the viewer
    helix_viewer.add_shapes(
        [np.array([[1.0, 2, 3], [4, 5, 6]])], shape_type="path", name="traced"
    )
    assert helix_viewer.layers["traced"] in widget.path.choices
    helix_viewer.layers.remove("traced")
    assert len(widget.path.choices) == 1


def test_layer_path_maps_through_world(make_napari_viewer, small_helix):
    viewer = make_napari_viewer()
    image = viewer.add_image(
        small_helix.volume, scale=small_helix.scale, translate=TRANSLATE
    )
    # points placed in world coordinates with scale 1
    world = small_helix.points * np.asarray(small_helix.scale) + TRANSLATE
    points = viewer.add_points(world)
    np.testing.assert_allclose(layer_path(points, image), small_helix.points)
    shapes = viewer.add_shapes([world], shape_type="path")
    np.testing.assert_allclose(layer_path(shapes, image), small_helix.points)
    with pytest.raises(ValueError, match="Points or Shapes"):
        layer_path(image, image)
    with pytest.raises(ValueError, match="at least two"):
        layer_path(viewer.add_points(world[:1]), image)


def test_preview_draws_planes_and_curve(helix_viewer, small_helix):
    widget = _widget(helix_viewer)
    widget.every.value = 5
    widget.preview_button.click()
    planes = helix_viewer.layers[PREVIEW_PLANES]
    curve = helix_viewer.layers[PREVIEW_CURVE]
    _, geometry = _expected(small_helix)
    n = geometry.n_slices
    assert len(planes.data) == len(range(0, n, 5)) + ((n - 1) % 5 != 0)
    for layer in (planes, curve):
        np.testing.assert_allclose(layer.scale, small_helix.scale)
        np.testing.assert_allclose(layer.translate, TRANSLATE)
    # the curve starts on the first traced point and ends within one spacing
    # (world units) of the last one
    c = curve.data[0]
    assert c.shape == (n, 3)
    np.testing.assert_allclose(c[0], small_helix.points[0], atol=1e-4)
    gap = (c[-1] - small_helix.points[-1]) * np.asarray(small_helix.scale)
    assert np.linalg.norm(gap) <= geometry.spacing + 1e-4
    # every outline is centred on the curve and spans the plane's corners
    first = planes.data[0]
    np.testing.assert_allclose(first[:4].mean(axis=0), c[0], atol=1e-4)
    corners = geometry.voxel_coordinates(0, 1)[:, 0]
    np.testing.assert_allclose(first[0], corners[:, 0, 0], atol=1e-4)
    np.testing.assert_allclose(first[2], corners[:, -1, -1], atol=1e-4)
    # a second Preview replaces the layers
    widget.preview_button.click()
    assert sum(layer.name == PREVIEW_PLANES for layer in helix_viewer.layers) == 1
    assert plane_outlines(geometry, 1)[0].shape == (5, 3)


def test_run_adds_straightened_layer(helix_viewer, small_helix, qtbot):
    widget = _widget(helix_viewer)
    widget.run_button.click()
    qtbot.waitUntil(lambda: "helix straightened" in helix_viewer.layers, timeout=60000)
    layer = helix_viewer.layers["helix straightened"]
    expected, geometry = _expected(small_helix)
    assert layer.data.dtype == np.uint8
    assert layer.data.shape == geometry.straightened_shape == expected.shape
    np.testing.assert_array_equal(np.asarray(layer.data), expected)
    np.testing.assert_allclose(layer.scale, (1.0, 1.0, 1.0))  # smallest voxel
    assert layer.metadata["source_layer"] == "helix"
    g = geometry_of(layer)
    assert isinstance(g, SliceGeometry)
    np.testing.assert_allclose(g.centers, geometry.centers)
    np.testing.assert_allclose(g.translate, TRANSLATE)
    # the tube is straight: bright along the centre line, dark in the corners
    data = np.asarray(layer.data)
    assert data[:, SIZE // 2, SIZE // 2].mean() > 150
    assert data[:, 0, 0].mean() < 60


def test_run_lazy_source_with_save(helix_viewer, small_helix, qtbot, tmp_path):
    helix_viewer.layers["helix"].data = da.from_array(
        small_helix.volume, chunks=(16, 64, 64)
    )
    widget = _widget(helix_viewer)
    widget.order.value = 0
    widget.spacing.value = 2.0
    widget.roll.value = 30.0
    out = tmp_path / "straight.tif"
    widget.save_file.value = str(out)
    widget.run_button.click()
    qtbot.waitUntil(lambda: "helix straightened" in helix_viewer.layers, timeout=60000)
    layer = helix_viewer.layers["helix straightened"]
    expected, geometry = straighten(
        small_helix.volume,
        small_helix.points,
        width=SIZE,
        height=SIZE,
        spacing=2.0,
        order=0,
        roll=30.0,
        scale=small_helix.scale,
        translate=TRANSLATE,
    )
    np.testing.assert_allclose(layer.scale, (2.0, 2.0, 2.0))
    assert geometry_of(layer).options["roll"] == 30.0
    np.testing.assert_array_equal(np.asarray(layer.data), expected)
    assert out.exists() and geometry_json_path(out).exists()
    from napari_backproject.io.tiff import read_tiff

    saved, meta = read_tiff(out)
    np.testing.assert_array_equal(saved.compute(), expected)
    g = SliceGeometry.from_json(geometry_json_path(out))
    assert g.straightened_shape == geometry.straightened_shape
    assert meta["scale"] == [2.0, 2.0, 2.0]


def test_run_lazy_source_gives_lazy_layer(helix_viewer, small_helix, qtbot):
    """A dask source is straightened lazily: the layer holds a dask array."""
    helix_viewer.layers["helix"].data = da.from_array(
        small_helix.volume, chunks=(16, 64, 64)
    )
    widget = _widget(helix_viewer)
    widget.run_button.click()
    qtbot.waitUntil(lambda: "helix straightened" in helix_viewer.layers, timeout=60000)
    layer = helix_viewer.layers["helix straightened"]
    assert isinstance(layer.data, da.Array)
    expected, _ = straighten(
        small_helix.volume,
        small_helix.points,
        width=SIZE,
        height=SIZE,
        scale=small_helix.scale,
        translate=TRANSLATE,
    )
    np.testing.assert_array_equal(layer.data[5].compute(), expected[5])


def test_cancel_leaves_no_layer_and_no_file(helix_viewer, qtbot, tmp_path):
    widget = _widget(helix_viewer)
    out = tmp_path / "cancelled.tif"
    widget.save_file.value = str(out)
    widget.run_button.click()
    widget.job.cancel_button.click()
    qtbot.waitUntil(lambda: not widget.job.running, timeout=60000)
    assert widget.job.status.text() == "Cancelled"
    assert "helix straightened" not in helix_viewer.layers
    assert list(tmp_path.iterdir()) == []


def test_job_cancelled_while_saving_leaves_no_file(small_helix, tmp_path):
    out = tmp_path / "s.tif"
    job = straighten_job(
        small_helix.volume,
        small_helix.points,
        {"width": 8, "height": 8, "scale": small_helix.scale},
        out,
        abort_requested=lambda: True,
    )
    messages = []
    with pytest.raises(StopIteration) as stop:
        while True:
            messages.append(next(job).message)
    assert stop.value.value is None
    assert messages[-1] == "Cancelled"
    assert list(tmp_path.iterdir()) == []


def test_bad_input_reports_error(helix_viewer):
    widget = _widget(helix_viewer)
    helix_viewer.add_points([[1.0, 2.0, 3.0]], name="one point")
    widget.path.value = helix_viewer.layers["one point"]
    widget.run_button.click()
    assert "at least two points" in widget.job.status.text()
    widget.preview_button.click()
    assert "Preview failed" in widget.job.status.text()
    helix_viewer.layers.remove("one point")
    helix_viewer.layers.remove("helix path")
    assert widget.path.value is None
    widget.run_button.click()
    assert widget.job.status.text().startswith("Failed: choose the path")
    assert not widget.job.running
    assert [layer.name for layer in helix_viewer.layers] == ["helix"]


def test_link_views_toggle_links_the_result(helix_viewer, small_helix, qtbot):
    from napari_backproject.mapping import from_straightened

    widget = _widget(helix_viewer)
    widget.link_views.value = True
    assert "when Straighten finishes" in widget.job.status.text()
    widget.run_button.click()
    qtbot.waitUntil(lambda: widget.link is not None, timeout=60000)
    st = helix_viewer.layers["helix straightened"]
    assert "link: source cursor" in helix_viewer.layers
    assert "Linked" in widget.job.status.text()
    # the mouse over the straightened stack puts the marker in the source
    pixel = np.array([10.0, 4.5, 7.0])
    helix_viewer.layers.selection.active = st
    helix_viewer.cursor.position = tuple(pixel * st.scale + st.translate)
    marker = widget.link.source_marker
    geometry = widget.link.spaces.geometry
    np.testing.assert_allclose(
        marker.data[0] * marker.scale + marker.translate,
        from_straightened([pixel], geometry)[0],
        atol=1e-6,
    )
    widget.link_views.value = False
    assert widget.link is None
    assert not any(layer.name.startswith("link: ") for layer in helix_viewer.layers)
    widget.link_views.value = True  # links the last result again
    assert widget.link is not None
    helix_viewer.layers.remove(st)  # removing a linked layer ends the link
    assert widget.link is None
    assert not any(layer.name.startswith("link: ") for layer in helix_viewer.layers)


def test_save_to_ome_zarr(helix_viewer, small_helix, qtbot, tmp_path):
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    widget = _widget(helix_viewer)
    out = tmp_path / "straight.zarr"
    widget.save_file.value = str(out)
    widget.run_button.click()
    qtbot.waitUntil(lambda: "helix straightened" in helix_viewer.layers, timeout=60000)
    data, geometry = _expected(small_helix)
    layer = helix_viewer.layers["helix straightened"]
    np.testing.assert_allclose(np.asarray(layer.data), data, atol=1e-4)
    # an OME-Zarr pyramid an independent reader opens, level 0 the stack
    nodes = list(Reader(parse_url(str(out)))())
    level0 = np.asarray(nodes[0].data[0])
    np.testing.assert_allclose(level0, data, atol=1e-4)
    assert (tmp_path / "straight.geometry.json").exists()
    # saving again over it is refused before the job: nothing overwritten
    before = sorted(p.name for p in out.rglob("*"))
    widget.run_button.click()
    assert "exists" in widget.job.status.text() and not widget.job.running
    assert sorted(p.name for p in out.rglob("*")) == before
