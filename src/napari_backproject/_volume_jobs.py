"""Qt-free job behind the Reconstruct widget's projection-stack mode.

A projection stack ``(angle, row, column)`` is reconstructed lazily by
:func:`napari_backproject.reconstruct_volume`; :class:`RowCache` keeps the
rows already computed (within a memory budget) and offers the volume as a
dask array that reads through it, so the row computed in the background is
not computed again when napari shows it or a writer streams it.
:func:`volume_job` computes the row the user looks at first, then either
streams the volume to a TIFF or OME-Zarr file or fills the cache outwards
from the row on screen, yielding progress after every row.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._progress import Cancelled, Progress

__all__ = ["RowCache", "RowShown", "volume_job", "write_volume", "VOLUME_SUFFIXES"]

#: file name endings the volume can be saved to
VOLUME_SUFFIXES = (".tif", ".tiff", ".zarr")


class RowCache:
    """Rows of a lazy volume, kept once computed (least recently used go first).

    Parameters
    ----------
    volume : dask.array.Array
        ``(row, y, x)``, e.g. from :func:`napari_backproject.reconstruct_volume`.
    budget : int, optional
        Bytes of rows to keep (default 512 MiB; at least one row is kept).

    Examples
    --------
    >>> import dask.array as da
    >>> cache = RowCache(da.ones((4, 3, 3), chunks=(1, 3, 3)), budget=2 * 72)  # two float64 rows
    >>> cache.capacity, cache.row(2).shape, cache.has(2), cache.has(1)
    (2, (3, 3), True, False)
    >>> cache.array()[1:3].sum().compute()
    np.float64(18.0)
    """

    def __init__(self, volume: Any, budget: int = 512 * 2**20) -> None:
        if getattr(volume, "ndim", None) != 3:
            raise ValueError(
                f"RowCache needs a 3-D (row, y, x) array, got {type(volume)}."
            )
        self.volume = volume
        self.shape = tuple(int(s) for s in volume.shape)
        self.dtype = np.dtype(volume.dtype)
        row_bytes = max(1, self.shape[1] * self.shape[2] * self.dtype.itemsize)
        #: how many rows are kept
        self.capacity = max(1, int(budget) // row_bytes)
        #: how many rows were computed (not read from the cache)
        self.computed = 0
        self._rows: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._busy: dict[int, threading.Event] = {}

    def has(self, r: int) -> bool:
        """Whether row ``r`` is in the cache."""
        with self._lock:
            return int(r) in self._rows

    def row(self, r: int) -> np.ndarray:
        """Row ``r``, from the cache or computed now (and kept)."""
        r = int(r)
        while True:
            with self._lock:
                if r in self._rows:
                    self._rows.move_to_end(r)
                    return self._rows[r]
                busy = self._busy.get(r)
                if busy is None:  # ours to compute
                    busy = self._busy[r] = threading.Event()
                    break
            busy.wait()  # another thread computes it: take its result
        try:
            # callbacks=[]: dask's global callbacks (napari's opportunistic
            # cache, registered while napari slices a dask layer on the GUI
            # thread) are swapped in and out by every compute without its
            # own list, which is not thread-safe; this one stays out of them
            row = self.volume[r].compute(scheduler="synchronous", callbacks=[])
            image = np.asarray(row)
            image.setflags(write=False)
            with self._lock:
                self.computed += 1
                self._rows[r] = image
                while len(self._rows) > self.capacity:
                    self._rows.popitem(last=False)
        finally:
            with self._lock:
                self._busy.pop(r, None)
            busy.set()
        return image

    def full(self) -> bool:
        """Whether the cache holds as many rows as it may."""
        with self._lock:
            return len(self._rows) >= min(self.capacity, self.shape[0])

    def array(self):
        """The volume as a dask array (one row per chunk) that reads through the cache."""
        import dask.array as da

        def block(block_info: dict | None = None) -> np.ndarray:
            start, stop = block_info[None]["array-location"][0]
            return np.stack([self.row(r) for r in range(start, stop)])

        return da.map_blocks(
            block,
            chunks=((1,) * self.shape[0], (self.shape[1],), (self.shape[2],)),
            dtype=self.dtype,
            meta=np.empty((0, 0, 0), dtype=self.dtype),
            name=f"volume-rows-{uuid.uuid4().hex}",
        )


@dataclass(frozen=True)
class RowShown:
    """Yielded by :func:`volume_job` once the first row is ready to be shown."""

    row: int


def write_volume(
    data: Any,
    path: Path,
    *,
    scale: Any,
    translate: Any,
    metadata: dict,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Stream a ``(row, y, x)`` volume to TIFF or OME-Zarr (by ``path``'s ending).

    One row chunk at a time (:func:`napari_backproject.io.tiff.write_tiff`,
    :func:`napari_backproject.io.ome_zarr.write_ome_zarr`, which also writes
    coarser levels); the file appears under its name only when complete.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> p = Path(tempfile.mkdtemp()) / "v.zarr"
    >>> write_volume(np.ones((2, 8, 8), np.float32), p, scale=(1, 1, 1),
    ...              translate=(0, 0, 0), metadata={"center": 3.5}).name
    'v.zarr'
    """
    path = Path(path)
    if path.suffix.lower() == ".zarr":
        from .io.ome_zarr import write_ome_zarr

        return write_ome_zarr(
            data,
            path,
            scale=scale,
            translate=translate,
            kind="image",
            metadata=metadata,
            overwrite=True,
            progress=progress,
        )
    from .io.tiff import write_tiff

    return write_tiff(
        data,
        path,
        metadata=metadata,
        scale=scale,
        translate=translate,
        progress=progress,
    )


