"""Numba kernels for the Radon transform (``skimage.transform.radon``).

:func:`radon_project` samples the image where ``skimage.transform.warp``
(bilinear, ``mode='constant'``) samples it when it rotates the image about
``center`` and sums along rows, so a sinogram matches scikit-image's to
floating-point rounding. Back projection lives in :mod:`.fbp`.

They know nothing of napari, dask or files, keep no global state and are safe
to call from several threads at once.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "nonzero_radius",
    "support_slabs",
    "N_SLABS",
    "radon_project",
    "radon_project_serial",
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


# zero border of the image copies: samples reach up to 3 pixels outside
# the image (row ranges' margins plus the paired row), +1 for the neighbour
_PAD = 6
N_SLABS = 8  # directions of the polygon that bounds the non-zero pixels


@numba.njit(cache=True, nogil=True)
def support_slabs(image, n_dirs):
    """Slabs ``lo <= nr*r + nc*c <= hi`` that hold every non-zero sample.

    For ``n_dirs`` directions ``(nr, nc) = (cos, sin)`` of ``m * pi / n_dirs``
    the rows are ``(nr, nc, lo, hi)``: the extremes of ``nr*i + nc*j`` over
    the non-zero pixels ``(i, j)``, widened by ``|nr| + |nc|`` so that a
    bilinear sample at ``(r, c)`` whose four neighbours are all zero-valued
    outside the polygon is itself outside. Together the slabs bound a convex
    polygon around the support; samples outside it are exactly zero.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((5, 5)); img[2, 3] = 1.0
    >>> s = support_slabs(img, 2)
    >>> s[0].tolist()  # rows: 2 +- 1.5
    [1.0, 0.0, 0.5, 3.5]
    """
    rows, cols = image.shape
    first = np.full(rows, -1, dtype=np.int64)
    last = np.full(rows, -1, dtype=np.int64)
    for i in range(rows):
        for j in range(cols):
            if image[i, j] != 0:
                if first[i] < 0:
                    first[i] = j
                last[i] = j
    out = np.zeros((n_dirs, 4), dtype=np.float64)
    for m in range(n_dirs):
        ang = m * math.pi / n_dirs
        nr = math.cos(ang)
        nc = math.sin(ang)
        if abs(nr) < 1e-15:
            nr = 0.0
        if abs(nc) < 1e-15:
            nc = 0.0
        lo = math.inf
        hi = -math.inf
        for i in range(rows):
            if first[i] < 0:
                continue
            for j in (first[i], last[i]):
                q = nr * i + nc * j
                if q < lo:
                    lo = q
                if q > hi:
                    hi = q
        # + 0.5: room for rounding in the callers' line arithmetic
        widen = abs(nr) + abs(nc) + 0.5
        out[m, 0] = nr
        out[m, 1] = nc
        out[m, 2] = lo - widen
        out[m, 3] = hi + widen
    return out


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


@numba.njit(cache=True, nogil=True)
def _padded_copies(image, pad):
    """Row-major and column-major copies of ``image`` with a zero border."""
    rows, cols = image.shape
    pw = cols + 2 * pad
    ph = rows + 2 * pad
    flat = np.zeros(ph * pw, dtype=image.dtype)
    flat_t = np.zeros(ph * pw, dtype=image.dtype)
    for i in range(rows):
        for j in range(cols):
            v = image[i, j]
            flat[(i + pad) * pw + j + pad] = v
            flat_t[(j + pad) * ph + i + pad] = v
    return flat, flat_t, pad


@numba.njit(cache=True, parallel=True)
def radon_project(image, matrices, size, off_r, off_c, support_radius, slabs, out):
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
    slabs : (m, 4) float64 array
        :func:`support_slabs` of ``image``: samples outside this polygon
        around the non-zero pixels are skipped too (also exact zeros, so the
        sums are unchanged).
    out : (n_angles, size) array
        Receives the projections, one row per angle.

    Notes
    -----
    Output pixel ``(k, d)`` of the rotated image samples the input at
    ``c = H0*d + H1*k + H2``, ``r = H3*d + H4*k + H5``; the projection is the
    sum over ``k`` (as ``rotated.sum(0)``; here two rows ``k`` at a time, so
    the sums agree to rounding). The loop runs ``k`` outside and ``d``
    inside so that memory is read along rows, and reads a copy of the image
    with a 6-pixel zero border so that the inner loop needs no bounds checks.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.ones((3, 3))
    >>> m = np.array([[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]])
    >>> out = np.zeros((1, 3))
    >>> radon_project(img, m, 3, 0, 0, 1.5, support_slabs(img, 4), out)
    >>> out.tolist()
    [[3.0, 3.0, 3.0]]
    """
    flat, flat_t, pad = _padded_copies(image, _PAD)
    for a in numba.prange(matrices.shape[0]):
        _radon_angle(
            flat,
            flat_t,
            pad,
            image.shape[0],
            image.shape[1],
            matrices[a],
            size,
            off_r,
            off_c,
            support_radius,
            slabs,
            out[a],
        )


