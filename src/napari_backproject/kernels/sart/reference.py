"""Reference code used by tests and benchmarks only (not by the library).

Scalar twins of the vector-IR scatters (checked bit for bit against them),
:func:`sart_angles_serial`, a plain one-thread driver of all angles (the
reference the threaded driver is tested against; the library runs
:func:`.drivers.sart_steps` with one part instead, so that one compiled
driver serves both paths),
the numba ``prange`` SART driver through an update buffer (one fork/join
per phase: slow on few cores, kept as an independent check of the in-place
drivers), and :func:`ping_pong`, the cache-line round trip between two
threads that the benchmark reports.

The module knows nothing of napari, dask or files.
"""

from __future__ import annotations

import numba
import numpy as np

from ..llvm.atomic import atomic_add, spin_until
from ..llvm.cast import like as _like
from .geometry import (
    _clip_rows,
    _trig,
    clip_outside,
    new_record,
    new_ring,
    new_scratch,
    update_rows,
)
from .rays import sart_rays
from .raysums import _ray_deviation
from .scatter import _ray_scatter, _scatter_from, _scatter_pair_from

__all__ = ["ping_pong", "sart_angle_update", "sart_angles_serial"]

_BLOCK = 8


@numba.njit(cache=True, nogil=True)
def _scatter_scalar(flat, stride, count, deviation, win, s):
    """:func:`_scatter` without vector registers (the reference in tests)."""
    run = (s[0][0], 0.0, 0.0, 0.0, 0.0)
    _scatter_from(flat, stride, 0, count, deviation, win, s, run)


@numba.njit(cache=True, nogil=True)
def _scatter_pair_scalar(flat, stride, count, dev, win, dev_m, win_m, s, km):
    """:func:`_scatter_pair` without vector registers (the reference in tests)."""
    z = 0.0
    run = (s[0][0], z, z, z, z, z, z, z, z)
    _scatter_pair_from(flat, stride, 0, count, dev, win, dev_m, win_m, s, run, km)


@numba.njit(cache=True, nogil=True)
def _ray_range(image, update, theta_rad, projection, shift, proto, windows, s, r0, r1):
    """Rays ``r0 <= r < r1`` of one angle, scattered into ``update``."""
    n, stride = image.shape
    flat = image.ravel()
    uflat = update.ravel()
    trig = _trig(theta_rad)
    for r in range(r0, r1):
        pos = _like(_like(r, proto) + shift, proto)
        ray = _ray_deviation(flat, n, stride, trig, pos, projection[r], proto, s)
        if ray.ns > 0:
            _ray_scatter(uflat, n, stride, ray, proto, windows, s, 0, n, True, 1.0)


@numba.njit(cache=True, nogil=True)
def ping_pong(sync, part, rounds, max_spins):
    """Pass a counter back and forth with another thread ``rounds`` times.

    Thread ``part`` (0 or 1) waits for ``sync[0]`` to reach ``2 * k +
    part``, then increments it; timing the call gives the round trip of a
    cache line between the two threads' cores. ``sync`` is ``[counter,
    abort]``, zeros at the start. Returns the rounds done: fewer if a wait
    gave up after ``max_spins`` checks or ``sync[1]`` was set.

    Examples
    --------
    >>> import threading, numpy as np
    >>> sync = np.zeros(2, dtype=np.int64)
    >>> t = threading.Thread(target=ping_pong, args=(sync, 1, 100, 1 << 30))
    >>> t.start(); done = ping_pong(sync, 0, 100, 1 << 30); t.join()
    >>> done, int(sync[0])
    (100, 200)
    """
    for k in range(rounds):
        if spin_until(sync, 0, 2 * k + part, 1, max_spins) != 1:
            return k
        atomic_add(sync, 0, 1)
    return rounds


@numba.njit(cache=True, nogil=True)
def _ray_block(image, update, theta_rad, projection, shift, proto, windows, r0, r1):
    s = new_scratch(image.shape[0])
    _ray_range(image, update, theta_rad, projection, shift, proto, windows, s, r0, r1)


