"""Qt-free jobs behind the dock widgets (and their small helpers).

Each job is a generator function: it validates its inputs, calls the public
API (:func:`~napari_backproject.radon`, :func:`~napari_backproject.iradon`,
:func:`~napari_backproject.straighten`, ...), yields
:class:`~napari_backproject._progress.Progress` updates (and, for
reconstructions, :class:`Partial` results) and returns the result. The
widgets run them in a napari worker; scripts and tests can simply iterate
them. Nothing here imports Qt or napari.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import tomography
from ._job_inputs import (
    _check_finite,
)
from ._progress import Cancelled, Progress, iter_chunks
from .backproject import backproject, write_backprojection
from .io.tiff import read_tiff
from .slice_geometry import SliceGeometry
from .straighten import save_straightened, straighten

__all__ = [
    "Partial",
    "backproject_job",
    "fbp_job",
    "sart_job",
    "saving_job",
    "sinogram_job",
    "straighten_job",
]


@dataclass(frozen=True)
class Partial:
    """An intermediate result: ``block`` fills slices ``[start, stop)``.

    ``start`` is None for a 2D result (``block`` is the whole image);
    ``shape``/``dtype`` describe the full result.
    """

    start: int | None
    stop: int | None
    block: np.ndarray
    shape: tuple[int, ...]


def _plane(data: Any, index: int | None = None) -> np.ndarray:
    plane = data if index is None else data[index]
    if hasattr(plane, "compute"):
        plane = plane.compute()
    return np.asarray(plane)


def fbp_job(data: Any, theta: np.ndarray, **kwargs: Any):
    """Generator job: filtered back projection of one sinogram or a stack.

    ``kwargs`` go to ``iradon`` (``filter_name``, ``interpolation``,
    ``output_size``, ``circle``). Yields ``Progress`` and, for stacks, a
    :class:`Partial` per chunk; returns the reconstruction.

    Examples
    --------
    >>> import numpy as np
    >>> gen = fbp_job(np.zeros((8, 4)), np.arange(0, 180, 45.0))
    >>> items = []
    >>> try:
    ...     while True:
    ...         items.append(next(gen))
    ... except StopIteration as stop:
    ...     stop.value.shape
    (8, 8)
    """
    theta = np.asarray(theta, dtype=float)
    if data.ndim == 2:
        yield Progress(0, 1, "FBP")
        image = tomography.iradon(_plane(data), theta=theta, **kwargs)
        yield Progress(1, 1, "FBP")
        return image
    lazy = tomography.iradon_stack(data, theta=theta, method="fbp", **kwargs)
    out = np.empty(lazy.shape, dtype=lazy.dtype)
    total = int(lazy.shape[0])
    yield Progress(0, total, "FBP")
    for start, stop, block in iter_chunks(lazy):
        out[start:stop] = block
        yield Partial(start, stop, block, out.shape)
        yield Progress(stop, total, f"FBP slice {stop}/{total}")
    return out


def sart_job(data: Any, theta: np.ndarray, *, iterations: int = 1, **kwargs: Any):
    """Generator job: SART, yielding the image after every iteration.

    ``kwargs`` go to ``iradon_sart`` (``relaxation``, ``clip``). Stacks are
    reconstructed slice by slice. Yields a :class:`Partial` and a
    ``Progress`` after each iteration; returns the reconstruction.

    Examples
    --------
    >>> import numpy as np
    >>> gen = sart_job(np.zeros((8, 4)), np.arange(0, 180, 45.0), iterations=2)
    >>> parts = []
    >>> try:
    ...     while True:
    ...         parts.append(next(gen))
    ... except StopIteration as stop:
    ...     stop.value.shape, sum(isinstance(p, Partial) for p in parts)
    ((8, 8), 2)
    """
    if int(iterations) < 1:
        raise ValueError(f"iterations must be >= 1; got {iterations}.")
    theta = np.asarray(theta, dtype=float)
    stack = data.ndim == 3
    n = int(data.shape[0]) if stack else 1
    total = n * int(iterations)
    out = None
    yield Progress(0, total, "SART")
    for i in range(n):
        plane = _plane(data, i if stack else None)
        image = None
        steps = tomography.iradon_sart_iter(
            plane, theta=theta, n_iter=int(iterations), **kwargs
        )
        for k, image in enumerate(steps):
            shape = (n, *image.shape) if stack else image.shape
            if out is None:
                out = np.zeros(shape, dtype=image.dtype)
            if stack:
                out[i] = image
                yield Partial(i, i + 1, image[None].copy(), shape)
            else:
                out = image
                yield Partial(None, None, image.copy(), shape)
            done = i * int(iterations) + k + 1
            msg = f"SART iteration {k + 1}/{iterations}"
            yield Progress(done, total, msg + (f", slice {i + 1}/{n}" if stack else ""))
    return out


def sinogram_job(data: Any, theta: np.ndarray, circle: bool):
    """Generator job: the sinogram(s) of ``data``, one chunk at a time.

    Yields :class:`~napari_backproject._progress.Progress` after every chunk
    (so a JobControls Cancel stops it there) and returns the sinogram:
    ``(detector, angle)`` for a 2D image, ``(slice, detector, angle)`` for a
    stack.

    Examples
    --------
    >>> import numpy as np
    >>> stack = np.zeros((2, 8, 8)); stack[:, 3:5, 3:5] = 1.0
    >>> gen = sinogram_job(stack, np.arange(0, 180, 45.0), True)
    >>> try:
    ...     while True:
    ...         _ = next(gen)
    ... except StopIteration as stop:
    ...     stop.value.shape
    (2, 8, 4)
    """
    theta = np.asarray(theta, dtype=float)
    if data.ndim == 2:
        yield Progress(0, 1, "Radon transform")
        plane = data.compute() if hasattr(data, "compute") else np.asarray(data)
        sino = tomography.radon(plane, theta=theta, circle=circle)
        yield Progress(1, 1, "Radon transform")
        return sino
    lazy = tomography.radon_stack(data, theta=theta, circle=circle)
    out = np.empty(lazy.shape, dtype=lazy.dtype)
    total = int(lazy.shape[0])
    yield Progress(0, total, "Radon transform")
    for start, stop, block in iter_chunks(lazy):
        out[start:stop] = block
        yield Progress(stop, total, f"slice {stop}/{total}")
    return out


def straighten_job(
    volume: Any,
    path: np.ndarray,
    options: dict,
    save_to: Path | None = None,
    compression: str = "zlib",
    abort_requested=lambda: False,
    units: tuple[str, ...] | None = None,
):
    """Generator job: straighten chunk by chunk, then (optionally) save.

    Yields :class:`~napari_backproject._progress.Progress` after every chunk
    and returns ``(data, geometry, saved_paths)``. A NumPy volume is
    straightened into memory, chunk of planes by chunk of planes, so the work
    can be reported and cancelled. A lazy volume (dask, zarr, a lazily read
    tiff) gives a lazy result: nothing is computed here unless it is saved,
    and napari then computes only the planes it shows.
    ``abort_requested()`` is polled while saving; a cancelled save leaves no
    file. ``units`` (the source's axis units, e.g. ``("µm",) * 3``) are kept
    in the geometry's options and in the saved file's metadata. A NumPy
    volume with NaN or infinite values is refused (they would spread).

    Examples
    --------
    >>> gen = straighten_job(vol, pts, {"width": 9, "height": 9})  # doctest: +SKIP
    """
    import dask.array as da

    in_memory = isinstance(volume, np.ndarray)
    if in_memory:
        _check_finite(volume, "the image to straighten")
        volume = da.from_array(volume, chunks=volume.shape)
    lazy, geometry = straighten(volume, path, **options)
    if units:
        geometry.options["units"] = [str(u) for u in units]
    n = lazy.shape[0]
    if in_memory:
        out = np.empty(lazy.shape, dtype=lazy.dtype)
        yield Progress(0, n, "Straightening…")
        for start, stop, block in iter_chunks(lazy):
            out[start:stop] = block
            yield Progress(stop, n, f"Straightened {stop}/{n} planes")
    else:
        out = lazy
        yield Progress(n, n, f"{n} planes, computed as they are shown")
    saved: tuple = ()
    if save_to is not None:
        state = {"done": 0, "total": n}

        def _progress(done: int, total: int) -> None:
            state.update(done=done, total=total)
            if abort_requested():
                raise Cancelled

        yield Progress(0, n, f"Saving {save_to.name}…")
        try:
            saved = save_straightened(
                save_to,
                out,
                geometry,
                compression=compression,
                progress=_progress,
                metadata={"units": list(units)} if units else None,
            )
        except Cancelled:
            yield Progress(state["done"], state["total"], "Cancelled")
            return None  # the worker aborts at the yield above
        yield Progress(n, n, f"Saved {save_to.name}")
    return out, geometry, tuple(saved)


def _write_polling(
    data: Any,
    geometry: SliceGeometry,
    save_to: Path,
    options: dict,
    compression: str,
    abort_requested,
):
    """Run :func:`write_backprojection` in a helper thread, yielding its progress.

    Returns ``(path, offset)``, or None when cancelled (the writer removes
    its temporary file when its progress callback raises ``Cancelled``).
    """
    state: dict[str, Any] = {"done": 0, "total": 1, "result": None, "error": None}
    stop = threading.Event()

    def _progress(done: int, total: int) -> None:
        state["done"], state["total"] = done, total
        if stop.is_set() or abort_requested():
            raise Cancelled

    def _target() -> None:
        try:
            state["result"] = write_backprojection(
                data,
                geometry,
                save_to,
                compression=compression,
                progress=_progress,
                **options,
            )
        except BaseException as exc:  # re-raised in the job below
            state["error"] = exc

    thread = threading.Thread(target=_target, daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.05)
            yield Progress(state["done"], state["total"], f"Writing {save_to.name}…")
    finally:  # closed early (job aborted): stop the writer, which cleans up
        if thread.is_alive():
            stop.set()
            thread.join()
    error = state["error"]
    if isinstance(error, Cancelled):
        return None
    if error is not None:
        raise error
    return state["result"]


def backproject_job(
    data: Any,
    geometry: SliceGeometry,
    options: dict,
    save_to: Path | None = None,
    compression: str = "zlib",
    abort_requested=lambda: False,
):
    """Generator job: backproject chunk by chunk (or stream to a file).

    Without ``save_to`` the lazy result is computed one slab at a time into a
    NumPy array; with ``save_to`` it is streamed to that TIFF by
    :func:`~napari_backproject.backproject.write_backprojection` and opened
    lazily. Yields :class:`~napari_backproject._progress.Progress`; returns
    ``(data, offset, saved_path_or_None)``, or None when cancelled.

    Examples
    --------
    >>> gen = backproject_job(labels, geometry, {"extent": "bbox"})  # doctest: +SKIP
    """
    if save_to is not None:
        result = yield from _write_polling(
            data, geometry, save_to, options, compression, abort_requested
        )
        if result is None:
            yield Progress(0, 1, "Cancelled")  # the worker aborts here
            return None
        path, offset = result
        if str(path).lower().endswith(".zarr"):  # an OME-Zarr pyramid: level 0
            from .io.ome_zarr import read_volume

            lazy, _ = read_volume(path)
        else:
            lazy, _ = read_tiff(path)
        return lazy, tuple(offset), path
    lazy, offset = backproject(data, geometry, lazy=True, **options)
    out = np.zeros(lazy.shape, dtype=lazy.dtype)
    n = lazy.shape[0]
    yield Progress(0, n, "Backprojecting…")
    for start, stop, block in iter_chunks(lazy):
        out[start:stop] = block
        yield Progress(stop, n, f"Backprojected {stop}/{n} planes")
    return out, tuple(offset), None


def saving_job(
    job: Any,
    *args: Any,
    save_to: Path | None = None,
    write: dict | None = None,
    **kwargs: Any,
):
    """Run the generator job ``job(*args, **kwargs)``, then save its result.

    The result (an array) is written to the TIFF ``save_to`` with
    :func:`napari_backproject.io.write_tiff` (keyword arguments ``write``:
    metadata, scale, translate, compression); a 2D result stays 2D on disk.
    Yields what ``job`` yields, then ``Progress`` while saving; returns the
    result. A cancelled or failed save leaves no file.

    Examples
    --------
    >>> import os, tempfile
    >>> out = os.path.join(tempfile.mkdtemp(), "sino.tif")
    >>> gen = saving_job(sinogram_job, np.ones((8, 8)), [0.0, 90.0], True,
    ...                  save_to=Path(out), write={"metadata": {"kind": "sinogram"}})
    >>> try:
    ...     while True:
    ...         _ = next(gen)
    ... except StopIteration as stop:
    ...     stop.value.shape, os.path.exists(out)
    ((8, 2), True)
    """
    from .io.tiff import write_tiff

    result = yield from job(*args, **kwargs)
    if save_to is None or result is None:
        return result
    yield Progress(0, 1, f"Saving {save_to.name}…")
    write_tiff(result, save_to, **(write or {}))
    yield Progress(1, 1, f"Saved {save_to.name}")
    return result
