"""The Sinogram and Reconstruct dock widgets, driven through a real viewer."""

from __future__ import annotations

import numpy as np
import pytest

from napari_backproject import tomography

PLUGIN = "napari-backproject"


def _phantom(n: int = 32) -> np.ndarray:
    yy, xx = np.mgrid[:n, :n] - (n - 1) / 2
    img = np.zeros((n, n), np.float32)
    img[(yy / (0.3 * n)) ** 2 + (xx / (0.22 * n)) ** 2 <= 1] = 1.0
    img[(yy / (0.1 * n)) ** 2 + ((xx - 0.08 * n) / (0.06 * n)) ** 2 <= 1] = 0.4
    return img


@pytest.fixture
def viewer(make_napari_viewer):
    return make_napari_viewer()


@pytest.fixture
def sinogram_widget(viewer):
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Sinogram")
    return widget


@pytest.fixture
def reconstruct_widget(viewer):
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Reconstruct")
    return widget


def _wait_idle(qtbot, controls, timeout=30000):
    qtbot.waitUntil(lambda: not controls.running, timeout=timeout)


# ------------------------------------------------------------------ Sinogram
def test_sinogram_2d_layer(viewer, sinogram_widget, qtbot):
    img = _phantom()
    viewer.add_image(img, name="ph", scale=(0.5, 0.5), translate=(3.0, 4.0))
    w = sinogram_widget
    assert w.image.value is viewer.layers["ph"]  # the combo box saw the new layer
    w.n_angles.value = 24
    w.angle_start.value = 10.0
    w.angle_end.value = 190.0
    w.run_button.click()
    qtbot.waitUntil(lambda: "ph sinogram" in viewer.layers, timeout=30000)
    layer = viewer.layers["ph sinogram"]
    theta = np.linspace(10, 190, 24, endpoint=False)
    np.testing.assert_allclose(layer.data, tomography.radon(img, theta), atol=1e-5)
    assert layer.data.dtype == np.float32
    np.testing.assert_allclose(layer.scale, (0.5, 7.5))  # detector pixel, deg/step
    np.testing.assert_allclose(layer.translate, (0.0, 10.0))  # first angle
    assert tuple(layer.axis_labels) == ("detector", "angle (deg)")
    np.testing.assert_allclose(layer.metadata["theta"], theta)
    assert layer.metadata["circle"] is True
    assert layer.metadata["source"] == "ph"
    assert layer.metadata["source_translate"] == [3.0, 4.0]
    assert w.controls.status.text() == "Done"


def test_sinogram_stack_keeps_slice_axis(viewer, sinogram_widget, qtbot):
    stack = np.stack([_phantom(), 0.5 * _phantom(), _phantom()[::-1]])
    viewer.add_image(stack, name="st", scale=(4.0, 1.0, 1.0), translate=(2.0, 0, 0))
    w = sinogram_widget
    w.image.value = viewer.layers["st"]
    w.n_angles.value = 12
    w.circle.value = False
    w.run()
    qtbot.waitUntil(lambda: "st sinogram" in viewer.layers, timeout=30000)
    layer = viewer.layers["st sinogram"]
    theta = np.linspace(0, 180, 12, endpoint=False)
    expected = np.stack([tomography.radon(s, theta, circle=False) for s in stack])
    np.testing.assert_allclose(layer.data, expected, atol=1e-5)
    np.testing.assert_allclose(layer.scale, (4.0, 1.0, 15.0))
    np.testing.assert_allclose(layer.translate, (2.0, 0.0, 0.0))
    assert tuple(layer.axis_labels) == ("slice", "detector", "angle (deg)")
    assert layer.metadata["circle"] is False
    assert w.controls.progress_bar.value() == w.controls.progress_bar.maximum() == 3


def test_sinogram_cancel_adds_no_layer(viewer, sinogram_widget, qtbot, monkeypatch):
    import time

    real = tomography.radon_stack

    def slow_stack(*args, **kwargs):  # 50 ms per slice: Cancel lands mid-run
        lazy = real(*args, **kwargs)
        return lazy.map_blocks(lambda b: (time.sleep(0.05), b)[1], dtype=lazy.dtype)

    monkeypatch.setattr(tomography, "radon_stack", slow_stack)
    stack = np.repeat(_phantom(64)[None], 64, axis=0)
    viewer.add_image(stack, name="big")
    w = sinogram_widget
    w.n_angles.value = 180
    w.run()
    w.controls.cancel_button.click()
    _wait_idle(qtbot, w.controls)
    assert "big sinogram" not in viewer.layers
    assert w.controls.status.text() == "Cancelled"


