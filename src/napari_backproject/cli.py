"""The ``napari-backproject`` command.

Subcommands live in :mod:`napari_backproject._cli`, one module per
capability, each with ``register(subparsers)``; they are discovered here so
that adding a capability does not touch this file.

Examples
--------
.. code-block:: bash

    napari-backproject demo --headless --out demo-out
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from . import __version__, _cli


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="napari-backproject",
        description=(
            "Straighten volumes along a path, backproject segmentations, and "
            "compute sinograms / reconstructions (FBP, SART)."
        ),
    )
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for info in sorted(pkgutil.iter_modules(_cli.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{_cli.__name__}.{info.name}")
        module.register(sub)
    for name in ("straighten", "backproject"):  # big data: run on a dask cluster
        if name in sub.choices:
            sub.choices[name].add_argument(
                "--scheduler",
                default=None,
                metavar="ADDRESS|local:N",
                help=(
                    "compute on dask.distributed: the address of a running "
                    "scheduler (tcp://host:8786) or local:N for a new cluster of "
                    "N worker processes; with a .zarr output the workers write "
                    "their own chunks"
                ),
            )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``napari-backproject`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from ._distributed import scheduler

    try:
        with scheduler(getattr(args, "scheduler", None)):
            return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, FileExistsError, PermissionError) as exc:
        print(f"napari-backproject {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; no partial output was kept", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
