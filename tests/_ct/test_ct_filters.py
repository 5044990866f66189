"""The short-convolution sinogram filter against scikit-image's FFT filter."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.transform as sk
from skimage.transform.radon_transform import _get_fourier_filter

from napari_backproject._ct.filters import filtered_projections, square_padding
from napari_backproject.tomography import iradon

FILTERS = ["ramp", "shepp-logan", "cosine", "hamming", "hann", None]


def _skimage_filtered(sino, filter_name, circle):
    """scikit-image's own steps (radon_transform.iradon), projection by row."""
    if circle:
        length, start = square_padding(sino.shape[0], True)
        padded_sino = np.zeros((length, sino.shape[1]))
        padded_sino[start : start + sino.shape[0]] = sino
        sino = padded_sino
    size = max(64, int(2 ** np.ceil(np.log2(2 * sino.shape[0]))))
    padded = np.pad(sino, ((0, size - sino.shape[0]), (0, 0)))
    filt = _get_fourier_filter(size, filter_name)
    proj = np.fft.fft(padded, axis=0) * filt
    return np.real(np.fft.ifft(proj, axis=0)[: sino.shape[0], :]).T


@pytest.mark.parametrize("n_det", [17, 32, 101])
@pytest.mark.parametrize("filter_name", FILTERS)
@pytest.mark.parametrize("circle", [True, False])
@pytest.mark.parametrize("reach", [None, 3.0, 0.3, 40.0])
def test_bins_computed_equal_skimage(n_det, filter_name, circle, reach):
    rng = np.random.default_rng(n_det)
    sino = rng.standard_normal((n_det, 7))
    ref = _skimage_filtered(sino, filter_name, circle)
    ours, n0, n1 = filtered_projections(sino, filter_name, circle, reach)
    assert ours.shape == ref.shape
    half = ours.shape[1] // 2
    if reach is None:
        assert (n0, n1) == (0, ours.shape[1])
    else:  # at least every bin within the reach
        assert n0 <= max(0, half - int(np.ceil(reach)))
        assert n1 >= min(ours.shape[1], half + int(np.ceil(reach)) + 1)
    scale = np.abs(ref).max()
    np.testing.assert_allclose(ours[:, n0:n1], ref[:, n0:n1], atol=1e-12 * scale)
    assert not ours[:, :n0].any() and not ours[:, n1:].any()


def test_short_convolution_is_shorter_than_skimage_padding():
    sino = np.ones((512, 4))
    # 725 padded bins, 2048-point FFT in scikit-image; 513 + 512 - 1 here
    ours, n0, n1 = filtered_projections(sino, "ramp", True, 256.0)
    assert n1 - n0 == 513
    ref = _skimage_filtered(sino, "ramp", True)
    np.testing.assert_allclose(ours[:, n0:n1], ref[:, n0:n1], atol=1e-12)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8])
@pytest.mark.parametrize("circle", [True, False])
def test_iradon_tiny_sizes(n, circle):
    if not circle and n == 1:
        pytest.skip("default output size 0: an error here (tested elsewhere)")
    rng = np.random.default_rng(n)
    sino = rng.random((n, 6))
    theta = np.linspace(0, 180, 6, endpoint=False)
    ref = sk.iradon(sino, theta, circle=circle)
    ours = iradon(sino, theta, circle=circle)
    np.testing.assert_allclose(ours, ref, atol=1e-12 * max(1.0, np.abs(ref).max()))
