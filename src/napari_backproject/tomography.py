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

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ._ct import project, stacks
from ._ct.center import from_centered, to_centered
from ._ct.sart import SartSetup, golden_order
from ._ct.validate import (
    as_2d_array,
    check_filter_and_interpolation,
    check_finite,
    check_n_iter,
    check_theta,
)
from ._progress import ProgressCallback

__all__ = [
    "radon",
    "iradon",
    "iradon_sart",
    "iradon_sart_iter",
    "radon_stack",
    "iradon_stack",
    "order_angles_golden_ratio",
]


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
    yield from (int(i) for i in golden_order(np.asarray(theta)))


def radon(
    image: np.ndarray,
    theta: Sequence[float] | np.ndarray | None = None,
    circle: bool = True,
    *,
    preserve_range: bool = False,
    parallel: bool | None = None,
    center: float | None = None,
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
        Keyword only (not in scikit-image). Use the threads this process
        may use (``True``: the CPUs of its affinity mask and CPU quota,
        capped by numba's thread count; one inside a dask worker's task),
        only the calling thread (``False``), or decide from the problem size
        (``None``, default). Results are identical either way.
    center : float, optional
        Keyword only. Detector coordinate of the rotation axis (default
        ``n_det // 2``, scikit-image's); the sinogram is shifted (sub-pixel).

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
    image = as_2d_array(image, "image", "The input image must be 2-D")
    check_finite(image, "image values")
    theta = check_theta(np.arange(180) if theta is None else theta)
    out = project.sinogram(image, theta, circle, preserve_range, parallel)
    return from_centered(out, center)


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
    center: float | None = None,
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
        Keyword only (not in scikit-image). Use the threads this process
        may use (``True``: the CPUs of its affinity mask and CPU quota,
        capped by numba's thread count; one inside a dask worker's task),
        only the calling thread (``False``), or decide from the problem size
        (``None``, default). Results are identical either way.
    center : float, optional
        Keyword only. Detector coordinate of the rotation axis (default
        ``n_det // 2``, scikit-image's); the sinogram is shifted (sub-pixel).

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
    radon_image = as_2d_array(radon_image, "radon_image", "The input image must be 2-D")
    if theta is None:
        theta = np.linspace(0, 180, radon_image.shape[1], endpoint=False)
    if len(theta) != radon_image.shape[1]:
        raise ValueError(
            "The given ``theta`` does not match the number of "
            "projections in ``radon_image``."
        )
    check_filter_and_interpolation(filter_name, interpolation)
    theta = check_theta(theta)
    check_finite(radon_image, "radon_image values")
    return project.fbp(
        to_centered(radon_image, center),
        theta,
        output_size,
        filter_name,
        interpolation,
        circle,
        preserve_range,
        parallel,
    )


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
    center: float | None = None,
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
        raise :class:`napari_backproject.Cancelled` in it to stop.
    parallel : bool or None, optional
        Keyword only. ``True`` splits the rays of each angle between the
        calling thread and a helper thread (two barriers per angle);
        ``False`` runs on the calling thread only; ``None`` (default) uses
        two threads for images of 128 x 128 and more when this process may
        use more than one CPU. Never more than two (a third thread only
        adds barrier and cache-line traffic). Results agree to rounding.

    center : float, optional
        Keyword only. Detector coordinate of the rotation axis (default
        ``n_det // 2``, scikit-image's); the sinogram is shifted (sub-pixel).

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
    radon_image = radon_image if center is None else to_centered(radon_image, center)
    setup = SartSetup(
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
    center: float | None = None,
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
    parallel, center : optional
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
    n_iter = check_n_iter(n_iter)
    radon_image = radon_image if center is None else to_centered(radon_image, center)
    setup = SartSetup(
        radon_image, theta, image, projection_shifts, clip, relaxation, dtype, parallel
    )
    n = len(setup.order)
    for it in range(n_iter):
        setup.iterate(progress, it * n, n_iter * n)
        yield setup.image.copy()


def radon_stack(
    volume: Any,
    theta: Sequence[float] | np.ndarray | None = None,
    circle: bool = True,
    *,
    preserve_range: bool = False,
    slices_per_chunk: int = 1,
    center: float | None = None,
):
    """Lazy Radon transform of every slice of a stack.

    Parameters
    ----------
    volume : (n, M, N) array-like (NumPy, dask, zarr, memmap)
        Slices first.
    theta, circle, preserve_range, center
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
    return stacks.radon_stack(
        volume, theta, circle, preserve_range, slices_per_chunk, center=center
    )


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
    return stacks.iradon_stack(sinograms, theta, method, slices_per_chunk, dict(kwargs))
