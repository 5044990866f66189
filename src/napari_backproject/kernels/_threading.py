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

OpenMP workers sleep. numba's ``omp`` layer (GNU libgomp) lets its workers
spin-wait after every parallel kernel (milliseconds on recent CPUs). Between
the per-slab kernels of a streamed job the process reads, thresholds and
compresses chunks in other threads; on a 2-core machine the spinning
workers took their CPU (one slab kernel: 13 ms instead of 1.3 ms). So
before our first parallel launch :func:`prefer_sleeping_workers` sets
``OMP_WAIT_POLICY=PASSIVE`` unless the user set it (libgomp reads it when
numba loads the layer, at the first launch; a layer already loaded keeps its
policy). Importing the package changes nothing.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
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