@numba.njit(cache=True, nogil=True)
def radon_project_serial(
    image, matrices, size, off_r, off_c, support_radius, slabs, out
):
    """:func:`radon_project` on the calling thread only (same numbers).

    Examples
    --------
    >>> import numpy as np
    >>> out = np.zeros((1, 3))
    >>> img = np.ones((3, 3))
    >>> radon_project_serial(img, np.array([[1.0, 0, 0, 0, 1.0, 0]]),
    ...                      3, 0, 0, 1.5, support_slabs(img, 4), out)
    >>> out.tolist()
    [[3.0, 3.0, 3.0]]
    """
    flat, flat_t, pad = _padded_copies(image, _PAD)
    for a in range(matrices.shape[0]):
        _radon_angle(
            flat,
            flat_t,
            pad,
            image.shape[0],
            image.shape[1],
            matrices[a],
            size,
            off_r,
            off_c,
            support_radius,
            slabs,
            out[a],
        )


@numba.njit(cache=True, nogil=True, inline="always")
def _row_range(k, reach, center, size, mat, off_r, off_c, rows, cols, slab_lines):
    """Detectors ``[d0, d1)`` of rotated row ``k`` whose samples may be non-zero."""
    kk = k - center
    h2sq = reach * reach - kk * kk
    if h2sq < 0:
        return 0, 0
    h = math.sqrt(h2sq)
    d0 = max(0, int(math.floor(center - h)) - 1)
    d1 = min(size, int(math.ceil(center + h)) + 2)
    # -1 < r < rows and -1 < c < cols (+-2 samples that read the zero
    # border), elsewhere the sample is exactly 0
    r0 = mat[4] * k + mat[5] - off_r
    c0 = mat[1] * k + mat[2] - off_c
    d0, d1 = _line_range(r0, mat[3], -1.0, rows * 1.0, d0, d1)
    d0, d1 = _line_range(c0, mat[0], -1.0, cols * 1.0, d0, d1)
    # the support polygon: line m at (k, d) is a + b * k + v * d in [lo, hi]
    for m in range(slab_lines.shape[0]):
        if d1 <= d0:
            break
        a, b, v, lo, hi = slab_lines[m]
        d0, d1 = _line_range(a + b * k, v, lo, hi, d0, d1)
    return max(d0, 0), min(d1, size)


@numba.njit(cache=True, nogil=True, inline="always")
def _positions(h0, c0, h3, r0, pad, s_r, s_c, d0, d1, idxs, drs, dcs):
    """Padded flat index and fractions of the samples ``d0 <= d < d1``."""
    for d in range(d0, d1):
        u = np.uint64(d)
        c = h0 * d + c0
        r = h3 * d + r0
        fr = np.floor(r)
        fc = np.floor(c)
        drs[u] = r - fr
        dcs[u] = c - fc
        # >= 0: the padding holds every sample that reaches here
        idxs[u] = np.uint64((np.int64(fr) + pad) * s_r + (np.int64(fc) + pad) * s_c)


@numba.njit(cache=True, nogil=True, inline="always")
def _bilinear(img, idx, dr, dc, s_1, s_2, s_12):
    tl = img[idx]
    tr = img[idx + s_1]
    bl = img[idx + s_2]
    br = img[idx + s_12]
    top = tl + dc * (tr - tl)
    bottom = bl + dc * (br - bl)
    return top + dr * (bottom - top)


