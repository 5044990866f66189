"""The widgets as a napari user meets them (issue 17), driven through a viewer.

Each test names the finding of issue 17 it covers and asserts what the user
sees: notifications (text, severity, count), buttons, layers and their units,
the offered choices, the status line.
"""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from napari.utils.notifications import NotificationSeverity, notification_manager

from napari_backproject import SliceGeometry
from napari_backproject._widgets._layers import geometry_metadata
from napari_backproject._widgets.backproject import BackprojectWidget
from napari_backproject._widgets.reconstruct import ReconstructWidget
from napari_backproject._widgets.sinogram import SinogramWidget
from napari_backproject._widgets.straighten import StraightenWidget
from napari_backproject.io.tiff import read_tiff
from napari_backproject.straighten import geometry_json_path, straighten

SIZE = 12


@pytest.fixture
def notes():
    """The notifications dispatched during the test: ``[(severity, message)]``."""
    start = len(notification_manager.records)

    def get(severity=None):
        out = [
            (str(n.severity), str(n.message))
            for n in notification_manager.records[start:]
        ]
        if severity is not None:
            out = [m for s, m in out if s == str(severity)]
        return out

    return get


@pytest.fixture
def helix(make_napari_viewer, small_helix):
    viewer = make_napari_viewer()
    viewer.add_image(
        small_helix.volume,
        scale=small_helix.scale,
        name="helix",
        units=("µm", "µm", "µm"),
    )
    viewer.add_points(
        small_helix.points,
        scale=small_helix.scale,
        name="path",
        units=("µm", "µm", "µm"),
    )
    return viewer


def _straighten_widget(viewer) -> StraightenWidget:
    widget = StraightenWidget(viewer)
    widget.image.value = viewer.layers["helix"]
    widget.path.value = viewer.layers["path"]
    widget.width.value = SIZE
    widget.height.value = SIZE
    return widget


def _idle(qtbot, controls, timeout=60000):
    qtbot.waitUntil(lambda: not controls.running, timeout=timeout)


# --------------------------------------------------------------- 1 warnings
def test_job_warning_is_notified_once(helix, small_helix, qtbot, notes):
    """(1) a path that leaves the volume: the job's warning reaches the user."""
    outside = np.array(small_helix.points, dtype=float)
    outside[-1, 0] += 40.0  # past the last z plane
    helix.add_points(outside, scale=small_helix.scale, name="outside")
    widget = _straighten_widget(helix)
    widget.path.value = helix.layers["outside"]
    widget.run_button.click()
    qtbot.waitUntil(lambda: "helix straightened" in helix.layers, timeout=60000)
    warned = notes(NotificationSeverity.WARNING)
    assert len([m for m in warned if "leaves the volume" in m]) == 1, warned


# --------------------------------------------------------------- 2 errors
def test_job_error_is_notified_once_without_traceback(make_napari_viewer, qtbot, notes):
    """(2) an error inside the job: one readable notification, status says it."""
    viewer = make_napari_viewer()
    image = np.zeros((16, 16), np.float32)
    image[3, 4] = np.nan
    viewer.add_image(image, name="nan")
    widget = SinogramWidget(viewer)
    widget.image.value = viewer.layers["nan"]
    widget.n_angles.value = 4
    widget.run_button.click()
    _idle(qtbot, widget.controls)
    errors = notes(NotificationSeverity.ERROR)
    assert len(errors) == 1, errors
    assert "NaN" in errors[0] and "Traceback" not in errors[0]
    assert widget.controls.status.text().startswith("Failed:")
    assert "nan sinogram" not in viewer.layers


# ------------------------------------------------ 3 geometry choice in Backproject
def _straightened_pair(viewer, small_helix, orders=(0, 1)):
    width = SIZE
    for order in orders:
        data, g = straighten(
            small_helix.volume,
            small_helix.points,
            width=width,
            height=SIZE,
            scale=small_helix.scale,
            order=order,
        )
        d = g.spacing
        viewer.add_image(
            np.asarray(data),
            name=f"straight o{order} w{width}",
            scale=(d, d, d),
            metadata=geometry_metadata(g, "helix"),
        )
    return g


def test_backproject_identical_geometries_count_as_one(helix, small_helix, qtbot):
    """(3) two straightened layers differing only in order: no error, one choice."""
    g = _straightened_pair(helix, small_helix)
    d = g.spacing
    seg = np.zeros(g.straightened_shape, np.uint8)
    seg[:, 4:8, 4:8] = 1
    helix.add_labels(seg, name="seg", scale=(d, d, d))
    widget = BackprojectWidget(helix)
    widget.layer.value = helix.layers["seg"]
    assert list(widget.geometry_layer.choices) == ["straight o0 w12"]
    widget.run_button.click()
    qtbot.waitUntil(lambda: "seg backprojected" in helix.layers, timeout=60000)


