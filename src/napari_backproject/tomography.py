"""Radon transform, filtered back projection and SART, drop-in for scikit-image.

:func:`radon`, :func:`iradon` and :func:`iradon_sart` take the same
parameters (names, order, defaults) as the functions of the same names in
``skimage.transform`` (0.24-0.26), return the same shapes, dtypes and numbers
(to floating-point rounding) and raise the same errors and warnings; they run
on parallel numba kernels. :func:`radon_stack` and :func:`iradon_stack` apply
them lazily to stacks of slices (NumPy, dask or zarr in, dask out, one chunk
per slice by default), and :func:`iradon_sart_iter` yields the SART estimate
after every iteration.

Differences from scikit-image, all on inputs scikit-image would silently turn
into garbage: non-finite values, an empty ``theta`` and a non-positive
``output_size`` raise ``ValueError``; ``iradon_sart`` never modifies the
``image`` passed in.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator, Sequence
from typing import Any
from warnings import warn

import numpy as np

from ._fbp_filter import filtered_projections
from ._progress import ProgressCallback, report
from ._threads import thread_budget, usable_cpus
from .kernels.fbp import (
    CUBIC,
    HAVE_PERMUTE,
    LINEAR,
    NEAREST,
    backproject,
    backproject_serial,
    linear_table,
)
from .kernels.radon import (
    N_SLABS,
    nonzero_radius,
    radon_project,
    radon_project_serial,
    support_slabs,
)
from .kernels.tomo_sart import golden_ratio_order, sart_angles_serial
from .kernels.tomo_sart import hamming_windows as _hamming_windows

__all__ = [
    "radon",
    "iradon",
    "iradon_sart",
    "iradon_sart_iter",
    "radon_stack",
    "iradon_stack",
    "order_angles_golden_ratio",
]

_FILTERS = ("ramp", "shepp-logan", "cosine", "hamming", "hann", None)
_INTERPOLATIONS = ("linear", "nearest", "cubic")
_SART_REPORT_EVERY = 16
# below this many pixel-angle updates a call runs on one thread: starting and
# synchronising threads costs more than it saves (and a lot on a busy machine)
_PARALLEL_MIN_WORK = 4_000_000


def _use_threads(parallel: bool | None, work: int) -> int:
    """Threads for a numba ``prange`` kernel: 1 runs the serial kernel.

    ``None`` decides from the work and :func:`thread_budget` (the CPUs this
    process may use, numba's thread count, 1 in a dask worker's task);
    ``True`` uses the budget, ``False`` one thread.
    """
    if parallel is None and work < _PARALLEL_MIN_WORK:
        return 1
    return thread_budget() if (parallel is None or parallel) else 1


@contextlib.contextmanager
def _numba_threads(threads: int):
    """Run numba's parallel kernels on at most ``threads`` threads.

    numba's thread count is per calling thread; it is restored after.
    """
    import numba

    before = numba.get_num_threads()
    if threads >= before:
        yield
        return
    numba.set_num_threads(threads)
    try:
        yield
    finally:
        numba.set_num_threads(before)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def _convert_to_float(image: np.ndarray, preserve_range: bool) -> np.ndarray:
    """scikit-image's ``convert_to_float`` (float32 stays float32)."""
    if image.dtype == np.float16:
        return image.astype(np.float32)
    if preserve_range:
        if image.dtype.char not in "df":
            image = image.astype(float)
        return image
    from skimage.util import img_as_float

    return img_as_float(image)


def _float_dtype(dtype: np.dtype, preserve_range: bool) -> np.dtype:
    """The dtype :func:`_convert_to_float` gives for input ``dtype``."""
    return _convert_to_float(np.zeros((1, 1), dtype=dtype), preserve_range).dtype


def _as_2d_array(image: Any, what: str, message: str) -> np.ndarray:
    if not hasattr(image, "ndim") or not hasattr(image, "shape"):
        image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(message)
    arr = np.asarray(image)
    if arr.size == 0:
        raise ValueError(
            f"{what} is empty (shape {arr.shape}); pass a non-empty 2-D array."
        )
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{what} must be a real numeric array, got dtype {arr.dtype}; "
            "convert it, e.g. with `np.asarray(a, dtype=float)`."
        )
    return arr


def _check_finite(arr: np.ndarray, what: str) -> None:
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(
            f"{what} contains NaN or infinite values; replace them first, "
            f"e.g. with `np.nan_to_num({what.split()[0]})`."
        )


