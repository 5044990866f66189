"""JobControls: a job outliving its widget (the user closed the panel or napari)."""

from __future__ import annotations

import threading
import time

from qtpy.QtWidgets import QPushButton, QWidget

from napari_backproject._progress import Progress
from napari_backproject._widgets._job import JobControls


def _slow_job(steps: int, seen: list, release: threading.Event):
    """Yields progress ``steps`` times; waits for ``release`` before the second."""
    for i in range(steps):
        seen.append(i)
        yield Progress(i, steps, f"step {i}")
        release.wait(5)
        time.sleep(0.01)
    return "done"


def test_closing_the_panel_stops_the_job_and_mutes_its_signals(qtbot):
    panel = QWidget()
    button = QPushButton("Run", panel)
    controls = JobControls(panel, buttons=[button])
    seen: list = []
    results: list = []
    release = threading.Event()
    worker = controls.start(
        _slow_job, 500, seen, release, on_returned=results.append, description="slow"
    )
    qtbot.waitUntil(lambda: len(seen) >= 1, timeout=10000)
    assert controls.running and not button.isEnabled()
    finished: list = []
    worker.finished.connect(lambda: finished.append(True))
    # the user closes the panel: its Qt objects are deleted while the job runs
    panel.deleteLater()
    qtbot.wait(200)  # the deferred delete happens
    release.set()
    qtbot.waitUntil(lambda: bool(finished), timeout=20000)
    # the job was asked to stop at its next update, long before its 500 steps,
    # and no slot touched the deleted status line (PyQt would have aborted)
    assert len(seen) < 500
    assert results == []


def test_a_live_panel_still_gets_its_result(qtbot):
    panel = QWidget()
    qtbot.addWidget(panel)
    controls = JobControls(panel)
    results: list = []
    release = threading.Event()
    release.set()
    controls.start(_slow_job, 3, [], release, on_returned=results.append)
    qtbot.waitUntil(lambda: results == ["done"], timeout=20000)
    assert controls.status.text() == "Done"
    assert not controls.running
