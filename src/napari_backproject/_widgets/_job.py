"""Run a generator job off the GUI thread with a progress bar and Cancel.

Widgets build a generator function that yields
:class:`napari_backproject._progress.Progress` updates (and, optionally,
intermediate results) and returns the final result. :class:`JobControls`
connects every callback *before* starting the worker, so no result is lost,
and makes what happens visible, once:

- warnings raised by the job become napari warning notifications (each text
  once per run);
- an error becomes one error notification with a readable message and the
  status line; the traceback goes to the log only;
- the Run buttons are disabled while a job runs and enabled again when it
  ends (returned, failed or cancelled);
- a ``guard`` checks, when results arrive, that the job's inputs are still in
  the viewer; if not, the results are dropped with a notice;
- when the panel is destroyed (its dock widget or the viewer closed while a
  job runs), the job and the warm-up are asked to stop and their late
  signals are ignored: a slot touching a deleted Qt widget would raise, and
  PyQt aborts the whole process on an exception in a slot.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .. import _warmup
from .._progress import Progress

logger = logging.getLogger("napari_backproject")

#: status text while a job waits for the first-use compilation of its kernels
COMPILING = "compiling (first use only)…"


def readable(exc: BaseException) -> str:
    """A one-line message for an exception raised by a job.

    Examples
    --------
    >>> readable(ValueError("width must be >= 1"))
    'width must be >= 1'
    >>> readable(MemoryError())[:20]
    'not enough memory fo'
    """
    if isinstance(exc, MemoryError):
        detail = f" ({exc})" if str(exc) else ""
        return (
            f"not enough memory for this job{detail}; make the output smaller "
            "(fewer or smaller planes, a bounding box) or save it to a file."
        )
    text = str(exc).strip()
    return text if text else type(exc).__name__


class JobControls(QWidget):
    """Progress bar and Cancel button, with a status line, for one background job.

    Parameters
    ----------
    parent : QWidget, optional
        The dock widget.
    buttons : iterable of QPushButton
        Buttons that start a job; disabled while one runs.
    """

    def __init__(
        self, parent: QWidget | None = None, buttons: Iterable[QPushButton] = ()
    ) -> None:
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
        #: buttons disabled while a job runs
        self.buttons: list[QPushButton] = list(buttons)
        #: the warm-up keys this panel's jobs need compiled (see ``_warmup``)
        self.warmup_keys: tuple[str, ...] = ()
        #: the running warm-up worker, if any
        self.warmup_worker = None
        self._next_warmup: tuple | None = None
        self._warmup_stop = threading.Event()
        #: False once the Qt side of this panel is deleted (see ``_slot``)
        self._alive = [True]
        self.destroyed.connect(_stop_when_destroyed(self))

    def _slot(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """``function`` as a worker slot that does nothing once the panel is gone.

        A job or warm-up can end after the viewer was closed; its signals
        then reach widgets whose Qt objects are deleted.
        """
        alive = self._alive

        def slot(*args: Any) -> None:
            if not alive[0]:
                return
            try:
                function(*args)
            except RuntimeError as exc:
                if "has been deleted" not in str(exc):
                    raise
                alive[0] = False
                logger.info("late job signal ignored: the widget was closed")

        return slot

    @property
    def running(self) -> bool:
        """Whether a job is under way."""
        return self.worker is not None

    @property
    def compiling(self) -> bool:
        """Whether this panel's kernels are being compiled (warm-up under way)."""
        return self.warmup_worker is not None or _warmup.busy(self.warmup_keys)

    def _set_buttons(self, enabled: bool) -> None:
        for button in self.buttons:
            button.setEnabled(enabled)

    def start(
        self,
        function: Callable[..., Any],
        *args: Any,
        on_returned: Callable[[Any], None],
        on_yielded: Callable[[Any], None] | None = None,
        on_finished: Callable[[], None] | None = None,
        description: str = "",
        guard: Callable[[], str | None] | None = None,
        **kwargs: Any,
    ):
        """Start ``function(*args, **kwargs)`` (a generator function) in a thread.

        ``Progress`` values it yields move the bar; any other yielded value
        goes to ``on_yielded``; its return value goes to ``on_returned`` on
        the GUI thread. ``guard()`` returns None while the job's inputs are
        still there, else a message: results are then dropped and the
        message is shown once. Returns the (already started) worker.

        Raises
        ------
        RuntimeError
            A job is already running (the Run buttons are disabled then).
        """
        if self.worker is not None:
            raise RuntimeError(
                f"{description or 'a job'} is already running; wait or cancel it."
            )
        worker = create_worker(
            function, *args, _start_thread=False, _ignore_errors=True, **kwargs
        )
        # napari relays errors (with a traceback) and warnings itself; we
        # notify once, readably, and log the traceback
        for signal, slot in (
            (worker.errored, getattr(worker, "_relay_error", None)),
            (worker.warned, getattr(worker, "_relay_warning", None)),
        ):
            if slot is not None:
                try:
                    signal.disconnect(slot)
                except (TypeError, RuntimeError, ValueError):  # pragma: no cover
                    pass
        self.last_error = None
        what = description or "job"
        seen_warnings: set[str] = set()
        state = {"dropped": False}

        def _dropped() -> bool:
            if state["dropped"]:
                return True
            message = guard() if guard is not None else None
            if message:
                state["dropped"] = True
                self.status.setText(f"Result dropped: {message}")
                show_info(f"{what}: result dropped: {message}")
                worker.quit()
            return state["dropped"]

        def _yielded(value: Any) -> None:
            if isinstance(value, Progress):
                self.progress_bar.setRange(0, max(value.total, 1))
                self.progress_bar.setValue(value.done)
                if state["dropped"]:
                    pass
                elif self.compiling:
                    # the job waits for the warm-up's compilation
                    self.status.setText(f"{what}: {COMPILING}")
                elif value.message:
                    self.status.setText(value.message)
            elif on_yielded is not None and not _dropped():
                on_yielded(value)

        def _warned(args: tuple) -> None:
            text = str(args[0]) if args else ""
            if text and text not in seen_warnings:
                seen_warnings.add(text)
                logger.warning("%s: %s", what, text)
                show_warning(f"{what}: {text}")

        def _errored(exc: BaseException) -> None:
            self.last_error = exc
            logger.error(
                "%s failed", what, exc_info=(type(exc), exc, exc.__traceback__)
            )
            message = readable(exc)
            self.status.setText(f"Failed: {message}")
            show_error(f"{what} failed: {message}")

        def _aborted() -> None:
            if not state["dropped"]:
                self.status.setText("Cancelled")
                show_info(f"{what} cancelled")

        def _finished() -> None:
            self.worker = None
            self.cancel_button.setEnabled(False)
            self._set_buttons(True)
            if on_finished is not None:
                on_finished()

        def _returned(value: Any) -> None:
            if _dropped():
                return
            self.status.setText("Done")
            on_returned(value)

        if hasattr(worker, "yielded"):
            worker.yielded.connect(self._slot(_yielded))
        worker.returned.connect(self._slot(_returned))
        worker.errored.connect(self._slot(_errored))
        worker.warned.connect(self._slot(_warned))
        if hasattr(worker, "aborted"):
            worker.aborted.connect(self._slot(_aborted))
        worker.finished.connect(self._slot(_finished))
        self.worker = worker
        self.cancel_button.setEnabled(True)
        self._set_buttons(False)
        self.progress_bar.setRange(0, 0)  # busy until the first Progress
        # the job compiles what it needs itself; the warm-up stops after the
        # kernel it is compiling now (the job would wait for it anyway)
        self._warmup_stop.set()
        self._next_warmup = None
        if self.compiling:
            self.status.setText(f"{what}: {COMPILING}")
        else:
            self.status.setText(f"{description}…" if description else "Running…")
        worker.start()
        return worker

    def cancel(self) -> None:
        """Ask the running job to stop at its next progress update."""
        if self.worker is not None:
            self.status.setText("Cancelling…")
            self.worker.quit()

    def start_warmup(self, keys: Iterable[str], dtypes: Iterable[Any] = ()):
        """Compile the kernels of ``keys`` in the background (see ``_warmup``).

        The status line says "compiling (first use only)…" while it runs
        (unless a job is running); the Run buttons stay usable. Nothing is
        started when every kernel was warmed already in this process.
        Errors go to the log, never to the user. Returns the worker or None.
        """
        keys, dtypes = tuple(keys), list(dtypes)
        if self.warmup_worker is not None:
            # one at a time: stop the current one after the kernel it is
            # compiling and run this request next
            self._next_warmup = (keys, dtypes)
            self.warmup_keys = tuple(dict.fromkeys(self.warmup_keys + keys))
            self._warmup_stop.set()
            return None
        self.warmup_keys = keys
        if not _warmup.pending(keys, dtypes):
            return None
        self._warmup_stop = threading.Event()
        worker = create_worker(
            _warmup.run,
            self.warmup_keys,
            dtypes,
            self._warmup_stop,
            _start_thread=False,
            _ignore_errors=True,
        )
        for signal, slot in (
            (worker.errored, getattr(worker, "_relay_error", None)),
            (worker.warned, getattr(worker, "_relay_warning", None)),
        ):
            if slot is not None:
                try:
                    signal.disconnect(slot)
                except (TypeError, RuntimeError, ValueError):  # pragma: no cover
                    pass

        def _errored(exc: BaseException) -> None:
            logger.warning(
                "warm-up of %s failed (the job will compile on first use)",
                ", ".join(self.warmup_keys),
                exc_info=(type(exc), exc, exc.__traceback__),
            )

        def _finished() -> None:
            self.warmup_worker = None
            queued, self._next_warmup = self._next_warmup, None
            if queued is not None and self.start_warmup(*queued) is not None:
                return
            try:
                if not self.running and self.status.text() == COMPILING:
                    self.status.setText("Ready")
            except RuntimeError:  # pragma: no cover - widget deleted meanwhile
                pass

        worker.errored.connect(self._slot(_errored))
        worker.finished.connect(self._slot(_finished))
        self.warmup_worker = worker
        if not self.running:
            self.status.setText(COMPILING)
        worker.start()
        return worker


def _stop_when_destroyed(controls: JobControls) -> Callable[..., None]:
    """A slot for ``controls.destroyed``: stop its job and warm-up, mute them.

    It only touches Python attributes (the Qt object is already gone).
    """

    def stop(*_: Any) -> None:
        controls._alive[0] = False
        controls._warmup_stop.set()
        controls._next_warmup = None
        for worker in (controls.worker, controls.warmup_worker):
            if worker is not None:
                try:
                    worker.quit()
                except RuntimeError:  # pragma: no cover - worker deleted too
                    pass

    return stop