@numba.njit(cache=True, nogil=True, fastmath={"contract"})
def _radon_angle(
    flat,
    flat_t,
    pad,
    rows,
    cols,
    mat,
    size,
    off_r,
    off_c,
    support_radius,
    slabs,
    out_row,
):
    """One projection of :func:`radon_project` (see its notes)."""
    pw = cols + 2 * pad
    ph = rows + 2 * pad
    center = size // 2
    reach = support_radius + 1.5
    acc = np.zeros(size, dtype=np.float64)
    idxs = np.empty(size, dtype=np.uint64)
    drs = np.empty(size, dtype=np.float64)
    dcs = np.empty(size, dtype=np.float64)
    idxs2 = np.empty(size, dtype=np.uint64)
    drs2 = np.empty(size, dtype=np.float64)
    dcs2 = np.empty(size, dtype=np.float64)
    h0 = mat[0]
    h1 = mat[1]
    h2 = mat[2]
    h3 = mat[3]
    h4 = mat[4]
    h5 = mat[5]
    along_rows = abs(h0) >= abs(h3)
    # the support polygon along this angle's lines: nr*r + nc*c at sample
    # (k, d) is a + b * k + v * d, within [lo, hi]
    slab_lines = np.empty((slabs.shape[0], 5))
    for m in range(slabs.shape[0]):
        nr = slabs[m, 0]
        nc = slabs[m, 1]
        slab_lines[m, 0] = nr * (h5 - off_r) + nc * (h2 - off_c)
        slab_lines[m, 1] = nr * h4 + nc * h1
        slab_lines[m, 2] = nr * h3 + nc * h0
        slab_lines[m, 3] = slabs[m, 2]
        slab_lines[m, 4] = slabs[m, 3]
    if along_rows:
        s_r = pw
        s_c = 1
        img = flat
        s_1 = np.uint64(1)
        s_2 = np.uint64(pw)
    else:
        # same samples, read from the transposed copy so that memory is
        # walked contiguously
        s_r = 1
        s_c = ph
        img = flat_t
        s_1 = np.uint64(ph)
        s_2 = np.uint64(1)
    s_12 = s_1 + s_2
    if support_radius < 0:
        for d in range(size):
            out_row[d] = 0.0
        return
    # rows k and k + 1 of the rotated image go together: one pass over the
    # union of their detector ranges (samples outside a row's own range are
    # exact zeros that read the zero border) and one add per detector
    for k in range(0, size, 2):
        k2 = min(k + 1, size - 1)
        d0, d1 = _row_range(
            k, reach, center, size, mat, off_r, off_c, rows, cols, slab_lines
        )
        e0, e1 = 0, 0
        if k2 != k:
            e0, e1 = _row_range(
                k2, reach, center, size, mat, off_r, off_c, rows, cols, slab_lines
            )
        if e1 <= e0:
            if d1 <= d0:
                continue
            e0, e1 = d0, d1
            two = False
        else:
            two = k2 != k
            if d1 <= d0:
                d0, d1 = e0, e1
        d0 = min(d0, e0)
        d1 = max(d1, e1)
        # pass 1 (vectorised): sample positions -> index and fractions.
        # Unsigned indices: no negative-index wrapping, so the loop
        # vectorises with plain stores (signed ones gave scatters).
        _positions(
            h0,
            h1 * k + h2 - off_c,
            h3,
            h4 * k + h5 - off_r,
            pad,
            s_r,
            s_c,
            d0,
            d1,
            idxs,
            drs,
            dcs,
        )
        if two:
            _positions(
                h0,
                h1 * k2 + h2 - off_c,
                h3,
                h4 * k2 + h5 - off_r,
                pad,
                s_r,
                s_c,
                d0,
                d1,
                idxs2,
                drs2,
                dcs2,
            )
            # pass 2: gather the 4 neighbours of both samples, interpolate
            # (warp's bilinear weights, as top + dc * (tr - tl), one rounding)
            for d in range(d0, d1):
                u = np.uint64(d)
                v = _bilinear(img, idxs[u], drs[u], dcs[u], s_1, s_2, s_12)
                v2 = _bilinear(img, idxs2[u], drs2[u], dcs2[u], s_1, s_2, s_12)
                acc[u] += v + v2
        else:
            for d in range(d0, d1):
                u = np.uint64(d)
                acc[u] += _bilinear(img, idxs[u], drs[u], dcs[u], s_1, s_2, s_12)
    for d in range(size):
        out_row[d] = acc[d]
