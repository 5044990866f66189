"""Read a (lazy) array block by block along axis 0, at a cost linear in its size.

``data[a:b].compute()`` in a loop re-optimises the *whole* dask graph at every
call (dask materialises every blockwise layer to cull it), so writing an
array of ``n`` blocks cost ``O(n^2)``: 3 s of 17 s for a 512^3
backprojection, and the share grows with the volume. :func:`iter_blocks`
optimises and materialises the graph once, then computes each block from the
culled sub-graph of just its own chunks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

__all__ = ["is_dask", "iter_blocks"]


def is_dask(data: Any) -> bool:
    """True for a dask collection (array).

    Examples
    --------
    >>> import dask.array as da
    >>> is_dask(da.zeros(3)), is_dask(np.zeros(3))
    (True, False)
    """
    return type(data).__module__.split(".")[0] == "dask" and hasattr(data, "dask")


def iter_blocks(
    data: Any, ranges: Iterable[tuple[int, int]]
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield ``(start, stop, block)`` with ``block = np.asarray(data[start:stop])``.

    Parameters
    ----------
    data : array_like
        NumPy, dask, zarr, a tifffile memmap, or anything sliceable along
        axis 0.
    ranges : iterable of (int, int)
        Half-open ranges along axis 0, in any order.

    Yields
    ------
    start, stop : int
    block : numpy.ndarray
        C-contiguous.

    Examples
    --------
    >>> import dask.array as da
    >>> x = da.arange(12, chunks=5).reshape(6, 2)
    >>> [b.sum().item() for _, _, b in iter_blocks(x, [(0, 3), (3, 6)])]
    [15, 51]
    """
    if not is_dask(data):
        for a, b in ranges:
            yield a, b, np.ascontiguousarray(np.asarray(data[a:b]))
        return

    import dask
    from dask.optimization import cull

    if data.ndim > 1 and any(n > 1 for n in data.numblocks[1:]):
        data = data.rechunk({k: -1 for k in range(1, data.ndim)})
    (opt,) = dask.optimize(data)
    dsk = dict(opt.__dask_graph__())
    tail = (0,) * (opt.ndim - 1)
    bounds = np.cumsum((0,) + tuple(int(c) for c in opt.chunks[0]))
    get = dask.base.get_scheduler(collections=[opt]) or dask.threaded.get
    # In-process schedulers keep the intermediate results of the previous
    # block (e.g. input chunks that consecutive output slabs share), so each
    # is computed once when blocks are read in order.
    keep = get in (dask.threaded.get, dask.local.get_sync)
    cache: dict = {}
    for a, b in ranges:
        if b <= a:
            yield a, b, np.empty((0,) + tuple(opt.shape[1:]), dtype=opt.dtype)
            continue
        first = int(np.searchsorted(bounds, a, side="right") - 1)
        last = int(np.searchsorted(bounds, b - 1, side="right") - 1)
        keys = [(opt.name, i, *tail) for i in range(first, last + 1)]
        sub, _ = cull(dsk, keys)
        if keep:
            hit = {k: cache[k] for k in sub if k in cache}  # ndarrays only
            if hit:
                sub, _ = cull({**sub, **hit}, keys)
            want = list(sub)
            values = dict(zip(want, get(sub, want), strict=True))
            parts = [values.pop(k) for k in keys]
            cache = {k: v for k, v in values.items() if isinstance(v, np.ndarray)}
        else:
            parts = get(sub, keys)
        block = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)
        lo = a - int(bounds[first])
        yield a, b, np.ascontiguousarray(block[lo : lo + (b - a)])
