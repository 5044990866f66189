"""The SART drivers (``kernels/sart/drivers.py``): serial, spin-barrier
threads with any thread count, the prange reference, the numba cache."""

from __future__ import annotations

import numpy as np
import pytest

from napari_backproject import radon
from napari_backproject.kernels import sart as ks
from napari_backproject.kernels.sart import reference
from napari_backproject.kernels.sart.geometry import S_AHEAD


def _disk_image(shape, seed=0, dtype=np.float64):
    """Random image that is zero outside the inscribed circle (per skimage)."""
    rng = np.random.default_rng(seed)
    img = rng.random(shape)
    radius = min(shape) // 2
    rr = (np.arange(shape[0]) - shape[0] // 2) ** 2
    cc = (np.arange(shape[1]) - shape[1] // 2) ** 2
    img[(rr[:, None] + cc[None, :]) > radius**2] = 0
    return img.astype(dtype)


def test_sart_kernels_padded_rows_and_prange_agree():
    n = 32
    theta = np.linspace(0, 180, 12, endpoint=False)
    proj = np.ascontiguousarray(radon(_disk_image((n, n), 4), theta).T)
    shifts = np.full(12, 0.3)
    win = ks.hamming_windows(n, 0.0)
    flat = np.zeros((n, n))
    reference.sart_angles_serial(flat, theta, proj, shifts, 0.2, 0.0, 0.5, True, win)
    padded = np.zeros((n, n + 5))
    reference.sart_angles_serial(padded, theta, proj, shifts, 0.2, 0.0, 0.5, True, win)
    np.testing.assert_array_equal(padded[:, :n], flat)
    assert not padded[:, n:].any()
    prange = np.zeros((n, n))
    upd = np.zeros_like(prange)
    for a in range(12):
        reference.sart_angle_update(
            prange, upd, theta[a], proj[a], shifts[a], 0.2, 0.0, 0.5, True, win
        )
    np.testing.assert_allclose(prange, flat, rtol=0, atol=1e-12)


def test_sart_steps_barrier_and_resume():
    """The spin-barrier driver gives the serial result, also when every wait
    times out and is resumed, and returns -1 once aborted."""
    import threading

    n = 40
    theta = np.linspace(0, 180, 10, endpoint=False)
    proj = np.ascontiguousarray(radon(_disk_image((n, n), 3), theta).T)
    shifts = np.full(10, 0.2)
    shifts[::2] = 0.0  # mirrored pairs and ray ranges, angle by angle
    win = ks.hamming_windows(n, 0.0)
    ref = np.zeros((n, n + 3))
    reference.sart_angles_serial(ref, theta, proj, shifts, 0.2, 0.0, 0.4, True, win)
    rows = ks.update_rows(n)
    for spins in (1, 1 << 30):
        img = np.zeros((n, n + 3))
        ks.clip_outside(img, 0.0, 0.4, rows)
        rec = ks.new_record(2, n)
        sync = np.zeros(2, dtype=np.int64)
        args = (img, theta, proj, shifts, 0.2, 0.0, 0.4, True, rows, win)

        job = ks.SartJob(*args, rec, sync, 2)

        def run(part, job=job, spins=spins):
            s = 0
            mine = ks.SartThread(part, ks.new_ring(n), ks.new_scratch(n))
            while 0 <= s < 20:
                s = ks.sart_steps(job, mine, s, 20, spins)
            assert s == 20

        t = threading.Thread(target=run, args=(1,))
        t.start()
        run(0)
        t.join()
        np.testing.assert_allclose(img, ref, rtol=0, atol=1e-12)
        assert sync[0] == 40
    # aborted: the other thread never arrives
    sync = np.array([0, 1], dtype=np.int64)
    job = ks.SartJob(*args, rec, sync, 2)
    mine = ks.SartThread(0, ks.new_ring(n), ks.new_scratch(n))
    assert ks.sart_steps(job, mine, 0, 20, 1 << 30) == -1
    assert sync[0] == 1  # ran step 0 (no wait before it), stopped at barrier 0


@pytest.mark.parametrize("parts", [1, 2, 3, 5])
@pytest.mark.parametrize("n", [12, 41, 96])
@pytest.mark.parametrize("shifted", [True, False])
@pytest.mark.parametrize("clip", [True, False])
def test_sart_steps_any_thread_count_matches_serial(parts, n, shifted, clip):
    """Updates go straight into the shared image; rays next to another
    thread's share are recorded and added in phase 2 (by rows, or with
    mirrored pairs and no clipping, by boundary). With shares of a few
    rays (every ray recorded) and with long ones, any number of threads
    gives the serial result."""
    import threading

    theta = np.linspace(0, 180, 9, endpoint=False)
    proj = np.ascontiguousarray(radon(_disk_image((n, n), n // 4), theta).T)
    # shifted: contiguous ray ranges; else mirrored pairs
    shifts = np.linspace(-0.4, 0.6, 9) if shifted else np.zeros(9)
    hi = 0.3 if clip else 0.0
    win = ks.hamming_windows(n, 0.0)
    rows = ks.update_rows(n)
    ref = np.zeros((n, n + 2))
    reference.sart_angles_serial(ref, theta, proj, shifts, 0.3, 0.0, hi, clip, win)
    img = np.zeros((n, n + 2))
    if clip:
        ks.clip_outside(img, 0.0, hi, rows)
    rec = ks.new_record(parts, n)
    rec.state[S_AHEAD] = 0 if clip else 2  # prefetch (a hint: changes no value)
    sync = np.zeros(2, dtype=np.int64)
    job = ks.SartJob(
        img, theta, proj, shifts, 0.3, 0.0, hi, clip, rows, win, rec, sync, parts
    )
    done = []

    def run(part):
        mine = ks.SartThread(part, ks.new_ring(n), ks.new_scratch(n))
        done.append(ks.sart_steps(job, mine, 0, 18, 1 << 40))

    threads = [threading.Thread(target=run, args=(p,)) for p in range(1, parts)]
    for t in threads:
        t.start()
    run(0)
    for t in threads:
        t.join()
    assert done == [18] * parts and sync[0] == 18 * parts
    assert ref.max() > 0.1
    np.testing.assert_allclose(img, ref, rtol=0, atol=1e-12)


_SART_CACHE_SCRIPT = """
import numpy as np
from napari_backproject import iradon_sart, radon
from napari_backproject.kernels.sart import drivers

img = np.zeros((40, 40)); img[15:25, 12:22] = 1.0
theta = np.linspace(0, 180, 20, endpoint=False)
out = iradon_sart(radon(img, theta), theta, parallel=True)
print("HITS", sum(drivers.sart_steps.stats.cache_hits.values()))
print("SUM", repr(float(out.sum())))
"""


def test_sart_spin_barrier_kernels_cache(run_fresh_numba):
    """cache=True works with the atomic intrinsics: a second process loads
    the compiled driver from the cache and gets the same numbers."""
    outs = [run_fresh_numba(_SART_CACHE_SCRIPT) for _ in range(2)]
    hits = [int(o.split("HITS")[1].split()[0]) for o in outs]
    assert hits == [0, 1], outs
    assert outs[0].split("SUM")[1] == outs[1].split("SUM")[1]
