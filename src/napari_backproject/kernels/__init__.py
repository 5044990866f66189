"""numba kernels: pure array code, no I/O, no napari, no dask.

Kernels are called from several threads at once (dask's threaded scheduler,
napari workers). numba's ``workqueue`` threading layer is not safe for that,
so unless the user chose a layer (``NUMBA_THREADING_LAYER``) we ask for a
thread-safe one (OpenMP or TBB).
"""

import os

import numba

if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "threadsafe"
