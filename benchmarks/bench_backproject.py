"""Backprojection benchmarks: pull and splat against straightening and np.add.at.

Full size: the 512^3 helix neurite (isotropic voxels), W = H = 100, spacing
1 voxel (~1,520 planes). The labels are the ground-truth tube mask
straightened with ``order=1`` into uint8 (rounded half up, i.e. thresholded
at 0.5). Rows:

- ``pull`` backprojection of those labels (bbox extent) against
  straightening the same mask (the issue asks pull to be no slower);
- ``pull`` and ``splat`` of the same data (as float32) against a plain
  NumPy trilinear splatting with ``np.add.at`` (values and weights,
  normalised), the Ouroboros approach;
- peak RSS of one pull backprojection in a child process, against the
  budget "output size + 256 MiB".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap

import numpy as np

from benchmarks.harness import Case

_STATE: dict = {}


def _size(quick: bool) -> tuple[tuple[int, int, int], int]:
    return ((64, 64, 64), 20) if quick else ((512, 512, 512), 100)


def _data(quick: bool):
    """(sample, labels uint8, labels float32, geometry), computed once."""
    if quick not in _STATE:
        from napari_backproject.data import helix_neurite
        from napari_backproject.straighten import straighten

        shape, w = _size(quick)
        s = helix_neurite(shape=shape, scale=(1.0, 1.0, 1.0), n_points=12, seed=0)
        labels, g = straighten(s.mask, s.points, width=w, height=w, scale=s.scale)
        _STATE[quick] = (s, labels, labels.astype(np.float32), g)
    return _STATE[quick]


def add_at_splat(data: np.ndarray, geometry, shape) -> np.ndarray:
    """Reference: trilinear splatting of values and weights with ``np.add.at``."""
    vox = geometry.voxel_coordinates().reshape(3, -1)
    vals = data.reshape(-1).astype(np.float64)
    base = np.floor(vox).astype(np.int64)
    frac = vox - base
    acc = np.zeros(shape)
    wsum = np.zeros(shape)
    lim = np.asarray(shape)[:, None]
    for dz in (0, 1):
        for dy in (0, 1):
            for dx in (0, 1):
                idx = base + np.array([dz, dy, dx])[:, None]
                w = (
                    (frac[0] if dz else 1 - frac[0])
                    * (frac[1] if dy else 1 - frac[1])
                    * (frac[2] if dx else 1 - frac[2])
                )
                ok = np.all((idx >= 0) & (idx < lim), axis=0) & (w > 0)
                ix = tuple(idx[:, ok])
                np.add.at(acc, ix, w[ok] * vals[ok])
                np.add.at(wsum, ix, w[ok])
    out = np.zeros(shape, dtype=np.float32)
    np.divide(acc, wsum, out=out, where=wsum > 0, casting="unsafe")
    return out


_CHILD = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np

    def hwm():
        # peak RSS of this process image (ru_maxrss would include the
        # parent's peak inherited across fork + exec on Linux)
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024

    from napari_backproject.backproject import backproject
    from napari_backproject.slice_geometry import SliceGeometry
    labels = np.load(sys.argv[1])
    g = SliceGeometry.from_json(sys.argv[2])
    base = hwm()
    t0 = time.perf_counter()
    out, off = backproject(labels, g, extent=sys.argv[3])
    dt = time.perf_counter() - t0
    peak = hwm()
    print(json.dumps({"base": base, "peak": peak, "out": int(out.nbytes),
                      "inputs": int(labels.nbytes), "time": dt,
                      "shape": list(out.shape)}))
    """
)


