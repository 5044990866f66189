"""Progress reporting and cancellation shared by long-running operations.

Convention: a long operation accepts ``progress: Callable[[int, int], None]``
(``done``, ``total``) and calls it as work completes. A caller cancels by
raising :class:`Cancelled` from inside that callback; writers delete their
temporary output before re-raising, so nothing half-written is left behind.
"""

from __future__ import annotations

from collections.abc import Callable

ProgressCallback = Callable[[int, int], None]


class Cancelled(Exception):
    """Raised (usually from a progress callback) to stop a long operation."""


def report(progress: ProgressCallback | None, done: int, total: int) -> None:
    """Call ``progress(done, total)`` when a callback was given."""
    if progress is not None:
        progress(int(done), int(total))
