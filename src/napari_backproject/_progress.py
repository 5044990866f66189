"""Progress reporting and cancellation shared by long-running operations.

Convention: a long operation accepts ``progress: Callable[[int, int], None]``
(``done``, ``total``) and calls it as work completes. A caller cancels by
raising :class:`Cancelled` from inside that callback; writers delete their
temporary output before re-raising, so nothing half-written is left behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

ProgressCallback = Callable[[int, int], None]


class Cancelled(Exception):
    """Raised (usually from a progress callback) to stop a long operation."""


def report(progress: ProgressCallback | None, done: int, total: int) -> None:
    """Call ``progress(done, total)`` when a callback was given."""
    if progress is not None:
        progress(int(done), int(total))


@dataclass(frozen=True)
class Progress:
    """A progress update yielded by a generator job: ``done`` of ``total``."""

    done: int
    total: int
    message: str = ""


def chunk_bounds(array, axis: int = 0) -> list[tuple[int, int]]:
    """``(start, stop)`` of each chunk of ``array`` along ``axis``.

    Dask arrays use their own chunks; NumPy (and other) arrays are treated as
    one slice per chunk.

    Examples
    --------
    >>> import numpy as np
    >>> chunk_bounds(np.zeros((3, 2)))
    [(0, 1), (1, 2), (2, 3)]
    """
    chunks = getattr(array, "chunks", None)
    if chunks is not None and isinstance(chunks[0], tuple):
        sizes = chunks[axis]
    else:
        sizes = (1,) * array.shape[axis]
    bounds, start = [], 0
    for size in sizes:
        bounds.append((start, start + int(size)))
        start += int(size)
    return bounds


def iter_chunks(array, axis: int = 0) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield ``(start, stop, block)`` along ``axis``, computing one block at a time.

    Memory is bounded by one chunk: a dask array is never computed whole.

    Examples
    --------
    >>> import numpy as np
    >>> [(a, b, blk.shape) for a, b, blk in iter_chunks(np.zeros((2, 3)))]
    [(0, 1, (1, 3)), (1, 2, (1, 3))]
    """
    for start, stop in chunk_bounds(array, axis):
        index = [slice(None)] * array.ndim
        index[axis] = slice(start, stop)
        block = array[tuple(index)]
        if hasattr(block, "compute"):
            block = block.compute()
        yield start, stop, np.asarray(block)
