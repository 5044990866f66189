"""CT core: radon / iradon / iradon_sart and the lazy stacks vs scikit-image.

Full sizes (issue): Shepp-Logan phantom resized to 512x512, 512 angles over
[0, 180); a 64-slice stack of 256x256 with 256 angles against a scikit-image
loop. Notes give pixel-angle updates per second (N*N*angles / time) and, for
the reconstructions, the RMSE against the phantom inside the reconstruction
circle for ours and scikit-image on the same sinogram.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import skimage.transform as sk
from skimage.data import shepp_logan_phantom

from benchmarks.harness import Case
from napari_backproject import tomography as tomo


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


def _notes(ours, ref, updates, truth=None):
    def notes() -> str:
        parts = [
            f"ours {_rate(ours, updates) / 1e6:.0f} M px-angle/s",
            f"skimage {_rate(ref, updates) / 1e6:.0f} M px-angle/s",
        ]
        if truth is not None:
            parts.append(
                f"RMSE in circle ours {_rmse_in_circle(ours(), truth):.4f} "
                f"vs skimage {_rmse_in_circle(ref(), truth):.4f}"
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
            repeats=3,
            notes=_notes(s_ours, s_ref, upd, img),
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
    try:  # astra-toolbox is optional and usually absent
        import astra  # noqa: F401
    except ImportError:
        pass
    return out
