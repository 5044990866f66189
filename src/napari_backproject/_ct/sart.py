"""SART set-up and orchestration: input checks, one thread or two.

:class:`SartSetup` validates the inputs once (as scikit-image's
``iradon_sart`` does) and runs passes over all angles in place, on the
calling thread or on two
threads (:func:`..kernels.sart.sart_steps`). Thread counts come from
:mod:`.._threads`; the constants and their measurements are in
:mod:`.tuning`.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from warnings import warn

import numpy as np

from .._progress import ProgressCallback, report
from .._threads import thread_budget, usable_cpus
from ..kernels.sart import (
    SartJob,
    SartThread,
    clip_outside,
    golden_ratio_order,
    hamming_windows,
    new_record,
    new_ring,
    new_scratch,
    sart_steps,
    update_rows,
)
from ..kernels.sart.geometry import S_AHEAD
from . import tuning
from .validate import as_2d_array, check_finite, check_theta

__all__ = ["SartSetup", "golden_order"]


def golden_order(theta: np.ndarray) -> np.ndarray:
    """Indices of ``theta`` in scikit-image's golden-ratio order (int64)."""
    th = np.asarray(theta)
    if th.dtype == np.float64 and th.ndim == 1:
        # the same steps in plain Python on lists (scikit-image indexes an
        # array afresh at every step)
        return golden_ratio_order(th, np.argsort(th)).astype(np.int64)
    # other dtypes: scikit-image's own, whose arithmetic follows the dtype
    from skimage.transform import order_angles_golden_ratio as _sk_order

    return np.fromiter(_sk_order(th), dtype=np.int64)


@functools.lru_cache(maxsize=8)
def _windows(n: int, dtype: np.dtype) -> np.ndarray:
    """Hamming windows of an ``(n, n)`` SART image (read only by the kernels)."""
    return hamming_windows(n, dtype.type(0))


class SartSetup:
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
        radon_image = as_2d_array(
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
        check_finite(radon_image, "radon_image values")
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
            theta = np.asarray(check_theta(theta), dtype=dtype)

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
            check_finite(image, "image values")

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
        self.order = golden_order(theta)
        self.windows = _windows(shape[0], dtype)
        # None: two threads that split the rays of every angle when the
        # image is large enough and two CPUs are usable; one otherwise
        if parallel is None:
            parallel = shape[0] >= tuning.SART_THREADS_MIN_SIZE and thread_budget() > 1
        self.parallel = bool(parallel)

    # class attributes so that tests can vary them (see .tuning)
    prefetch_rays = tuning.SART_PREFETCH_RAYS
    spins = tuning.SART_SPINS

    def iterate(self, progress: ProgressCallback | None, done: int, total: int) -> None:
        """One SART pass over all angles, in place on ``self.image``."""
        n = self.image.shape[0]
        # padded working copy; copied back even when cancelled (the estimate
        # then holds every angle applied so far)
        image = np.zeros((n, n + tuning.SART_ROW_PAD), dtype=self.dtype)
        image[:, :n] = self.image
        zero = self.dtype.type(0)
        do_clip = self.clip is not None
        order = self.order
        parts = 2 if self.parallel else 1  # tuning.SART_MAX_THREADS
        job = SartJob(
            image=image,
            thetas_deg=np.ascontiguousarray(self.theta[order]),
            projections=np.ascontiguousarray(self.projections[order]),
            # None without shifts: the shifted-ray path is then not compiled
            shifts=(
                np.ascontiguousarray(self.shifts[order]) if self.shifts.any() else None
            ),
            relaxation=self.relaxation,
            lo=self.clip[0] if do_clip else zero,
            hi=self.clip[1] if do_clip else zero,
            do_clip=do_clip,
            rows=update_rows(n),
            windows=self.windows,
            record=new_record(parts, n),
            sync=np.zeros(2, dtype=np.int64),  # [barrier counter, abort]
            parts=parts,
        )
        if do_clip:
            clip_outside(image, job.lo, job.hi, job.rows)
        try:
            if self.parallel:
                self._iterate_threads(job, progress, done, total)
            else:
                self._iterate_serial(job, progress, done, total)
        finally:
            self.image[...] = image[:, :n]

    @staticmethod
    def _iterate_serial(job: SartJob, progress, done: int, total: int) -> None:
        """All angles on the calling thread: the two-thread driver with one
        part (no barrier waits, no recorded rays; the same compiled code as
        the threaded path, so either path compiles both)."""
        n = job.image.shape[0]
        n_angles = len(job.thetas_deg)
        mine = SartThread(0, new_ring(n), new_scratch(n))
        for start in range(0, n_angles, tuning.SART_REPORT_EVERY):
            stop = min(n_angles, start + tuning.SART_REPORT_EVERY)
            sart_steps(job, mine, 2 * start, 2 * stop, 1)
            report(progress, done + stop, total)

    def _iterate_threads(self, job: SartJob, progress, done: int, total: int) -> None:
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
        helper fails). Never more than two threads (``tuning.SART_MAX_THREADS``).
        """
        n = job.image.shape[0]
        n_angles = len(job.thetas_deg)
        job.record.state[S_AHEAD] = self.prefetch_rays
        # never spin on a CPU the other thread needs: with one usable CPU a
        # waiting thread yields at once
        spins = self.spins if usable_cpus() > 1 else 1
        failed: list[BaseException] = []
        relax = getattr(os, "sched_yield", None) or (lambda: time.sleep(0))

        def run(thread: SartThread, step0: int, step1: int) -> bool:
            """Steps [step0, step1) on this thread; False if aborted."""
            s = step0
            while s < step1:
                s = sart_steps(job, thread, s, step1, spins)
                if s < 0:
                    return False
                if s < step1:  # the other thread is late: let it run
                    relax()
            return True

        def helper():
            try:
                run(SartThread(1, new_ring(n), new_scratch(n)), 0, 2 * n_angles)
            except BaseException as exc:  # a kernel failed: stop this thread too
                failed.append(exc)
                job.sync[1] = 1

        thread = threading.Thread(target=helper, name="sart-helper", daemon=True)
        thread.start()
        try:
            mine = SartThread(0, new_ring(n), new_scratch(n))
            for start in range(0, n_angles, tuning.SART_REPORT_EVERY):
                stop = min(n_angles, start + tuning.SART_REPORT_EVERY)
                if not run(mine, 2 * start, 2 * stop):
                    break  # the helper failed
                report(progress, done + stop, total)
        except BaseException:
            job.sync[1] = 1  # the helper stops at its next barrier
            raise
        finally:
            thread.join()
        if failed:
            raise failed[0]
