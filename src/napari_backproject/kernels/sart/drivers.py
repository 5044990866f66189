"""SART drivers: all angles of a pass on one thread or several
(:func:`sart_steps`; the library runs it with one part on one thread).

Every angle is two phases separated by barriers:
:func:`.rays.sart_rays` (each thread its share of the rays; the
``GAP_RAYS`` rays at either end of a share are only summed and recorded, so
no two threads touch the same pixel) and :func:`sart_apply` (the recorded
rays added, each thread to its own rows, then clipped). :func:`sart_steps`
runs a range of those phases with a spin barrier on an atomic counter,
without the GIL.

The module knows nothing of napari, dask or files.
"""

from __future__ import annotations

from collections import namedtuple

import numba
import numpy as np
from numba import types
from numba.extending import overload

from .._inner import inner_jit
from ..llvm.atomic import atomic_add, spin_until
from .geometry import (
    GAP_RAYS,
    I_NS,
    S_PAIRS,
    S_WIDE,
    _clip_rows,
    _load_ray,
)
from .rays import sart_rays
from .scatter import _ray_scatter

__all__ = ["SartJob", "SartThread", "sart_apply", "sart_steps"]


def _shift_at(shifts, a):
    """Shift of angle ``a``: ``shifts[a]``, or None when ``shifts`` is None."""
    return None if shifts is None else shifts[a]


@overload(_shift_at, inline="always")
def _ol_shift_at(shifts, a):
    # a type-level choice: with no shifts array, sart_rays gets None and
    # compiles only its mirrored-pairs path
    if isinstance(shifts, types.NoneType):
        return lambda shifts, a: None
    return lambda shifts, a: shifts[a]


@inner_jit
def _apply_by_boundary(flat, n, stride, proto, scale, record, windows, s, part, parts):
    """Phase 2 of mirrored pairs without clipping: whole rays, by boundary.

    The rays recorded at the boundary between shares ``k - 1`` and ``k``
    (the last ``GAP_RAYS`` of ``k - 1`` and the first of ``k``), and
    separately their mirrors, form groups that share no pixel with any
    other group when every share is at least ``2 * GAP_RAYS + 3`` rays wide
    (``record.state[S_WIDE]``). Each group goes to one thread, which adds its rays
    whole with the fast scatter instead of every thread walking every
    recorded ray for its own rows.
    """
    rec_f, rec_i = record.floats, record.ints
    gap = GAP_RAYS
    for k in range(1, parts):
        for side in range(2):  # rays, mirrors
            if (2 * (k - 1) + side) % parts != part:
                continue
            last = 4 * gap * (k - 1) + gap + 2 * gap * side  # share k - 1
            first = 4 * gap * k + 2 * gap * side  # share k
            for g0 in (last, first):
                for g in range(g0, g0 + gap):
                    if rec_i[g, I_NS] > 0:
                        ray = _load_ray(rec_f, rec_i, g, proto)
                        _ray_scatter(
                            flat,
                            n,
                            stride,
                            ray,
                            proto,
                            windows,
                            s,
                            np.int64(0),
                            n,
                            np.bool_(False),
                            scale,
                        )


@inner_jit
def sart_apply(
    image,
    relaxation,
    lo,
    hi,
    do_clip,
    rows,
    record,
    windows,
    scratch,
    part,
    parts,
):
    """Phase 2 of one angle on ``parts`` threads: add the recorded rays.

    Adds the updates of the rays recorded by :func:`sart_rays` to rows
    ``[part * M // parts, (part + 1) * M // parts)``, then (with
    ``do_clip``) clips those rows. Without clipping, after mirrored pairs
    (and when every share is wide enough), each group of rays recorded at
    one boundary goes whole to one thread instead
    (:func:`_apply_by_boundary`). Every thread must finish it before the
    next angle starts.

    Parameters
    ----------
    image, relaxation, lo, hi, do_clip
        As in :func:`.reference.sart_angles_serial`; with ``do_clip``, call
        :func:`clip_outside` once before the first angle.
    rows : tuple
        ``update_rows(M)``.
    record, windows, part, parts
        As in :func:`sart_rays`.
    scratch : tuple
        ``new_scratch(M)``, one per thread.

    Examples
    --------
    See :func:`sart_rays`.
    """
    n, stride = image.shape
    proto = image[0, 0]
    i0 = part * n // parts
    i1 = (part + 1) * n // parts
    rec_f, rec_i = record.floats, record.ints
    flat = image.ravel()
    scale = np.float64(relaxation)
    state = record.state
    if state[S_PAIRS] and state[S_WIDE] and not do_clip:
        _apply_by_boundary(
            flat, n, stride, proto, scale, record, windows, scratch, part, parts
        )
        return
    for g in range(rec_i.shape[0]):
        if rec_i[g, I_NS] > 0:
            ray = _load_ray(rec_f, rec_i, g, proto)
            _ray_scatter(
                flat,
                n,
                stride,
                ray,
                proto,
                windows,
                scratch,
                i0,
                i1,
                np.bool_(False),
                scale,
            )
    if do_clip:
        _clip_rows(image, lo, hi, rows, i0, i1)