def _check_theta(theta: Any, n: int | None = None) -> np.ndarray:
    th = np.asarray(theta)
    if th.ndim != 1:
        raise ValueError(
            f"theta must be a 1-D sequence of angles in degrees, got shape {th.shape}."
        )
    if th.size == 0:
        raise ValueError(
            "theta is empty; give at least one projection angle in degrees, "
            "e.g. `np.linspace(0, 180, 180, endpoint=False)`."
        )
    if th.dtype.kind not in "biuf":
        raise TypeError(f"theta must hold numbers (degrees), got dtype {th.dtype}.")
    if not np.isfinite(th).all():
        raise ValueError("theta contains NaN or infinite angles; give finite degrees.")
    return th


def order_angles_golden_ratio(theta: Sequence[float] | np.ndarray) -> Iterator[int]:
    """Yield indices into ``theta`` in golden-ratio order (as scikit-image).

    Parameters
    ----------
    theta : array of float, shape (M,)
        Projection angles in degrees; no duplicates.

    Yields
    ------
    int
        Each index ``0 <= i < M`` exactly once.

    Examples
    --------
    >>> [int(i) for i in order_angles_golden_ratio(np.array([0.0, 45.0, 90.0, 135.0]))]
    [0, 2, 3, 1]
    """
    th = np.asarray(theta)
    if th.dtype == np.float64 and th.ndim == 1:
        # the same steps compiled (skimage's copies a list at every step)
        yield from (int(i) for i in golden_ratio_order(th, np.argsort(th)))
        return
    # other dtypes: scikit-image's own, whose arithmetic follows the dtype
    from skimage.transform import order_angles_golden_ratio as _sk_order

    yield from _sk_order(th)


