"""The atomic intrinsics of ``kernels/llvm/atomic.py``."""

from __future__ import annotations

import numpy as np


def test_atomic_ops_are_atomic_across_threads():
    """Two nogil threads add to one counter and pass a spin barrier
    together many times: no lost update, no thread ever runs ahead."""
    import threading

    import numba

    from napari_backproject.kernels.llvm.atomic import (
        atomic_add,
        atomic_load,
        atomic_store,
        spin_until,
    )

    @numba.njit(nogil=True)
    def add_many(sync, count):
        for _ in range(count):
            atomic_add(sync, 2, 1)

    @numba.njit(nogil=True)
    def rounds(sync, seen, part, count):
        for r in range(count):
            atomic_store(seen, part, r)
            atomic_add(sync, 0, 1)
            if spin_until(sync, 0, 2 * (r + 1), 1, 1 << 40) != 1:
                return -1
            # both threads have written round r and none has started r + 1
            if atomic_load(seen, 1 - part) < r:
                return r
            if atomic_add(sync, 3, 1) < 0:  # second counter, as a barrier
                return -2
            if spin_until(sync, 3, 2 * (r + 1), 1, 1 << 40) != 1:
                return -1
        return count

    sync = np.zeros(4, dtype=np.int64)
    threads = [threading.Thread(target=add_many, args=(sync, 200_000)) for _ in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sync[2] == 400_000

    seen = np.zeros(2, dtype=np.int64)
    out = [None, None]

    def run(part):
        out[part] = rounds(sync, seen, part, 5_000)

    threads = [threading.Thread(target=run, args=(p,)) for p in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == [5_000, 5_000]
    assert sync[0] == sync[3] == 10_000
