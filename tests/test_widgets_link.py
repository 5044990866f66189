"""Linked views in napari: cursor markers, click to jump, plane overlay, annotations."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from napari_backproject import straighten
from napari_backproject._widgets._layers import geometry_metadata
from napari_backproject.linking import link
from napari_backproject.mapping import from_straightened, to_straightened

pytest.importorskip("napari")


@pytest.fixture(scope="module")
def helix_stack(small_helix):
    data, g = straighten(
        small_helix.volume,
        small_helix.points,
        width=16,
        height=12,
        scale=small_helix.scale,
    )
    return small_helix, data, g


@pytest.fixture
def linked(make_napari_viewer, helix_stack):
    sample, data, g = helix_stack
    viewer = make_napari_viewer()
    src = viewer.add_image(sample.volume, name="helix", scale=sample.scale)
    d = g.spacing
    st = viewer.add_image(
        data,
        name="helix straightened",
        scale=(d, d, d),
        translate=(5.0, -3.0, 2.0),
        metadata=geometry_metadata(g, "helix"),
    )
    lk = link(viewer, st, src)
    yield SimpleNamespace(viewer=viewer, src=src, st=st, g=g, link=lk)
    lk.close()


def _marker_world(layer):
    assert len(layer.data) == 1
    return layer.data[0] * layer.scale + layer.translate


def _move(viewer, layer, world):
    """Point at ``world`` with ``layer`` selected, as a user would."""
    viewer.layers.selection.active = layer
    viewer.cursor.position = tuple(world)


def test_cursor_over_straightened_puts_marker_in_source(linked):
    v, g, st = linked.viewer, linked.g, linked.st
    pixel = np.array([7.3, 4.6, 9.2])
    _move(v, st, pixel * st.scale + st.translate)
    expected = from_straightened([pixel], g)[0]
    np.testing.assert_allclose(
        _marker_world(linked.link.source_marker), expected, atol=1e-6
    )
    assert len(linked.link.straightened_marker.data) == 0
    assert "source (" in linked.link.status and v.status == linked.link.status
    # napari's GUI sets its own status later (from a thread): the link's text stays
    napari_status = linked.src.get_status((7.0, 4.0, 9.0), world=True)
    v.status = napari_status
    assert v.status["coordinates"].startswith(napari_status["coordinates"])
    assert v.status["coordinates"].endswith(linked.link.status)
    assert v.status["layer_name"] == "helix"


def test_cursor_over_source_puts_marker_in_straightened(linked):
    v, g, st = linked.viewer, linked.g, linked.st
    world = from_straightened([[11.0, 5.5, 6.25]], g)[0]
    _move(v, linked.src, world)
    pixel = to_straightened([world], g)[0]
    np.testing.assert_allclose(
        _marker_world(linked.link.straightened_marker),
        pixel * st.scale + st.translate,
        atol=1e-6,
    )
    np.testing.assert_allclose(pixel, [11.0, 5.5, 6.25], atol=1e-6)
    # off every plane: no marker, the status says so
    _move(v, linked.src, (1.0, 1.0, 1.0))
    assert len(linked.link.straightened_marker.data) == 0
    assert "no plane" in v.status


def test_scrolling_the_stack_moves_the_plane_overlay(linked):
    v, g, st, lk = linked.viewer, linked.g, linked.st, linked.link
    for i in (0, 9, g.n_slices - 1):
        v.dims.set_point(0, i * st.scale[0] + st.translate[0])
        assert lk.current_slice == i
        quad = lk.plane_quad.data[0] * linked.src.scale + linked.src.translate
        np.testing.assert_allclose((quad - g.centers[i]) @ g.tangents[i], 0, atol=1e-9)
        np.testing.assert_allclose(quad.mean(axis=0), g.centers[i], atol=1e-9)
        outline = lk.plane.data[0] * linked.src.scale + linked.src.translate
        np.testing.assert_allclose(outline[:4], quad, atol=1e-9)
        tick = lk.plane.data[1] * linked.src.scale + linked.src.translate
        np.testing.assert_allclose(tick.mean(axis=0), g.centers[i], atol=1e-9)
    assert lk.curve.data[0].shape == (g.n_slices, 3)


def _click(viewer, world, modifiers=("Alt",)):
    event = SimpleNamespace(
        type="mouse_press",
        position=tuple(world),
        modifiers=modifiers,
        view_direction=None,
        dims_displayed=list(viewer.dims.displayed),
    )
    for cb in list(viewer.mouse_drag_callbacks):
        cb(viewer, event)


def test_alt_click_in_source_jumps_to_the_slice(linked):
    v, g, st, lk = linked.viewer, linked.g, linked.st, linked.link
    world = from_straightened([[13.4, 3.0, 8.0]], g)[0]
    v.layers.selection.active = linked.src
    _click(v, world, modifiers=())  # no Alt: nothing happens
    assert lk.last_jump is None
    _click(v, world)
    assert lk.last_jump == 13
    assert st.world_to_data(v.dims.point)[0] == pytest.approx(13)
    assert lk.current_slice == 13


def test_alt_click_off_the_planes_says_so(linked, monkeypatch):
    v, lk = linked.viewer, linked.link
    said = []
    import napari.utils.notifications as notes

    monkeypatch.setattr(notes, "show_info", lambda msg: said.append(msg))
    v.layers.selection.active = linked.src
    _click(v, (1.0, 1.0, 1.0))
    assert lk.last_jump is None
    assert said and "No plane" in said[0]


def test_alt_click_on_straightened_centres_the_source(linked):
    v, g, st = linked.viewer, linked.g, linked.st
    pixel = np.array([20.0, 6.0, 8.0])
    v.layers.selection.active = st
    _click(v, pixel * st.scale + st.translate)
    world = from_straightened([pixel], g)[0]
    camera = v.scene.camera if hasattr(v, "scene") else v.camera
    np.testing.assert_allclose(camera.center[-2:], world[1:], atol=1e-6)


def test_points_and_shapes_travel_with_features(linked):
    v, g, st, lk = linked.viewer, linked.g, linked.st, linked.link
    pix = np.array([[3.0, 2.0, 4.0], [10.0, 6.0, 6.0], [500.0, 0.0, 0.0]])
    pts = v.add_points(
        pix,
        scale=st.scale,
        translate=st.translate,
        features={"label": ["a", "b", "c"], "score": [1.0, 2.0, 3.0]},
        name="marks",
    )
    out = lk.map_annotations(pts, "source")
    assert out.name == "marks → source"
    world = out.data * out.scale + out.translate
    np.testing.assert_allclose(world, from_straightened(pix[:2], g), atol=1e-6)
    assert out.features["label"].tolist() == ["a", "b"]
    # and back again
    back = lk.map_annotations(out, "straightened")
    np.testing.assert_allclose(back.data, pix[:2], atol=1e-6)
    assert back.features["score"].tolist() == [1.0, 2.0]

    path = np.array([[4.0, 3.0, 3.0], [8.0, 5.0, 9.0], [12.0, 6.0, 10.0]])
    shp = v.add_shapes(
        [path],
        shape_type="path",
        scale=st.scale,
        translate=st.translate,
        features={"kind": ["axon"]},
        name="trace",
    )
    mapped = lk.map_annotations(shp, "source")
    world = mapped.data[0] * mapped.scale + mapped.translate
    np.testing.assert_allclose(world, from_straightened(path, g), atol=1e-6)
    assert mapped.features["kind"].tolist() == ["axon"]
    assert mapped.shape_type == ["path"]


def test_close_removes_layers_and_callbacks(linked):
    v, lk = linked.viewer, linked.link
    names = {layer.name for layer in v.layers}
    assert {"link: source cursor", "link: current plane"} <= names
    lk.close()
    assert not any(layer.name.startswith("link: ") for layer in v.layers)
    assert lk._on_click not in v.mouse_drag_callbacks
    v.layers.selection.active = linked.st
    v.cursor.position = (3.0, 3.0, 3.0)  # nothing breaks after close
    lk.close()


def test_not_a_straightened_layer_is_refused(make_napari_viewer):
    viewer = make_napari_viewer()
    a = viewer.add_image(np.zeros((4, 4, 4)), name="a")
    b = viewer.add_image(np.zeros((4, 4, 4)), name="b")
    with pytest.raises(ValueError, match="no slice geometry"):
        link(viewer, a, b)


def test_dock_widget_toggles_the_link(linked, qtbot):
    from napari_backproject._widgets.link_widget import LinkViewsWidget

    linked.link.close()
    v = linked.viewer
    w = LinkViewsWidget(v)
    assert w.straightened.value is linked.st
    assert w.source.value is linked.src
    w.linked.value = True
    assert w.link is not None and "link: current plane" in v.layers
    assert "Linked" in w.info.value
    pts = v.add_points(
        [[2.0, 2.0, 2.0]],
        scale=linked.st.scale,
        translate=linked.st.translate,
        name="p",
    )
    w.annotations.value = pts
    w.to_source.clicked.emit(True)
    assert "p → source" in v.layers
    w.linked.value = False
    assert w.link is None and "link: current plane" not in v.layers


def test_two_viewers_each_is_its_own_space(make_napari_viewer, helix_stack):
    sample, data, g = helix_stack
    stack_viewer, source_viewer = make_napari_viewer(), make_napari_viewer()
    src = source_viewer.add_image(sample.volume, name="helix", scale=sample.scale)
    d = g.spacing
    st = stack_viewer.add_image(
        data, scale=(d, d, d), metadata=geometry_metadata(g, "helix")
    )
    lk = link(stack_viewer, st, src, source_viewer=source_viewer)
    assert "link: source cursor" in source_viewer.layers
    assert "link: source cursor" not in stack_viewer.layers
    pixel = np.array([9.0, 2.5, 12.0])
    stack_viewer.cursor.position = tuple(pixel * d)
    np.testing.assert_allclose(
        _marker_world(lk.source_marker), from_straightened([pixel], g)[0], atol=1e-6
    )
    # Alt-click on the source viewer jumps the other viewer's stack
    _click(source_viewer, from_straightened([[17.2, 6.0, 6.0]], g)[0])
    assert lk.last_jump == 17
    assert st.world_to_data(stack_viewer.dims.point)[0] == pytest.approx(17)
    # Alt-click on the stack centres the source viewer (dims and camera)
    _click(stack_viewer, pixel * d)
    world = from_straightened([pixel], g)[0]
    camera = (
        source_viewer.scene.camera
        if hasattr(source_viewer, "scene")
        else (source_viewer.camera)
    )
    np.testing.assert_allclose(camera.center[-2:], world[1:], atol=1e-6)
    # napari snaps the dims point to its step (the source's voxel grid)
    step = np.array([r.step for r in source_viewer.dims.range])
    assert np.all(np.abs(np.array(source_viewer.dims.point) - world) <= step / 2 + 1e-9)
    lk.close()
    assert not any(layer.name.startswith("link: ") for layer in source_viewer.layers)


def test_alt_click_in_3d_uses_the_viewing_ray(linked):
    v, g, lk = linked.viewer, linked.g, linked.link
    v.dims.ndisplay = 3
    v.layers.selection.active = linked.src
    i = 21
    event = SimpleNamespace(
        type="mouse_press",
        position=tuple(g.centers[i] - 40 * g.e_v[i]),
        modifiers=("Alt",),
        view_direction=tuple(g.e_v[i]),
    )
    lk._on_click(v, event)
    assert lk.last_jump == i


def test_the_visible_layer_decides_the_space(linked):
    v, lk = linked.viewer, linked.link
    v.layers.selection.active = linked.st
    assert lk.space_of(v) == "straightened"
    linked.st.visible = False
    assert lk.space_of(v) == "source"
    linked.st.visible = True
    v.layers.selection.active = lk.source_marker
    assert lk.space_of(v) is None


def _preview_world(layer, value):
    """World centres of the preview voxels holding ``value``."""
    idx = np.argwhere(np.asarray(layer.data) == value)
    return idx * np.asarray(layer.scale) + np.asarray(layer.translate)


def test_labels_preview_follows_paint_and_scroll(linked, qtbot):
    v, g, st, lk = linked.viewer, linked.g, linked.st, linked.link
    labels = v.add_labels(
        np.zeros(g.straightened_shape, dtype=np.uint8),
        name="seg",
        scale=st.scale,
        translate=st.translate,
    )
    i = 20
    v.dims.set_point(0, lk.spaces.slice_world(i))
    p = lk.preview_labels(labels, half_width=2)
    assert "link: labels preview" in v.layers and p.slab == (18, 23)
    assert not np.asarray(p.layer.data).any()  # nothing painted yet
    # a user paints a disc on the current slice: the preview shows it in the
    # source, where the geometry puts those pixels
    labels.paint((i, 6, 8), 5)
    qtbot.waitUntil(lambda: (np.asarray(p.layer.data) == 5).any(), timeout=10000)
    painted = np.argwhere(labels.data == 5)
    assert len(painted) and set(painted[:, 0]) == {i}
    got = _preview_world(p.layer, 5)
    # every preview voxel of label 5 lies within about a voxel of a painted
    # pixel's place in the source
    want = from_straightened(painted.astype(float), g)
    dist = np.linalg.norm(got[:, None, :] - want[None, :, :], axis=-1).min(axis=1)
    assert dist.max() <= np.linalg.norm(g.scale) + g.spacing
    # the preview is the slab's backprojection, placed in the source world
    data, place = lk.spaces.backproject_slab(labels.data, i, half_width=2)
    np.testing.assert_array_equal(p.layer.data, data)
    np.testing.assert_allclose(p.layer.translate, place["translate"], atol=1e-9)
    # scrolling far away: the slab moves and the painted disc leaves it
    v.dims.set_point(0, lk.spaces.slice_world(40))
    assert p.slab == (38, 43)
    assert not (np.asarray(p.layer.data) == 5).any()
    lk.stop_preview()
    assert "link: labels preview" not in v.layers
    labels.paint((i, 6, 8), 7)  # no longer followed: nothing breaks
    qtbot.wait(50)


def test_labels_preview_refuses_other_shapes(linked):
    bad = linked.viewer.add_labels(np.zeros((4, 4, 4), dtype=np.uint8), name="bad")
    with pytest.raises(ValueError, match="stack's shape"):
        linked.link.preview_labels(bad)


def test_dock_widget_previews_labels(linked, qtbot):
    from napari_backproject._widgets.link_widget import LinkViewsWidget

    linked.link.close()
    v, g = linked.viewer, linked.g
    labels = v.add_labels(
        np.zeros(g.straightened_shape, dtype=np.uint16),
        name="seg",
        scale=linked.st.scale,
        translate=linked.st.translate,
    )
    w = LinkViewsWidget(v)
    w.straightened.value = linked.st
    w.source.value = linked.src
    assert [name for name, _ in w._segmentations()] == ["seg"]
    w.segmentation.value = labels
    w.linked.value = True
    w.preview.value = True
    assert "link: labels preview" in v.layers and "Previewing 'seg'" in w.info.value
    labels.paint((int(w.link.current_slice), 6, 8), 3)
    shown = v.layers["link: labels preview"]
    qtbot.waitUntil(lambda: (np.asarray(shown.data) == 3).any(), timeout=10000)
    w.linked.value = False  # unlinking ends the preview too
    assert not w.preview.value and "link: labels preview" not in v.layers


def test_grid_mode_the_cell_under_the_mouse_decides_the_space(linked):
    v, g, st, lk = linked.viewer, linked.g, linked.st, linked.link
    v.canvas.grid.enabled = True
    cell_of = {
        name: v.canvas.grid.position(v.layers.index(v.layers[name]), v.layers)
        for name in ("helix", "helix straightened")
    }
    assert cell_of["helix"] != cell_of["helix straightened"]
    v.layers.selection.active = linked.src  # the selection no longer decides
    pixel = np.array([12.4, 3.5, 7.75])
    v.cursor.viewbox = cell_of["helix straightened"]
    v.cursor.position = tuple(pixel * st.scale + st.translate)
    np.testing.assert_allclose(
        _marker_world(lk.source_marker), from_straightened([pixel], g)[0], atol=1e-6
    )
    world = from_straightened([[30.0, 5.0, 9.0]], g)[0]
    v.cursor.viewbox = cell_of["helix"]
    v.cursor.position = tuple(world)
    got = (_marker_world(lk.straightened_marker) - st.translate) / st.scale
    np.testing.assert_allclose(got, to_straightened([world], g)[0], atol=1e-6)
    v.cursor.viewbox = v.canvas.grid.position(
        v.layers.index(lk.source_marker), v.layers
    )
    assert lk.space_of(v) is None  # a cell of the link's own layers