def test_backproject_lets_the_user_pick_the_geometry(helix, small_helix, qtbot):
    """(3) different geometries of the same shape: the user picks one."""
    g = _straightened_pair(helix, small_helix, orders=(1,))
    # a second, different geometry with the same straightened shape
    data, g2 = straighten(
        small_helix.volume,
        small_helix.points,
        width=SIZE,
        height=SIZE,
        scale=small_helix.scale,
        roll=90.0,
    )
    assert g2.straightened_shape == g.straightened_shape
    d = g.spacing
    helix.add_image(
        np.asarray(data),
        name="rolled",
        scale=(d, d, d),
        metadata=geometry_metadata(g2, "helix"),
    )
    seg = np.zeros(g.straightened_shape, np.uint8)
    seg[:, 2:5, 6:9] = 1
    helix.add_labels(seg, name="seg", scale=(d, d, d))
    widget = BackprojectWidget(helix)
    widget.layer.value = helix.layers["seg"]
    assert set(widget.geometry_layer.choices) == {"straight o1 w12", "rolled"}
    widget.geometry_layer.value = "rolled"
    geometry, origin = widget.geometry()
    assert origin == "rolled"
    assert SliceGeometry.coerce(geometry).to_dict() == g2.to_dict()
    widget.run_button.click()
    qtbot.waitUntil(lambda: "seg backprojected" in helix.layers, timeout=60000)
    assert helix.layers["seg backprojected"].metadata["geometry_from"] == "rolled"


# --------------------------------------------------------------- 4 run while running
def test_run_button_disabled_while_running(helix, qtbot, notes):
    """(4) Run is disabled while a job runs and enabled again after it ends."""
    widget = _straighten_widget(helix)
    assert widget.run_button.isEnabled()
    widget.run_button.click()
    assert widget.job.running
    assert not widget.run_button.isEnabled()
    widget.run()  # a second Run (e.g. a shortcut): no exception, no second job
    _idle(qtbot, widget.job)
    assert widget.run_button.isEnabled()
    assert [layer.name for layer in helix.layers].count("helix straightened") == 1
    # enabled again after a failed job too
    helix.layers["helix"].data = helix.layers["helix"].data.astype(np.float32)
    helix.layers["helix"].data[0, 0, 0] = np.nan
    widget.run_button.click()
    _idle(qtbot, widget.job)
    assert widget.run_button.isEnabled()
    assert len(notes(NotificationSeverity.ERROR)) == 1


# --------------------------------------------------------------- 5 output path
@pytest.mark.parametrize(
    ("name", "message"),
    [("", "is a folder"), ("out.png", "not a TIFF"), ("missing/out.tif", "exist")],
)
def test_save_to_checked_before_the_job(helix, tmp_path, name, message):
    """(5) a folder, a wrong extension, a missing folder: refused at once."""
    widget = _straighten_widget(helix)
    widget.save_file.value = tmp_path / name if name else tmp_path
    widget.run_button.click()
    assert not widget.job.running
    assert message in widget.job.status.text()
    assert "helix straightened" not in helix.layers
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------- 6 units
def test_units_travel_into_layers_and_files(helix, small_helix, qtbot, tmp_path):
    """(6) µm in the source: straightened and backprojected layers and files keep it."""
    widget = _straighten_widget(helix)
    out = tmp_path / "straight.tif"
    widget.save_file.value = out
    widget.run_button.click()
    qtbot.waitUntil(lambda: "helix straightened" in helix.layers, timeout=60000)
    straight = helix.layers["helix straightened"]
    assert [str(u) for u in straight.units] == ["micrometer"] * 3
    _, md = read_tiff(out)
    assert md["units"] == ["micrometer"] * 3
    geometry = json.loads(geometry_json_path(out).read_text())
    assert geometry["options"]["units"] == ["micrometer"] * 3
    seg = (np.asarray(straight.data) > 100).astype(np.uint8)
    helix.add_labels(seg, name="seg", scale=straight.scale, units=straight.units)
    bp = BackprojectWidget(helix)
    bp.layer.value = helix.layers["seg"]
    bp_out = tmp_path / "seg.tif"
    bp.save_file.value = bp_out
    bp.run_button.click()
    qtbot.waitUntil(lambda: "seg backprojected" in helix.layers, timeout=60000)
    assert [str(u) for u in helix.layers["seg backprojected"].units] == [
        "micrometer"
    ] * 3
    _, md = read_tiff(bp_out)  # the backprojected file keeps them too
    assert md["units"] == ["micrometer"] * 3