def test_sinogram_input_errors(viewer, sinogram_widget):
    w = sinogram_widget
    with pytest.raises(ValueError, match="Choose an image layer"):
        w.run()
    viewer.add_image(np.zeros((2, 2, 8, 8)), name="4d")
    assert viewer.layers["4d"] not in w.image.choices  # not offered
    with pytest.raises(ValueError, match="Choose an image layer"):
        w.run()
    viewer.add_image(np.zeros((8, 8)), name="flat")
    w.image.value = viewer.layers["flat"]
    w.angle_end.value = w.angle_start.value
    with pytest.raises(ValueError, match="end > start"):
        w.run()
    assert "end > start" in w.info.value
    # the button reports the error instead of raising into Qt
    w.run_button.click()
    assert "end > start" in w.controls.status.text()
    assert len(viewer.layers) == 2


# ------------------------------------------------------------------ Reconstruct
def _add_sinogram(viewer, n_angles=20, stack=False, metadata=True):
    theta = np.linspace(0, 180, n_angles, endpoint=False)
    img = _phantom()
    if stack:
        sino = np.stack([tomography.radon(s, theta) for s in (img, 0.5 * img, img.T)])
        scale, translate = (3.0, 0.5, 9.0), (6.0, 0.0, 0.0)
    else:
        sino = tomography.radon(img, theta)
        scale, translate = (0.5, 9.0), (0.0, 0.0)
    md = {"theta": theta.tolist(), "circle": True} if metadata else {}
    if metadata:
        md["source_translate"] = [1.0, 2.0] if not stack else [6.0, 1.0, 2.0]
    viewer.add_image(sino, name="sino", scale=scale, translate=translate, metadata=md)
    return sino, theta


def test_reconstruct_fbp_2d(viewer, reconstruct_widget, qtbot):
    sino, theta = _add_sinogram(viewer)
    w = reconstruct_widget
    assert "from layer metadata: 20 angles" in w.theta_info.value
    w.filter_name.value = "hann"
    w.interpolation.value = "cubic"
    w.run_button.click()
    _wait_idle(qtbot, w.controls)
    layer = viewer.layers["sino FBP"]
    expected = tomography.iradon(sino, theta, filter_name="hann", interpolation="cubic")
    np.testing.assert_allclose(layer.data, expected, atol=1e-5)
    assert layer.data.dtype == expected.dtype
    np.testing.assert_allclose(layer.scale, (0.5, 0.5))  # detector spacing
    np.testing.assert_allclose(layer.translate, (1.0, 2.0))  # the source's place
    md = layer.metadata
    assert md["method"] == "fbp" and md["filter_name"] == "hann"
    assert md["interpolation"] == "cubic" and md["theta_source"] == "metadata"
    np.testing.assert_allclose(md["theta"], theta)


def test_reconstruct_uniform_theta_without_metadata(viewer, reconstruct_widget, qtbot):
    sino, theta = _add_sinogram(viewer, n_angles=16, metadata=False)
    w = reconstruct_widget
    assert "uniform over [0, 180): 16 angles" in w.theta_info.value
    w.filter_name.value = "None"
    w.output_size.value = 24
    w.run()
    _wait_idle(qtbot, w.controls)
    layer = viewer.layers["sino FBP"]
    expected = tomography.iradon(sino, theta, output_size=24, filter_name=None)
    np.testing.assert_allclose(layer.data, expected, atol=1e-5)
    assert layer.metadata["theta_source"] == "uniform"
    assert layer.metadata["filter_name"] is None
    assert layer.metadata["output_size"] == 24
    # theta of the wrong length is ignored, and the widget says so
    viewer.layers["sino"].metadata = {"theta": [0.0, 90.0]}
    w.reset_choices()
    assert "metadata theta has 2 values: ignored" in w.theta_info.value


