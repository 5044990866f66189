"""First use (issue 13): widgets compile their kernels in the background."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest
from napari.utils.notifications import NotificationSeverity, notification_manager

from napari_backproject import _warmup, radon
from napari_backproject._widgets._job import COMPILING
from napari_backproject._widgets.reconstruct import ReconstructWidget


@pytest.fixture
def warm(monkeypatch):
    """Warm-up switched on, with nothing warmed yet in this process."""
    monkeypatch.setenv("NAPARI_BACKPROJECT_WARMUP", "1")
    monkeypatch.setattr(_warmup, "_done", set())


def _sinogram_viewer(make_napari_viewer):
    viewer = make_napari_viewer()
    img = np.zeros((16, 16))
    img[5:11, 6:10] = 1.0
    theta = np.linspace(0, 180, 8, endpoint=False)
    viewer.add_image(radon(img, theta), name="sino", metadata={"theta": list(theta)})
    return viewer


def test_opening_a_widget_warms_up_and_says_so(make_napari_viewer, qtbot, warm):
    viewer = _sinogram_viewer(make_napari_viewer)
    widget = ReconstructWidget(viewer)
    assert widget.controls.status.text() == COMPILING
    assert widget.run_button.isEnabled()  # Run stays usable meanwhile
    qtbot.waitUntil(lambda: widget.controls.warmup_worker is None, timeout=120000)
    assert widget.controls.status.text() == "Ready"
    assert ("fbp", "float64") in _warmup._done
    # choosing SART compiles SART (FBP only was warmed for the default method)
    widget.method.value = "SART"
    assert widget.controls.status.text() == COMPILING
    qtbot.waitUntil(lambda: widget.controls.warmup_worker is None, timeout=120000)
    assert ("sart", "float64") in _warmup._done
    # opening it again compiles nothing more
    again = ReconstructWidget(viewer)
    assert again.controls.warmup_worker is None
    assert again.controls.status.text() == ""


def test_run_while_compiling_says_so(make_napari_viewer, qtbot, warm, monkeypatch):
    gate = threading.Event()
    real = _warmup._warm_one

    def slow(key, dtype, stop=None):
        gate.wait(30)
        real(key, dtype, stop)

    monkeypatch.setattr(_warmup, "_warm_one", slow)
    viewer = _sinogram_viewer(make_napari_viewer)
    widget = ReconstructWidget(viewer)
    widget.run_button.click()
    assert widget.controls.running
    assert "compiling (first use only)" in widget.controls.status.text()
    gate.set()
    qtbot.waitUntil(lambda: "sino FBP" in viewer.layers, timeout=120000)
    qtbot.waitUntil(lambda: widget.controls.warmup_worker is None, timeout=120000)
    assert "compiling" not in widget.controls.status.text()


def test_warmup_errors_go_to_the_log(
    make_napari_viewer, qtbot, warm, monkeypatch, caplog
):
    def broken(key, dtype, stop=None):
        raise RuntimeError("no compiler today")

    monkeypatch.setattr(_warmup, "_warm_one", broken)
    start = len(notification_manager.records)
    viewer = _sinogram_viewer(make_napari_viewer)
    with caplog.at_level(logging.WARNING, logger="napari_backproject"):
        widget = ReconstructWidget(viewer)
        qtbot.waitUntil(lambda: widget.controls.warmup_worker is None, timeout=30000)
    assert "no compiler today" in caplog.text
    errors = [
        n
        for n in notification_manager.records[start:]
        if n.severity == NotificationSeverity.ERROR
    ]
    assert errors == []
    assert widget.controls.status.text() == "Ready"
    widget.run_button.click()  # the widget still works
    qtbot.waitUntil(lambda: "sino FBP" in viewer.layers, timeout=120000)


def test_plan_covers_dtypes_and_paths():
    assert _warmup.plan(["sart"], [np.float32, np.float64, np.uint8]) == [
        ("sart", "float32"),
        ("sart", "float64"),
    ]
    assert _warmup.plan(["backproject"], [np.uint8, np.float64]) == [
        ("backproject", "uint8"),
        ("backproject", "float32"),
    ]
    with pytest.raises(ValueError, match="unknown warm-up key"):
        _warmup.plan(["nope"])
