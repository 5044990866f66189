"""Run a generator job off the GUI thread with a progress bar and Cancel.

Widgets build a generator function that yields
:class:`napari_backproject._progress.Progress` updates (and, optionally,
intermediate results) and returns the final result. :class:`JobControls`
connects every callback *before* starting the worker, so no result is lost,
and shows progress, errors and cancellation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info
from qtpy.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .._progress import Progress


class JobControls(QWidget):
    """Progress bar and Cancel button, with a status line, for one background job."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.status = QLabel("", self)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.status.setWordWrap(True)
        #: the row holding the progress bar and the Cancel button
        self.row = QHBoxLayout()
        self.row.addWidget(self.progress_bar, 1)
        self.row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.row)
        layout.addWidget(self.status)
        self.worker = None
        self.last_error: BaseException | None = None

    @property
    def running(self) -> bool:
        """Whether a job is under way."""
        return self.worker is not None

    def start(
        self,
        function: Callable[..., Any],
        *args: Any,
        on_returned: Callable[[Any], None],
        on_yielded: Callable[[Any], None] | None = None,
        on_finished: Callable[[], None] | None = None,
        description: str = "",
        **kwargs: Any,
    ):
        """Start ``function(*args, **kwargs)`` (a generator function) in a thread.

        ``Progress`` values it yields move the bar; any other yielded value
        goes to ``on_yielded``; its return value goes to ``on_returned`` on
        the GUI thread. Returns the (already started) worker.
        """
        if self.worker is not None:
            raise RuntimeError("a job is already running; cancel it first")
        worker = create_worker(function, *args, _start_thread=False, **kwargs)
        self.last_error = None

        def _yielded(value: Any) -> None:
            if isinstance(value, Progress):
                self.progress_bar.setRange(0, max(value.total, 1))
                self.progress_bar.setValue(value.done)
                if value.message:
                    self.status.setText(value.message)
            elif on_yielded is not None:
                on_yielded(value)

        def _errored(exc: BaseException) -> None:
            self.last_error = exc
            self.status.setText(f"Failed: {exc}")
            show_error(f"{description or 'job'} failed: {exc}")

        def _aborted() -> None:
            self.status.setText("Cancelled")
            show_info(f"{description or 'job'} cancelled")

        def _finished() -> None:
            self.worker = None
            self.cancel_button.setEnabled(False)
            if on_finished is not None:
                on_finished()

        def _returned(value: Any) -> None:
            self.status.setText("Done")
            on_returned(value)

        if hasattr(worker, "yielded"):
            worker.yielded.connect(_yielded)
        worker.returned.connect(_returned)
        worker.errored.connect(_errored)
        if hasattr(worker, "aborted"):
            worker.aborted.connect(_aborted)
        worker.finished.connect(_finished)
        self.worker = worker
        self.cancel_button.setEnabled(True)
        self.progress_bar.setRange(0, 0)  # busy until the first Progress
        self.status.setText(f"{description}…" if description else "Running…")
        worker.start()
        return worker

    def cancel(self) -> None:
        """Ask the running job to stop at its next progress update."""
        if self.worker is not None:
            self.status.setText("Cancelling…")
            self.worker.quit()