def test_reconstruct_sart_updates_each_iteration(viewer, reconstruct_widget, qtbot):
    sino, theta = _add_sinogram(viewer)
    w = reconstruct_widget
    w.method.value = "SART"
    assert w.filter_name.native.isHidden() and not w.iterations.native.isHidden()
    w.iterations.value = 3
    w.relaxation.value = 0.2
    assert not w.clip_min.enabled
    w.clip.value = True
    assert w.clip_min.enabled and w.clip_max.enabled
    w.clip_min.value, w.clip_max.value = 0.0, 1.0
    seen = []

    def record(event):
        seen.append(np.array(event.source.data))

    def watch(event):
        if event.value.name == "sino SART":
            event.value.events.data.connect(record)

    viewer.layers.events.inserted.connect(watch)
    w.run()
    _wait_idle(qtbot, w.controls)
    layer = viewer.layers["sino SART"]
    estimates = list(
        tomography.iradon_sart_iter(
            sino, theta, n_iter=3, relaxation=0.2, clip=(0.0, 1.0)
        )
    )
    np.testing.assert_allclose(layer.data, estimates[-1], atol=1e-5)
    # the layer showed the intermediate iterations before the final result
    assert w.n_updates == 4  # three iterations + the returned result
    assert any(np.allclose(s, estimates[1], atol=1e-5) for s in seen)
    md = layer.metadata
    assert md["method"] == "sart" and md["iterations"] == 3
    assert md["relaxation"] == pytest.approx(0.2) and md["clip"] == [0.0, 1.0]


def test_reconstruct_stack_fbp(viewer, reconstruct_widget, qtbot):
    sino, theta = _add_sinogram(viewer, stack=True)
    w = reconstruct_widget
    w.run()
    _wait_idle(qtbot, w.controls)
    layer = viewer.layers["sino FBP"]
    expected = np.stack([tomography.iradon(s, theta) for s in sino])
    np.testing.assert_allclose(layer.data, expected, atol=1e-5)
    np.testing.assert_allclose(layer.scale, (3.0, 0.5, 0.5))  # slice scale kept
    np.testing.assert_allclose(layer.translate, (6.0, 1.0, 2.0))


def test_reconstruct_cancel_removes_layer(
    viewer, reconstruct_widget, qtbot, monkeypatch
):
    import time

    real = tomography.iradon_sart_iter

    def slow_iter(*args, **kwargs):  # a slow scanner: Cancel always lands mid-run
        for image in real(*args, **kwargs):
            time.sleep(0.05)
            yield image

    monkeypatch.setattr(tomography, "iradon_sart_iter", slow_iter)
    _add_sinogram(viewer, stack=True)
    w = reconstruct_widget
    w.method.value = "SART"
    w.iterations.value = 200
    w.run()
    qtbot.waitUntil(lambda: w.n_updates >= 1, timeout=30000)
    assert "sino SART" in viewer.layers  # the partial result was shown
    w.controls.cancel_button.click()
    _wait_idle(qtbot, w.controls)
    assert "sino SART" not in viewer.layers
    assert w.controls.status.text() == "Cancelled"


def test_reconstruct_errors(viewer, reconstruct_widget):
    w = reconstruct_widget
    with pytest.raises(ValueError, match="Choose a sinogram layer"):
        w.run()
    _add_sinogram(viewer)
    w.method.value = "SART"
    w.clip.value = True
    w.clip_min.value, w.clip_max.value = 1.0, 0.0
    with pytest.raises(ValueError, match="clip max must exceed clip min"):
        w.run()
    assert [layer.name for layer in viewer.layers] == ["sino"]


def test_live_preview_follows_slice_and_parameters(viewer, reconstruct_widget, qtbot):
    sino, theta = _add_sinogram(viewer, stack=True)
    w = reconstruct_widget
    viewer.dims.set_current_step(0, 2)
    assert w.current_index(viewer.layers["sino"]) == 2
    w.preview.value = True
    qtbot.waitUntil(lambda: "preview" in viewer.layers, timeout=30000)
    _wait_idle(qtbot, w.preview_controls)
    preview = viewer.layers["preview"]
    np.testing.assert_allclose(
        preview.data[0], tomography.iradon(sino[2], theta), atol=1e-5
    )
    np.testing.assert_allclose(preview.translate, (6.0 + 2 * 3.0, 1.0, 2.0))
    assert preview.metadata["slice"] == 2
    # a parameter change re-runs the preview
    w.filter_name.value = "cosine"
    qtbot.waitUntil(
        lambda: viewer.layers["preview"].metadata.get("filter_name") == "cosine",
        timeout=30000,
    )
    _wait_idle(qtbot, w.preview_controls)
    expected = tomography.iradon(sino[2], theta, filter_name="cosine")
    np.testing.assert_allclose(viewer.layers["preview"].data[0], expected, atol=1e-5)
    # and so does moving to another slice
    viewer.dims.set_current_step(0, 0)
    qtbot.waitUntil(
        lambda: viewer.layers["preview"].metadata.get("slice") == 0, timeout=30000
    )
    _wait_idle(qtbot, w.preview_controls)
    expected = tomography.iradon(sino[0], theta, filter_name="cosine")
    np.testing.assert_allclose(viewer.layers["preview"].data[0], expected, atol=1e-5)
    assert "sino FBP" not in viewer.layers  # preview never adds the full result