# --------------------------------------------------------------------------
# radon
# --------------------------------------------------------------------------
def radon(
    image: np.ndarray,
    theta: Sequence[float] | np.ndarray | None = None,
    circle: bool = True,
    *,
    preserve_range: bool = False,
    parallel: bool | None = None,
) -> np.ndarray:
    """Radon transform (sinogram) of a 2-D image; drop-in for scikit-image's.

    Parameters
    ----------
    image : (M, N) array
        Input image. The rotation axis is the pixel
        ``(image.shape[0] // 2, image.shape[1] // 2)``.
    theta : array of float, optional
        Projection angles in degrees. Default ``np.arange(180)``.
    circle : bool, optional
        Assume the image is zero outside the inscribed circle; the sinogram
        then has ``min(image.shape)`` detector bins. A warning is issued if
        it is not zero there (the data are still used, as in scikit-image).
    preserve_range : bool, optional
        Keep the original range of values; otherwise convert with
        ``img_as_float`` conventions.
    parallel : bool or None, optional
        Keyword only (not in scikit-image). Use all numba threads (``True``),
        only the calling thread (``False``), or decide from the problem size
        (``None``, default). Results are identical either way.

    Returns
    -------
    sinogram : (n_det, len(theta)) array
        float32 for float16/float32 input, float64 otherwise. The rotation
        axis is at detector ``n_det // 2``.

    Raises
    ------
    ValueError
        If ``image`` is not 2-D, is empty or holds NaN/inf, or ``theta`` is
        empty or not 1-D.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((32, 32)); img[12:20, 12:20] = 1.0
    >>> radon(img, theta=np.arange(0, 180, 45)).shape
    (32, 4)
    """
    image = _as_2d_array(image, "image", "The input image must be 2-D")
    _check_finite(image, "image values")
    if theta is None:
        theta = np.arange(180)
    theta = _check_theta(theta)

    image = _convert_to_float(image, preserve_range)
    dtype = image.dtype

    if circle:
        shape_min = min(image.shape)
        radius = shape_min // 2
        img_shape = np.array(image.shape)
        rr = (np.arange(image.shape[0]) - img_shape[0] // 2) ** 2
        cc = (np.arange(image.shape[1]) - img_shape[1] // 2) ** 2
        outside = (rr[:, None] + cc[None, :]) > radius**2
        if np.any(image[outside]):
            warn(
                "Radon transform: image must be zero outside the reconstruction circle",
                stacklevel=2,
            )
        slices = tuple(
            (
                slice(int(np.ceil(excess / 2)), int(np.ceil(excess / 2) + shape_min))
                if excess > 0
                else slice(None)
            )
            for excess in (img_shape - shape_min)
        )
        work = np.ascontiguousarray(image[slices])
        size = shape_min
        off_r = off_c = 0
    else:
        diagonal = np.sqrt(2) * max(image.shape)
        pad = [int(np.ceil(diagonal - s)) for s in image.shape]
        padded_shape = [s + p for s, p in zip(image.shape, pad, strict=True)]
        if padded_shape[0] != padded_shape[1]:
            raise ValueError("padded_image must be a square")
        new_center = [(s + p) // 2 for s, p in zip(image.shape, pad, strict=True)]
        old_center = [s // 2 for s in image.shape]
        off_r, off_c = (nc - oc for oc, nc in zip(old_center, new_center, strict=True))
        work = np.ascontiguousarray(image)
        size = padded_shape[0]

    center = size // 2
    support = float(nonzero_radius(work, float(center - off_r), float(center - off_c)))
    # a polygon around the non-zero pixels: samples outside it are exact zeros
    slabs = support_slabs(work, N_SLABS)

    angles = np.deg2rad(theta)
    cos_a = np.cos(angles)
    sin_a = np.sin(angles)
    mats = np.empty((len(theta), 6), dtype=np.float64)
    mats[:, 0] = cos_a
    mats[:, 1] = sin_a
    mats[:, 2] = -center * (cos_a + sin_a - 1)
    mats[:, 3] = -sin_a
    mats[:, 4] = cos_a
    mats[:, 5] = -center * (cos_a - sin_a - 1)
    # warp() casts the matrix to the image dtype before sampling
    mats = mats.astype(dtype).astype(np.float64)

    out = np.empty((len(theta), size), dtype=dtype)
    threads = _use_threads(parallel, size * size * len(theta))
    if threads > 1:
        with _numba_threads(threads):
            radon_project(work, mats, size, off_r, off_c, support, slabs, out)
    else:
        radon_project_serial(work, mats, size, off_r, off_c, support, slabs, out)
    return np.ascontiguousarray(out.T)


# --------------------------------------------------------------------------
# iradon (filtered back projection)
# --------------------------------------------------------------------------
def iradon(
    radon_image: np.ndarray,
    theta: Sequence[float] | np.ndarray | None = None,
    output_size: int | None = None,
    filter_name: str | None = "ramp",
    interpolation: str = "linear",
    circle: bool = True,
    preserve_range: bool = True,
    *,
    parallel: bool | None = None,
) -> np.ndarray:
    """Filtered back projection; drop-in for ``skimage.transform.iradon``.

    Parameters
    ----------
    radon_image : (n_det, n_angles) array
        Sinogram, one column per angle; rotation axis at detector
        ``n_det // 2``.
    theta : array of float, optional
        Angles in degrees. Default: ``n_angles`` angles evenly spaced in
        ``[0, 180)``.
    output_size : int, optional
        Rows and columns of the reconstruction. Default ``n_det`` if
        ``circle`` else ``floor(sqrt(n_det**2 / 2))``.
    filter_name : {'ramp', 'shepp-logan', 'cosine', 'hamming', 'hann', None}
        Frequency-domain filter.
    interpolation : {'linear', 'nearest', 'cubic'}
        Interpolation along the detector.
    circle : bool, optional
        Assume the object is zero outside the inscribed circle (pixels
        outside it are set to zero).
    preserve_range : bool, optional
        Keep the range of integer input (converted to float64).
    parallel : bool or None, optional
        Keyword only (not in scikit-image). Use all numba threads (``True``),
        only the calling thread (``False``), or decide from the problem size
        (``None``, default). Results are identical either way.

    Returns
    -------
    reconstructed : (output_size, output_size) array
        float32 for float16/float32 input, float64 otherwise.

    Raises
    ------
    ValueError
        Not 2-D, ``theta`` length different from the number of columns,
        empty ``theta``, NaN/inf values, non-positive ``output_size``,
        unknown filter or interpolation.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((32, 32)); img[12:20, 12:20] = 1.0
    >>> theta = np.linspace(0, 180, 32, endpoint=False)
    >>> iradon(radon(img, theta), theta).shape
    (32, 32)
    """
    radon_image = _as_2d_array(
        radon_image, "radon_image", "The input image must be 2-D"
    )

    if theta is None:
        theta = np.linspace(0, 180, radon_image.shape[1], endpoint=False)
    angles_count = len(theta)
    if angles_count != radon_image.shape[1]:
        raise ValueError(
            "The given ``theta`` does not match the number of "
            "projections in ``radon_image``."
        )
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"Unknown interpolation: {interpolation}")
    if filter_name not in _FILTERS:
        raise ValueError(f"Unknown filter: {filter_name}")
    theta = _check_theta(theta)
    _check_finite(radon_image, "radon_image values")

    radon_image = _convert_to_float(radon_image, preserve_range)
    dtype = radon_image.dtype

    img_shape = radon_image.shape[0]
    if output_size is None:
        if circle:
            output_size = img_shape
        else:
            output_size = int(np.floor(np.sqrt((img_shape) ** 2 / 2.0)))
    output_size = _check_output_size(output_size)

    threads = _use_threads(parallel, output_size * output_size * angles_count)
    radius = output_size // 2
    # the largest |t| the output pixels read (none when cubic: the spline
    # through each projection needs every bin)
    reach = None
    if interpolation == "linear" and circle:
        reach = float(radius)  # pixels within the circle: |t| <= radius
    elif interpolation != "cubic":
        # nearest rounds up to half a bin; corners of the square: r * sqrt 2
        reach = radius * (1.0 if circle else np.sqrt(2.0)) + 2.0
    # one FFT worker on the serial path (stacks run slices side by side)
    filtered, _, _ = filtered_projections(
        radon_image, filter_name, circle, reach, threads
    )
    n_det = filtered.shape[1]

    angles = np.deg2rad(theta)
    cos_a = np.ascontiguousarray(np.cos(angles), dtype=np.float64)
    sin_a = np.ascontiguousarray(np.sin(angles), dtype=np.float64)
    reconstructed = np.zeros((output_size, output_size), dtype=dtype)
    if interpolation == "linear":
        kind = LINEAR
        # values and np.interp's slopes (bins outside [n0, n1) are zero and
        # never read)
        table = linear_table(filtered)
    elif interpolation == "nearest":
        kind = NEAREST
        table = filtered
    else:
        from scipy.interpolate import CubicSpline

        if n_det < 4:
            raise ValueError(
                "cubic interpolation needs at least 4 detector bins; "
                "use interpolation='linear'."
            )
        kind = CUBIC
        x = np.arange(n_det) - n_det // 2
        spline = CubicSpline(x, filtered, axis=1, bc_type="not-a-knot")
        table = np.ascontiguousarray(spline.c.transpose(2, 1, 0)).reshape(
            filtered.shape[0], -1
        )
    args = (kind, table, cos_a, sin_a, n_det, radius, bool(circle), reconstructed)
    if threads > 1:
        with _numba_threads(threads):
            backproject(*args, HAVE_PERMUTE)
    else:
        backproject_serial(*args, HAVE_PERMUTE)
    # in place, in scikit-image's order: (reconstructed * pi) / (2 * n)
    reconstructed *= np.pi
    reconstructed /= 2 * angles_count
    return reconstructed


def _check_output_size(output_size: Any) -> int:
    if isinstance(output_size, bool) or not isinstance(output_size, (int, np.integer)):
        raise TypeError(f"output_size must be a positive integer, got {output_size!r}.")
    if output_size <= 0:
        raise ValueError(
            f"output_size must be a positive integer, got {output_size}; "
            "leave it as None for the default size."
        )
    return int(output_size)


# --------------------------------------------------------------------------
# SART
# --------------------------------------------------------------------------
@functools.lru_cache(maxsize=8)
def _windows(n: int, dtype: np.dtype) -> np.ndarray:
    """Hamming windows of an ``(n, n)`` SART image (read only by the kernels)."""
    return _hamming_windows(n, dtype.type(0))


class _SartSetup:
    """Validated inputs of one SART reconstruction."""

    def __init__(
        self,
        radon_image,
        theta,
        image,
        projection_shifts,
        clip,
        relaxation,
        dtype,
        parallel=None,
    ):
        radon_image = _as_2d_array(
            radon_image, "radon_image", "radon_image must be two dimensional"
        )
        if dtype is None:
            if radon_image.dtype.char in "fd":
                dtype = radon_image.dtype
            else:
                warn(
                    "Only floating point data type are valid for SART inverse "
                    "radon transform. Input data is cast to float. To disable "
                    "this warning, please cast image_radon to float.",
                    stacklevel=3,
                )
                dtype = np.dtype(float)
        elif np.dtype(dtype).char not in "fd":
            raise ValueError(
                "Only floating point data type are valid for inverse radon transform."
            )
        dtype = np.dtype(dtype)
        radon_image = radon_image.astype(dtype, copy=False)
        _check_finite(radon_image, "radon_image values")
        shape = (radon_image.shape[0], radon_image.shape[0])
        n_angles = radon_image.shape[1]

        if theta is None:
            theta = np.linspace(0, 180, n_angles, endpoint=False, dtype=dtype)
        elif len(theta) != n_angles:
            raise ValueError(
                f"Shape of theta ({len(theta)}) does not match the "
                f"number of projections ({n_angles})"
            )
        else:
            theta = np.asarray(_check_theta(theta), dtype=dtype)

        if image is None:
            image = np.zeros(shape, dtype=dtype)
        else:
            if np.shape(image) != shape:
                raise ValueError(
                    f"Shape of image ({np.shape(image)}) does not match first "
                    f"dimension of radon_image ({shape})"
                )
            if np.asarray(image).dtype != dtype:
                warn(
                    f"image dtype does not match output dtype: image is cast to {dtype}",
                    stacklevel=3,
                )
            image = np.array(image, dtype=dtype, copy=True)  # never modify the caller's
            _check_finite(image, "image values")

        if projection_shifts is None:
            projection_shifts = np.zeros((n_angles,), dtype=dtype)
        elif len(projection_shifts) != n_angles:
            raise ValueError(
                f"Shape of projection_shifts ({len(projection_shifts)}) does not "
                f"match the number of projections ({n_angles})"
            )
        else:
            projection_shifts = np.asarray(projection_shifts, dtype=dtype)
        if clip is not None:
            if len(clip) != 2:
                raise ValueError("clip must be a length-2 sequence")
            clip = np.asarray(clip, dtype=dtype)

        self.dtype = dtype
        self.projections = np.ascontiguousarray(radon_image.T)
        self.theta = theta
        self.image = image
        self.shifts = projection_shifts
        self.clip = clip
        self.relaxation = dtype.type(relaxation)
        self.order = np.fromiter(order_angles_golden_ratio(theta), dtype=np.int64)
        self.windows = _windows(shape[0], dtype)
        # None: two Python threads that split the rays of every angle when
        # the image is large enough (measured faster from 128 x 128 on the
        # 2-core dev VM); one thread for small images and when asked
        if parallel is None:
            parallel = shape[0] >= self._THREADS_MIN_SIZE and thread_budget() > 1
        self.parallel = bool(parallel)

    _THREADS_MIN_SIZE = 128
    # each thread prefetches the image lines of the ray this many rays
    # ahead (0: none); always, see _ct/tuning.py for the measurements
    _PREFETCH_RAYS = 6
    # checks of a barrier (~30 ns each) before a waiting thread yields the CPU
    _SPINS = 20_000
    # row padding (elements) of the working copy: rows of a power-of-two
    # length alias in the cache and the scatter runs twice as slow
    _ROW_PAD = 16

    def iterate(self, progress: ProgressCallback | None, done: int, total: int) -> None:
        """One SART pass over all angles, in place on ``self.image``."""
        n = self.image.shape[0]
        # padded working copy; copied back even when cancelled (the estimate
        # then holds every angle applied so far)
        image = np.zeros((n, n + self._ROW_PAD), dtype=self.dtype)
        image[:, :n] = self.image
        zero = self.dtype.type(0)
        lo = self.clip[0] if self.clip is not None else zero
        hi = self.clip[1] if self.clip is not None else zero
        do_clip = self.clip is not None
        order = self.order
        thetas = np.ascontiguousarray(self.theta[order])
        projections = np.ascontiguousarray(self.projections[order])
        shifts = np.ascontiguousarray(self.shifts[order])
        args = (thetas, projections, shifts, lo, hi, do_clip, progress, done, total)
        try:
            if self.parallel:
                self._iterate_threads(image, *args)
            else:
                self._iterate_serial(image, *args)
        finally:
            self.image[...] = image[:, :n]

    def _iterate_serial(
        self, image, thetas, projections, shifts, lo, hi, do_clip, *prog
    ):
        progress, done, total = prog
        n = len(thetas)
        for start in range(0, n, _SART_REPORT_EVERY):
            stop = min(n, start + _SART_REPORT_EVERY)
            sart_angles_serial(
                image,
                thetas[start:stop],
                projections[start:stop],
                shifts[start:stop],
                self.relaxation,
                lo,
                hi,
                do_clip,
                self.windows,
            )
            report(progress, done + stop, total)

    def _iterate_threads(
        self, image, thetas, projections, shifts, lo, hi, do_clip, *prog
    ):
        """Two threads (this one and a helper) split the rays of every angle.

        Per angle: each thread adds the updates of its half of the rays to
        the shared image (:func:`sart_rays`; the few rays next to the other
        half are only recorded), a barrier, each thread adds the recorded
        rays to its half of the rows and clips them (:func:`sart_apply`), a
        barrier. Both run :func:`sart_steps`, which waits at the barriers by
        spinning on an atomic counter without the GIL; after a long wait it
        returns, and the thread yields the CPU before it carries on. This
        thread runs the angles in blocks and reports progress (which may
        raise) between them; when it stops, it sets the abort flag, and the
        helper returns at its next barrier (and the other way round if the
        helper fails).
        """
        import threading
        import time

        from .kernels.tomo_sart import (
            clip_outside,
            new_record,
            new_ring,
            new_scratch,
            sart_steps,
            update_rows,
        )

        progress, done, total = prog
        parts = 2
        n = image.shape[0]
        rows = update_rows(n)
        record = new_record(parts, n)
        record[3][2] = self._PREFETCH_RAYS
        # never spin on a CPU the other thread needs: with one usable CPU a
        # waiting thread yields at once
        spins = self._SPINS if usable_cpus() > 1 else 1
        if do_clip:
            clip_outside(image, lo, hi, rows)
        sync = np.zeros(2, dtype=np.int64)  # [barrier counter, abort]
        failed: list[BaseException] = []
        relax = getattr(os, "sched_yield", None) or (lambda: time.sleep(0))
        fixed = (image, thetas, projections, shifts, self.relaxation)
        fixed += (lo, hi, do_clip, rows, self.windows)

        def run(part, scratch, step0, step1):
            """Steps [step0, step1) on this thread; False if aborted."""
            s = step0
            while s < step1:
                s = sart_steps(
                    *fixed, *scratch, record, sync, part, parts, s, step1, spins
                )
                if s < 0:
                    return False
                if s < step1:  # the other thread is late: let it run
                    relax()
            return True

        def helper():
            try:
                run(1, (new_ring(n), new_scratch(n)), 0, 2 * len(thetas))
            except BaseException as exc:  # a kernel failed: stop this thread too
                failed.append(exc)
                sync[1] = 1

        thread = threading.Thread(target=helper, name="sart-helper", daemon=True)
        thread.start()
        try:
            scratch = (new_ring(n), new_scratch(n))
            for start in range(0, len(thetas), _SART_REPORT_EVERY):
                stop = min(len(thetas), start + _SART_REPORT_EVERY)
                if not run(0, scratch, 2 * start, 2 * stop):
                    break  # the helper failed
                report(progress, done + stop, total)
        except BaseException:
            sync[1] = 1  # the helper stops at its next barrier
            raise
        finally:
            thread.join()
        if failed:
            raise failed[0]


def iradon_sart(
    radon_image: np.ndarray,
    theta: Sequence[float] | np.ndarray | None = None,
    image: np.ndarray | None = None,
    projection_shifts: Sequence[float] | np.ndarray | None = None,
    clip: Sequence[float] | None = None,
    relaxation: float = 0.15,
    dtype: Any = None,
    *,
    progress: ProgressCallback | None = None,
    parallel: bool | None = None,
) -> np.ndarray:
    """One SART iteration; drop-in for ``skimage.transform.iradon_sart``.

    Parameters
    ----------
    radon_image : (M, N) array
        Sinogram, one column per angle.
    theta : (N,) array of float, optional
        Angles in degrees. Default: evenly spaced in ``[0, 180)``.
    image : (M, M) array, optional
        Initial estimate (default zeros). It is copied, never modified.
    projection_shifts : (N,) array, optional
        Shift of each projection, in pixels.
    clip : length-2 sequence of float, optional
        Clip the estimate to ``[clip[0], clip[1]]`` after every angle.
    relaxation : float, optional
        Relaxation factor of the update.
    dtype : dtype, optional
        Floating output dtype; default the input's float dtype, float64 for
        other input (with a warning).
    progress : callable, optional
        Keyword only. Called as ``progress(done, total)`` over the angles;
        raise :class:`napari_backproject._progress.Cancelled` in it to stop.
    parallel : bool or None, optional
        Keyword only. ``True`` splits the rays of each angle between the
        calling thread and a helper thread (two barriers per angle);
        ``False`` runs on the calling thread only; ``None`` (default) uses
        two threads for images of 128 x 128 and more when the machine has
        more than one CPU. Results agree to rounding.

    Returns
    -------
    reconstructed : (M, M) array of ``dtype``

    Raises
    ------
    ValueError
        Not 2-D, mismatched ``theta``/``image``/``projection_shifts``,
        bad ``clip``, non-float ``dtype``, NaN/inf values, empty ``theta``.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((32, 32)); img[12:20, 12:20] = 1.0
    >>> theta = np.linspace(0, 180, 32, endpoint=False)
    >>> iradon_sart(radon(img, theta), theta).shape
    (32, 32)
    """
    setup = _SartSetup(
        radon_image, theta, image, projection_shifts, clip, relaxation, dtype, parallel
    )
    setup.iterate(progress, 0, len(setup.order))
    return setup.image


def iradon_sart_iter(
    radon_image: np.ndarray,
    theta: Sequence[float] | np.ndarray | None = None,
    n_iter: int = 1,
    image: np.ndarray | None = None,
    projection_shifts: Sequence[float] | np.ndarray | None = None,
    clip: Sequence[float] | None = None,
    relaxation: float = 0.15,
    dtype: Any = None,
    *,
    progress: ProgressCallback | None = None,
    parallel: bool | None = None,
) -> Iterator[np.ndarray]:
    """Run ``n_iter`` SART iterations, yielding the estimate after each.

    Iteration ``k`` equals calling :func:`iradon_sart` with ``image`` set to
    the estimate after iteration ``k - 1``.

    Parameters
    ----------
    radon_image, theta, image, projection_shifts, clip, relaxation, dtype
        As in :func:`iradon_sart`.
    n_iter : int
        Number of iterations (>= 1).
    progress : callable, optional
        ``progress(done, total)`` over all angles of all iterations.
    parallel : bool or None, optional
        As in :func:`iradon_sart`.

    Yields
    ------
    numpy.ndarray
        A fresh copy of the estimate after each iteration.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((32, 32)); img[12:20, 12:20] = 1.0
    >>> theta = np.linspace(0, 180, 32, endpoint=False)
    >>> estimates = list(iradon_sart_iter(radon(img, theta), theta, n_iter=2))
    >>> len(estimates)
    2
    """
    n_iter = _check_n_iter(n_iter)
    setup = _SartSetup(
        radon_image, theta, image, projection_shifts, clip, relaxation, dtype, parallel
    )
    n = len(setup.order)
    for it in range(n_iter):
        setup.iterate(progress, it * n, n_iter * n)
        yield setup.image.copy()


def _check_n_iter(n_iter: Any) -> int:
    if (
        isinstance(n_iter, bool)
        or not isinstance(n_iter, (int, np.integer))
        or n_iter < 1
    ):
        raise ValueError(f"n_iter must be an integer >= 1, got {n_iter!r}.")
    return int(n_iter)


# --------------------------------------------------------------------------
# lazy stacks
# --------------------------------------------------------------------------
def _as_dask_stack(stack: Any, what: str, slices_per_chunk: int):
    import dask.array as da

    if not hasattr(stack, "ndim") or not hasattr(stack, "shape"):
        stack = np.asarray(stack)
    if stack.ndim != 3:
        raise ValueError(
            f"{what} must be 3-D (slices first), got {stack.ndim}-D with shape "
            f"{tuple(stack.shape)}; for one 2-D slice use the 2-D function."
        )
    if 0 in stack.shape:
        raise ValueError(f"{what} is empty (shape {tuple(stack.shape)}).")
    if (
        isinstance(slices_per_chunk, bool)
        or not isinstance(slices_per_chunk, (int, np.integer))
        or slices_per_chunk < 1
    ):
        raise ValueError(
            f"slices_per_chunk must be an integer >= 1, got {slices_per_chunk!r}."
        )
    if np.dtype(stack.dtype).kind not in "biuf":
        raise TypeError(f"{what} must be real numeric, got dtype {stack.dtype}.")
    chunks = (int(slices_per_chunk), stack.shape[1], stack.shape[2])
    if isinstance(stack, da.Array):
        return stack.rechunk(chunks)
    return da.from_array(stack, chunks=chunks)


def _slice_chunks(arr, shape_tail: tuple[int, int]) -> tuple:
    return (arr.chunks[0], (shape_tail[0],), (shape_tail[1],))


def radon_stack(
    volume: Any,
    theta: Sequence[float] | np.ndarray | None = None,
    circle: bool = True,
    *,
    preserve_range: bool = False,
    slices_per_chunk: int = 1,
):
    """Lazy Radon transform of every slice of a stack.

    Parameters
    ----------
    volume : (n, M, N) array-like (NumPy, dask, zarr, memmap)
        Slices first.
    theta, circle, preserve_range
        As in :func:`radon`.
    slices_per_chunk : int, optional
        Slices per dask chunk (default 1: computing one slice reads and
        transforms only that slice). Each chunk runs on one thread; dask's
        scheduler runs chunks in parallel.

    Returns
    -------
    dask.array.Array
        Shape ``(n, n_det, len(theta))``, chunked by slice.

    Raises
    ------
    ValueError
        Not 3-D, empty, bad ``theta`` or ``slices_per_chunk`` (NaN/inf are
        reported when the slice is computed).

    Examples
    --------
    >>> import numpy as np
    >>> vol = np.zeros((4, 32, 32)); vol[:, 12:20, 12:20] = 1.0
    >>> sino = radon_stack(vol, theta=np.arange(0, 180, 10))
    >>> sino.shape, sino.chunksize
    ((4, 32, 18), (1, 32, 18))
    """
    arr = _as_dask_stack(volume, "volume", slices_per_chunk)
    theta = np.arange(180) if theta is None else _check_theta(theta)
    n_det = min(arr.shape[1:]) if circle else None
    if n_det is None:
        diagonal = np.sqrt(2) * max(arr.shape[1:])
        n_det = arr.shape[1] + int(np.ceil(diagonal - arr.shape[1]))
    out_dtype = _float_dtype(arr.dtype, preserve_range)

    def block(b: np.ndarray) -> np.ndarray:
        out = np.empty((b.shape[0], n_det, len(theta)), dtype=out_dtype)
        for i in range(b.shape[0]):
            out[i] = radon(
                b[i], theta, circle, preserve_range=preserve_range, parallel=False
            )
        return out

    return arr.map_blocks(
        block,
        dtype=out_dtype,
        chunks=_slice_chunks(arr, (n_det, len(theta))),
        meta=np.empty((0, 0, 0), dtype=out_dtype),
    )


_FBP_KWARGS = {
    "output_size",
    "filter_name",
    "interpolation",
    "circle",
    "preserve_range",
}
_SART_KWARGS = {"n_iter", "projection_shifts", "clip", "relaxation", "dtype"}


def iradon_stack(
    sinograms: Any,
    theta: Sequence[float] | np.ndarray | None = None,
    method: str = "fbp",
    *,
    slices_per_chunk: int = 1,
    **kwargs: Any,
):
    """Lazy reconstruction of every sinogram of a stack (FBP or SART).

    Parameters
    ----------
    sinograms : (n, n_det, n_angles) array-like (NumPy, dask, zarr)
        One sinogram per slice.
    theta : array of float, optional
        Angles in degrees (default evenly spaced in ``[0, 180)``).
    method : {'fbp', 'sart'}
        ``'fbp'`` uses :func:`iradon` (kwargs ``output_size``,
        ``filter_name``, ``interpolation``, ``circle``, ``preserve_range``);
        ``'sart'`` runs ``n_iter`` (default 1) iterations of
        :func:`iradon_sart` (kwargs ``n_iter``, ``projection_shifts``,
        ``clip``, ``relaxation``, ``dtype``).
    slices_per_chunk : int, optional
        Slices per dask chunk (default 1).
    **kwargs
        Forwarded as described above.

    Returns
    -------
    dask.array.Array
        Shape ``(n, S, S)``, chunked by slice.

    Raises
    ------
    ValueError
        Not 3-D, unknown ``method``, bad ``theta``, filter, interpolation,
        output size, ``n_iter``.
    TypeError
        A keyword argument the chosen method does not take.

    Examples
    --------
    >>> import numpy as np
    >>> sino = np.zeros((3, 32, 16))
    >>> iradon_stack(sino, method="fbp", filter_name="hann").shape
    (3, 32, 32)
    """
    if method not in ("fbp", "sart"):
        raise ValueError(f"Unknown method: {method!r}; use 'fbp' or 'sart'.")
    allowed = _FBP_KWARGS if method == "fbp" else _SART_KWARGS
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise TypeError(
            f"iradon_stack(method={method!r}) got unexpected keyword argument(s) "
            f"{unknown}; allowed: {sorted(allowed)}."
        )
    arr = _as_dask_stack(sinograms, "sinograms", slices_per_chunk)
    n_det, n_angles = arr.shape[1], arr.shape[2]
    if theta is None:
        theta = np.linspace(0, 180, n_angles, endpoint=False)
    theta = _check_theta(theta)
    if len(theta) != n_angles:
        raise ValueError(
            f"Shape of theta ({len(theta)}) does not match the number of "
            f"projections ({n_angles}) in the sinograms (last axis)."
        )

    if method == "fbp":
        filter_name = kwargs.get("filter_name", "ramp")
        interpolation = kwargs.get("interpolation", "linear")
        circle = kwargs.get("circle", True)
        if interpolation not in _INTERPOLATIONS:
            raise ValueError(f"Unknown interpolation: {interpolation}")
        if filter_name not in _FILTERS:
            raise ValueError(f"Unknown filter: {filter_name}")
        output_size = kwargs.get("output_size")
        if output_size is None:
            output_size = n_det if circle else int(np.floor(np.sqrt(n_det**2 / 2.0)))
        output_size = _check_output_size(output_size)
        fbp_kwargs = dict(kwargs, output_size=output_size)
        out_dtype = _float_dtype(arr.dtype, kwargs.get("preserve_range", True))

        def block(b: np.ndarray) -> np.ndarray:
            out = np.empty((b.shape[0], output_size, output_size), dtype=out_dtype)
            for i in range(b.shape[0]):
                out[i] = iradon(b[i], theta, parallel=False, **fbp_kwargs)
            return out

        size = output_size
    else:
        n_iter = _check_n_iter(kwargs.pop("n_iter", 1))
        dtype = kwargs.get("dtype")
        if dtype is None:
            out_dtype = (
                arr.dtype if np.dtype(arr.dtype).char in "fd" else np.dtype(float)
            )
        elif np.dtype(dtype).char not in "fd":
            raise ValueError(
                "Only floating point data type are valid for inverse radon transform."
            )
        else:
            out_dtype = np.dtype(dtype)
        sart_kwargs = dict(kwargs, dtype=out_dtype)

        def block(b: np.ndarray) -> np.ndarray:
            out = np.empty((b.shape[0], n_det, n_det), dtype=out_dtype)
            for i in range(b.shape[0]):
                for est in iradon_sart_iter(
                    b[i], theta, n_iter=n_iter, parallel=False, **sart_kwargs
                ):
                    out[i] = est
            return out

        size = n_det

    return arr.map_blocks(
        block,
        dtype=out_dtype,
        chunks=_slice_chunks(arr, (size, size)),
        meta=np.empty((0, 0, 0), dtype=out_dtype),
    )
