"""How many threads a step may use: the CPUs this process may run on.

Every thread count in the package comes from here, never from
``os.cpu_count()`` (which counts the machine's CPUs, not the ones a
container, ``taskset``, a batch system or a dask worker lets us use).
"""

from __future__ import annotations

import math
import os
import sys

__all__ = ["thread_budget", "usable_cpus"]


def _cgroup_quota() -> float | None:
    """CPUs allowed by a cgroup v2 quota (``cpu.max``), or None if unlimited."""
    try:
        with open("/sys/fs/cgroup/cpu.max", encoding="ascii") as f:
            quota, period = f.read().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    try:
        return max(1.0, float(quota) / float(period))
    except (ValueError, ZeroDivisionError):
        return None


def usable_cpus() -> int:
    """Number of CPUs this process may run on.

    The affinity mask (``os.sched_getaffinity``) where the platform has one,
    further limited by a cgroup v2 CPU quota; ``os.cpu_count()`` only where
    neither exists.

    Returns
    -------
    int
        At least 1.

    Examples
    --------
    >>> usable_cpus() >= 1
    True
    """
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    quota = _cgroup_quota()
    if quota is not None:
        n = min(n, math.floor(quota))
    return max(1, n)


def _in_dask_worker_task() -> bool:
    """True inside a task of a ``dask.distributed`` worker with several threads.

    A worker has imported ``distributed`` already: when it is not loaded,
    this is no worker task, and importing it (about a second) is not paid.
    """
    if "distributed" not in sys.modules:
        return False
    try:
        from distributed import get_worker
    except ImportError:
        return False
    try:
        worker = get_worker()
    except ValueError:  # not in a worker
        return False
    return getattr(worker.state, "nthreads", 1) > 1


def thread_budget() -> int:
    """Threads one call may use at most.

    The usable CPUs (:func:`usable_cpus`), capped by numba's thread count
    (``NUMBA_NUM_THREADS`` or :func:`numba.set_num_threads`); 1 inside a
    task of a multi-threaded ``dask.distributed`` worker, whose threads
    already run one task per CPU.

    Returns
    -------
    int
        At least 1.

    Examples
    --------
    >>> 1 <= thread_budget() <= usable_cpus()
    True
    """
    import numba

    if _in_dask_worker_task():
        return 1
    return max(1, min(usable_cpus(), numba.get_num_threads()))
