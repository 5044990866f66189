"""Helpers shared by the subcommands: progress bars and output paths."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path


def progress_bar(
    description: str, unit: str = "slice"
) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A ``(done, total)`` callback drawing a tqdm bar on stderr, and a closer.

    The writers report output slices (planes along the first axis) written.
    """
    from tqdm import tqdm

    bar = tqdm(desc=description, unit=unit, file=sys.stderr, leave=True)

    def update(done: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
        bar.n = done
        bar.refresh()

    return update, bar.close


def existing_file(path: str) -> Path:
    """A path that must exist (``FileNotFoundError`` with a clear message)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p} does not exist")
    return p


def output_path(path: str, overwrite: bool = True) -> Path:
    """An output path whose folder must exist."""
    p = Path(path)
    if not p.parent.exists():
        raise FileNotFoundError(f"output folder {p.parent} does not exist")
    if p.exists() and not overwrite:
        raise FileExistsError(f"{p} exists; pass --overwrite to replace it")
    return p
