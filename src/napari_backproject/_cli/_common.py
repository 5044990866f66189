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


def add_output(parser, help_text: str) -> None:
    """``-o/--output`` (the one style of every subcommand), plus the old positional.

    The positional output (``sinogram in.tif out.tif``) still works, with a
    deprecation message; :func:`resolve_output` picks the one given.
    """
    parser.add_argument("-o", "--output", default=None, help=f"{help_text} (required)")
    parser.add_argument(
        "legacy_output",
        nargs="?",
        default=None,
        metavar="OUTPUT",
        help="deprecated: give the output with -o OUTPUT",
    )


def resolve_output(args) -> str:
    """The output path from ``-o`` or (deprecated) the positional argument."""
    legacy = getattr(args, "legacy_output", None)
    if legacy is not None and args.output is not None:
        raise ValueError(
            f"two outputs given ({legacy} and -o {args.output}); give only -o OUTPUT."
        )
    if legacy is not None:
        print(
            f"napari-backproject {args.command}: the positional OUTPUT is "
            f"deprecated; use -o {legacy}",
            file=sys.stderr,
        )
        return legacy
    if args.output is None:
        raise ValueError("the output is missing: give -o OUTPUT.")
    return args.output
