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

__all__ = ["sart_angle_update"]

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
def _ray_deviation(image, theta_rad, ray_position, projected, proto):
    n0, n1 = image.shape
    ns, ds, dx, dy, x0, y0, center = _ray_setup(n0, theta_rad, ray_position, proto)
    ray_sum = _like(0.0, proto)
    weight_norm = _like(0.0, proto)
    if ns > 0:
        for k in range(ns + 1):
            kk = _like(k, proto)
            x = _like(x0 + kk * dx, proto)
            y = _like(y0 + kk * dy, proto)
            index_i = _like(x + center, proto)
            index_j = _like(y + center, proto)
            fi = math.floor(np.float64(index_i))
            fj = math.floor(np.float64(index_j))
            i = int(fi)
            j = int(fj)
            di = _like(index_i - fi, proto)
            dj = _like(index_j - fj, proto)
            if i > 0 and j > 0:
                w = _like((1.0 - di) * (1.0 - dj) * ds, proto)
                ray_sum += w * image[i, j]
                weight_norm += w * w
            if i > 0 and j < n1 - 1:
                w = _like((1.0 - di) * dj * ds, proto)
                ray_sum += w * image[i, j + 1]
                weight_norm += w * w
            if i < n0 - 1 and j > 0:
                w = _like(di * (1.0 - dj) * ds, proto)
                ray_sum += w * image[i + 1, j]
                weight_norm += w * w
            if i < n0 - 1 and j < n1 - 1:
                w = _like(di * dj * ds, proto)
                ray_sum += w * image[i + 1, j + 1]
                weight_norm += w * w
    if weight_norm > 0:
        return _like(-(ray_sum - projected) / weight_norm, proto)
    return _like(0.0, proto)


@numba.njit(cache=True, nogil=True)
def _ray_scatter(update, theta_rad, ray_position, deviation, proto):
    n0, n1 = update.shape
    ns, ds, dx, dy, x0, y0, center = _ray_setup(n0, theta_rad, ray_position, proto)
    if ns <= 0:
        return
    beta = _like(_HAMMING_BETA, proto)
    one_minus_beta = _like(1 - beta, proto)
    # cos(2*pi*k/(ns-1)) by a rotation recurrence, re-anchored every 32 steps
    step = 2 * math.pi / (ns - 1)
    cs = math.cos(step)
    sn = math.sin(step)
    ck = 1.0
    sk = 0.0
    for k in range(ns + 1):
        if k % 32 == 0:
            ck = math.cos(step * k)
            sk = math.sin(step * k)
        kk = _like(k, proto)
        x = _like(x0 + kk * dx, proto)
        y = _like(y0 + kk * dy, proto)
        index_i = _like(x + center, proto)
        index_j = _like(y + center, proto)
        fi = math.floor(np.float64(index_i))
        fj = math.floor(np.float64(index_j))
        i = int(fi)
        j = int(fj)
        di = _like(index_i - fi, proto)
        dj = _like(index_j - fj, proto)
        hamming = _like(one_minus_beta - beta * ck, proto)
        if i > 0 and j > 0:
            update[i, j] = update[i, j] + (
                deviation * (1.0 - di) * (1.0 - dj) * ds * hamming
            )
        if i > 0 and j < n1 - 1:
            update[i, j + 1] = update[i, j + 1] + (
                deviation * (1.0 - di) * dj * ds * hamming
            )
        if i < n0 - 1 and j > 0:
            update[i + 1, j] = update[i + 1, j] + (
                deviation * di * (1.0 - dj) * ds * hamming
            )
        if i < n0 - 1 and j < n1 - 1:
            update[i + 1, j + 1] = update[i + 1, j + 1] + (
                deviation * di * dj * ds * hamming
            )
        nck = ck * cs - sk * sn
        sk = sk * cs + ck * sn
        ck = nck


@numba.njit(cache=True, parallel=True)
def sart_angle_update(
    image, update, deviations, theta_deg, projection, shift, relaxation, lo, hi, do_clip
):
    """Apply one SART projection update in place (scikit-image semantics).

    Parameters
    ----------
    image : (M, M) float32/float64 array
        Current estimate, updated in place.
    update : (M, M) array, same dtype, all zeros
        Scratch buffer; left all zeros on return.
    deviations : (P,) array, same dtype
        Scratch buffer for the per-ray deviations.
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

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((8, 8)); upd = np.zeros_like(img); dev = np.zeros(8)
    >>> sart_angle_update(img, upd, dev, 0.0, np.ones(8), 0.0, 0.15, 0.0, 0.0, False)
    >>> bool(img.sum() > 0)
    True
    """
    proto = projection[0]
    n_rays = projection.shape[0]
    theta_rad = _like(theta_deg / 180.0 * np.pi, proto)
    for r in numba.prange(n_rays):
        pos = _like(_like(r, proto) + shift, proto)
        deviations[r] = _ray_deviation(image, theta_rad, pos, projection[r], proto)
    n_blocks = (n_rays + _BLOCK - 1) // _BLOCK
    for parity in range(2):
        n_par = (n_blocks - parity + 1) // 2
        for b in numba.prange(n_par):
            blk = 2 * b + parity
            for r in range(blk * _BLOCK, min(n_rays, (blk + 1) * _BLOCK)):
                pos = _like(_like(r, proto) + shift, proto)
                _ray_scatter(update, theta_rad, pos, deviations[r], proto)
    n0, n1 = image.shape
    for i in numba.prange(n0):
        for j in range(n1):
            u = update[i, j]
            v = image[i, j] + relaxation * u
            if do_clip:
                if v < lo:
                    v = lo
                if v > hi:
                    v = hi
            image[i, j] = v
            update[i, j] = 0
