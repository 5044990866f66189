"""CT core: radon / iradon / iradon_sart and the lazy stacks vs scikit-image.

Full sizes (issue): Shepp-Logan phantom resized to 512x512, 512 angles over
[0, 180); a 64-slice stack of 256x256 with 256 angles against a scikit-image
loop. Notes give pixel-angle updates per second (N*N*angles / time) and, for
the reconstructions, the RMSE against the phantom inside the reconstruction
circle for ours and scikit-image on the same sinogram.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

import numpy as np
import skimage.transform as sk
from skimage.data import shepp_logan_phantom

from benchmarks.harness import Case
from napari_backproject import tomography as tomo
from napari_backproject.kernels.sart.reference import ping_pong


def _phantom(n: int) -> np.ndarray:
    img = sk.resize(shepp_logan_phantom(), (n, n), anti_aliasing=True)
    r = (np.arange(n) - n // 2) ** 2
    img[(r[:, None] + r[None, :]) > (n // 2) ** 2] = 0  # CT: zero outside circle
    return img


def _rate(fn: Callable[[], object], updates: float) -> float:
    t0 = time.perf_counter()
    fn()
    return updates / (time.perf_counter() - t0)


def _rmse_in_circle(rec: np.ndarray, truth: np.ndarray) -> float:
    n = truth.shape[0]
    r = (np.arange(n) - n // 2) ** 2
    inside = (r[:, None] + r[None, :]) <= (n // 2) ** 2
    return float(np.sqrt(np.mean((rec[inside] - truth[inside]) ** 2)))


def round_trip_ns(rounds: int = 20_000) -> float:
    """Cache-line round trip between two threads on CPUs 0 and 1, in ns.

    The threaded SART shares the image between its two threads, so it is
    sensitive to this: on the dev VM it is about 70-85 ns when the two
    vCPUs share a cache and about 360 ns when they do not (the host moves
    them); one SART iteration then took 0.30 s (with its automatic
    prefetch) instead of 0.243 s.
    """
    if not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) < 2:
        return float("nan")
    sync = np.zeros(2, dtype=np.int64)
    before = os.sched_getaffinity(0)

    def other():
        os.sched_setaffinity(0, {1})
        ping_pong(sync, 1, rounds, 1 << 40)

    ping_pong(np.zeros(2, dtype=np.int64), 0, 0, 1)  # load the kernel
    try:
        os.sched_setaffinity(0, {0})
        t = threading.Thread(target=other)
        t0 = time.perf_counter()
        t.start()
        ping_pong(sync, 0, rounds, 1 << 40)
        t.join()
        return (time.perf_counter() - t0) / rounds * 1e9
    finally:
        os.sched_setaffinity(0, before)


def _notes(ours, ref, updates, truth=None, label="skimage", trip=None):
    def notes() -> str:
        parts = [
            f"ours {_rate(ours, updates) / 1e6:.0f} M px-angle/s",
            f"{label} {_rate(ref, updates) / 1e6:.0f} M px-angle/s",
        ]
        if truth is not None:
            parts.append(
                f"RMSE in circle ours {_rmse_in_circle(ours(), truth):.4f} "
                f"vs {label} {_rmse_in_circle(ref(), truth):.4f}"
            )
        if trip is not None:
            trip.append(round_trip_ns())
            parts.append(
                "threads' cache-line round trip before/after "
                + "/".join(f"{t:.0f}" for t in trip)
                + " ns"
            )
        return "; ".join(parts)

    return notes


def cases(quick: bool) -> list[Case]:
    """Benchmark cases (``quick``: tiny sizes for the smoke test)."""
    n = 64 if quick else 512
    n_angles = n
    theta = np.linspace(0.0, 180.0, n_angles, endpoint=False)
    img = _phantom(n)
    sino = sk.radon(img, theta)  # one sinogram for both reconstructions
    upd = float(n) * n * n_angles
    repeats = 3 if quick else 5

    def r_ours():
        return tomo.radon(img, theta)

    def r_ref():
        return sk.radon(img, theta)

    def f_ours():
        return tomo.iradon(sino, theta)

    def f_ref():
        return sk.iradon(sino, theta)

    def s_ours():
        return tomo.iradon_sart(sino, theta)

    def s_ref():
        return sk.iradon_sart(sino, theta)

    trip: list[float] = []  # measured before (setup) and after (notes) the runs

    out = [
        Case(
            f"radon {n}x{n}, {n_angles} angles",
            r_ours,
            r_ref,
            "skimage.transform.radon",
            repeats=repeats,
            notes=_notes(r_ours, r_ref, upd),
        ),
        Case(
            f"iradon (ramp, linear) {n}x{n}, {n_angles} angles",
            f_ours,
            f_ref,
            "skimage.transform.iradon",
            repeats=repeats,
            notes=_notes(f_ours, f_ref, upd, img),
        ),
        Case(
            f"iradon_sart 1 iteration {n}x{n}, {n_angles} angles",
            s_ours,
            s_ref,
            "skimage.transform.iradon_sart",
            # our two threads vary most on this VM: five alternating runs
            repeats=3 if quick else 5,
            setup=lambda: trip.append(round_trip_ns()),
            notes=_notes(s_ours, s_ref, upd, img, trip=trip),
            show_runs=True,
        ),
    ]

    # stacks: 64 x 256^2 with 256 angles (quick: 4 x 32^2, 32 angles)
    ns, m = (4, 32) if quick else (64, 256)
    th_s = np.linspace(0.0, 180.0, m, endpoint=False)
    base = _phantom(m)
    vol = np.stack([base * (0.5 + 0.5 * k / ns) for k in range(ns)])
    sinos = np.stack([sk.radon(s, th_s) for s in vol])
    upd_s = float(ns) * m * m * m

    def rs_ours():
        return tomo.radon_stack(vol, th_s).compute()

    def rs_ref():
        return np.stack([sk.radon(s, th_s) for s in vol])

    def is_ours():
        return tomo.iradon_stack(sinos, th_s).compute()

    def is_ref():
        return np.stack([sk.iradon(s, th_s) for s in sinos])

    out += [
        Case(
            f"radon_stack {ns}x{m}x{m}, {m} angles (dask)",
            rs_ours,
            rs_ref,
            "loop of skimage.transform.radon",
            repeats=3,
            notes=_notes(rs_ours, rs_ref, upd_s),
        ),
        Case(
            f"iradon_stack fbp {ns}x{m}x{m}, {m} angles (dask)",
            is_ours,
            is_ref,
            "loop of skimage.transform.iradon",
            repeats=3,
            notes=_notes(is_ours, is_ref, upd_s),
        ),
    ]
    out += _astra_cases(img, theta, sino, quick)
    return out


def _astra_cases(img, theta, sino, quick: bool) -> list[Case]:
    """astra-toolbox's CPU FP / FBP / SART against ours, when it is installed.

    ``pip install astra-toolbox`` (or ``pip install -e .[benchmarks]``).
    astra computes in float32 on its own parallel-beam geometry ('linear'
    projector), so its reconstructions start from its own sinogram of the
    phantom and their RMSE is against the phantom, as ours is. One astra
    SART pass is ``n_angles`` of its iterations (one projection each), like
    one scikit-image iteration.
    """
    try:
        import astra
    except ImportError:
        return []
    n = img.shape[0]
    n_angles = len(theta)
    vol = astra.create_vol_geom(n, n)
    proj = astra.create_proj_geom("parallel", 1.0, n, np.deg2rad(theta))
    pid = astra.create_projector("linear", proj, vol)
    img32 = img.astype(np.float32)
    sid, a_sino = astra.create_sino(img32, pid)
    astra.data2d.delete(sid)
    upd = float(n) * n * n_angles

    def fp():
        sid, data = astra.create_sino(img32, pid)
        astra.data2d.delete(sid)
        return data

    def run(algorithm, iterations=1, **options):
        rid = astra.data2d.create("-vol", vol, 0.0)
        sid = astra.data2d.create("-sino", proj, a_sino)
        cfg = astra.astra_dict(algorithm)
        cfg.update(ReconstructionDataId=rid, ProjectionDataId=sid, ProjectorId=pid)
        if options:
            cfg["option"] = options
        aid = astra.algorithm.create(cfg)
        astra.algorithm.run(aid, iterations)
        rec = astra.data2d.get(rid)
        astra.algorithm.delete(aid)
        astra.data2d.delete([rid, sid])
        return rec

    def fbp():
        return run("FBP", FilterType="Ram-Lak")

    def sart():
        return run("SART", n_angles)

    def ours_fp():
        return tomo.radon(img, theta)

    def ours_fbp():
        return tomo.iradon(sino, theta)

    def ours_sart():
        return tomo.iradon_sart(sino, theta)

    def notes(ours, ref, truth=None):
        return _notes(ours, ref, upd, truth, label="astra")

    version = getattr(astra, "__version__", "?")
    repeats = 3 if quick else 5
    return [
        Case(
            f"radon {n}x{n}, {n_angles} angles vs astra FP",
            ours_fp,
            fp,
            f"astra-toolbox {version} create_sino (CPU, linear)",
            repeats=repeats,
            notes=notes(ours_fp, fp),
        ),
        Case(
            f"iradon {n}x{n}, {n_angles} angles vs astra FBP",
            ours_fbp,
            fbp,
            f"astra-toolbox {version} FBP (CPU, Ram-Lak)",
            repeats=repeats,
            notes=notes(ours_fbp, fbp, img),
        ),
        Case(
            f"iradon_sart 1 iteration {n}x{n}, {n_angles} angles vs astra SART",
            ours_sart,
            sart,
            f"astra-toolbox {version} SART (CPU, {n_angles} projections)",
            repeats=3,
            notes=notes(ours_sart, sart, img),
        ),
    ]
