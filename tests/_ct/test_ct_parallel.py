"""Thread counts of the CT calls (``_ct/parallel.py``, ``_ct/sart.py``)."""

from __future__ import annotations

import numpy as np

from napari_backproject._ct import project
from napari_backproject._ct import sart as ct_sart
from napari_backproject._ct.parallel import numba_threads, use_threads
from napari_backproject._ct.sart import SartSetup
from napari_backproject.tomography import iradon, iradon_sart, radon


def _disk_image(shape, seed=0, dtype=np.float64):
    """Random image that is zero outside the inscribed circle (per skimage)."""
    rng = np.random.default_rng(seed)
    img = rng.random(shape)
    radius = min(shape) // 2
    rr = (np.arange(shape[0]) - shape[0] // 2) ** 2
    cc = (np.arange(shape[1]) - shape[1] // 2) ** 2
    img[(rr[:, None] + cc[None, :]) > radius**2] = 0
    return img.astype(dtype)


def test_one_usable_cpu_means_serial_kernels(monkeypatch):
    """With one CPU allowed (taskset, a container, a pinned dask worker) the
    default SART runs on the calling thread only, radon/FBP run their serial
    kernels (numba's parallel ones are never entered), and a forced
    two-thread SART yields at every barrier instead of spinning."""
    import os

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    setup = SartSetup(np.zeros((256, 4)), None, None, None, None, 0.15, None)
    assert not setup.parallel

    def boom(*args):
        raise AssertionError("parallel kernel used with one CPU")

    monkeypatch.setattr(project, "radon_project", boom)
    monkeypatch.setattr(project, "backproject", boom)
    img = _disk_image((64, 64), 2)
    theta = np.linspace(0, 180, 64, endpoint=False)
    sino = radon(img, theta, parallel=False)
    rec = iradon(sino, theta, parallel=False)
    for par in (None, True):
        np.testing.assert_array_equal(radon(img, theta, parallel=par), sino)
        np.testing.assert_array_equal(iradon(sino, theta, parallel=par), rec)

    spins = []
    orig = ct_sart.sart_steps

    def steps(*args):
        spins.append(args[-1])
        return orig(*args)

    monkeypatch.setattr(ct_sart, "sart_steps", steps)
    forced = iradon_sart(sino, theta, parallel=True)
    assert spins and set(spins) == {1}
    np.testing.assert_allclose(
        forced, iradon_sart(sino, theta, parallel=False), rtol=0, atol=1e-12
    )


def test_thread_rule_and_numba_threads_restored():
    """``parallel=False`` and small work: one thread; the numba thread count
    set for a call is restored after it."""
    import numba

    assert use_threads(False, 10**12) == 1
    assert use_threads(None, 10) == 1
    assert 1 <= use_threads(True, 10) <= numba.get_num_threads()
    before = numba.get_num_threads()
    with numba_threads(1):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before