def test_round_trip_through_both_widgets(
    viewer, sinogram_widget, reconstruct_widget, qtbot
):
    img = _phantom()
    viewer.add_image(img, name="ph")
    sinogram_widget.n_angles.value = 45
    sinogram_widget.run()
    qtbot.waitUntil(lambda: "ph sinogram" in viewer.layers, timeout=30000)
    w = reconstruct_widget
    w.sinogram.value = viewer.layers["ph sinogram"]
    assert "45 angles" in w.theta_info.value
    w.run()
    _wait_idle(qtbot, w.controls)
    rec = viewer.layers["ph sinogram FBP"].data
    assert rec.shape == img.shape
    inside = np.hypot(*(np.mgrid[:32, :32] - 15.5)) < 12
    assert np.abs(rec - img)[inside].mean() < 0.1


def test_sinogram_tiff_from_cli_opens_with_its_angles(
    viewer, reconstruct_widget, qtbot, tmp_path
):
    """A sinogram written by the CLI, opened with the plugin's reader, keeps theta."""
    import tifffile

    from napari_backproject.cli import main

    src, sino_path = tmp_path / "ph.tif", tmp_path / "sino.tif"
    tifffile.imwrite(src, _phantom())
    args = ["sinogram", str(src), "-o", str(sino_path), "--angles", "15"]
    assert main([*args, "--angle-range", "0", "150"]) == 0
    (layer,) = viewer.open(sino_path, plugin=PLUGIN)
    w = reconstruct_widget
    w.sinogram.value = layer
    assert "from layer metadata: 15 angles, 0…140°" in w.theta_info.value
    w.run()
    _wait_idle(qtbot, w.controls)
    theta = np.linspace(0, 150, 15, endpoint=False)
    expected = tomography.iradon(np.asarray(layer.data), theta)
    np.testing.assert_allclose(
        viewer.layers[f"{layer.name} FBP"].data, expected, atol=1e-5
    )


def test_demo_ct_step(viewer, tmp_path, monkeypatch):
    """The demo step drives both widgets, writes its files and restores the view."""
    from napari_backproject._demo import ct
    from napari_backproject.io.tiff import read_tiff

    monkeypatch.setattr(ct, "N_ANGLES", 24)  # keep the test quick
    monkeypatch.setattr(ct, "SART_ITERATIONS", 1)
    viewer.dims.ndisplay = 3
    context: dict = {"files": []}
    ct.run(viewer, tmp_path, context)
    assert set(context["files"]) == {
        "ct.png",
        "ct-sinogram.tif",
        "ct-fbp.tif",
        "ct-sart.tif",
    }
    assert (tmp_path / "ct.png").stat().st_size > 0
    sino, md = read_tiff(tmp_path / "ct-sinogram.tif")
    assert sino.shape == (400, 24) and len(md["theta"]) == 24
    fbp, md = read_tiff(tmp_path / "ct-fbp.tif")
    assert fbp.shape == (400, 400) and md["method"] == "fbp"
    sart, md = read_tiff(tmp_path / "ct-sart.tif")
    assert sart.shape == (400, 400) and md["method"] == "sart"
    layers = context["ct"]
    assert len(layers) == 4 and not any(layer.visible for layer in layers.values())
    assert not viewer.canvas.grid.enabled and viewer.dims.ndisplay == 3
    assert not viewer.canvas.overlays.text.visible


def test_sinogram_warns_on_non_square_pixels(
    viewer, sinogram_widget, qtbot, monkeypatch
):
    warnings = []
    monkeypatch.setattr(
        "napari_backproject._widgets.sinogram.show_warning", warnings.append
    )
    viewer.add_image(_phantom(16), name="aniso", scale=(1.0, 2.0))
    sinogram_widget.n_angles.value = 4
    sinogram_widget.run()
    qtbot.waitUntil(lambda: "aniso sinogram" in viewer.layers, timeout=30000)
    assert len(warnings) == 1 and "non-square pixels" in warnings[0]
    np.testing.assert_allclose(viewer.layers["aniso sinogram"].scale, (2.0, 45.0))
