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
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numba

_lock = threading.Lock()
#: None: no parallel launch finished yet; True: launches may overlap
_concurrent: bool | None = None


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
    if _concurrent:
        yield
        return
    with _lock:
        yield
        _concurrent = _layer_is_threadsafe()