# --------------------------------------------------------------- 7 stale results
def test_result_dropped_when_inputs_removed(
    make_napari_viewer, qtbot, notes, monkeypatch
):
    """(7) layers cleared while a job runs: its result is dropped with a notice."""
    gate = threading.Event()

    def slow_job(data, theta, circle):
        from napari_backproject._progress import Progress

        yield Progress(0, 1, "waiting")
        gate.wait(30)
        yield Progress(1, 1, "done")
        return np.zeros((16, len(theta)), np.float32)

    monkeypatch.setattr("napari_backproject._widgets.sinogram.sinogram_job", slow_job)
    viewer = make_napari_viewer()
    viewer.add_image(np.ones((16, 16), np.float32), name="img")
    widget = SinogramWidget(viewer)
    widget.image.value = viewer.layers["img"]
    widget.n_angles.value = 4
    widget.run_button.click()
    viewer.layers.clear()
    viewer.add_image(np.ones((8, 8), np.float32), name="next scene")
    gate.set()
    _idle(qtbot, widget.controls)
    assert [layer.name for layer in viewer.layers] == ["next scene"]
    infos = notes(NotificationSeverity.INFO)
    assert any("dropped" in m and "'img'" in m for m in infos), infos


# --------------------------------------------------------------- 8 defaults
def test_reconstruct_prefers_layers_with_theta(make_napari_viewer):
    """(8) the phantom is not silently taken as a sinogram."""
    viewer = make_napari_viewer()
    viewer.add_image(np.ones((32, 32), np.float32), name="phantom")
    viewer.add_image(
        np.ones((32, 10), np.float32),
        name="sino",
        metadata={"theta": list(np.linspace(0, 180, 10, endpoint=False))},
    )
    viewer.add_image(np.ones((20, 20), np.float32), name="other")
    widget = ReconstructWidget(viewer)
    assert widget.sinogram.value.name == "sino"
    assert [layer.name for layer in widget.sinogram.choices][0] == "sino"


def test_reconstruct_detects_a_transposed_sinogram(make_napari_viewer, notes):
    """(8) (180, 400) with 180 angles in the metadata: reported, not reconstructed."""
    viewer = make_napari_viewer()
    theta = list(np.linspace(0, 180, 18, endpoint=False))
    viewer.add_image(np.ones((18, 40), np.float32), name="t", metadata={"theta": theta})
    widget = ReconstructWidget(viewer)
    widget.sinogram.value = viewer.layers["t"]
    assert "transposed" in widget.theta_info.value
    widget.run_button.click()
    assert not widget.controls.running
    assert "transposed" in widget.controls.status.text()
    assert [layer.name for layer in viewer.layers] == ["t"]


def test_backproject_intensity_image_gives_image(helix, small_helix, qtbot):
    """(8) a uint8 intensity image backprojects to an Image, not 243 'labels'."""
    g = _straightened_pair(helix, small_helix, orders=(1,))
    d = g.spacing
    intensity = (np.arange(np.prod(g.straightened_shape)) % 243).astype(np.uint8)
    helix.add_image(
        intensity.reshape(g.straightened_shape), name="intensity", scale=(d, d, d)
    )
    widget = BackprojectWidget(helix)
    widget.layer.value = helix.layers["intensity"]
    widget.run_button.click()
    qtbot.waitUntil(lambda: "intensity backprojected" in helix.layers, timeout=60000)
    assert type(helix.layers["intensity backprojected"]).__name__ == "Image"


def test_straighten_accepts_labels_and_rejects_rectangles(helix, small_helix, qtbot):
    """(8) Labels are offered (nearest, Labels out); a rectangle is not a path."""
    labels = (small_helix.volume > 100).astype(np.uint16) * 7
    helix.add_labels(labels, scale=small_helix.scale, name="truth")
    rect = np.array([[10.0, 5, 5], [10, 5, 30], [10, 30, 30], [10, 30, 5]])
    helix.add_shapes([rect], shape_type="rectangle", name="box")
    widget = _straighten_widget(helix)
    assert helix.layers["truth"] in widget.image.choices
    assert helix.layers["box"] not in widget.path.choices
    widget.image.value = helix.layers["truth"]
    widget.run_button.click()
    qtbot.waitUntil(lambda: "truth straightened" in helix.layers, timeout=60000)
    out = helix.layers["truth straightened"]
    assert type(out).__name__ == "Labels"
    assert set(np.unique(np.asarray(out.data))) <= {0, 7}
    from napari_backproject._widgets._layers import layer_path

    with pytest.raises(ValueError, match="rectangle, not a path"):
        layer_path(helix.layers["box"], helix.layers["helix"])


