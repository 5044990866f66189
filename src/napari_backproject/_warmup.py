"""First-use warm-up: compile a widget's kernels on tiny inputs, in the background.

numba compiles a kernel the first time it meets a signature (or loads it
from its on-disk cache). A widget calls :func:`run` in a worker thread when
it opens, with the operations it will need (``"sinogram"``, ``"fbp"``,
``"sart"``, ``"straighten"``, ``"backproject"``) and the dtypes its layers
have, so that pressing Run a few seconds later does not wait for the
compiler. The tiny inputs take the same compiled paths as a real run: the
same dtypes, the threaded *and* the serial path (``parallel=True`` first:
real images are usually large enough for threads), the pull backprojection
for each label dtype in use.

Qt-free: the widgets run :func:`run` in a napari worker. :func:`busy` tells
whether a key is being compiled right now (a job started then says
"compiling (first use only)").
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["KEYS", "busy", "enabled", "pending", "plan", "run"]

#: the operations that can be warmed up
KEYS = ("sinogram", "fbp", "sart", "straighten", "backproject")

_lock = threading.Lock()
_running: dict[tuple, int] = {}
_done: set[tuple] = set()


def enabled() -> bool:
    """Whether widgets warm up (``NAPARI_BACKPROJECT_WARMUP=0`` turns it off).

    Examples
    --------
    >>> isinstance(enabled(), bool)
    True
    """
    return os.environ.get("NAPARI_BACKPROJECT_WARMUP", "1") not in ("0", "false")


def _float_dtype(dtype: Any) -> np.dtype:
    """The float dtype the CT kernels use for ``dtype`` (scikit-image's rule)."""
    dt = np.dtype(dtype)
    return np.dtype(np.float32) if dt in (np.float16, np.float32) else np.dtype(float)


def plan(keys: Iterable[str], dtypes: Iterable[Any] = ()) -> list[tuple[str, str]]:
    """The ``(key, dtype)`` pairs to warm up for ``keys`` and layer ``dtypes``.

    CT keys use the float dtype their kernels would compute in (float64
    when no dtype is given); ``backproject`` uses each integer (label)
    dtype, plus float32 for intensity images; ``straighten`` the dtype as is.

    Examples
    --------
    >>> plan(["fbp"], [np.float32, np.uint8])
    [('fbp', 'float32'), ('fbp', 'float64')]
    >>> plan(["backproject"], [np.uint32])
    [('backproject', 'uint32')]
    """
    dtypes = [np.dtype(d) for d in dtypes] or [np.dtype(float)]
    out: list[tuple[str, str]] = []
    for key in keys:
        if key not in KEYS:
            raise ValueError(f"unknown warm-up key {key!r}; choose from {KEYS}.")
        if key in ("sinogram", "fbp", "sart"):
            chosen = [_float_dtype(d) for d in dtypes]
        elif key == "backproject":
            chosen = [d if d.kind in "iub" else np.dtype(np.float32) for d in dtypes]
        else:
            chosen = [d for d in dtypes if d.kind in "iuf"] or [np.dtype(float)]
        for d in chosen:
            item = (key, np.dtype(d).name)
            if item not in out:
                out.append(item)
    return out


def busy(keys: Iterable[str]) -> bool:
    """Whether any of ``keys`` is being compiled right now.

    Examples
    --------
    >>> busy(["fbp"])
    False
    """
    keys = set(keys)
    with _lock:
        return any(k in keys for k, _ in _running)


def _theta(n: int) -> np.ndarray:
    return np.linspace(0.0, 180.0, n, endpoint=False)


def _warm_one(key: str, dtype: str, stop: threading.Event | None = None) -> None:
    from . import tomography

    def stopped() -> bool:
        return stop is not None and stop.is_set()

    dt = np.dtype(dtype)
    if key == "sinogram":
        image = np.zeros((16, 16), dt)
        image[6:10, 6:10] = 1
        for parallel in (True, False):
            if stopped():
                return
            tomography.radon(image, _theta(8), parallel=parallel)
    elif key == "fbp":
        sino = np.ones((16, 8), dt)
        for parallel in (True, False):
            if stopped():
                return
            tomography.iradon(sino, _theta(8), parallel=parallel)
    elif key == "sart":
        sino = np.ones((16, 8), dt)
        for parallel in (True, False):
            if stopped():
                return
            for _ in tomography.iradon_sart_iter(
                sino, _theta(8), n_iter=1, parallel=parallel
            ):
                pass
    elif key == "straighten":
        from .straighten import straighten

        volume = np.zeros((12, 12, 12), dt)
        path = np.array([[2.0, 6, 6], [6, 6, 6], [9, 6, 6]])
        for order in (1, 0):
            if stopped():
                return
            data, _ = straighten(volume, path, width=4, height=4, order=order)
            np.asarray(data)
    elif key == "backproject":
        from .backproject import backproject
        from .geometry import make_slice_geometry

        # the geometry alone: straightening here would compile its kernels too
        path = np.array([[2.0, 6, 6], [6, 6, 6], [9, 6, 6]])
        geometry = make_slice_geometry(
            path, source_shape=(12, 12, 12), source_dtype=np.uint8, width=4, height=4
        )
        labels = np.zeros(geometry.straightened_shape, dt)
        labels[:, 1:3, 1:3] = 1
        # in memory first: it compiles the kernel every call needs; then a
        # dask input (a lazy layer), whose per-slab bounds are compiled too
        import dask.array as da

        for data in (labels, da.from_array(labels, chunks=4)):
            if stopped():
                return
            out, _ = backproject(data, geometry, method="pull")
            np.asarray(out)


def run(
    keys: Iterable[str],
    dtypes: Iterable[Any] = (),
    stop: threading.Event | None = None,
) -> list[tuple[str, str]]:
    """Compile the kernels of ``keys`` for ``dtypes`` (blocking); returns the pairs done.

    Pairs already warmed in this process are skipped, so calling this again
    (another widget, the same dtypes) costs nothing; a pair whose kernels
    are in numba's on-disk cache only loads them. Setting ``stop`` ends the
    warm-up after the kernel being compiled (a compilation cannot be
    interrupted): a job that starts then compiles only what it needs.
    Errors propagate (the widget logs them).

    Examples
    --------
    >>> run(["fbp"], [np.float64])  # doctest: +SKIP
    [('fbp', 'float64')]
    """
    todo = [p for p in plan(keys, dtypes) if p not in _done]
    with _lock:
        for p in todo:
            _running[p] = _running.get(p, 0) + 1
    finished = []
    try:
        for p in todo:
            if stop is not None and stop.is_set():
                break
            _warm_one(*p, stop=stop)
            if stop is None or not stop.is_set():
                _done.add(p)
                finished.append(p)
    finally:
        with _lock:
            for p in todo:
                _running[p] -= 1
                if _running[p] <= 0:
                    del _running[p]
    return finished


def pending(keys: Iterable[str], dtypes: Iterable[Any] = ()) -> bool:
    """Whether :func:`run` would have anything to do for ``keys``/``dtypes``.

    Examples
    --------
    >>> isinstance(pending(["fbp"]), bool)
    True
    """
    return enabled() and any(p not in _done for p in plan(keys, dtypes))
