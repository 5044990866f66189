"""Phase 1 of a SART angle: sum rays and add their updates in place.

No update buffer: scikit-image forms every ray sum of an angle from the
image as it was before that angle, then adds the update. A ray's update
touches only pixels that rays less than 3 away read, so the rays are summed
in order and each ray's update is added ``LAG`` (3) rays later
(:func:`_rays_in_place`, :func:`_pair_rays`; weights kept in a ring of
scratch rows meanwhile): the same SART step without a second image-sized
buffer, with half the memory traffic. Results differ from the update-buffer
order by rounding only. :func:`sart_rays` is one thread's share of this.

The module knows nothing of napari, dask or files.
"""

from __future__ import annotations

import numpy as np

from .._inner import inner_jit
from ..llvm.cast import like as _like
from ..llvm.prefetch import prefetch_write
from .geometry import (
    F_DEV,
    GAP_RAYS,
    I_NS,
    LAG,
    RAY_FLOATS,
    RAY_INTS,
    S_AHEAD,
    S_PAIRS,
    _load_ray,
    _mirror_map,
    _slot,
    _store_ray,
    _trig,
    _window,
)
from .raysums import _mirror_ray, _ray_deviation, _ray_of, _ray_sums
from .scatter import _ray_scatter, _scatter_pair

__all__ = ["sart_rays"]


@inner_jit
def _rays_in_place(
    image, theta_rad, projection, shift, scale, windows, ring, record, g0, r0, r1, gaps
):
    """Rays ``[r0, r1)`` of one angle, their updates added to ``image``.

    SART forms every ray sum of an angle from the image before that angle's
    update. A ray's update only touches pixels that rays less than 3 away
    read, so it can be added to the image as soon as the sums of the next
    ``LAG`` rays are formed: rays are summed in order and updated ``LAG``
    behind, their weights kept in ``ring`` (:func:`new_ring`) meanwhile, and
    no update buffer is needed. ``scale`` multiplies every update (the
    relaxation). With ``gaps`` the first and last ``GAP_RAYS`` rays are
    summed but their updates are not added: they go to ``record`` (rows
    ``g0`` onwards, see :func:`new_record`), for :func:`sart_apply`.
    """
    n, stride = image.shape
    flat = image.ravel()
    proto = projection[0]
    rec_f, rec_i = record.floats, record.ints
    ring_f = np.zeros((LAG + 1, RAY_FLOATS), dtype=np.float64)
    ring_i = np.zeros((LAG + 1, RAY_INTS), dtype=np.int64)
    trig = _trig(theta_rad)
    for r in range(r0, r1 + LAG):
        if r < r1:
            slot = r % (LAG + 1)
            pos = _like(_like(r, proto) + shift, proto)
            ray = _ray_deviation(
                flat, n, stride, trig, pos, projection[r], proto, _slot(ring, slot)
            )
            if gaps and r - r0 < GAP_RAYS:
                _store_ray(rec_f, rec_i, g0 + r - r0, ray)
                ring_i[slot, I_NS] = 0
            elif gaps and r1 - 1 - r < GAP_RAYS:
                _store_ray(rec_f, rec_i, g0 + GAP_RAYS + r1 - 1 - r, ray)
                ring_i[slot, I_NS] = 0
            else:
                _store_ray(ring_f, ring_i, slot, ray)
        q = r - LAG
        if q >= r0:
            sq = q % (LAG + 1)
            if ring_i[sq, I_NS] > 0:
                ray = _load_ray(ring_f, ring_i, sq, proto)
                s = _slot(ring, sq)
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
                    np.bool_(True),
                    scale,
                )


@inner_jit
def _prefetch_ahead(flat, stride, count, s, km, delta):
    """Prefetch, for writing, the cells ``delta`` away from a pair's samples.

    With ``delta`` the flat offset of a few rays' spacing, these are (about)
    the cells of the pair that many steps on in the sweep, for both the ray
    (``idx + delta``) and its mirror (``km - idx - delta``), both rows of
    each cell, every fourth sample. Lines the other thread wrote last are
    then on their way when the pair gets there: on a host that places the
    two threads on cores without a shared cache, such a line takes ~0.2 us
    to arrive (see :func:`.reference.ping_pong`).
    """
    idx = s[0]
    d = np.uint64(delta)
    us = np.uint64(stride)
    for k in range(0, count, 4):
        p = idx[np.uint64(k)]
        q = p + d
        prefetch_write(flat, q)
        prefetch_write(flat, q + us)
        q = km - p - d
        prefetch_write(flat, q)
        prefetch_write(flat, q + us)


