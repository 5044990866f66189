"""numba kernels: pure array code, no I/O, no napari, no dask.

Kernels are called from several threads at once (dask's threaded scheduler,
napari workers). Importing this package changes no numba setting: numba
picks its threading layer at the first parallel launch (by default the first
of TBB, OpenMP and ``workqueue`` that loads, or ``NUMBA_THREADING_LAYER``).
TBB and OpenMP accept launches from several threads; ``workqueue`` does not,
so every parallel kernel is launched inside :func:`parallel_launch`, which
serialises launches when (and only when) that layer is in use.
"""

from ._threading import parallel_launch

__all__ = ["parallel_launch"]
