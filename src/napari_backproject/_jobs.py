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

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import tomography
from ._progress import Cancelled, Progress, iter_chunks
from .backproject import backproject, write_backprojection
from .io.tiff import read_tiff
from .slice_geometry import SliceGeometry
from .straighten import save_straightened, straighten

__all__ = [
    "Partial",
    "backproject_job",
    "check_output_path",
    "check_sinogram_orientation",
    "fbp_job",
    "same_geometry",
    "sart_job",
    "sinogram_job",
    "sinogram_theta",
    "straighten_job",
    "uniform_theta",
]

#: file name endings the widgets write
TIFF_SUFFIXES = (".tif", ".tiff")


def check_output_path(path: Any, suffixes: tuple[str, ...] = TIFF_SUFFIXES) -> Path:
    """Check an output file path before a job starts; return it as a Path.

    Parameters
    ----------
    path : str or PathLike
        The file to write.
    suffixes : tuple of str
        Accepted endings (lower case, with the dot).

    Raises
    ------
    ValueError
        ``path`` is a folder, has another ending, its folder does not exist
        or cannot be written to.

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> check_output_path(os.path.join(d, "out.tif")).name
    'out.tif'
    >>> check_output_path(os.path.join(d, "out.png"))
    Traceback (most recent call last):
    ...
    ValueError: save to: 'out.png' is not a TIFF file; use a name ending in .tif or .tiff.
    >>> os.mkdir(os.path.join(d, "done.zarr"))
    >>> check_output_path(os.path.join(d, "done.zarr"), (".tif", ".zarr"))
    Traceback (most recent call last):
    ...
    ValueError: save to: 'done.zarr' exists; choose a new name or delete it first (an OME-Zarr folder is never overwritten from a widget).
    """
    p = Path(path).expanduser()
    if p.suffix.lower() == ".zarr" and ".zarr" in suffixes and p.exists():
        raise ValueError(
            f"save to: {p.name!r} exists; choose a new name or delete it first "
            "(an OME-Zarr folder is never overwritten from a widget)."
        )
    if p.is_dir():
        raise ValueError(
            f"save to: {str(p)!r} is a folder; choose a file name in it, "
            f"e.g. {str(p / ('result' + suffixes[0]))!r}."
        )
    if p.suffix.lower() not in suffixes:
        ends = " or ".join(suffixes)
        raise ValueError(
            f"save to: {p.name!r} is not a "
            f"{'TIFF file' if '.zarr' not in suffixes else 'TIFF or OME-Zarr'}; "
            f"use a name ending in {ends}."
        )
    parent = p.resolve().parent
    if not parent.is_dir():
        raise ValueError(
            f"save to: the folder {str(parent)!r} does not exist; create it first."
        )
    if not os.access(parent, os.W_OK | os.X_OK) or (
        p.exists() and not os.access(p, os.W_OK)
    ):
        raise ValueError(
            f"save to: {str(p)!r} cannot be written (no permission); "
            "choose another folder."
        )
    return p


def same_geometry(a: SliceGeometry, b: SliceGeometry) -> bool:
    """Whether two geometries place the same planes (options such as ``order`` aside).

    Examples
    --------
    >>> from napari_backproject import SliceGeometry
    >>> kw = dict(source_shape=(8, 8, 8), source_dtype="uint8", scale=(1, 1, 1),
    ...           translate=(0, 0, 0), width=3, height=3, spacing=1.0,
    ...           centers=[[4, 4, 4]], tangents=[[1, 0, 0]], e_u=[[0, 0, 1]],
    ...           e_v=[[0, 1, 0]], path=[[4, 4, 4]])
    >>> same_geometry(SliceGeometry(**kw, options={"order": 0}),
    ...               SliceGeometry(**kw, options={"order": 1}))
    True
    """
    da, db = a.to_dict(), b.to_dict()
    da.pop("options", None)
    db.pop("options", None)
    return da == db