@inner_jit
def _pair_rays(
    image, theta_rad, projection, scale, windows, ring, record, g0, a, b, gaps
):
    """Rays ``[a, b)`` (``b <= n // 2 + 1``) and their mirrors, updates added.

    :func:`_rays_in_place` for pairs of rays (no projection shift): ray
    ``r`` and its mirror ``2c - r`` are summed together, the mirror through
    the weights of ``r`` (:func:`_mirror_map`), which halves the weights
    pass; both updates are added ``LAG`` pairs later (the mirrors run from
    the outside in, so they too have their neighbours' sums formed by
    then). With ``gaps`` the first ``GAP_RAYS`` pairs and, unless ``b`` is
    past the centre ray, the last ``GAP_RAYS`` pairs are recorded (rows
    ``g0`` onwards: rays, then their mirrors) instead of added.
    """
    n, stride = image.shape
    flat = image.ravel()
    proto = projection[0]
    n_rays = projection.shape[0]
    c = n // 2
    km = _mirror_map(n, stride)
    rec_f, rec_i = record.floats, record.ints
    big = LAG + 1
    ring_f = np.zeros((2 * big, RAY_FLOATS), dtype=np.float64)
    ring_i = np.zeros((2 * big, RAY_INTS), dtype=np.int64)
    aliased = np.zeros(big, dtype=np.bool_)
    trig = _trig(theta_rad)
    ahead = record.state[S_AHEAD]
    ct, st = trig
    delta = np.int64(round(-ahead * st)) * stride + np.int64(round(ahead * ct))
    gap_lo = gaps and a > 0
    gap_hi = gaps and b <= c
    for j in range(b - a + LAG):
        r = a + j
        if r < b:
            slot = j % big
            s = _slot(ring, slot)
            sums = _ray_sums(flat, n, stride, trig, _like(r, proto), proto, s, km)
            if ahead > 0 and sums.mirrored:  # s holds the whole ray
                _prefetch_ahead(flat, stride, sums.ns + 1, s, km, delta)
            ray = _ray_of(sums, projection[r], proto)
            row = -1
            if gap_lo and j < GAP_RAYS:
                row = g0 + j
            elif gap_hi and b - 1 - r < GAP_RAYS:
                row = g0 + GAP_RAYS + b - 1 - r
            ring_i[slot, I_NS] = 0
            ring_i[big + slot, I_NS] = 0
            aliased[slot] = False
            if row >= 0:
                _store_ray(rec_f, rec_i, row, ray)
            else:
                _store_ray(ring_f, ring_i, slot, ray)
            m = 2 * c - r
            if m != r and m < n_rays:
                sm = _slot(ring, big + slot)
                ray_m, alias = _mirror_ray(
                    flat, n, stride, trig, m, projection[m], proto, sm, sums, row >= 0
                )
                if row >= 0:
                    _store_ray(rec_f, rec_i, row + 2 * GAP_RAYS, ray_m)
                else:
                    _store_ray(ring_f, ring_i, big + slot, ray_m)
                    aliased[slot] = alias
        q = j - LAG
        if q >= 0:
            sq = q % big
            s = _slot(ring, sq)
            if aliased[sq]:  # (then the ray has samples and is in the ring)
                ns = ring_i[sq, I_NS]
                dev = ring_f[sq, F_DEV] * scale
                dev_m = ring_f[big + sq, F_DEV] * scale
                win = _window(windows, ns, np.bool_(False), proto)
                win_m = _window(windows, ns, np.bool_(True), proto)
                _scatter_pair(flat, stride, ns + 1, dev, win, dev_m, win_m, s, km)
                continue
            if ring_i[sq, I_NS] > 0:
                ray = _load_ray(ring_f, ring_i, sq, proto)
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
                    np.bool_(True),
                    scale,
                )
            if ring_i[big + sq, I_NS] > 0:
                ray = _load_ray(ring_f, ring_i, big + sq, proto)
                sm = _slot(ring, big + sq)
                _ray_scatter(
                    flat,
                    n,
                    stride,
                    ray,
                    proto,
                    windows,
                    sm,
                    np.int64(0),
                    n,
                    np.bool_(True),
                    scale,
                )


