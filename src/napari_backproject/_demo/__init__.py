"""The demo workflow behind ``napari-backproject demo``.

Each step is a module of this package with
``run(viewer, out: Path | None, context: dict) -> None``; steps run in the
order of :data:`STEPS`, pass layers to later steps through ``context`` and,
when ``out`` is given, write their results and a screenshot there.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

PLUGIN = "napari-backproject"
#: demo steps, in order (modules of this package)
STEPS = ["samples", "straighten", "backproject", "big_data", "ct", "ct_scan"]
#: widgets docked in the demo (display names from napari.yaml)
WIDGETS: list[str] = ["Sinogram", "Reconstruct", "Straighten", "Backproject"]


def run_demo(headless: bool = False, out: str | Path | None = None):
    """Run the demo in a napari viewer; returns the viewer when headless.

    Parameters
    ----------
    headless : bool
        Do not start the event loop; the viewer is closed after writing
        ``out/summary.json``. The window is still shown (OpenGL screenshots
        need it), so run under a virtual display (the CLI uses ``xvfb-run``).
    out : str or Path, optional
        Folder for results and screenshots (created if missing).

    Examples
    --------
    >>> run_demo(headless=True, out="demo-out")  # doctest: +SKIP
    """
    import napari

    out_dir = None if out is None else Path(out)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    viewer = napari.Viewer(title="napari-backproject demo")
    viewer.window.resize(1500, 950)
    for name in WIDGETS:
        viewer.window.add_plugin_dock_widget(PLUGIN, name, tabify=True)
    context: dict = {"files": []}
    for step in STEPS:
        importlib.import_module(f"{__name__}.{step}").run(viewer, out_dir, context)
    if out_dir is not None:
        path = out_dir / "window.png"
        viewer.screenshot(str(path), canvas_only=False, flash=False)
        context["files"].append(path.name)
        summary = {"steps": STEPS, "files": sorted(set(context["files"]))}
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    if headless:
        _finish_workers()
        viewer.close()
        return None
    napari.run()
    return viewer


def _finish_workers(timeout_ms: int = 300_000) -> None:
    """Stop the widgets' background jobs (warm-ups, lazy rows) before closing.

    A worker that finishes after its widget is deleted emits into a deleted
    Qt object, which aborts the process; so ask them all to quit, wait, and
    deliver their last signals while the widgets still exist.
    """
    from qtpy.QtWidgets import QApplication
    from superqt.utils import WorkerBase

    WorkerBase.await_workers(msecs=timeout_ms)
    QApplication.processEvents()


def screenshot(viewer, out: Path | None, name: str, context: dict) -> None:
    """Save a canvas screenshot ``out/name`` (PNG) when ``out`` is given."""
    if out is None:
        return
    viewer.screenshot(str(out / name), canvas_only=True, flash=False)
    context["files"].append(name)