def check_sinogram_orientation(shape: tuple, metadata: dict | None) -> str | None:
    """A message when a sinogram looks transposed (angles on the detector axis).

    A sinogram is ``(detector, angle)`` (the last axis holds the angles). When
    the metadata's ``theta`` has as many values as the second-to-last axis but
    not the last one, the layer is most likely ``(angle, detector)``.

    Examples
    --------
    >>> check_sinogram_orientation((180, 400), {"theta": list(range(180))})[:30]
    'the sinogram looks transposed:'
    >>> check_sinogram_orientation((400, 180), {"theta": list(range(180))}) is None
    True
    """
    theta = (metadata or {}).get("theta")
    if theta is None or len(shape) < 2:
        return None
    k = int(np.size(theta))
    if k != int(shape[-1]) and k == int(shape[-2]):
        return (
            f"the sinogram looks transposed: its metadata has {k} angles, which "
            f"matches axis {len(shape) - 2} (size {shape[-2]}), not the angle axis "
            f"(the last, size {shape[-1]}). A sinogram is (detector, angle); "
            "transpose the layer's last two axes first."
        )
    return None


def available_memory() -> int | None:
    """Bytes of memory available to this process now, or None when unknown.

    Examples
    --------
    >>> m = available_memory()
    >>> m is None or m > 0
    True
    """
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return None


def check_memory(shape: tuple, dtype: Any, what: str) -> None:
    """Refuse a result of ``shape``/``dtype`` that cannot fit in memory.

    Raises
    ------
    ValueError
        The result needs more than the available memory.

    Examples
    --------
    >>> check_memory((2, 3), "uint8", "straighten")
    >>> check_memory((10**7, 10**6), "float64", "straighten")
    Traceback (most recent call last):
    ...
    ValueError: straighten: the result (10000000 x 1000000, float64) needs 76293945 MiB ...
    """
    need = int(np.prod(shape, dtype=np.float64)) * np.dtype(dtype).itemsize
    have = available_memory()
    if have is not None and need > have:
        dims = " x ".join(str(int(n)) for n in shape)
        raise ValueError(
            f"{what}: the result ({dims}, {np.dtype(dtype).name}) needs "
            f"{need // 2**20} MiB but only {have // 2**20} MiB are free; make it "
            "smaller (width, height, spacing) or save it to a file."
        )


def _check_finite(array: np.ndarray, what: str) -> None:
    if np.dtype(array.dtype).kind in "fc" and not np.isfinite(array).all():
        raise ValueError(
            f"{what} contains NaN or infinite values; replace them first "
            "(e.g. numpy.nan_to_num) so that they do not spread into the result."
        )


def uniform_theta(n_angles: int, start: float = 0.0, end: float = 180.0) -> np.ndarray:
    """``n_angles`` projection angles in degrees over ``[start, end)``.

    Parameters
    ----------
    n_angles : int
        Number of projections (at least 1).
    start, end : float
        Angle range in degrees; ``end`` is excluded and must exceed ``start``.

    Returns
    -------
    numpy.ndarray
        Float64 angles ``start + k * (end - start) / n_angles``.

    Examples
    --------
    >>> uniform_theta(4).tolist()
    [0.0, 45.0, 90.0, 135.0]
    """
    if int(n_angles) < 1:
        raise ValueError(f"the number of projections must be >= 1; got {n_angles}.")
    if not np.isfinite(start) or not np.isfinite(end) or end <= start:
        raise ValueError(
            f"the angle range must be finite with end > start; got [{start}, {end})."
        )
    return np.linspace(float(start), float(end), int(n_angles), endpoint=False)


def sinogram_theta(n_angles: int, metadata: dict | None) -> tuple[np.ndarray, str]:
    """Projection angles for a sinogram with ``n_angles`` columns.

    Parameters
    ----------
    n_angles : int
        Size of the sinogram's angle axis (its last axis).
    metadata : dict or None
        The layer's (or file's) metadata; its ``"theta"`` is used when it has
        exactly ``n_angles`` values.

    Returns
    -------
    theta : numpy.ndarray
        Angles in degrees.
    source : str
        ``"metadata"`` or ``"uniform"`` (uniform over [0, 180)); the latter
        also when the metadata's theta has the wrong length.

    Examples
    --------
    >>> sinogram_theta(3, {"theta": [0, 10, 20]})[1]
    'metadata'
    >>> sinogram_theta(4, None)[0].tolist()
    [0.0, 45.0, 90.0, 135.0]
    """
    if int(n_angles) < 1:
        raise ValueError(f"a sinogram needs at least one angle; got {n_angles}.")
    theta = (metadata or {}).get("theta")
    if theta is not None:
        theta = np.asarray(theta, dtype=float).ravel()
        if theta.size == int(n_angles) and np.all(np.isfinite(theta)):
            return theta, "metadata"
    return uniform_theta(int(n_angles)), "uniform"


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