@numba.njit(cache=True, nogil=True)
def _apply_update(image, update, relaxation, lo, hi, do_clip, i):
    for j in range(image.shape[0]):
        v = image[i, j] + relaxation * update[i, j]
        if do_clip:
            if v < lo:
                v = lo
            if v > hi:
                v = hi
        image[i, j] = v
        update[i, j] = 0


@numba.njit(cache=True, parallel=True)
def sart_angle_update(
    image, update, theta_deg, projection, shift, relaxation, lo, hi, do_clip, windows
):
    """Apply one SART projection update in place with the numba threads.

    Rays run in blocks of neighbouring rays, even blocks first and then odd
    blocks, so no two threads ever write the same pixel; then the rows are
    updated in parallel. Three fork/joins per angle: slower than
    :func:`sart_angles_serial` on machines with few cores.

    Parameters
    ----------
    theta_deg : float (image dtype)
        Projection angle in degrees.
    projection : (P,) array (image dtype)
        The sinogram column for this angle.
    shift : float (image dtype)
        Projection shift in pixels.
    image, update, relaxation, lo, hi, do_clip, windows
        As in :func:`sart_angles_serial`.

    Examples
    --------
    >>> import numpy as np
    >>> from napari_backproject.kernels.sart import hamming_windows
    >>> img = np.zeros((8, 8)); upd = np.zeros_like(img)
    >>> w = hamming_windows(8, 0.0)
    >>> sart_angle_update(img, upd, 0.0, np.ones(8), 0.0, 0.15, 0.0, 0.0, False, w)
    >>> bool(img.sum() > 0)
    True
    """
    proto = projection[0]
    n_rays = projection.shape[0]
    theta_rad = _like(theta_deg / 180.0 * np.pi, proto)
    n_blocks = (n_rays + _BLOCK - 1) // _BLOCK
    for parity in range(2):
        n_par = (n_blocks - parity + 1) // 2
        for b in numba.prange(n_par):
            blk = 2 * b + parity
            r0 = blk * _BLOCK
            r1 = min(n_rays, r0 + _BLOCK)
            _ray_block(
                image, update, theta_rad, projection, shift, proto, windows, r0, r1
            )
    for i in numba.prange(image.shape[0]):
        _apply_update(image, update, relaxation, lo, hi, do_clip, i)


@numba.njit(cache=True, nogil=True)
def sart_angles_serial(
    image, thetas_deg, projections, shifts, relaxation, lo, hi, do_clip, windows
):
    """Apply SART updates for several angles in order, on one thread.

    Parameters
    ----------
    image : (M, L) float32/float64 array, C-contiguous, ``L >= M``
        Current estimate in columns ``[:M]``, updated in place. A row length
        ``L`` a little over ``M`` (e.g. ``M + 16``) avoids cache conflicts
        when ``M`` is a power of two.
    thetas_deg : (A,) array (image dtype)
        Angles in degrees, in the order they are applied.
    projections : (A, P) array (image dtype)
        The matching sinogram columns.
    shifts : (A,) array (image dtype)
        The matching projection shifts, in pixels.
    relaxation : float (image dtype)
        Relaxation factor.
    lo, hi : float (image dtype)
        Clip range, used when ``do_clip``.
    do_clip : bool
        Clip the whole image to ``[lo, hi]`` after every angle.
    windows : 1-D float64 array
        ``hamming_windows(M, projections[0, 0])``.

    Examples
    --------
    >>> import numpy as np
    >>> from napari_backproject.kernels.sart import hamming_windows
    >>> img = np.zeros((8, 8))
    >>> sart_angles_serial(img, np.zeros(1), np.ones((1, 8)), np.zeros(1),
    ...                    0.15, 0.0, 0.0, False, hamming_windows(8, 0.0))
    >>> bool(img.sum() > 0)
    True
    """
    n = image.shape[0]
    rows = update_rows(n)
    if do_clip:
        clip_outside(image, lo, hi, rows)
    ring = new_ring(n)
    record = new_record(1, n)
    for a in range(thetas_deg.shape[0]):
        # one share holding every ray: pairs, or rays one by one if shifted
        sart_rays(
            image,
            thetas_deg[a],
            projections[a],
            shifts[a],
            relaxation,
            windows,
            ring,
            record,
            0,
            1,
        )
        if do_clip:
            _clip_rows(image, lo, hi, rows, 0, n)
