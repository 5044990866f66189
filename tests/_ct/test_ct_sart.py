"""SART orchestration (``_ct/sart.py``): two threads against one, the
prefetch switch, the thread-count rule, progress, cancelling and failures."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import skimage.transform as sk

import napari_backproject as nb
from napari_backproject._ct import sart as ct_sart
from napari_backproject._ct.sart import SartSetup
from napari_backproject.tomography import iradon_sart, radon


def _disk_image(shape, seed=0, dtype=np.float64):
    """Random image that is zero outside the inscribed circle (per skimage)."""
    rng = np.random.default_rng(seed)
    img = rng.random(shape)
    radius = min(shape) // 2
    rr = (np.arange(shape[0]) - shape[0] // 2) ** 2
    cc = (np.arange(shape[1]) - shape[1] // 2) ** 2
    img[(rr[:, None] + cc[None, :]) > radius**2] = 0
    return img.astype(dtype)


def _close(ours, ref, dtype):
    assert ours.shape == ref.shape
    assert ours.dtype == ref.dtype
    scale = max(float(np.abs(ref).max()), 1e-12)
    tol = 1e-9 if np.dtype(dtype) == np.float64 else 2e-5
    err = float(np.abs(ours.astype(np.float64) - ref).max()) / scale
    assert err < tol, f"relative error {err:.3g} >= {tol}"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [33, 64])
def test_iradon_sart_threads_match_serial_and_skimage(n, dtype):
    theta = np.linspace(0, 180, 40, endpoint=False)
    sino = sk.radon(_disk_image((n, n), 7), theta).astype(dtype)
    shifts = np.linspace(-0.6, 0.9, 40)
    init = _disk_image((n, n), 8, dtype) * 0.5
    init[0, 0] = init[-1, 3] = 2.0  # outside the circle: clipped once
    for kw in ({}, dict(projection_shifts=shifts, clip=(0.0, 0.6), relaxation=0.3)):
        ref = sk.iradon_sart(sino, theta, image=init.copy(), **kw)
        serial = iradon_sart(sino, theta, image=init, parallel=False, **kw)
        threads = iradon_sart(sino, theta, image=init, parallel=True, **kw)
        _close(threads, ref, dtype)
        _close(serial, ref, dtype)
        tol = 1e-12 if dtype == np.float64 else 1e-5
        np.testing.assert_allclose(
            threads, serial, rtol=0, atol=tol * np.abs(serial).max()
        )


def test_iradon_sart_threads_prefetch_changes_nothing(monkeypatch):
    """Prefetching the image lines a few rays ahead (on by default) changes
    no number: on or off, the result is the same, bit for bit."""
    theta = np.linspace(0, 180, 30, endpoint=False)
    sino = radon(_disk_image((96, 96), 11), theta)
    monkeypatch.setattr(SartSetup, "prefetch_rays", 0)
    off = iradon_sart(sino, theta, parallel=True)
    monkeypatch.setattr(SartSetup, "prefetch_rays", 6)
    on = iradon_sart(sino, theta, parallel=True)
    np.testing.assert_array_equal(on, off)
    serial = iradon_sart(sino, theta, parallel=False)
    np.testing.assert_allclose(on, serial, rtol=0, atol=1e-12 * np.abs(serial).max())


def test_iradon_sart_threads_by_default_for_large_images(monkeypatch):
    from napari_backproject._threads import thread_budget

    setup = SartSetup(np.zeros((128, 4)), None, None, None, None, 0.15, None)
    assert setup.parallel == (thread_budget() > 1)
    small = SartSetup(np.zeros((64, 4)), None, None, None, None, 0.15, None)
    assert not small.parallel
    forced = SartSetup(
        np.zeros((128, 4)), None, None, None, None, 0.15, None, parallel=False
    )
    assert not forced.parallel


def test_iradon_sart_threads_progress_and_cancel():
    import threading

    from napari_backproject._progress import Cancelled

    theta = np.linspace(0, 180, 40, endpoint=False)
    sino = radon(_disk_image((48, 48), 2), theta)
    calls = []
    out = iradon_sart(sino, theta, parallel=True, progress=lambda d, t: calls.append(d))
    assert calls == [16, 32, 40]
    np.testing.assert_allclose(
        out, iradon_sart(sino, theta, parallel=False), rtol=0, atol=1e-12
    )

    seen = []

    def cancel(done, total):
        seen.append(done)
        raise Cancelled

    with pytest.raises(Cancelled):
        iradon_sart(sino, theta, parallel=True, progress=cancel)
    assert seen == [16]
    assert not any(t.name == "sart-helper" for t in threading.enumerate())
    # a cancelled iterator stops as well; a fresh call still works
    it = nb.tomography.iradon_sart_iter(
        sino, theta, n_iter=2, parallel=True, progress=cancel
    )
    with pytest.raises(Cancelled):
        next(it)
    assert not any(t.name == "sart-helper" for t in threading.enumerate())
    np.testing.assert_array_equal(iradon_sart(sino, theta, parallel=True), out)


def test_iradon_sart_threads_concurrent_calls():
    theta = np.linspace(0, 180, 24, endpoint=False)
    sinos = [radon(_disk_image((40, 40), s), theta) for s in range(4)]
    serial = [iradon_sart(s, theta, parallel=False) for s in sinos]

    def job(k):
        return iradon_sart(sinos[k], theta, parallel=True)

    with ThreadPoolExecutor(max_workers=4) as ex:
        results = list(ex.map(job, [0, 1, 2, 3] * 2))
    for k, a in zip([0, 1, 2, 3] * 2, results, strict=True):
        np.testing.assert_allclose(a, serial[k], rtol=0, atol=1e-12)


@pytest.mark.parametrize("failing_part", [0, 1])
def test_iradon_sart_threads_kernel_failure_does_not_hang(monkeypatch, failing_part):
    import threading

    theta = np.linspace(0, 180, 40, endpoint=False)
    sino = radon(_disk_image((48, 48), 5), theta)
    orig = ct_sart.sart_steps

    def failing(job, thread, step0, step1, spins):
        if thread.part == failing_part and step0 >= 6:
            raise RuntimeError("kernel failed")
        return orig(job, thread, step0, step1, spins)

    monkeypatch.setattr(ct_sart, "sart_steps", failing)
    # also when every barrier wait times out (many re-entries)
    monkeypatch.setattr(SartSetup, "spins", 1)
    with pytest.raises(RuntimeError, match="kernel failed"):
        iradon_sart(sino, theta, parallel=True)
    assert not any(t.name == "sart-helper" for t in threading.enumerate())
    monkeypatch.undo()
    np.testing.assert_allclose(
        iradon_sart(sino, theta, parallel=True),
        iradon_sart(sino, theta, parallel=False),
        rtol=0,
        atol=1e-12,
    )