def test_straighten_refuses_nan(helix, qtbot, notes):
    """(8) NaN in the volume: a clear error, as the Sinogram gives."""
    volume = helix.layers["helix"].data.astype(np.float32)
    volume[3, 3, 3] = np.nan
    helix.layers["helix"].data = volume
    widget = _straighten_widget(helix)
    widget.run_button.click()
    _idle(qtbot, widget.job)
    errors = notes(NotificationSeverity.ERROR)
    assert len(errors) == 1 and "NaN" in errors[0]
    assert "helix straightened" not in helix.layers


# --------------------------------------------------------------- 9 layout
def test_straightened_layer_opens_beside_the_source(helix, qtbot):
    """(9) the straightened layer does not sit on top of the source."""
    widget = _straighten_widget(helix)
    widget.run_button.click()
    qtbot.waitUntil(lambda: "helix straightened" in helix.layers, timeout=60000)
    src = np.asarray(helix.layers["helix"].extent.world)
    out = np.asarray(helix.layers["helix straightened"].extent.world)
    assert out[0, -1] > src[1, -1]  # starts right of the source along x
    assert out[0, 0] == pytest.approx(src[0, 0])  # same first z
    # grid: the user's other choice
    widget.place.value = "grid view"
    helix.layers.remove("helix straightened")
    widget.run_button.click()
    qtbot.waitUntil(lambda: "helix straightened" in helix.layers, timeout=60000)
    assert helix.canvas.grid.enabled


def test_compact_dock_fits_a_1000px_screen(make_napari_viewer, qtbot):
    """(9) every tool in one tabbed dock no taller than ~900 px."""
    from napari_backproject._widgets.all_tools import AllToolsWidget

    viewer = make_napari_viewer()
    _, dock = viewer.window.add_plugin_dock_widget(
        "napari-backproject", "All tools (tabbed)"
    )
    assert isinstance(dock, AllToolsWidget)
    assert {"Straighten", "Backproject", "Sinogram", "Reconstruct"} <= set(dock.tools)
    assert dock.sizeHint().height() <= 900
    assert dock.tabs.count() == len(dock.tools)


def test_settings_persist_across_restarts(make_napari_viewer, tmp_path, monkeypatch):
    """(9) values set in a dock come back when it is opened again."""
    monkeypatch.setenv("NAPARI_BACKPROJECT_CONFIG_DIR", str(tmp_path))
    viewer = make_napari_viewer()
    widget = StraightenWidget(viewer)
    widget.width.value = 33
    widget.order.value = 0
    rec = ReconstructWidget(viewer)
    rec.method.value = "SART"
    rec.iterations.value = 7
    widget.close()
    rec.close()
    again = StraightenWidget(viewer)
    assert again.width.value == 33 and again.order.value == 0
    rec2 = ReconstructWidget(viewer)
    assert rec2.method.value == "SART" and rec2.iterations.value == 7
    assert (tmp_path / "straighten.json").is_file()


# --------------------------------------------------------------- 10 save to (CT)
def test_sinogram_and_reconstruct_save_to(make_napari_viewer, qtbot, tmp_path):
    """(10) Sinogram and Reconstruct have a 'save to'; 2D stays 2D on disk."""
    import tifffile

    viewer = make_napari_viewer()
    image = np.zeros((24, 24), np.float32)
    image[8:16, 9:14] = 1.0
    viewer.add_image(image, name="disk", scale=(0.5, 0.5), units=("mm", "mm"))
    sino = SinogramWidget(viewer)
    sino.image.value = viewer.layers["disk"]
    sino.n_angles.value = 12
    sino.save_file.value = tmp_path / "sino.tif"
    sino.run_button.click()
    qtbot.waitUntil(lambda: "disk sinogram" in viewer.layers, timeout=60000)
    on_disk = tifffile.imread(tmp_path / "sino.tif")
    assert on_disk.shape == (24, 12)
    _, md = read_tiff(tmp_path / "sino.tif")
    assert len(md["theta"]) == 12
    layer = viewer.layers["disk sinogram"]
    assert [str(u) for u in layer.units] == ["millimeter", "degree"]
    rec = ReconstructWidget(viewer)
    rec.sinogram.value = layer
    rec.save_file.value = tmp_path / "rec.tif"
    rec.run_button.click()
    qtbot.waitUntil(lambda: "disk sinogram FBP" in viewer.layers, timeout=60000)
    _idle(qtbot, rec.controls)
    assert tifffile.imread(tmp_path / "rec.tif").shape == (24, 24)
    out = viewer.layers["disk sinogram FBP"]
    assert [str(u) for u in out.units] == ["millimeter", "millimeter"]
