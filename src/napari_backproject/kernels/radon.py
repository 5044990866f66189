"""Numba kernels for the Radon transform and filtered back projection.

These kernels reproduce scikit-image's sampling exactly:

* :func:`radon_project` samples the image where ``skimage.transform.warp``
  (bilinear, ``mode='constant'``) samples it when it rotates the image about
  ``center`` and sums along rows, so a sinogram matches ``skimage.transform.radon``
  to floating-point rounding.
* :func:`backproject_linear`, :func:`backproject_nearest` and
  :func:`backproject_cubic` evaluate ``np.interp`` / ``interp1d`` of each
  filtered projection at ``t = ypr * cos - xpr * sin`` and accumulate in the
  output dtype, angle after angle, as ``skimage.transform.iradon`` does.

They know nothing of napari, dask or files, keep no global state and are safe
to call from several threads at once.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "nonzero_radius",
    "radon_project",
    "backproject_linear",
    "backproject_nearest",
    "backproject_cubic",
]


@numba.njit(cache=True, nogil=True)
def nonzero_radius(image, center_r, center_c):
    """Largest distance from ``(center_r, center_c)`` of a non-zero pixel.

    Returns -1.0 when the image is all zeros.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((5, 5)); img[2, 4] = 1.0
    >>> float(nonzero_radius(img, 2.0, 2.0))
    2.0
    """
    best = -1.0
    rows, cols = image.shape
    for i in range(rows):
        di = (i - center_r) * (i - center_r)
        for j in range(cols):
            if image[i, j] != 0:
                d2 = di + (j - center_c) * (j - center_c)
                if d2 > best:
                    best = d2
    if best < 0:
        return -1.0
    return math.sqrt(best)


@numba.njit(cache=True, nogil=True, inline="always")
def _line_range(q0, v, lo, hi, k0, k1):
    """Shrink ``[k0, k1)`` to the ``k`` where ``lo < q0 + v*k < hi`` (+-1 margin)."""
    if abs(v) < 1e-12:
        if q0 <= lo or q0 >= hi:
            return 0, 0
        return k0, k1
    a = (lo - q0) / v
    b = (hi - q0) / v
    if a > b:
        a, b = b, a
    ka = int(math.floor(a)) - 1
    kb = int(math.ceil(b)) + 2
    if ka > k0:
        k0 = ka
    if kb < k1:
        k1 = kb
    return k0, k1


@numba.njit(cache=True, parallel=True)
def radon_project(image, matrices, size, off_r, off_c, support_radius, out):
    """Sum bilinear samples of a rotated image along rows (skimage ``radon``).

    Parameters
    ----------
    image : (H, W) float32/float64 array
        The image, placed at ``(off_r, off_c)`` inside a virtual zero-padded
        square of side ``size`` (the array scikit-image rotates).
    matrices : (n_angles, 6) float64 array
        Rows ``H0..H5`` of the inverse-map matrix used by ``warp`` for each
        angle (already rounded to the image dtype, as ``warp`` does).
    size : int
        Side of the virtual padded square (number of detector bins).
    off_r, off_c : int
        Position of ``image[0, 0]`` inside the padded square.
    support_radius : float
        Every non-zero pixel lies within this distance of the rotation
        centre ``size // 2`` (padded coordinates); -1 for an empty image.
        Samples farther than ``support_radius + 1.5`` are skipped (they are
        exactly zero).
    out : (n_angles, size) array
        Receives the projections, one row per angle.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.ones((3, 3))
    >>> m = np.array([[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]])
    >>> out = np.zeros((1, 3))
    >>> radon_project(img, m, 3, 0, 0, 1.5, out)
    >>> out.tolist()
    [[3.0, 3.0, 3.0]]
    """
    n_angles = matrices.shape[0]
    rows, cols = image.shape
    center = size // 2
    reach = support_radius + 1.5
    for a in numba.prange(n_angles):
        h0 = matrices[a, 0]
        h1 = matrices[a, 1]
        h2 = matrices[a, 2]
        h3 = matrices[a, 3]
        h4 = matrices[a, 4]
        h5 = matrices[a, 5]
        for d in range(size):
            acc = 0.0
            if support_radius < 0:
                out[a, d] = acc
                continue
            dd = d - center
            h2sq = reach * reach - dd * dd
            if h2sq < 0:
                out[a, d] = acc
                continue
            h = math.sqrt(h2sq)
            k0 = max(0, int(math.floor(center - h)) - 1)
            k1 = min(size, int(math.ceil(center + h)) + 2)
            # the sample (row r, col c) for output pixel (row k, col d)
            base_c = h0 * d
            base_r = h3 * d
            # clip to the rectangle holding the real image (+-1 for bilinear)
            k0, k1 = _line_range(
                base_r + h5 - off_r, h4, -1.0, rows * 1.0, k0, k1
            )
            k0, k1 = _line_range(
                base_c + h2 - off_c, h1, -1.0, cols * 1.0, k0, k1
            )
            if k0 < 0:
                k0 = 0
            if k1 > size:
                k1 = size
            for k in range(k0, k1):
                c = base_c + h1 * k + h2 - off_c
                r = base_r + h4 * k + h5 - off_r
                fr = math.floor(r)
                fc = math.floor(c)
                minr = int(fr)
                minc = int(fc)
                maxr = int(math.ceil(r))
                maxc = int(math.ceil(c))
                dr = r - minr
                dc = c - minc
                tl = 0.0
                tr = 0.0
                bl = 0.0
                br = 0.0
                if 0 <= minr < rows:
                    if 0 <= minc < cols:
                        tl = image[minr, minc]
                    if 0 <= maxc < cols:
                        tr = image[minr, maxc]
                if 0 <= maxr < rows:
                    if 0 <= minc < cols:
                        bl = image[maxr, minc]
                    if 0 <= maxc < cols:
                        br = image[maxr, maxc]
                top = (1 - dc) * tl + dc * tr
                bottom = (1 - dc) * bl + dc * br
                acc += (1 - dr) * top + dr * bottom
            out[a, d] = acc


@numba.njit(cache=True, nogil=True, inline="always")
def _row_span(i, radius, size, circle):
    if not circle:
        return 0, size
    xpr = i - radius
    rem = radius * radius - xpr * xpr
    if rem < 0:
        return 0, 0
    h = int(math.floor(math.sqrt(rem)))
    # exact integer bound: largest h with h*h <= rem
    while h * h > rem:
        h -= 1
    while (h + 1) * (h + 1) <= rem:
        h += 1
    j0 = radius - h
    j1 = radius + h + 1
    if j0 < 0:
        j0 = 0
    if j1 > size:
        j1 = size
    return j0, j1


@numba.njit(cache=True, parallel=True)
def backproject_linear(filtered, cos_a, sin_a, radius, circle, out):
    """Accumulate ``np.interp(t, x, col, left=0, right=0)`` over angles.

    Parameters
    ----------
    filtered : (n_angles, n_det) float64 array
        Filtered projections, one row per angle; detector ``k`` sits at
        ``x = k - n_det // 2``.
    cos_a, sin_a : (n_angles,) float64 arrays
        Cosine and sine of each angle (radians).
    radius : int
        ``output_size // 2``; pixel ``(i, j)`` is at ``xpr = i - radius``,
        ``ypr = j - radius`` and sees ``t = ypr * cos - xpr * sin``.
    circle : bool
        Only pixels with ``xpr**2 + ypr**2 <= radius**2`` are computed (the
        others stay as they are, zero in a fresh ``out``).
    out : (S, S) float32/float64 array, zero-initialised
        Accumulator (float32 accumulation reproduces scikit-image's
        ``reconstructed += ...`` on a float32 array).

    Examples
    --------
    >>> import numpy as np
    >>> out = np.zeros((3, 3))
    >>> backproject_linear(np.ones((1, 3)), np.ones(1), np.zeros(1), 1, False, out)
    >>> out.tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """
    n_angles, n_det = filtered.shape
    size = out.shape[0]
    half = n_det // 2
    lo = -half
    hi = n_det - 1 - half
    for i in numba.prange(size):
        j0, j1 = _row_span(i, radius, size, circle)
        xpr = i - radius
        for a in range(n_angles):
            c = cos_a[a]
            s = sin_a[a]
            xs = xpr * s
            for j in range(j0, j1):
                ypr = j - radius
                t = ypr * c - xs
                if t < lo or t > hi:
                    continue
                if t == hi:
                    val = filtered[a, n_det - 1]
                else:
                    ft = math.floor(t)
                    k = int(ft) + half
                    f0 = filtered[a, k]
                    slope = filtered[a, k + 1] - f0
                    val = slope * (t - ft) + f0
                out[i, j] = out[i, j] + val


@numba.njit(cache=True, parallel=True)
def backproject_nearest(filtered, cos_a, sin_a, radius, circle, out):
    """Like :func:`backproject_linear` with ``interp1d(kind='nearest')``.

    Ties (``t`` exactly half-way between two detectors) go to the lower
    detector, as SciPy's ``searchsorted(..., side='left')`` does.

    Examples
    --------
    >>> import numpy as np
    >>> out = np.zeros((3, 3))
    >>> backproject_nearest(np.ones((1, 3)), np.ones(1), np.zeros(1), 1, False, out)
    >>> float(out.sum())
    9.0
    """
    n_angles, n_det = filtered.shape
    size = out.shape[0]
    half = n_det // 2
    lo = -half
    hi = n_det - 1 - half
    for i in numba.prange(size):
        j0, j1 = _row_span(i, radius, size, circle)
        xpr = i - radius
        for a in range(n_angles):
            c = cos_a[a]
            s = sin_a[a]
            xs = xpr * s
            for j in range(j0, j1):
                ypr = j - radius
                t = ypr * c - xs
                if t < lo or t > hi:
                    continue
                ft = math.floor(t)
                k = int(ft) + half
                if t > ft + 0.5:
                    k += 1
                if k > n_det - 1:
                    k = n_det - 1
                out[i, j] = out[i, j] + filtered[a, k]


@numba.njit(cache=True, parallel=True)
def backproject_cubic(coeffs, cos_a, sin_a, n_det, radius, circle, out):
    """Like :func:`backproject_linear` for a piecewise cubic per angle.

    Parameters
    ----------
    coeffs : (n_angles, n_det - 1, 4) float64 array
        Polynomial coefficients (highest power first) of the cubic spline of
        each projection on each detector interval, in local coordinate
        ``t - x[k]`` (as :class:`scipy.interpolate.CubicSpline` ``c``).
    n_det : int
        Number of detector bins.

    Examples
    --------
    >>> import numpy as np
    >>> coeffs = np.zeros((1, 2, 4)); coeffs[..., 3] = 1.0
    >>> out = np.zeros((3, 3))
    >>> backproject_cubic(coeffs, np.ones(1), np.zeros(1), 3, 1, False, out)
    >>> float(out.sum())
    9.0
    """
    n_angles = coeffs.shape[0]
    size = out.shape[0]
    half = n_det // 2
    lo = -half
    hi = n_det - 1 - half
    for i in numba.prange(size):
        j0, j1 = _row_span(i, radius, size, circle)
        xpr = i - radius
        for a in range(n_angles):
            c = cos_a[a]
            s = sin_a[a]
            xs = xpr * s
            for j in range(j0, j1):
                ypr = j - radius
                t = ypr * c - xs
                if t < lo or t > hi:
                    continue
                ft = math.floor(t)
                k = int(ft) + half
                if k > n_det - 2:
                    k = n_det - 2
                dx = t - (k - half)
                val = ((coeffs[a, k, 0] * dx + coeffs[a, k, 1]) * dx + coeffs[a, k, 2]) * dx + coeffs[a, k, 3]
                out[i, j] = out[i, j] + val
