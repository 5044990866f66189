"""``napari-backproject demo``: the plugin's workflows on its sample data."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="open napari with the sample data and the plugin's widgets",
        description=(
            "Open napari with the helix sample and the plugin's widgets docked, "
            "and run the demo workflow. With --headless, run the same workflow "
            "without a window and write results and screenshots to --out."
        ),
    )
    p.add_argument("--headless", action="store_true", help="no window; write to --out")
    p.add_argument(
        "--out", default=None, help="output folder (default demo-out with --headless)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = args.out or ("demo-out" if args.headless else None)
    under_xvfb = bool(os.environ.get("NAPARI_BACKPROJECT_XVFB"))
    if args.headless and not under_xvfb and shutil.which("xvfb-run"):
        # Draw on a private virtual display: OpenGL screenshots need one, and
        # a headless run must not put a window on the user's screen.
        env = dict(os.environ, NAPARI_BACKPROJECT_XVFB="1")
        cmd = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24"]
        cmd += [sys.executable, "-m", "napari_backproject.cli"]
        cmd += ["demo", "--headless", "--out", out]
        return subprocess.call(cmd, env=env)
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
        print(
            "the demo needs a display (OpenGL): install Xvfb "
            "(apt-get install xvfb xauth) or run under xvfb-run -a",
            file=sys.stderr,
        )
        return 2
    from .._demo import run_demo

    run_demo(headless=args.headless, out=out)
    return 0
