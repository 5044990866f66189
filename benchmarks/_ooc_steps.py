"""Out-of-core steps of ``bench_big_data``, each run in a fresh child process.

``run_step(step, n, fmt, folder, scheduler=None)`` runs one step of the
workflow on an ``n``³ uint8 volume kept on disk (``fmt`` "tif" or "zarr")
and returns the step's own time and the child's peak RSS:

- ``make``: write the volume chunk by chunk (a bright band in y, the rest
  0; never whole in memory);
- ``straighten``: open it lazily, straighten along a helix path (64 x 64
  planes), save the straightened stack (same format);
- ``bp_lazy``: threshold the straightened stack lazily and
  ``write_backprojection(..., extent="full")`` to the same format;
- ``bp_numpy``: the same call on the thresholded stack as a NumPy array.

``scheduler`` (``local:N`` or an address) runs the step on dask.distributed
(the time excludes starting the cluster; RSS is the client process's only).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

STEPS = ("make", "straighten", "bp_lazy", "bp_numpy")

_CHILD = r"""
import json, sys, time
import numpy as np
step, n, fmt, d = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
sched = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] else None
from napari_backproject import (
    SliceGeometry, save_straightened, straighten, write_backprojection,
)
from napari_backproject._distributed import scheduler
from napari_backproject.io.ome_zarr import read_volume, write_ome_zarr
from napari_backproject.io.tiff import write_tiff

src, st = f"{d}/vol.{fmt}", f"{d}/st.{fmt}"
t = np.linspace(0, 1, 40)
r = n * 0.3
pts = np.stack([n * 0.1 + t * n * 0.8, n / 2 + r * np.cos(4 * np.pi * t),
                n / 2 + r * np.sin(4 * np.pi * t)], 1)
with scheduler(sched):
    t0 = time.perf_counter()
    if step == "make":
        import dask.array as da
        y = da.arange(n, chunks=n)
        band = (((y >= n // 2 - 2) & (y < n // 2 + 2)) * 200).astype(np.uint8)
        cz = max(1, min(64, (128 << 20) // (n * n)))
        vol = da.broadcast_to(band[None, :, None], (n, n, n)).rechunk((cz, n, n))
        if fmt == "zarr":
            write_ome_zarr(vol, src, kind="image", levels=1, chunks=(64, 256, 256))
        else:
            write_tiff(vol, src, bigtiff=True, compression="zlib")
    elif step == "straighten":
        vol = read_volume(src)[0]
        stk, g = straighten(vol, pts, width=64, height=64)
        save_straightened(st, stk, g)
    else:
        lazy, md = read_volume(st)
        g = SliceGeometry.coerce(md["geometry"])
        seg = (lazy > 100).astype(np.uint8)
        if step == "bp_numpy":
            seg = np.asarray(seg.compute())
        out = f"{d}/bp-{step}-{'dist' if sched else 'one'}.{fmt}"
        write_backprojection(seg, g, out, extent="full")
    dt = time.perf_counter() - t0
# peak RSS of this process image: VmHWM (ru_maxrss would include the
# parent's RSS, inherited across fork + exec on Linux)
with open("/proc/self/status") as fh:
    rss = next(int(x.split()[1]) for x in fh if x.startswith("VmHWM:")) / 2**20
print(json.dumps({"time": dt, "rss_gib": rss}))
"""


def run_step(
    step: str, n: int, fmt: str, folder: Path, scheduler: str | None = None
) -> dict:
    """Run one step in a child process; ``{"time": s, "rss_gib": GiB}``."""
    if step not in STEPS:
        raise ValueError(f"step must be one of {STEPS}; got {step!r}.")
    args = [sys.executable, "-c", _CHILD, step, str(n), fmt, str(folder)]
    out = subprocess.run(
        [*args, scheduler or ""],
        capture_output=True,
        text=True,
        env=dict(os.environ),
    )
    if out.returncode:
        raise RuntimeError(f"{step} ({n}³, {fmt}) failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])
