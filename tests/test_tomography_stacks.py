"""Lazy stack versions: radon_stack / iradon_stack."""

from __future__ import annotations

import threading

import dask.array as da
import numpy as np
import pytest
import skimage.transform as sk

from napari_backproject import iradon_stack, radon_stack
from napari_backproject.tomography import iradon, iradon_sart, radon

THETA = np.linspace(0, 180, 16, endpoint=False)


def _volume(n=5, size=24, seed=0):
    rng = np.random.default_rng(seed)
    vol = rng.random((n, size, size))
    r = (np.arange(size) - size // 2) ** 2
    vol[:, (r[:, None] + r[None, :]) > (size // 2) ** 2] = 0
    return vol


class CountingStack:
    """Array-like that records which slices were read."""

    def __init__(self, data):
        self.data = data
        self.shape = data.shape
        self.dtype = data.dtype
        self.ndim = data.ndim
        self.read = []
        self._lock = threading.Lock()

    def __getitem__(self, key):
        out = self.data[key]
        if out.size:
            first = key[0] if isinstance(key, tuple) else key
            with self._lock:
                self.read.append(first)
        return out


def test_radon_stack_matches_per_slice_and_is_lazy():
    vol = _volume()
    res = radon_stack(vol, THETA)
    assert isinstance(res, da.Array)
    assert res.shape == (5, 24, 16)
    assert res.chunks[0] == (1, 1, 1, 1, 1)
    assert res.dtype == np.float64
    expected = np.stack([sk.radon(s, THETA) for s in vol])
    np.testing.assert_allclose(res.compute(), expected, rtol=0, atol=1e-12)


def test_computing_one_slice_reads_only_that_slice():
    src = CountingStack(_volume(6))
    res = radon_stack(src, THETA)
    assert src.read == []  # building the graph reads nothing
    one = res[3].compute()
    np.testing.assert_allclose(one, radon(src.data[3], THETA), atol=1e-12)
    assert src.read == [slice(3, 4, None)]


def test_iradon_stack_one_slice_reads_only_that_slice():
    src = CountingStack(np.stack([radon(s, THETA) for s in _volume(4)]))
    res = iradon_stack(src, THETA, method="fbp")
    res[1].compute()
    assert src.read == [slice(1, 2, None)]


def test_radon_stack_accepts_dask_and_zarr_and_chunks():
    zarr = pytest.importorskip("zarr")
    vol = _volume(4).astype(np.float32)
    z = zarr.zeros(vol.shape, chunks=(1, 24, 24), dtype=np.float32)
    z[:] = vol
    d = da.from_array(vol, chunks=(2, 12, 12))
    for src in (z, d):
        res = radon_stack(src, THETA, slices_per_chunk=2)
        assert res.chunks[0] == (2, 2)
        assert res.dtype == np.float32
        ref = np.stack([radon(s, THETA) for s in vol])
        np.testing.assert_array_equal(res.compute(), ref)


def test_radon_stack_circle_false_shape():
    vol = _volume(2, 20)
    res = radon_stack(vol, THETA, circle=False)
    ref = sk.radon(vol[0], THETA, circle=False)
    assert res.shape == (2,) + ref.shape
    np.testing.assert_allclose(res[0].compute(), ref, atol=1e-12)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"filter_name": "hann", "interpolation": "nearest"},
        {"output_size": 30, "circle": False, "interpolation": "cubic"},
    ],
)
def test_iradon_stack_fbp(kwargs):
    sinos = np.stack([radon(s, THETA) for s in _volume(3)])
    res = iradon_stack(sinos, THETA, **kwargs)
    ref = np.stack([sk.iradon(s, THETA, **kwargs) for s in sinos])
    assert res.shape == ref.shape
    assert res.dtype == ref.dtype
    np.testing.assert_allclose(res.compute(), ref, rtol=0, atol=1e-9)


def test_iradon_stack_sart_iterations():
    sinos = np.stack([radon(s, THETA) for s in _volume(2)]).astype(np.float32)
    res = iradon_stack(
        sinos, THETA, method="sart", n_iter=2, relaxation=0.2, clip=(0, 2)
    )
    assert res.dtype == np.float32
    out = res.compute()
    for k, s in enumerate(sinos):
        est = iradon_sart(s, THETA, relaxation=0.2, clip=(0, 2))
        est = iradon_sart(s, THETA, image=est, relaxation=0.2, clip=(0, 2))
        np.testing.assert_array_equal(out[k], est)


def test_iradon_stack_default_theta_matches_iradon():
    sinos = np.stack([radon(s, THETA) for s in _volume(2)])
    np.testing.assert_allclose(
        iradon_stack(sinos).compute()[1], iradon(sinos[1]), atol=1e-12
    )


def test_stack_errors():
    with pytest.raises(ValueError, match="must be 3-D"):
        radon_stack(np.zeros((8, 8)))
    with pytest.raises(ValueError, match="must be 3-D"):
        iradon_stack(np.zeros((8, 8)))
    with pytest.raises(ValueError, match="Unknown method"):
        iradon_stack(np.zeros((2, 8, 4)), method="art")
    with pytest.raises(TypeError, match="unexpected keyword"):
        iradon_stack(np.zeros((2, 8, 4)), method="fbp", n_iter=3)
    with pytest.raises(TypeError, match="unexpected keyword"):
        iradon_stack(np.zeros((2, 8, 4)), method="sart", filter_name="ramp")
    with pytest.raises(ValueError, match="does not match the number of projections"):
        iradon_stack(np.zeros((2, 8, 4)), theta=np.arange(5))
    with pytest.raises(ValueError, match="Unknown filter"):
        iradon_stack(np.zeros((2, 8, 4)), filter_name="box")
    with pytest.raises(ValueError, match="Unknown interpolation"):
        iradon_stack(np.zeros((2, 8, 4)), interpolation="spline")
    with pytest.raises(ValueError, match="output_size must be a positive integer"):
        iradon_stack(np.zeros((2, 8, 4)), output_size=0)
    with pytest.raises(ValueError, match="n_iter must be an integer"):
        iradon_stack(np.zeros((2, 8, 4)), method="sart", n_iter=0)
    with pytest.raises(ValueError, match="slices_per_chunk"):
        radon_stack(np.zeros((2, 8, 8)), slices_per_chunk=0)
    with pytest.raises(ValueError, match="is empty"):
        radon_stack(np.zeros((0, 8, 8)))
    # bad values inside a slice surface when that slice is computed
    vol = np.zeros((2, 8, 8))
    vol[1, 4, 4] = np.nan
    res = radon_stack(vol, THETA)
    res[0].compute()
    with pytest.raises(ValueError, match="NaN or infinite"):
        res[1].compute()
