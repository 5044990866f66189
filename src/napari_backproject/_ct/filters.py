"""Ramp-type filtering of sinograms for filtered back projection.

scikit-image's ``iradon`` pads each projection with zeros to a power of two
``P >= 2 * n`` and multiplies its FFT by a Fourier filter of length ``P``:
a circular convolution with the filter's impulse response ``h``. Back
projection then reads only the detector bins that the output pixels see, so
:func:`filtered_projections` computes just those bins, with the same ``h``,
as a shorter circular convolution over the lags that can occur (of length
``next_fast_len(bins needed + bins of data - 1)``, usually about half of
``P``). The numbers are scikit-image's to floating-point rounding.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import fft as sfft

__all__ = ["fourier_filter", "filtered_projections", "square_padding"]


def fourier_filter(size: int, filter_name: str | None) -> np.ndarray:
    """scikit-image's Fourier filter for ``iradon`` (1-D, length ``size``).

    Parameters
    ----------
    size : int
        Length of the padded projection (a power of two).
    filter_name : {'ramp', 'shepp-logan', 'cosine', 'hamming', 'hann', None}
        Filter; ``None`` is no filtering.

    Returns
    -------
    numpy.ndarray
        Real filter, frequencies in FFT order.

    Examples
    --------
    >>> fourier_filter(8, "ramp").round(3).tolist()[:3]
    [0.05, 0.245, 0.5]
    """
    n = np.concatenate(
        (
            np.arange(1, size / 2 + 1, 2, dtype=int),
            np.arange(size / 2 - 1, 0, -2, dtype=int),
        )
    )
    f = np.zeros(size)
    f[0] = 0.25
    f[1::2] = -1 / (np.pi * n) ** 2
    filt = 2 * np.real(sfft.fft(f))
    if filter_name == "ramp":
        pass
    elif filter_name == "shepp-logan":
        omega = np.pi * sfft.fftfreq(size)[1:]
        filt[1:] *= np.sin(omega) / omega
    elif filter_name == "cosine":
        freq = np.linspace(0, np.pi, size, endpoint=False)
        filt *= sfft.fftshift(np.sin(freq))
    elif filter_name == "hamming":
        filt *= sfft.fftshift(np.hamming(size))
    elif filter_name == "hann":
        filt *= sfft.fftshift(np.hanning(size))
    elif filter_name is None:
        filt[:] = 1
    else:
        raise ValueError(f"Unknown filter: {filter_name}")
    return filt


def square_padding(n_det: int, circle: bool) -> tuple[int, int]:
    """Length of the padded detector and where the data start in it.

    With ``circle=True`` scikit-image pads the sinogram to the diagonal of
    the square the circle sits in, keeping the centre bin at ``length // 2``.

    Examples
    --------
    >>> square_padding(512, True)
    (725, 106)
    >>> square_padding(512, False)
    (512, 0)
    """
    if not circle:
        return n_det, 0
    diagonal = int(np.ceil(np.sqrt(2) * n_det))
    return diagonal, diagonal // 2 - n_det // 2


@lru_cache(maxsize=16)
def _impulse_response(size: int, filter_name: str | None) -> np.ndarray:
    """``real(ifft(filter))``: the kernel scikit-image convolves with."""
    filt = fourier_filter(size, filter_name)
    # real(ifft(X * H)) for real x equals x convolved with irfft of the
    # even part of H
    h_sym = 0.5 * (filt + np.roll(filt[::-1], 1))
    h = sfft.irfft(h_sym[: size // 2 + 1], n=size)
    h.flags.writeable = False
    return h


@lru_cache(maxsize=32)
def _lag_spectrum(
    size: int, filter_name: str | None, n_fft: int, first_lag: int, n_in: int
) -> np.ndarray:
    """rfft of the kernel taps for lags ``first_lag + o``, laid out for ``n_fft``.

    Output bin ``o`` (``0 <= o < n_out``) of the short convolution reads input
    ``i`` (``0 <= i < n_in``) through tap ``h[first_lag + o - i]``; tap
    ``o - i`` sits at index ``(o - i) mod n_fft``.
    """
    h = _impulse_response(size, filter_name)
    g = np.zeros(n_fft)
    lags = np.arange(-(n_in - 1), n_fft - (n_in - 1))
    g[lags % n_fft] = h[(lags + first_lag) % size]
    spec = sfft.rfft(g)
    spec.flags.writeable = False
    return spec


def filtered_projections(
    radon_image: np.ndarray,
    filter_name: str | None,
    circle: bool,
    reach: float | None = None,
    workers: int = 1,
) -> tuple[np.ndarray, int, int]:
    """Filter each projection as scikit-image's ``iradon`` does.

    Parameters
    ----------
    radon_image : (n_det, n_angles) float array
        Sinogram.
    filter_name : str or None
        One of scikit-image's filter names.
    circle : bool
        Pad the detector as scikit-image does for ``circle=True``.
    reach : float, optional
        Largest ``|t|`` (distance from the centre bin) that back projection
        will interpolate at; bins farther than ``ceil(reach)`` are left
        zero. ``None``: all bins. (For a 512 detector and ``reach=256`` the
        513 bins needed plus the 512 of data fit a 1024-point FFT.)
    workers : int
        FFT threads.

    Returns
    -------
    filtered : (n_angles, length) float64 array
        Filtered projections on the padded detector (``length`` bins, centre
        at ``length // 2``), zero outside the bins computed.
    n0, n1 : int
        The bins computed, ``n0 <= k < n1``.

    Examples
    --------
    >>> import numpy as np
    >>> sino = np.zeros((16, 3)); sino[8] = 1.0
    >>> f, n0, n1 = filtered_projections(sino, "ramp", circle=False)
    >>> f.shape, n0, n1, round(float(f[0, 8]), 3)
    ((3, 16), 0, 16, 0.5)
    """
    n_det, n_angles = radon_image.shape
    length, start = square_padding(n_det, circle)
    size = max(64, int(2 ** np.ceil(np.log2(2 * length))))
    half = length // 2
    n0, n1 = 0, length
    if reach is not None:
        # bins half - r .. half + r: every t in [-reach, reach] reads
        # f[k] and f[k + 1] with k = floor(t) in there (the slope at
        # k = half + r is read only for t = reach, with weight 0; t one
        # rounding error beyond the range reads a zero bin with weight 0
        # or 1 - w ~ 0, so the result is continuous)
        r = int(np.ceil(reach))
        n0, n1 = max(0, half - r), min(length, half + r + 1)
    n_out = n1 - n0
    n_fft = sfft.next_fast_len(n_out + n_det - 1, real=True)
    if n_fft >= size:  # no gain: scikit-image's own length
        n_fft = size
    spec_h = _lag_spectrum(size, filter_name, n_fft, n0 - start, n_det)
    spec = sfft.rfft(radon_image.T, n=n_fft, axis=1, workers=workers)
    spec *= spec_h
    conv = sfft.irfft(spec, n=n_fft, axis=1, workers=workers)
    out = np.zeros((n_angles, length))
    out[:, n0:n1] = conv[:, :n_out]
    return out, n0, n1