@inner_jit
def sart_rays(
    image, theta_deg, projection, shift, relaxation, windows, ring, record, part, parts
):
    """Phase 1 of one angle on ``parts`` threads: this thread's rays.

    Without a shift, thread ``part`` takes the pairs of rays ``r`` in
    ``[split[part], split[part + 1])`` and ``2c - r`` (``split`` is
    :func:`pair_split`, in ``record``); with a shift, rays
    ``[part * P // parts, (part + 1) * P // parts)``. It adds their updates
    to the shared image as :func:`.reference.sart_angles_serial` does, except for the
    rays within ``GAP_RAYS`` of another thread's share: those are summed
    (from the image before this angle's update, as every ray) and recorded,
    and :func:`sart_apply` adds them. No two threads then ever touch a
    pixel another thread reads or writes (rays at least 3 apart never share
    one). Call :func:`sart_apply` on every thread once all threads have
    finished this.

    Parameters
    ----------
    image : (M, L) array (float32/float64)
        Current estimate, shared by the threads, as in
        :func:`.reference.sart_angles_serial`.
    theta_deg : float (image dtype)
        Angle in degrees.
    shift : float (image dtype) or None
        Projection shift. None: no shift (as 0, but only the code for
        mirrored pairs is compiled, not the shifted-ray path).
    projection : (P,) array (image dtype)
        The sinogram column of this angle.
    relaxation : float (image dtype)
        Relaxation factor.
    windows : 1-D float64 array
        ``hamming_windows(M, projection[0])``.
    ring : tuple
        ``new_ring(M)``, one per thread.
    record : tuple
        ``new_record(parts, M)``, shared by the threads of one reconstruction.
    part, parts : int
        This thread's number and the number of threads.

    Examples
    --------
    >>> import numpy as np
    >>> from napari_backproject.kernels.sart import (
    ...     hamming_windows, new_record, new_ring, new_scratch, sart_apply, update_rows)
    >>> img = np.zeros((8, 8))
    >>> rec, w = new_record(1, 8), hamming_windows(8, 0.0)
    >>> sart_rays(img, 0.0, np.ones(8), 0.0, 0.15, w, new_ring(8), rec, 0, 1)
    >>> sart_apply(img, 0.15, 0.0, 0.0, False, update_rows(8), rec, w,
    ...            new_scratch(8), 0, 1)
    >>> bool(img.sum() > 0)
    True
    """
    proto = projection[0]
    n_rays = projection.shape[0]
    theta_rad = _like(theta_deg / 180.0 * np.pi, proto)
    rec_i = record.ints
    g0 = 4 * GAP_RAYS * part
    rec_i[g0 : g0 + 4 * GAP_RAYS, 0] = 0
    scale = np.float64(relaxation)
    split = record.split
    if shift is None:  # resolved at compile time: no shift path compiled
        if part == 0:
            record.state[S_PAIRS] = True
        _pair_rays(
            image,
            theta_rad,
            projection,
            scale,
            windows,
            ring,
            record,
            g0,
            split[part],
            split[part + 1],
            parts > 1,
        )
        return
    if part == 0:
        record.state[S_PAIRS] = shift == 0
    if shift == 0:
        _pair_rays(
            image,
            theta_rad,
            projection,
            scale,
            windows,
            ring,
            record,
            g0,
            split[part],
            split[part + 1],
            parts > 1,
        )
        return
    r0 = part * n_rays // parts
    r1 = (part + 1) * n_rays // parts
    _rays_in_place(
        image,
        theta_rad,
        projection,
        shift,
        scale,
        windows,
        ring,
        record,
        g0,
        r0,
        r1,
        parts > 1,
    )
