"""The rotation centre: shifting sinograms to it, finding it, checking it by eye.

``center`` is the detector coordinate of the rotation axis (DESIGN.md); the
reconstruction functions assume scikit-image's ``n // 2``. A sinogram whose
axis is elsewhere is shifted along the detector by ``n // 2 - center``
(a sub-pixel Fourier shift) before reconstruction; a sinogram made on a
centred grid is shifted by ``center - n // 2`` to put its axis at
``center``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from .._progress import ProgressCallback, report

__all__ = [
    "CenterSweep",
    "center_sweep",
    "check_center",
    "find_center",
    "shift_detector",
    "to_centered",
    "from_centered",
]


# --------------------------------------------------------------------------
# shifting
# --------------------------------------------------------------------------
def check_center(center: Any, n_det: int) -> float:
    """Validate a rotation centre for a detector of ``n_det`` pixels.

    Parameters
    ----------
    center : float
        Detector coordinate of the rotation axis (pixel ``i`` is at ``i``).
    n_det : int
        Number of detector pixels.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Not a finite number, or outside ``[0, n_det - 1]``.

    Examples
    --------
    >>> check_center(63.5, 128)
    63.5
    """
    try:
        value = float(center)
    except (TypeError, ValueError):
        raise ValueError(
            f"center must be a number (detector pixel of the rotation axis), "
            f"got {center!r}."
        ) from None
    if not np.isfinite(value) or not 0.0 <= value <= n_det - 1:
        raise ValueError(
            f"center={center!r} is outside the detector: it must lie in "
            f"[0, {n_det - 1}] (pixels of a {n_det}-pixel detector; the default "
            f"is {n_det // 2})."
        )
    return value


def shift_detector(data: np.ndarray, shift: float, axis: int = 0) -> np.ndarray:
    """Shift ``data`` by ``shift`` pixels along ``axis`` (sub-pixel, Fourier).

    Content moves towards higher indices for a positive ``shift``. The axis
    is padded with its edge values to twice its length before the phase
    ramp is applied, so nothing wraps around; integer shifts are exact.

    Parameters
    ----------
    data : array
        Real array (a sinogram has the detector on axis 0).
    shift : float
        Pixels.
    axis : int, optional
        The detector axis.

    Returns
    -------
    numpy.ndarray
        Same shape; float32 for float32 input, float64 otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> shift_detector(np.array([0.0, 1.0, 0.0, 0.0]), 1.0).round(6).tolist()
    [0.0, 0.0, 1.0, 0.0]
    """
    data = np.asarray(data)
    dtype = np.float32 if data.dtype == np.float32 else np.float64
    if shift == 0:
        return data.astype(dtype, copy=True)
    n = data.shape[axis]
    pad = n // 2 + int(np.ceil(abs(shift))) + 1
    widths = [(0, 0)] * data.ndim
    widths[axis] = (pad, pad)
    padded = np.pad(data.astype(np.float64), widths, mode="edge")
    m = padded.shape[axis]
    if float(shift).is_integer():
        out = np.roll(padded, int(shift), axis=axis)
    else:
        freq = np.fft.rfftfreq(m)
        ramp = np.exp(-2j * np.pi * freq * shift)
        if m % 2 == 0:  # the Nyquist bin of a real signal must stay real
            ramp[-1] = np.cos(np.pi * shift)
        shape = [1] * data.ndim
        shape[axis] = ramp.size
        spectrum = np.fft.rfft(padded, axis=axis) * ramp.reshape(shape)
        out = np.fft.irfft(spectrum, n=m, axis=axis)
    index = [slice(None)] * data.ndim
    index[axis] = slice(pad, pad + n)
    return np.ascontiguousarray(out[tuple(index)], dtype=dtype)


def to_centered(sinogram: np.ndarray, center: float | None) -> np.ndarray:
    """Shift a ``(detector, angle)`` sinogram so that its axis is at ``n // 2``.

    ``center=None`` returns the sinogram unchanged (not copied).

    Examples
    --------
    >>> import numpy as np
    >>> sino = np.zeros((8, 2)); sino[5] = 1.0    # axis at 5, not 8 // 2 = 4
    >>> to_centered(sino, 5.0)[:, 0].round(6).tolist()
    [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    """
    if center is None:
        return sinogram
    n = int(np.shape(sinogram)[0])
    center = check_center(center, n)
    return shift_detector(sinogram, n // 2 - center, axis=0)


def from_centered(sinogram: np.ndarray, center: float | None) -> np.ndarray:
    """Inverse of :func:`to_centered`: move the axis from ``n // 2`` to ``center``.

    Examples
    --------
    >>> import numpy as np
    >>> sino = np.zeros((8, 2)); sino[4] = 1.0
    >>> from_centered(sino, 6.0)[:, 0].round(6).tolist()
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    """
    if center is None:
        return sinogram
    n = int(np.shape(sinogram)[0])
    center = check_center(center, n)
    return shift_detector(sinogram, center - n // 2, axis=0)


# --------------------------------------------------------------------------
# finding
# --------------------------------------------------------------------------
def _half_turn(sinogram: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """(angle, detector) rows of one half turn [t0, t0 + 180), sorted."""
    order = np.argsort(theta, kind="stable")
    theta = theta[order]
    sino = sinogram[:, order].T
    step = float(np.median(np.diff(theta))) if theta.size > 1 else 0.0
    keep = theta < theta[0] + 180.0 - 0.5 * step
    theta, sino = theta[keep], sino[keep]
    span = theta[-1] - theta[0] + step
    if theta.size < 8 or abs(span - 180.0) > max(2.0 * step, 1.0):
        raise ValueError(
            f"find_center needs projections over half a turn (180 degrees, at "
            f"least 8 angles, evenly spaced); theta covers {span:.3g} degrees "
            f"with {theta.size} angles."
        )
    return sino


def _forbidden_mask(n_rows: int, n_cols: int, radius: float) -> np.ndarray:
    """Where the 2-D spectrum of a consistent 360-degree sinogram is ~zero.

    A point at distance ``r`` from the axis draws ``r cos(theta - phi)``,
    whose spectrum holds angular frequencies ``|k| <= 2 pi r |u|`` (``u`` in
    cycles per pixel, ``k`` in cycles per turn): everything of an object
    within ``radius`` lies inside that double wedge. A wrong centre breaks
    the sinogram at the 180-degree seam and spreads energy outside it.
    """
    k = np.abs(np.fft.fftfreq(n_rows) * n_rows)[:, None]
    u = np.abs(np.fft.rfftfreq(n_cols))[None, :]
    mask = k > 2.0 * np.pi * radius * u + 2.0
    mask[:, :2] = False  # the mean and the slowest detector frequency
    return mask


def _metric(half: np.ndarray, flipped: np.ndarray, mask: np.ndarray, s: float):
    full = np.vstack([half, shift_detector(flipped, s, axis=1)])
    spectrum = np.abs(np.fft.rfft2(full))
    return float(spectrum[mask].mean())


def find_center(
    sinogram: np.ndarray,
    theta: Sequence[float] | np.ndarray | None = None,
    *,
    search: tuple[float, float] | None = None,
    radius: float | None = None,
) -> float:
    """Find the rotation centre of a sinogram to a fraction of a pixel.

    Method: Vo, Drakopoulos, Atwood and Reinhard, "Reliable method for
    calculating the center of rotation in parallel-beam tomography", Optics
    Express 22(16), 19078 (2014). The half-turn sinogram and its mirror image
    (the same projections seen from the other side) are stacked into a full
    turn; only for the right centre is that full-turn sinogram continuous at
    the seam, and then its 2-D Fourier spectrum is confined to a double
    wedge. The centre minimises the mean spectral magnitude outside the
    wedge. Why this one: it uses every projection (robust to noise, to
    zingers and to the sample's own symmetry), it needs no exact 0/180
    degree pair (which scans over ``[0, 180)`` do not have), and it needs no
    reconstruction (fast). A coarse search on a one-pixel grid of centres
    is refined on a 1/8-pixel grid, and a parabola through the three best
    values gives the sub-pixel centre.

    Parameters
    ----------
    sinogram : (detector, angle) array
        One detector row, after flat-field correction and
        :func:`~napari_backproject.minus_log` (rings removed helps).
    theta : array of float, optional
        Angles in degrees, covering half a turn evenly (default
        ``n_angles`` angles over ``[0, 180)``). Angles at or beyond
        ``theta[0] + 180`` are ignored.
    search : (low, high), optional
        Range of candidate centres in pixels (default the middle half of
        the detector, ``[n/4, 3n/4]``).
    radius : float, optional
        Radius in pixels within which the object lies (default half the
        detector).

    Returns
    -------
    float
        Detector coordinate of the rotation axis (scikit-image's default
        is ``n // 2``).

    Raises
    ------
    ValueError
        Not 2-D, NaN/inf, ``theta`` not matching the angles or not covering
        half a turn, a ``search`` range outside the detector.

    Examples
    --------
    >>> import numpy as np
    >>> from napari_backproject.tomography import radon
    >>> img = np.zeros((64, 64)); img[20:30, 25:45] = 1.0; img[40:44, 30:34] = 2
    >>> theta = np.linspace(0, 180, 120, endpoint=False)
    >>> sino = from_centered(radon(img, theta), 33.3)   # axis at 33.3, not 32
    >>> round(find_center(sino, theta), 1)
    33.3
    """
    sino = np.asarray(sinogram, dtype=np.float64)
    if sino.ndim != 2:
        raise ValueError(
            f"sinogram must be 2-D (detector, angle), got shape {sino.shape}; "
            "for a projection stack (angle, row, column) take one row: "
            "`projections[:, row, :].T`."
        )
    if not np.isfinite(sino).all():
        raise ValueError("sinogram contains NaN or infinite values.")
    n_det, n_ang = sino.shape
    theta = (
        np.linspace(0, 180, n_ang, endpoint=False)
        if theta is None
        else np.asarray(theta, dtype=np.float64)
    )
    if theta.ndim != 1 or theta.size != n_ang:
        raise ValueError(
            f"theta has {theta.size} angles but the sinogram has {n_ang} "
            "(its last axis)."
        )
    half = _half_turn(sino, theta)
    half = half - half.mean()
    flipped = half[:, ::-1]
    low, high = search if search is not None else (n_det / 4.0, 3.0 * n_det / 4.0)
    low, high = check_center(low, n_det), check_center(high, n_det)
    if high <= low:
        raise ValueError(f"search must be (low, high) with low < high; got {search}.")
    mask = _forbidden_mask(2 * half.shape[0], n_det, radius or n_det / 2.0)

    def shift_of(c):
        return 2.0 * c - n_det + 1.0

    coarse = np.arange(low, high + 0.5, 1.0)
    values = [_metric(half, flipped, mask, shift_of(c)) for c in coarse]
    best = coarse[int(np.argmin(values))]
    fine = best + np.arange(-1.0, 1.01, 0.125)
    values = np.array([_metric(half, flipped, mask, shift_of(c)) for c in fine])
    i = int(np.clip(np.argmin(values), 1, len(fine) - 2))
    y0, y1, y2 = values[i - 1 : i + 2]
    curvature = y0 - 2.0 * y1 + y2
    offset = 0.5 * (y0 - y2) / curvature if curvature > 0 else 0.0
    center = fine[i] + float(np.clip(offset, -1.0, 1.0)) * 0.125
    return float(np.clip(center, 0.0, n_det - 1.0))


# --------------------------------------------------------------------------
# checking by eye
# --------------------------------------------------------------------------
class CenterSweep(NamedTuple):
    """Reconstructions of one row at candidate centres.

    Attributes
    ----------
    images : (n_centers, S, S) numpy.ndarray
        ``images[i]`` is the reconstruction with the axis at ``centers[i]``.
    centers : (n_centers,) numpy.ndarray
        The candidate centres, in detector pixels.
    """

    images: np.ndarray
    centers: np.ndarray


def center_sweep(
    sinogram: np.ndarray,
    theta: Sequence[float] | np.ndarray | None = None,
    centers: Sequence[float] | np.ndarray | None = None,
    *,
    progress: ProgressCallback | None = None,
    **iradon_kwargs: Any,
) -> CenterSweep:
    """Reconstruct one sinogram at several candidate centres (FBP).

    Scroll through the result in napari: the right centre gives sharp edges;
    a wrong one draws arcs (half-moons) around small features.

    Parameters
    ----------
    sinogram : (detector, angle) array
        One detector row.
    theta : array of float, optional
        Angles in degrees (default evenly over ``[0, 180)``).
    centers : array of float, optional
        Candidate centres (default 21 values from ``find_center - 5`` to
        ``+ 5`` in steps of 0.5).
    progress : callable, optional
        ``progress(done, total)`` after each centre; raise
        :class:`napari_backproject._progress.Cancelled` in it to stop.
    **iradon_kwargs
        Passed to :func:`napari_backproject.iradon` (``filter_name``,
        ``output_size``, ``interpolation``, ``circle``).

    Returns
    -------
    CenterSweep
        ``(images, centers)``.

    Raises
    ------
    ValueError
        Bad sinogram or theta (as :func:`napari_backproject.iradon`), an
        empty ``centers`` or a centre outside the detector.

    Examples
    --------
    >>> import numpy as np
    >>> sweep = center_sweep(np.ones((32, 16)), centers=[15.0, 16.0, 17.0])
    >>> sweep.images.shape, sweep.centers.tolist()
    ((3, 32, 32), [15.0, 16.0, 17.0])
    """
    from ..tomography import iradon

    sino = np.asarray(sinogram)
    if sino.ndim != 2:
        raise ValueError(
            f"sinogram must be 2-D (detector, angle), got shape {sino.shape}."
        )
    n_det = sino.shape[0]
    if theta is None:
        theta = np.linspace(0, 180, sino.shape[1], endpoint=False)
    if centers is None:
        middle = find_center(sino, theta)
        centers = np.clip(middle + np.arange(-5.0, 5.01, 0.5), 0, n_det - 1)
    centers = np.asarray(centers, dtype=np.float64).ravel()
    if centers.size == 0:
        raise ValueError("centers is empty; give at least one candidate centre.")
    for c in centers:
        check_center(c, n_det)
    first = iradon(to_centered(sino, centers[0]), theta, **iradon_kwargs)
    images = np.empty((centers.size, *first.shape), dtype=first.dtype)
    images[0] = first
    report(progress, 1, centers.size)
    for i in range(1, centers.size):
        images[i] = iradon(to_centered(sino, centers[i]), theta, **iradon_kwargs)
        report(progress, i + 1, centers.size)
    return CenterSweep(images, centers)
