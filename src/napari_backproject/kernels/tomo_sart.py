"""Numba kernel for one SART projection update (scikit-image compatible).

:func:`sart_angle_update` reproduces ``skimage.transform._radon_transform.
sart_projection_update`` followed by ``image += relaxation * update`` (and the
optional clip) for one projection angle. Arithmetic follows the Cython code
operation by operation, including where it rounds to float32 when the data are
float32, so results agree with scikit-image to floating-point rounding.

Rays are processed in parallel: ray sums read only the current image; the
scatter of updates runs in blocks of neighbouring rays, even blocks first and
then odd blocks, so no two threads ever write the same pixel.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import types
from numba.extending import overload

__all__ = ["sart_angle_update", "sart_angles_serial", "hamming_windows"]

_HAMMING_BETA = 0.46164
_BLOCK = 8  # rays per scatter block; rays >= 3 apart never share a pixel


def _like(x, proto):  # pragma: no cover - replaced by the overload in jit code
    """Cast ``x`` to the floating type of ``proto``."""
    return type(proto)(x)


@overload(_like, inline="always")
def _ol_like(x, proto):
    if isinstance(proto, types.Float) and proto.bitwidth == 32:
        return lambda x, proto: np.float32(x)
    return lambda x, proto: np.float64(x)


@numba.njit(cache=True, nogil=True)
def _ray_setup(n, theta_rad, ray_position, proto):
    radius = _like(n // 2 - 1, proto)
    center = _like(n // 2, proto)
    t = _like(ray_position - center, proto)
    rr = radius * radius
    tt = t * t
    if rr >= tt:
        s0 = _like(math.sqrt(np.float64(rr - tt)), proto)
    else:
        s0 = _like(0.0, proto)
    ns = 2 * int(math.ceil(np.float64(_like(2 * s0, proto))))
    ds = _like(0.0, proto)
    dx = _like(0.0, proto)
    dy = _like(0.0, proto)
    x0 = _like(0.0, proto)
    y0 = _like(0.0, proto)
    if ns > 0:
        ds = _like(_like(2 * s0, proto) / _like(ns, proto), proto)
        ct = math.cos(np.float64(theta_rad))
        st = math.sin(np.float64(theta_rad))
        dx = _like(-ds * ct, proto)
        dy = _like(-ds * st, proto)
        x0 = _like(s0 * ct - t * st, proto)
        y0 = _like(s0 * st + t * ct, proto)
    return ns, ds, dx, dy, x0, y0, center


@numba.njit(cache=True, nogil=True)
def _fill_window(win, ns, proto):
    """Hamming window of a ray with ``ns`` steps, as scikit-image computes it."""
    beta = _like(_HAMMING_BETA, proto)
    one_minus_beta = _like(1 - beta, proto)
    step = 2 * math.pi / (ns - 1)
    for k in range(ns + 1):
        win[k] = np.float64(_like(one_minus_beta - beta * math.cos(step * k), proto))


@numba.njit(cache=True, nogil=True)
def hamming_windows(n, proto):
    """Hamming windows of every ray length of an ``(n, n)`` SART image.

    A ray with ``ns`` steps (``ns`` even) uses the ``ns + 1`` values from
    offset ``(ns // 2) ** 2``. ``proto`` (a scalar of the image dtype) sets
    the rounding, as in the update kernels.

    Examples
    --------
    >>> import numpy as np
    >>> w = hamming_windows(8, 0.0)
    >>> [round(float(v), 5) for v in w[4:9]]  # ns = 4
    [0.07672, 0.76918, 0.76918, 0.07672, 0.76918]
    """
    h_max = 2 * (n // 2) + 2
    out = np.zeros((h_max + 1) * (h_max + 1))
    for h in range(1, h_max + 1):
        ns = 2 * h
        if h * h + ns < out.shape[0]:
            _fill_window(out[h * h : h * h + ns + 1], ns, proto)
    return out


@numba.njit(cache=True, nogil=True)
def _ray_update(
    image,
    update,
    theta_rad,
    ray_position,
    projected,
    proto,
    windows,
    bidx,
    bw,
    bi,
    bj,
    bdi,
    bdj,
):
    """Ray sum, deviation and scatter of the update for one ray.

    A vectorised pass puts each sample's pixel and fractions in ``bi``,
    ``bj``, ``bdi``, ``bdj``; the next keeps the pixel index and the four
    bilinear weights (unrounded, float64) in the scratch buffers ``bidx``
    and ``bw`` (all of length >= 2 * M + 2); the second pass scatters
    ``deviation * weight * hamming`` with them. (scikit-image multiplies the
    same five factors in a different order: results differ by rounding only.)
    """
    n0, n1 = image.shape
    ns, ds, dx, dy, x0, y0, center = _ray_setup(n0, theta_rad, ray_position, proto)
    if ns <= 0:
        return
    ray_sum = _like(0.0, proto)
    weight_norm = _like(0.0, proto)
    # pass 1a (vectorised): sample positions -> pixel and fractions
    for k in range(ns + 1):
        kk = _like(k, proto)
        x = _like(x0 + kk * dx, proto)
        y = _like(y0 + kk * dy, proto)
        index_i = _like(x + center, proto)
        index_j = _like(y + center, proto)
        fi = math.floor(np.float64(index_i))
        fj = math.floor(np.float64(index_j))
        bi[k] = int(fi)
        bj[k] = int(fj)
        bdi[k] = _like(index_i - fi, proto)  # exact in float64
        bdj[k] = _like(index_j - fj, proto)
    # all four neighbours of every sample inside the image (and not on the
    # first row/column, which scikit-image skips)? the samples lie on a
    # segment, so checking both ends is enough; then no branches below
    interior = (
        min(bi[0], bi[ns]) > 0
        and max(bi[0], bi[ns]) < n0 - 1
        and min(bj[0], bj[ns]) > 0
        and max(bj[0], bj[ns]) < n1 - 1
    )
    if interior:
        for k in range(ns + 1):
            i = bi[k]
            j = bj[k]
            di = _like(bdi[k], proto)
            dj = _like(bdj[k], proto)
            w00 = (1.0 - di) * (1.0 - dj) * ds
            w01 = (1.0 - di) * dj * ds
            w10 = di * (1.0 - dj) * ds
            w11 = di * dj * ds
            bidx[k] = i * n1 + j
            bw[k, 0] = w00
            bw[k, 1] = w01
            bw[k, 2] = w10
            bw[k, 3] = w11
            v00 = _like(w00, proto)
            v01 = _like(w01, proto)
            v10 = _like(w10, proto)
            v11 = _like(w11, proto)
            ray_sum += (v00 * image[i, j] + v01 * image[i, j + 1]) + (
                v10 * image[i + 1, j] + v11 * image[i + 1, j + 1]
            )
            weight_norm += (v00 * v00 + v01 * v01) + (v10 * v10 + v11 * v11)
    # pass 1b: weights, gather, ray sum
    for k in range(0 if not interior else ns + 1, ns + 1):
        i = bi[k]
        j = bj[k]
        di = _like(bdi[k], proto)
        dj = _like(bdj[k], proto)
        # weights of the four neighbours; zero where scikit-image skips one
        w00 = (1.0 - di) * (1.0 - dj) * ds if (i > 0 and j > 0) else 0.0
        w01 = (1.0 - di) * dj * ds if (i > 0 and j < n1 - 1) else 0.0
        w10 = di * (1.0 - dj) * ds if (i < n0 - 1 and j > 0) else 0.0
        w11 = di * dj * ds if (i < n0 - 1 and j < n1 - 1) else 0.0
        bidx[k] = i * n1 + j
        bw[k, 0] = w00
        bw[k, 1] = w01
        bw[k, 2] = w10
        bw[k, 3] = w11
        # neighbours outside the image have weight 0; clamp their index so
        # that the read stays in bounds (0 * finite value adds nothing)
        i1 = min(i + 1, n0 - 1)
        j1 = min(j + 1, n1 - 1)
        v00 = _like(w00, proto)
        v01 = _like(w01, proto)
        v10 = _like(w10, proto)
        v11 = _like(w11, proto)
        # two independent partial sums per sample: a shorter dependency chain
        # than scikit-image's four sequential additions (same terms; the
        # result differs by rounding only)
        ray_sum += (v00 * image[i, j] + v01 * image[i, j1]) + (
            v10 * image[i1, j] + v11 * image[i1, j1]
        )
        weight_norm += (v00 * v00 + v01 * v01) + (v10 * v10 + v11 * v11)
    if weight_norm > 0:
        deviation = _like(-(ray_sum - projected) / weight_norm, proto)
    else:
        return

    flat = update.ravel()
    h = ns // 2
    if h * h + ns < windows.shape[0]:
        win = windows[h * h : h * h + ns + 1]
    else:  # not in the table (cannot happen for rays inside the image)
        win = np.empty(ns + 1)
        _fill_window(win, ns, proto)
    if interior:
        for k in range(ns + 1):
            amp = deviation * np.float64(win[k])
            p = bidx[k]
            flat[p] = flat[p] + amp * bw[k, 0]
            flat[p + 1] = flat[p + 1] + amp * bw[k, 1]
            flat[p + n1] = flat[p + n1] + amp * bw[k, 2]
            flat[p + n1 + 1] = flat[p + n1 + 1] + amp * bw[k, 3]
        return
    for k in range(ns + 1):
        hamming = win[k]
        amp = deviation * np.float64(hamming)
        p = bidx[k]
        # a zero weight is a neighbour outside the image: never touch it
        if bw[k, 0] != 0.0:
            flat[p] = flat[p] + amp * bw[k, 0]
        if bw[k, 1] != 0.0:
            flat[p + 1] = flat[p + 1] + amp * bw[k, 1]
        if bw[k, 2] != 0.0:
            flat[p + n1] = flat[p + n1] + amp * bw[k, 2]
        if bw[k, 3] != 0.0:
            flat[p + n1 + 1] = flat[p + n1 + 1] + amp * bw[k, 3]


@numba.njit(cache=True, nogil=True)
def _ray_block(image, update, theta_rad, projection, shift, proto, windows, r0, r1):
    m = 2 * image.shape[0] + 4
    bidx = np.empty(m, dtype=np.int64)
    bw = np.empty((m, 4), dtype=np.float64)
    bi = np.empty(m, dtype=np.int64)
    bj = np.empty(m, dtype=np.int64)
    bdi = np.empty(m, dtype=np.float64)
    bdj = np.empty(m, dtype=np.float64)
    for r in range(r0, r1):
        pos = _like(_like(r, proto) + shift, proto)
        _ray_update(
            image,
            update,
            theta_rad,
            pos,
            projection[r],
            proto,
            windows,
            bidx,
            bw,
            bi,
            bj,
            bdi,
            bdj,
        )


@numba.njit(cache=True, nogil=True)
def _apply_update(image, update, relaxation, lo, hi, do_clip, i):
    n1 = image.shape[1]
    for j in range(n1):
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
    """Apply one SART projection update in place (scikit-image semantics).

    Parameters
    ----------
    image : (M, M) float32/float64 array
        Current estimate, updated in place.
    update : (M, M) array, same dtype, all zeros
        Scratch buffer; left all zeros on return.
    theta_deg : float (same dtype)
        Projection angle in degrees.
    projection : (P,) array, same dtype
        The sinogram column for this angle.
    shift : float (same dtype)
        Projection shift in pixels.
    relaxation : float (same dtype)
        Relaxation factor.
    lo, hi : float (same dtype)
        Clip range, used when ``do_clip``.
    do_clip : bool
        Clip the whole image to ``[lo, hi]`` after the update.
    windows : 1-D float64 array
        ``hamming_windows(M, projection[0])``.

    Examples
    --------
    >>> import numpy as np
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
    image, update, thetas_deg, projections, shifts, relaxation, lo, hi, do_clip, windows
):
    """Apply SART updates for several angles in order, on one thread.

    Same arithmetic as calling :func:`sart_angle_update` once per angle, but
    without any thread synchronisation: the better choice for small images,
    for busy machines and for stacks (where slices run in parallel).

    Parameters
    ----------
    thetas_deg : (A,) array (image dtype)
        Angles in the order they are applied.
    projections : (A, P) array (image dtype)
        The matching sinogram columns.
    shifts : (A,) array (image dtype)
        The matching projection shifts.
    image, update, relaxation, lo, hi, do_clip, windows
        As in :func:`sart_angle_update`.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((8, 8)); upd = np.zeros_like(img)
    >>> sart_angles_serial(img, upd, np.zeros(1), np.ones((1, 8)), np.zeros(1),
    ...                    0.15, 0.0, 0.0, False, hamming_windows(8, 0.0))
    >>> bool(img.sum() > 0)
    True
    """
    n_rays = projections.shape[1]
    for a in range(thetas_deg.shape[0]):
        projection = projections[a]
        proto = projection[0]
        theta_rad = _like(thetas_deg[a] / 180.0 * np.pi, proto)
        _ray_block(
            image, update, theta_rad, projection, shifts[a], proto, windows, 0, n_rays
        )
        for i in range(image.shape[0]):
            _apply_update(image, update, relaxation, lo, hi, do_clip, i)
