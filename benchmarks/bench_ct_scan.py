"""CT on a (simulated) measured scan: centre, rings, the whole pipeline.

References, measured side by side in the same run:

- ``find_center`` against algotom's ``find_center_vo`` (the published
  implementation of the same method; optional: ``pip install algotom``),
  error in pixels against the simulated axis;
- the whole pipeline (flat/dark, zingers, -log, rings, centre, FBP of every
  row) against the same steps written with NumPy, SciPy and scikit-image
  (given the true centre: scikit-image has no centre finder), with the
  RMSE against the true volume next to the ideal route (perfect flat and
  dark, the true centre, the same noisy counts);
- ring removal against algotom's ``remove_stripe_based_sorting``, with the
  stripe amplitude at the simulated defective pixels before and after;
- the Reconstruct widget's lazy volume: the time to the first row on
  screen against reconstructing every row with scikit-image first.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.ndimage import median_filter
from scipy.ndimage import shift as spline_shift

from benchmarks.harness import Case
from napari_backproject import (
    find_center,
    flat_field,
    minus_log,
    reconstruct_volume,
    remove_outliers,
    remove_rings,
)
from napari_backproject.data import simulated_scan

try:  # optional reference
    from algotom.prep.calculation import find_center_vo
    from algotom.prep.removal import remove_stripe_based_sorting
except ImportError:  # pragma: no cover - depends on the environment
    find_center_vo = remove_stripe_based_sorting = None

NO_ALGOTOM = "algotom not installed (pip install algotom)"


def _rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the dead pixel, reported
        return fn(*args, **kwargs)


def _stripe_amplitude(log_proj: np.ndarray, pixels: np.ndarray) -> float:
    """Mean |stripe| at detector ``pixels`` (row, column) of (angle, row, col) data.

    The stripe of a pixel is the mean over the angles of its value minus the
    mean of its two neighbours: a constant offset (a ring) survives the
    averaging, the object and the noise mostly do not.
    """
    mean = log_proj.mean(axis=0)
    values = []
    for r, c in pixels:
        if 1 <= c < mean.shape[1] - 1:
            values.append(abs(mean[r, c] - 0.5 * (mean[r, c - 1] + mean[r, c + 1])))
    return float(np.mean(values))


# ---------------------------------------------------------------- references
def _numpy_rings(proj: np.ndarray, size: int) -> np.ndarray:
    """Vo et al. 2018 algorithm 3 with NumPy/SciPy, one sinogram at a time."""
    out = np.empty_like(proj)
    for r in range(proj.shape[1]):
        sino = proj[:, r, :]  # (angle, detector)
        order = np.argsort(sino, axis=0)
        ranked = np.take_along_axis(sino, order, axis=0)
        smooth = median_filter(ranked, size=(1, size))
        np.put_along_axis(out[:, r, :], order, smooth, axis=0)
    return out


def _reference_pipeline(scan, center: float, size: int) -> np.ndarray:
    from skimage.transform import iradon

    flat = np.median(scan.flats, axis=0)
    dark = np.median(scan.darks, axis=0)
    span = np.where(flat - dark > 0, flat - dark, 1.0)
    t = (scan.projections - dark) / span
    smooth = median_filter(t, size=(1, 3, 3))
    diff = np.abs(t - smooth)
    t = np.where(
        diff > 5 * 1.4826 * np.median(diff, axis=(1, 2), keepdims=True), smooth, t
    )
    p = -np.log(np.clip(t, 1e-6, None))
    p = _numpy_rings(p, size)
    n = p.shape[2]
    out = []
    for r in range(p.shape[1]):
        sino = spline_shift(p[:, r, :].T, (n // 2 - center, 0), order=1, mode="nearest")
        out.append(iradon(sino, scan.theta))
    return np.stack(out)


# ---------------------------------------------------------------- cases
def cases(quick: bool) -> list[Case]:
    shape = (
        dict(rows=64, columns=128, n_angles=180)
        if quick
        else dict(rows=128, columns=256, n_angles=360)
    )
    state: dict = {}

    def setup() -> None:
        if "scan" in state:
            return
        scan = simulated_scan(**shape)
        state["scan"] = scan
        t = _quiet(flat_field, scan.projections, scan.flats, scan.darks)
        state["log"] = minus_log(remove_outliers(t))
        state["prepared"] = remove_rings(state["log"])
        # the ideal route: perfect flat and dark, the same counts and zinger
        # filter, the true centre
        ideal = (scan.projections - scan.dark_current) / np.where(
            scan.beam > 0, scan.beam, 1.0
        )
        ideal = minus_log(remove_outliers(np.clip(ideal, 1e-6, None)))
        state["ideal"] = reconstruct_volume(
            ideal, scan.theta, center=scan.center
        ).compute()
        state["ideal_rings"] = reconstruct_volume(
            remove_rings(ideal), scan.theta, center=scan.center
        ).compute()

    rows = [8, 20, 32, 44, 56] if quick else [16, 40, 64, 88, 112]

    # -- find_center on several rows
    def ours_center() -> None:
        scan, prep = state["scan"], state["prepared"]
        state["centers"] = [find_center(prep[:, r, :].T, scan.theta) for r in rows]

    def algotom_center() -> None:
        prep = state["prepared"]
        state["algotom_centers"] = [
            find_center_vo(np.ascontiguousarray(prep[:, r, :]), ncore=1) for r in rows
        ]

    def center_notes() -> str:
        true = state["scan"].center
        err = np.abs(np.array(state["centers"]) - true)
        text = f"|error| ours mean {err.mean():.3f} px, max {err.max():.3f} px (goal <= 0.25)"
        if "algotom_centers" in state:
            e2 = np.abs(np.array(state["algotom_centers"]) - true)
            text += f"; algotom mean {e2.mean():.3f} px, max {e2.max():.3f} px"
        else:
            text += "; " + NO_ALGOTOM
        return text + f"; {len(rows)} rows, true centre {true:.2f}"

    # -- the whole pipeline
    def ours_pipeline() -> None:
        scan = state["scan"]
        t = _quiet(flat_field, scan.projections, scan.flats, scan.darks)
        p = remove_rings(minus_log(remove_outliers(t)))
        center = find_center(p[:, scan.projections.shape[1] // 2, :].T, scan.theta)
        state["center"] = center
        state["volume"] = reconstruct_volume(p, scan.theta, center=center).compute()

    def reference_pipeline() -> None:
        scan = state["scan"]
        size = min(31, max(5, (scan.projections.shape[2] // 100) | 1))
        state["ref_volume"] = _quiet(_reference_pipeline, scan, scan.center, size)

    def pipeline_notes() -> str:
        truth = state["scan"].volume
        ours, ideal = _rmse(state["volume"], truth), _rmse(state["ideal"], truth)
        text = (
            f"RMSE vs truth: ours {ours:.5f} (centre {state['center']:.2f}), ideal "
            f"(perfect flats, true centre) {ideal:.5f} -> {ours / ideal:.2f}x "
            f"(goal <= 1.10); ideal + our rings {_rmse(state['ideal_rings'], truth):.5f}"
        )
        if "ref_volume" in state:
            text += (
                f"; NumPy/SciPy/skimage route {_rmse(state['ref_volume'], truth):.5f}"
            )
        return text

    # -- rings
    def ours_rings() -> None:
        state["rings_out"] = remove_rings(state["log"])

    def algotom_rings() -> None:
        log = state["log"]
        size = min(31, max(5, (log.shape[2] // 100) | 1))
        out = np.empty_like(log)
        for r in range(log.shape[1]):
            out[:, r, :] = remove_stripe_based_sorting(log[:, r, :], size=size)
        state["algotom_rings"] = out

    def ring_notes() -> str:
        defects = state["scan"].defects
        before = _stripe_amplitude(state["log"], defects)
        after = _stripe_amplitude(state["rings_out"], defects)
        rng = np.random.default_rng(0)
        shape = state["log"].shape
        clean = np.stack(
            [rng.integers(0, shape[1], 40), rng.integers(8, shape[2] - 8, 40)], axis=1
        )
        floor = _stripe_amplitude(state["log"], clean)
        text = (
            f"stripe amplitude at the {len(defects)} defective pixels: before "
            f"{before:.4f}, ours {after:.4f} ({before / after:.1f}x lower); "
            f"noise floor {floor:.4f}"
        )
        if "algotom_rings" in state:
            text += (
                f"; algotom {_stripe_amplitude(state['algotom_rings'], defects):.4f}"
            )
        else:
            text += "; " + NO_ALGOTOM
        return text

    # -- the Reconstruct widget's lazy volume: the row on screen first
    def ours_first_row() -> None:
        from napari_backproject._volume_jobs import RowCache

        scan, prep = state["scan"], state["prepared"]
        volume = reconstruct_volume(prep, scan.theta, center=scan.center)
        state["first_row"] = RowCache(volume).row(prep.shape[1] // 2)

    def skimage_all_rows() -> None:
        from skimage.transform import iradon

        scan, prep = state["scan"], state["prepared"]
        n = prep.shape[2]
        state["sk_volume"] = np.stack(
            [
                iradon(
                    spline_shift(
                        prep[:, r, :].T,
                        (n // 2 - scan.center, 0),
                        order=1,
                        mode="nearest",
                    ),
                    scan.theta,
                )
                for r in range(prep.shape[1])
            ]
        )

    def first_row_notes() -> str:
        scan, prep = state["scan"], state["prepared"]
        mid = prep.shape[1] // 2
        truth = scan.volume[mid]
        text = (
            f"row {mid} of {prep.shape[1]}: RMSE vs truth ours "
            f"{_rmse(state['first_row'], truth):.5f}"
        )
        if "sk_volume" in state:
            text += f", skimage {_rmse(state['sk_volume'][mid], truth):.5f}"
        return text + " (same centre; the rest of our volume is computed as shown)"

    have_algotom = find_center_vo is not None
    size = "x".join(str(v) for v in shape.values())
    return [
        Case(
            name=f"find_center, {len(rows)} rows ({size} scan)",
            ours=ours_center,
            reference=algotom_center if have_algotom else None,
            reference_name="algotom find_center_vo" if have_algotom else NO_ALGOTOM,
            setup=setup,
            repeats=3,
            notes=center_notes,
        ),
        Case(
            name=f"pipeline flat/dark+zingers+log+rings+centre+FBP ({size})",
            ours=ours_pipeline,
            reference=reference_pipeline,
            reference_name="NumPy + SciPy + skimage.iradon (true centre)",
            setup=setup,
            repeats=3,
            notes=pipeline_notes,
        ),
        Case(
            name=f"ring removal, all rows ({size})",
            ours=ours_rings,
            reference=algotom_rings if have_algotom else None,
            reference_name=(
                "algotom remove_stripe_based_sorting" if have_algotom else NO_ALGOTOM
            ),
            setup=setup,
            repeats=3,
            notes=ring_notes,
        ),
        Case(
            name=f"lazy volume: first row on screen ({size})",
            ours=ours_first_row,
            reference=skimage_all_rows,
            reference_name="skimage.iradon of every row (the whole volume first)",
            setup=setup,
            repeats=3,
            notes=first_row_notes,
        ),
    ]
