"""Radon transform and filtered back projection around their numba kernels.

The set-up scikit-image does in Python (crop or pad the image, the
rotation matrices, the filter, the interpolation tables), then one kernel
call: the numba ``prange`` kernel on the threads :func:`.parallel.use_threads`
grants, or the serial one.
"""

from __future__ import annotations

from warnings import warn

import numpy as np

from ..kernels.fbp import (
    CUBIC,
    HAVE_PERMUTE,
    LINEAR,
    NEAREST,
    backproject,
    backproject_serial,
    linear_table,
)
from ..kernels.radon import (
    N_SLABS,
    nonzero_radius,
    radon_project,
    radon_project_serial,
    support_slabs,
)
from .filters import filtered_projections
from .parallel import numba_threads, use_threads
from .validate import check_output_size, convert_to_float

__all__ = ["fbp", "sinogram"]


def sinogram(
    image: np.ndarray,
    theta: np.ndarray,
    circle: bool,
    preserve_range: bool,
    parallel: bool | None,
) -> np.ndarray:
    """:func:`napari_backproject.tomography.radon` after its input checks."""
    image = convert_to_float(image, preserve_range)
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
                stacklevel=3,
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
    threads = use_threads(parallel, size * size * len(theta))
    if threads > 1:
        with numba_threads(threads):
            radon_project(work, mats, size, off_r, off_c, support, slabs, out)
    else:
        radon_project_serial(work, mats, size, off_r, off_c, support, slabs, out)
    return np.ascontiguousarray(out.T)


def fbp(
    radon_image: np.ndarray,
    theta: np.ndarray,
    output_size: int | None,
    filter_name: str | None,
    interpolation: str,
    circle: bool,
    preserve_range: bool,
    parallel: bool | None,
) -> np.ndarray:
    """:func:`napari_backproject.tomography.iradon` after its input checks."""
    angles_count = len(theta)
    radon_image = convert_to_float(radon_image, preserve_range)
    dtype = radon_image.dtype

    img_shape = radon_image.shape[0]
    if output_size is None:
        if circle:
            output_size = img_shape
        else:
            output_size = int(np.floor(np.sqrt((img_shape) ** 2 / 2.0)))
    output_size = check_output_size(output_size)

    threads = use_threads(parallel, output_size * output_size * angles_count)
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
        with numba_threads(threads):
            backproject(*args, HAVE_PERMUTE)
    else:
        backproject_serial(*args, HAVE_PERMUTE)
    # in place, in scikit-image's order: (reconstructed * pi) / (2 * n)
    reconstructed *= np.pi
    reconstructed /= 2 * angles_count
    return reconstructed