def peak_rss(quick: bool, extent: str = "full") -> dict:
    """Run one pull backprojection in a child process; its RSS numbers."""
    _, labels, _, g = _data(quick)
    with tempfile.TemporaryDirectory() as d:
        lp = os.path.join(d, "labels.npy")
        gp = os.path.join(d, "g.json")
        np.save(lp, labels)
        g.to_json(gp)
        r = subprocess.run(
            [sys.executable, "-c", _CHILD, lp, gp, extent],
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(r.stdout.strip().splitlines()[-1])


def cases(quick: bool) -> list[Case]:
    from napari_backproject.backproject import backproject
    from napari_backproject.straighten import straighten

    shape, w = _size(quick)
    res: dict = {}

    def setup():
        _data(quick)

    def pull_labels():
        _, labels, _, g = _data(quick)
        res["pull"] = backproject(labels, g)

    def straighten_labels():
        s, _, _, g = _data(quick)
        straighten(s.mask, s.points, width=w, height=w, scale=s.scale)

    def pull_float():
        _, _, f, g = _data(quick)
        res["pull_f"] = backproject(f, g, extent="full")[0]

    def splat_float():
        _, _, f, g = _data(quick)
        res["splat_f"] = backproject(f, g, extent="full", method="splat")[0]

    def splat_labels():
        _, labels, _, g = _data(quick)
        res["splat_l"] = backproject(labels, g, method="splat")

    def reference():
        s, _, f, g = _data(quick)
        res["ref"] = add_at_splat(f, g, s.mask.shape)

    def dice(a, b):
        a, b = a.astype(bool), b.astype(bool)
        return 2.0 * (a & b).sum() / max(a.sum() + b.sum(), 1)

    def note_pull():
        s, labels, _, g = _data(quick)
        out, off = res["pull"]
        full = np.zeros(s.mask.shape, np.uint8)
        full[tuple(slice(o, o + k) for o, k in zip(off, out.shape, strict=True))] = out
        cov, _ = backproject(np.ones_like(labels), g, extent="full")
        slab = cov > 0
        m = s.mask.astype(bool) & slab
        holes = int((m & (full == 0)).sum())
        return (
            f"{g.n_slices} planes of {w}x{w} -> bbox {tuple(out.shape)}; "
            f"Dice vs tube in slab {dice(m, full.astype(bool) & slab):.4f}; "
            f"tube voxels labelled 0 in slab {holes} of {int(m.sum())}"
        )

    def note_splat():
        s, labels, _, g = _data(quick)
        ref = res["ref"]
        ours = res["splat_f"]
        cov, _ = backproject(np.ones_like(labels), g, extent="full")
        tube = s.mask.astype(bool) & (cov > 0)
        return (
            f"max|ours - add.at| {float(np.abs(ours - ref).max()):.2g}; "
            f"empty tube voxels (no weight) {int((tube & (ours == 0) & (ref == 0)).sum())}"
            f" of {int(tube.sum())}"
        )

    def note_pull_f():
        s, labels, _, g = _data(quick)
        cov, _ = backproject(np.ones_like(labels), g, extent="full")
        tube = s.mask.astype(bool) & (cov > 0)
        ours = res["pull_f"]
        return (
            f"empty tube voxels {int((tube & (ours == 0)).sum())} of {int(tube.sum())}"
            "; pull has no holes, splat leaves voxels between pixels empty"
        )

    def note_splat_l():
        out, _ = res["splat_l"]
        return f"labels {np.unique(out).tolist()}"

    def note_rss():
        r = peak_rss(quick, "full")
        mib = 2**20
        budget = r["out"] + 256 * mib
        return (
            f"child process, extent=full {tuple(r['shape'])}: peak RSS "
            f"{r['peak'] / mib:.0f} MiB (after imports + inputs "
            f"{r['base'] / mib:.0f} MiB); output {r['out'] / mib:.0f} MiB; "
            f"budget output + 256 MiB = {budget / mib:.0f} MiB -> "
            f"{'OK' if r['peak'] <= budget else 'OVER'}; {r['time']:.2f} s"
        )

    size = f"{shape[0]}^3, W=H={w}"
    reps = 3
    return [
        Case(
            name=f"pull labels uint8 {size}, bbox",
            ours=pull_labels,
            reference=straighten_labels,
            reference_name="straighten the same mask (uint8, order 1)",
            setup=setup,
            repeats=reps,
            notes=note_pull,
        ),
        Case(
            name=f"pull float32 {size}, full",
            ours=pull_float,
            reference=reference,
            reference_name="NumPy np.add.at trilinear splatting",
            setup=setup,
            repeats=1 if not quick else reps,
            notes=note_pull_f,
        ),
        Case(
            name=f"splat float32 {size}, full",
            ours=splat_float,
            reference=reference,
            reference_name="NumPy np.add.at trilinear splatting",
            setup=setup,
            repeats=1 if not quick else reps,
            notes=note_splat,
        ),
        Case(
            name=f"splat labels uint8 {size}, bbox",
            ours=splat_labels,
            reference=pull_labels,
            reference_name="pull, same labels",
            setup=setup,
            repeats=reps,
            notes=note_splat_l,
        ),
        Case(
            name=f"pull peak memory {size}",
            ours=lambda: None,
            reference=None,
            reference_name="",
            setup=setup,
            repeats=1,
            notes=note_rss,
        ),
    ]