def _polling(
    function: Callable[[Callable[[int, int], None]], Any],
    what: str,
    abort_requested: Callable[[], bool] = lambda: False,
):
    """Run ``function(progress)`` in a helper thread, yielding its progress.

    Once ``abort_requested()`` is true or the generator is closed early (the
    job was cancelled), the next progress call raises :class:`Cancelled` in
    the helper thread, whose writer then removes its temporary output.
    Returns the function's result, or None when cancelled.
    """
    state: dict[str, Any] = {"done": 0, "total": 1, "result": None, "error": None}
    stop = threading.Event()

    def progress(done: int, total: int) -> None:
        state["done"], state["total"] = done, total
        if stop.is_set() or abort_requested():
            raise Cancelled

    def target() -> None:
        try:
            state["result"] = function(progress)
        except BaseException as exc:  # re-raised below
            state["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.05)
            yield Progress(state["done"], state["total"], what)
    finally:
        if thread.is_alive():
            stop.set()
            thread.join()
    if isinstance(state["error"], Cancelled):
        return None
    if state["error"] is not None:
        raise state["error"]
    return state["result"]


def volume_job(
    cache: RowCache,
    first_row: int,
    wanted: Callable[[], int | None] = lambda: None,
    *,
    prefetch: bool = True,
    save_to: Path | None = None,
    write: dict | None = None,
    abort_requested: Callable[[], bool] = lambda: False,
):
    """Generator job: the row on screen first, then the file or the other rows.

    Computes ``first_row`` and yields :class:`RowShown` (the widget then adds
    the layer, showing that row). With ``save_to``, streams
    ``cache.array()`` to that TIFF or OME-Zarr (``write``: ``scale``,
    ``translate``, ``metadata``); otherwise, when ``prefetch``, computes the
    other rows, always the one nearest to ``wanted()`` (the row on screen
    now) first, until all are done or the cache is full. A save stops, and
    leaves no file, once ``abort_requested()`` is true. Yields
    :class:`~napari_backproject._progress.Progress` after every row; returns
    ``{"computed": rows computed, "saved": path or None}``.

    Examples
    --------
    >>> import dask.array as da
    >>> cache = RowCache(da.ones((5, 4, 4), chunks=(1, 4, 4)))
    >>> items = []
    >>> gen = volume_job(cache, 2)
    >>> try:
    ...     while True:
    ...         items.append(next(gen))
    ... except StopIteration as stop:
    ...     result = stop.value
    >>> items[1], result
    (RowShown(row=2), {'computed': 5, 'saved': None})
    """
    n = cache.shape[0]
    first_row = int(np.clip(first_row, 0, n - 1))
    yield Progress(0, n, f"Reconstructing row {first_row}")
    cache.row(first_row)
    yield RowShown(first_row)
    saved = None
    if save_to is not None:
        write = dict(write or {})
        saved = yield from _polling(
            lambda progress: write_volume(
                cache.array(), save_to, progress=progress, **write
            ),
            f"Saving {save_to.name}…",
            abort_requested,
        )
        if saved is None:
            yield Progress(0, 1, "Cancelled")  # the worker aborts here
            return None
        yield Progress(1, 1, f"Saved {save_to.name}")
    elif prefetch:
        done = 1
        todo = set(range(n)) - {first_row}
        while todo and not cache.full():
            here = wanted()
            here = first_row if here is None else int(here)
            r = min(todo, key=lambda k: (abs(k - here), k))
            todo.discard(r)
            if not cache.has(r):
                cache.row(r)
            done += 1
            yield Progress(done, n, f"Reconstructed {done}/{n} rows")
    return {"computed": cache.computed, "saved": saved}
