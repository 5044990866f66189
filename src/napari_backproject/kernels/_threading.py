"""Launch parallel kernels safely from several threads, whatever numba's layer.

numba chooses its threading layer once, at the first parallel launch in the
process, and cannot switch afterwards. The layer is the user's choice
(``NUMBA_THREADING_LAYER`` or ``numba.config.THREADING_LAYER``); by default
numba takes the first of ``tbb``, ``omp`` and ``workqueue`` that loads. TBB
and OpenMP are thread-safe; ``workqueue`` aborts the process when two Python
threads launch parallel kernels at the same time. So rather than changing
numba's configuration, :func:`parallel_launch` holds a lock around each
launch until the chosen layer is known, and keeps holding it only when that
layer is ``workqueue``.

Serial ``nogil=True`` kernels can run on Python threads instead, with
:func:`run_tasks` (no threading layer involved; a parallel loop is also much
slower to compile).

OpenMP workers sleep. numba's ``omp`` layer (GNU libgomp) lets its workers
spin-wait after every parallel kernel (milliseconds on recent CPUs). Between
the per-slab kernels of a streamed job the process reads, thresholds and
compresses chunks in other threads; on a 2-core machine the spinning
workers took their CPU (measured when the pull still ran as a prange kernel:
one slab took 13 ms instead of 1.3 ms; straighten, splat and the CT
kernels still use prange). So
before our first parallel launch :func:`prefer_sleeping_workers` sets
``OMP_WAIT_POLICY=PASSIVE`` unless the user set it (libgomp reads it when
numba loads the layer, at the first launch; a layer already loaded keeps its
policy). Importing the package changes nothing.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numba

_lock = threading.Lock()
#: None: no parallel launch finished yet; True: launches may overlap
_concurrent: bool | None = None


def prefer_sleeping_workers() -> None:
    """Let OpenMP workers sleep between our kernels, unless the user chose.

    Called before every parallel launch of ours (cheap after the first).

    Examples
    --------
    >>> prefer_sleeping_workers()
    >>> os.environ["OMP_WAIT_POLICY"] in ("PASSIVE", "ACTIVE", "passive", "active")
    True
    """
    if "OMP_WAIT_POLICY" not in os.environ:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"


def _layer_is_threadsafe() -> bool | None:
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet
        return None
    return layer != "workqueue"


@contextmanager
def parallel_launch() -> Iterator[None]:
    """Context for calling a ``parallel=True`` kernel from any thread.

    Examples
    --------
    >>> import numpy as np
    >>> with parallel_launch():
    ...     total = float(np.ones(3).sum())  # a parallel kernel call goes here
    >>> total
    3.0
    """
    global _concurrent
    prefer_sleeping_workers()
    if _concurrent:
        yield
        return
    with _lock:
        yield
        _concurrent = _layer_is_threadsafe()


# ------------------------------------------------------------ task threads
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _reset_pool() -> None:  # a forked child has none of the parent's threads
    global _pool, _pool_lock
    _pool = None
    _pool_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_pool)


def _executor() -> ThreadPoolExecutor:
    """The process-wide pool that helps :func:`run_tasks` (made on first use)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            from .._threads import usable_cpus

            _pool = ThreadPoolExecutor(
                max_workers=usable_cpus(), thread_name_prefix="napari-backproject"
            )
        return _pool


def run_tasks(task: Callable[[int], None], n: int, threads: int) -> None:
    """Run ``task(0)``, ..., ``task(n - 1)`` on up to ``threads`` threads.

    The calling thread takes tasks too, and ``threads - 1`` helpers from a
    shared pool take the rest as they become free: no call waits for a task
    that has not started, so calls from several threads at once (each with
    its own tasks) always progress. ``task`` should release the GIL (a
    ``nogil=True`` kernel) for the threads to run at once. The first
    exception raised by a task is re-raised once every started task is done.

    Examples
    --------
    >>> out = [0] * 5
    >>> def square(i):
    ...     out[i] = i * i
    >>> run_tasks(square, 5, threads=2)
    >>> out
    [0, 1, 4, 9, 16]
    """
    threads = max(1, min(int(threads), n))
    if threads == 1:
        for i in range(n):
            task(i)
        return
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(n):
        todo.put(i)

    def work() -> None:
        while True:
            try:
                i = todo.get_nowait()
            except queue.Empty:
                return
            try:
                task(i)
            except BaseException:
                _drain(todo)  # the others stop after their current task
                raise

    pool = _executor()
    helpers = [pool.submit(work) for _ in range(threads - 1)]
    try:
        work()
    finally:
        for f in helpers:
            f.cancel()  # not started: nothing is left for it
        for f in helpers:
            if not f.cancelled():
                f.exception()  # wait (its error, if any, is raised below)
    for f in helpers:
        if not f.cancelled() and f.exception() is not None:
            raise f.exception()


def _drain(todo: queue.SimpleQueue) -> None:
    while True:
        try:
            todo.get_nowait()
        except queue.Empty:
            return
