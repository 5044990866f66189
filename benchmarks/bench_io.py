"""I/O: reading one plane of a volume on disk, lazily vs. reading the file."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import tifffile

from benchmarks.harness import Case
from napari_backproject.io.tiff import read_tiff, write_tiff


def cases(quick: bool) -> list[Case]:
    n = 64 if quick else 512
    tmp = Path(tempfile.mkdtemp(prefix="nbp-bench-io-"))
    path = tmp / "volume.tif"
    state: dict = {}

    def setup() -> None:
        if path.exists():
            return
        rng = np.random.default_rng(0)
        vol = rng.integers(0, 255, size=(n, n, n), dtype=np.uint8)
        write_tiff(vol, path, compression="none")

    def ours() -> None:
        data, _ = read_tiff(path)
        state["ours"] = data[n // 2].compute()

    def reference() -> None:
        state["ref"] = tifffile.imread(path)[n // 2]

    def notes() -> str:
        same = np.array_equal(state["ours"], state["ref"])
        mib = path.stat().st_size / 2**20
        return f"{n}³ uint8 ({mib:.0f} MiB), one z-plane; identical: {same}"

    return [
        Case(
            name=f"read one plane of a {n}³ tiff",
            ours=ours,
            reference=reference,
            reference_name="tifffile.imread + index",
            setup=setup,
            repeats=5,
            notes=notes,
        )
    ]
