"""How many threads one CT call uses.

Counts come from :func:`napari_backproject._threads.thread_budget` (the CPUs
this process may use, numba's thread count, 1 inside a dask worker's task),
never from ``os.cpu_count()``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from .._threads import thread_budget
from .tuning import PARALLEL_MIN_WORK

__all__ = ["numba_threads", "use_threads"]


def use_threads(parallel: bool | None, work: int) -> int:
    """Threads for a numba ``prange`` kernel; 1 means the serial kernel.

    ``None`` decides from ``work`` (pixel-angle updates) and the thread
    budget, ``True`` uses the budget, ``False`` one thread.

    Examples
    --------
    >>> use_threads(False, 10**9)
    1
    >>> use_threads(None, 10)
    1
    """
    if parallel is None:
        if work < PARALLEL_MIN_WORK:
            return 1
    elif not parallel:
        return 1
    return thread_budget()


@contextlib.contextmanager
def numba_threads(threads: int) -> Iterator[None]:
    """Run numba's parallel kernels on at most ``threads`` threads.

    numba's thread count belongs to the calling thread; it is restored after.

    Examples
    --------
    >>> import numba
    >>> with numba_threads(1):
    ...     numba.get_num_threads()
    1
    """
    import numba

    from ..kernels._threading import prefer_sleeping_workers

    prefer_sleeping_workers()
    before = numba.get_num_threads()
    if threads >= before:
        yield
        return
    numba.set_num_threads(max(1, threads))
    try:
        yield
    finally:
        numba.set_num_threads(before)