#: What every thread of a threaded SART pass shares (:func:`sart_steps`):
#: the image and the angles (as in :func:`.reference.sart_angles_serial`),
#: ``shifts`` may be None (no projection shifts: only the mirrored-pairs path
#: of :func:`.rays.sart_rays` is compiled),
#: ``update_rows(M)``, the :class:`.geometry.Record` of the recorded rays,
#: ``sync`` (``[barrier counter, abort]``, int64 zeros at the start of the
#: pass) and the number of threads.
SartJob = namedtuple(
    "SartJob",
    "image thetas_deg projections shifts relaxation lo hi do_clip rows windows "
    "record sync parts",
)
#: What one thread of the pass owns: its number and its scratch
#: (``new_ring(M)`` and ``new_scratch(M)``).
SartThread = namedtuple("SartThread", "part ring scratch")


@numba.njit(cache=True, nogil=True)
def sart_steps(job, thread, step0, step1, max_spins):
    """Run steps ``[step0, step1)`` of one SART pass on ``job.parts`` threads.

    Step ``2 * a`` is :func:`.rays.sart_rays` of angle ``a``, step
    ``2 * a + 1`` :func:`sart_apply`; every thread runs every step, with a
    barrier after each. The barrier is a counter, ``job.sync[0]``, that
    every thread increments atomically after each step: step ``s`` starts
    once it reaches ``s * parts`` (threads spin on it, without the GIL). A
    non-zero ``job.sync[1]`` (abort) makes every thread return at its next
    barrier.

    Parameters
    ----------
    job : SartJob
        Shared by the threads (with ``do_clip``, call :func:`clip_outside`
        once before the first step).
    thread : SartThread
        This thread's number and scratch.
    step0, step1 : int
        Steps to run (``0 <= step0 <= step1 <= 2 * A``); this thread has
        finished every step before ``step0``.
    max_spins : int
        Give up waiting at a barrier after this many checks (~30 ns each).

    Returns
    -------
    int
        ``step1`` when done; ``s < step1`` if the wait before step ``s``
        timed out (call again with ``step0 = s``, after yielding the CPU);
        ``-1`` if aborted.

    Examples
    --------
    >>> import numpy as np
    >>> from napari_backproject.kernels.sart import (
    ...     hamming_windows, new_record, new_ring, new_scratch, update_rows)
    >>> img = np.zeros((8, 8))
    >>> job = SartJob(img, np.zeros(1), np.ones((1, 8)), np.zeros(1), 0.15,
    ...               0.0, 0.0, False, update_rows(8), hamming_windows(8, 0.0),
    ...               new_record(1, 8), np.zeros(2, dtype=np.int64), 1)
    >>> sart_steps(job, SartThread(0, new_ring(8), new_scratch(8)), 0, 2, 1000)
    2
    >>> bool(img.sum() > 0), int(job.sync[0])
    (True, 2)
    """
    sync = job.sync
    parts = job.parts
    part = thread.part
    for s in range(step0, step1):
        ok = spin_until(sync, 0, s * parts, 1, max_spins)
        if ok < 0:
            return -1
        if ok == 0:
            return s
        a = s // 2
        if s % 2 == 0:
            sart_rays(
                job.image,
                job.thetas_deg[a],
                job.projections[a],
                _shift_at(job.shifts, a),
                job.relaxation,
                job.windows,
                thread.ring,
                job.record,
                part,
                parts,
            )
        else:
            sart_apply(
                job.image,
                job.relaxation,
                job.lo,
                job.hi,
                job.do_clip,
                job.rows,
                job.record,
                job.windows,
                thread.scratch,
                part,
                parts,
            )
        atomic_add(sync, 0, 1)
    return step1
