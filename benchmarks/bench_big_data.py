"""Big data: resolution levels, out-of-core backprojection, OME-Zarr pyramids.

Rows (issue 14):

- backproject a segmentation made at level 1 onto the 2x finer level 0
  (``target=``) against the same call onto level 1, with the Dice of both
  against the ground-truth tube and the best the coarse level allows
  (thresholding level 1 upsampled trilinearly onto the fine grid);
- out of core: ``write_backprojection(..., extent="full")`` of a *lazy*
  thresholded segmentation (read back from the straightened TIFF / OME-Zarr)
  against the same call on a NumPy segmentation; peak RSS of each measured
  in a fresh subprocess;
- writing a pyramid of a volume: ``write_ome_zarr`` against ome-zarr-py's
  ``write_image`` (same levels, chunks and codec defaults of each);
- OME-Zarr -> OME-Zarr backprojection on a 2-worker ``LocalCluster``
  against one process;
- only with ``NAPARI_BACKPROJECT_BENCH_OOC_N=N`` (2048: the 8 GiB uint8
  case; it needs ~40 GB of free disk and takes long): every step of the
  out-of-core workflow on an ``N``³ volume (TIFF and OME-Zarr) in its own
  child process with its peak RSS: write the volume, straighten lazily,
  backproject a lazy threshold with ``extent="full"`` against a NumPy one,
  and (OME-Zarr) on a 2-worker LocalCluster. Run it alone with
  ``NAPARI_BACKPROJECT_BENCH_OOC_N=2048 python -m benchmarks --only big_data``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from benchmarks.harness import Case

_OOC = r"""
import json, os, sys, time
import numpy as np
n, mode, fmt, d = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
from napari_backproject import save_straightened, straighten, write_backprojection
from napari_backproject.io.ome_zarr import read_volume
t = np.linspace(0, 1, 40)
r = n * 0.3
pts = np.stack([n * 0.1 + t * n * 0.8, n / 2 + r * np.cos(4 * np.pi * t),
                n / 2 + r * np.sin(4 * np.pi * t)], 1)
