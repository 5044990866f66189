"""``python -m benchmarks [--quick] [--only AREA ...] [--repeats N] [--out FILE]``."""

from __future__ import annotations

import argparse
import platform
import sys
import time

from benchmarks.harness import discover, load_cases, markdown_table, run_case


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    parser.add_argument("--only", nargs="*", help="areas to run (substring match)")
    parser.add_argument("--repeats", type=int, help="override repeats per case")
    parser.add_argument("--out", help="also write the Markdown table to this file")
    args = parser.parse_args(argv)

    areas = discover(args.only)
    if not areas:
        print("no benchmark matched", args.only, file=sys.stderr)
        return 2
    results = []
    t0 = time.perf_counter()
    for area in areas:
        for case in load_cases(area, args.quick):
            print(f"... {area}: {case.name}", file=sys.stderr, flush=True)
            results.append(run_case(area, case, args.repeats))
    table = markdown_table(results)
    header = (
        f"napari-backproject benchmarks ({'quick' if args.quick else 'full'}), "
        f"{platform.processor() or platform.machine()}, python "
        f"{platform.python_version()}, medians; total {time.perf_counter() - t0:.0f} s\n"
    )
    print(header)
    print(table)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(header + "\n" + table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