vol = np.zeros((n, n, n), np.uint8)
vol[:, n // 2 - 2 : n // 2 + 2] = 200
st, g = straighten(vol, pts, width=64, height=64)
src = os.path.join(d, f"st-{mode}.{fmt}")
save_straightened(src, st, g)
del vol, st
seg = (read_volume(src)[0] > 100).astype(np.uint8)
if mode == "numpy":
    seg = seg.compute()
def hwm():  # peak RSS of this process image, KiB (ru_maxrss includes the parent's)
    with open("/proc/self/status") as fh:
        return next(int(x.split()[1]) for x in fh if x.startswith("VmHWM:"))
rss0 = hwm()
t0 = time.perf_counter()
write_backprojection(seg, g, os.path.join(d, f"bp-{mode}.{fmt}"), extent="full")
dt = time.perf_counter() - t0
rss = hwm()
print(json.dumps({"time": dt, "rss_gib": rss / 2**20, "rss_before_gib": rss0 / 2**20}))
"""


def _ooc_run(n: int, mode: str, fmt: str, folder: Path) -> dict:
    run = tempfile.mkdtemp(dir=folder)
    try:
        out = subprocess.run(
            [sys.executable, "-c", _OOC, str(n), mode, fmt, run],
            capture_output=True,
            text=True,
            env=dict(os.environ),
            check=True,
        )
    finally:
        shutil.rmtree(run, ignore_errors=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a != 0, b != 0
    return float(2 * np.sum(a & b) / max(1, a.sum() + b.sum()))


def _levels_case(quick: bool) -> Case:
    from scipy import ndimage as ndi

    from napari_backproject import backproject, straighten
    from napari_backproject.data import helix_neurite
    from napari_backproject.multiscale import path_to_level

    n = 96 if quick else 256
    st: dict = {}

    def setup() -> None:
        s = helix_neurite(
            shape=(n, n, n), scale=(1.0, 1.0, 1.0), radius=n / 24, noise=4.0
        )
        v0 = s.volume.astype(np.float32)
        m = n // 2
        v1 = v0.reshape(m, 2, m, 2, m, 2).mean(axis=(1, 3, 5))
        s1, t1 = (2.0, 2.0, 2.0), (0.5, 0.5, 0.5)
        p1 = path_to_level(s.points, (1, 1, 1), (0, 0, 0), s1, t1)
        # sample the coarse level at the fine voxel size (spacing=1): the
        # threshold then sees a trilinear upsampling, as the "best" does
        w = int(6 * s.radius) | 1
        stack, g = straighten(
            v1, p1, width=w, height=w, scale=s1, translate=t1, spacing=1.0
        )
        thr = 0.5 * (float(stack.max()) + float(np.median(stack)))
        # best the coarse level allows: level 1 upsampled trilinearly onto
        # the fine grid (voxel i of level 0 is at (i - 0.5) / 2 of level 1)
        c = (np.arange(n) - 0.5) / 2.0
        zz, yy, xx = np.meshgrid(c, c, c, indexing="ij")
        up = ndi.map_coordinates(v1, [zz, yy, xx], order=1, mode="nearest")
        # the same at the coarse spacing (2): fewer straightened pixels
        w2 = int(3 * s.radius) | 1
        st2, g2 = straighten(v1, p1, width=w2, height=w2, scale=s1, translate=t1)
        f2, _ = backproject(
            (st2 > thr).astype(np.uint16),
            g2,
            target=(v0.shape, (1,) * 3, (0,) * 3),
            extent="full",
        )
        st["d2"] = _dice(f2, s.mask)
        target = (v0.shape, (1,) * 3, (0,) * 3)
        # closer to the bound: straighten at half the fine voxel (finer
        # label staircase), or pull the float stack and threshold on the fine
        # grid (trilinear, then threshold: the bound's rule)
        w5 = int(12 * s.radius) | 1
        st5, g5 = straighten(
            v1, p1, width=w5, height=w5, scale=s1, translate=t1, spacing=0.5
        )
        f5, _ = backproject(
            (st5 > thr).astype(np.uint16), g5, target=target, extent="full"
        )
        st["d05"] = _dice(f5, s.mask)
        soft, _ = backproject(stack.astype(np.float32), g, target=target, extent="full")
        st["soft"] = _dice(soft > thr, s.mask)
        st.update(s=s, g=g, shape0=v0.shape, seg=(stack > thr).astype(np.uint16) * 5)
        st["best"] = _dice(up > thr, s.mask)
        # the planes reach only from the first to the last path point: the
        # tube's end caps beyond them are in no straightened stack, at any
        # level. Dice is also given inside the region the planes cover.
        cover, _ = backproject(
            np.ones(g.straightened_shape, np.uint8), g, target=target, extent="full"
        )
        cover = cover != 0
        st["cover"] = cover
        st["best_in"] = _dice((up > thr) & cover, s.mask & cover)
        st["outside"] = int(np.count_nonzero(s.mask.astype(bool) & ~cover))

    def ours() -> None:
        st["fine"], _ = backproject(
            st["seg"],
            st["g"],
            target=(st["shape0"], (1, 1, 1), (0, 0, 0)),
            extent="full",
        )

    def reference() -> None:
        st["coarse"], _ = backproject(st["seg"], st["g"], extent="full")

    def notes() -> str:
        d = _dice(st["fine"], st["s"].mask)
        cover = st["cover"]
        d_in = _dice((st["fine"] != 0) & cover, st["s"].mask & cover)
        labels = sorted(np.unique(st["fine"]).tolist())
        return (
            f"{n}³ helix, level 1 = 2x2x2 mean; inside the region the planes "
            f"cover: Dice vs truth {d_in:.3f}, best the coarse level allows "
            f"{st['best_in']:.3f}, difference {d_in - st['best_in']:+.3f}; "
            f"whole volume (the tube's end caps beyond the path ends, "
            f"{st['outside']} truth voxels, lie in no plane): Dice vs truth "
            f"{d:.3f}, best the "
            f"coarse level allows (trilinear upsampling, same threshold) "
            f"{st['best']:.3f}, difference {d - st['best']:+.3f}; labels {labels}; "
            f"straightened at spacing 1 (fine voxel); at spacing 2 Dice {st['d2']:.3f}; "
            f"at spacing 0.5 Dice {st['d05']:.3f} ({st['d05'] - st['best']:+.3f}); "
            f"float stack pulled, then thresholded on the fine grid Dice "
            f"{st['soft']:.3f} ({st['soft'] - st['best']:+.3f}); "
            "ratio < 1 is the price of 8x more output voxels"
        )

    return Case(
        name=f"backproject level-1 segmentation onto level 0 ({n}³)",
        ours=ours,
        reference=reference,
        reference_name="same call onto level 1",
        setup=setup,
        repeats=3,
        notes=notes,
    )


def _ooc_case(quick: bool, fmt: str) -> Case:
    n = 128 if quick else 512
    tmp = Path(tempfile.mkdtemp(prefix="nbp-bench-big-"))
    st: dict = {}

    def ours() -> None:
        st["lazy"] = _ooc_run(n, "lazy", fmt, tmp)

    def reference() -> None:
        st["numpy"] = _ooc_run(n, "numpy", fmt, tmp)

    def notes() -> str:
        a, b = st["lazy"], st["numpy"]
        return (
            f"in-call times lazy {a['time']:.2f} s / NumPy {b['time']:.2f} s "
            f"(ratio {a['time'] / b['time']:.2f}); peak RSS lazy {a['rss_gib']:.2f} "
            f"GiB, NumPy {b['rss_gib']:.2f} GiB (whole subprocess: straighten, "
            "save, reopen, backproject)"
        )

    return Case(
        name=f"out of core: lazy seg -> {fmt} extent=full ({n}³)",
        ours=ours,
        reference=reference,
        reference_name="NumPy segmentation",
        repeats=1,
        notes=notes,
    )


def _pyramid_case(quick: bool) -> Case:
    import zarr

    from napari_backproject.io.ome_zarr import _ome_writer, write_ome_zarr

    n = 128 if quick else 512
    tmp = Path(tempfile.mkdtemp(prefix="nbp-bench-pyr-"))
    st: dict = {}

    def setup() -> None:
        rng = np.random.default_rng(0)
        st["vol"] = rng.integers(0, 255, (n, n, n), dtype=np.uint8)

    def ours() -> None:
        write_ome_zarr(
            st["vol"],
            tmp / "ours.zarr",
            kind="image",
            levels=4,
            chunks=(64, 256, 256),
            overwrite=True,
        )

    def reference() -> None:
        g = zarr.open_group(str(tmp / "ref.zarr"), mode="w")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _ome_writer().write_image(
                st["vol"],
                g,
                axes="zyx",
                scale_factors=(2, 4, 8),
                storage_options={"chunks": (64, 256, 256)},
            )

    return Case(
        name=f"write a 4-level pyramid of {n}³ uint8",
        ours=ours,
        reference=reference,
        reference_name="ome-zarr-py write_image",
        setup=setup,
        repeats=3,
        notes="ours: 2x2x2 mean, level k+1 read back from level k; ome-zarr-py: "
        "its default (resize) downsampling",
    )


#: environment variable that adds the big out-of-core rows: the volume's side
#: (2048 for the 8 GiB uint8 case of issue 14; unset: no such rows)
BIG_ENV = "NAPARI_BACKPROJECT_BENCH_OOC_N"


def _gib(n: int) -> str:
    return f"{n**3 / 2**30:.3g} GiB"


def _big_cases(n: int) -> list[Case]:
    """Each step of the out-of-core workflow in its own child (peak RSS per step)."""
    from benchmarks._ooc_steps import run_step

    base = Path(tempfile.mkdtemp(prefix=f"nbp-bench-ooc{n}-"))
    out: list[Case] = []
    for fmt in ("tif", "zarr"):
        folder = base / fmt
        folder.mkdir()
        res: dict = {}

        def step(name, sched=None, fmt=fmt, folder=folder, res=res):
            def run() -> float:
                r = run_step(name, n, fmt, folder, sched)
                res[(name, sched)] = r
                for p in folder.glob("bp-*"):  # outputs are as big as the volume
                    shutil.rmtree(p) if p.is_dir() else p.unlink()
                return r["time"]

            return run

        def rss(*keys, res=res) -> str:
            return ", ".join(
                f"{k[0]}{' (' + k[1] + ')' if k[1] else ''} {res[k]['rss_gib']:.2f} GiB"
                for k in keys
                if k in res
            )

        size = f"{n}³ uint8 ({_gib(n)}), {fmt}"
        out.append(
            Case(
                name=f"out of core {size}: write the volume chunk by chunk",
                ours=step("make"),
                repeats=1,
                self_timed=True,
                notes=lambda rss=rss: "peak RSS " + rss(("make", None)),
            )
        )
        out.append(
            Case(
                name=f"out of core {size}: straighten lazily and save",
                ours=step("straighten"),
                repeats=1,
                self_timed=True,
                notes=lambda rss=rss: (
                    "64x64 planes along a helix; peak RSS " + rss(("straighten", None))
                ),
            )
        )

        def bp_notes(rss=rss, res=res) -> str:
            a, b = res.get(("bp_lazy", None)), res.get(("bp_numpy", None))
            ratio = f"lazy/NumPy time {a['time'] / b['time']:.2f}; " if a and b else ""
            return (
                f"lazy threshold of the reopened stack -> extent=full; {ratio}"
                f"peak RSS {rss(('bp_lazy', None), ('bp_numpy', None))}"
            )

        out.append(
            Case(
                name=f"out of core {size}: backproject lazy seg extent=full",
                ours=step("bp_lazy"),
                reference=step("bp_numpy"),
                reference_name="NumPy segmentation",
                repeats=1,
                self_timed=True,
                notes=bp_notes,
            )
        )
        if fmt == "zarr":
            out.append(
                Case(
                    name=f"out of core {size}: backproject on a 2-worker LocalCluster",
                    ours=step("bp_lazy", "local:2"),
                    reference=step("bp_lazy"),
                    reference_name="one process",
                    repeats=1,
                    self_timed=True,
                    notes=lambda rss=rss, base=base: (
                        "workers write their own chunks; time excludes starting "
                        "the cluster; peak RSS (client process only) "
                        + rss(("bp_lazy", "local:2"))
                        + (shutil.rmtree(base, ignore_errors=True) or "")
                    ),
                )
            )
    return out


def _cluster_case(quick: bool) -> Case:
    """Backproject OME-Zarr -> OME-Zarr on a 2-worker LocalCluster vs one process."""
    from benchmarks._ooc_steps import run_step

    n = 128 if quick else 512
    folder = Path(tempfile.mkdtemp(prefix="nbp-bench-cluster-"))
    res: dict = {}

    def setup() -> None:
        run_step("make", n, "zarr", folder)
        run_step("straighten", n, "zarr", folder)

    def step(sched):
        def run() -> float:
            res[sched] = run_step("bp_lazy", n, "zarr", folder, sched)
            for p in folder.glob("bp-*"):
                shutil.rmtree(p)
            return res[sched]["time"]

        return run

    def notes() -> str:
        shutil.rmtree(folder, ignore_errors=True)
        return (
            "lazy threshold -> extent=full, OME-Zarr in and out; workers write "
            "their own chunks; time excludes starting the cluster; the machine "
            "has the cores it has (see uptime in the closing note)"
        )

    return Case(
        name=f"backproject zarr -> zarr on a 2-worker LocalCluster ({n}³)",
        ours=step("local:2"),
        reference=step(None),
        reference_name="one process",
        setup=setup,
        repeats=1,
        self_timed=True,
        notes=notes,
    )


def cases(quick: bool) -> list[Case]:
    out = [
        _levels_case(quick),
        _ooc_case(quick, "tif"),
        _ooc_case(quick, "zarr"),
        _pyramid_case(quick),
    ]
    if not quick:  # four child processes and a cluster: not for the smoke run
        out.insert(3, _cluster_case(quick))
    big = os.environ.get(BIG_ENV)
    if big:  # the 8 GiB rows of issue 14: NAPARI_BACKPROJECT_BENCH_OOC_N=2048
        out += _big_cases(int(big))
    return out
