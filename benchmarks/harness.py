"""A small side-by-side benchmark harness.

Each ``benchmarks/bench_<area>.py`` defines ``cases(quick: bool) -> list[Case]``.
For every case the harness runs ``setup`` once, calls ``ours`` (and
``reference``) once untimed to warm up (numba compilation, caches), then
alternates timed runs of the two so that both see the same machine state,
and reports medians.
"""

from __future__ import annotations

import gc
import importlib
import pkgutil
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Case:
    """One benchmark row: our implementation against a reference."""

    name: str
    ours: Callable[[], object]
    reference: Callable[[], object] | None = None
    reference_name: str = ""
    setup: Callable[[], None] | None = None
    repeats: int = 5
    notes: Callable[[], str] | str = ""
    show_runs: bool = False  # list every timed run of ours in the notes
    #: the callables return their own time in seconds (e.g. measured inside a
    #: child process) instead of being timed here; no untimed warm-up run
    self_timed: bool = False


@dataclass
class Result:
    area: str
    case: Case
    ours: float
    reference: float | None
    notes: str = ""
    times: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.reference is None or self.ours <= 0:
            return None
        return self.reference / self.ours


def _timed(fn: Callable[[], object]) -> float:
    gc.collect()
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run_case(area: str, case: Case, repeats: int | None = None) -> Result:
    """Time one case (medians of ``repeats`` alternating runs)."""
    n = max(1, repeats or case.repeats)
    if case.setup is not None:
        case.setup()
    timed = (lambda fn: float(fn())) if case.self_timed else _timed
    if not case.self_timed:
        case.ours()  # warm-up: compilation, caches
        if case.reference is not None:
            case.reference()
    ours_t: list[float] = []
    ref_t: list[float] = []
    for _ in range(n):
        ours_t.append(timed(case.ours))
        if case.reference is not None:
            ref_t.append(timed(case.reference))
    notes = case.notes() if callable(case.notes) else case.notes
    if case.show_runs:
        runs = "/".join(f"{t * 1e3:.0f}" for t in ours_t)
        notes = "; ".join(x for x in (notes, f"our runs {runs} ms") if x)
    return Result(
        area=area,
        case=case,
        ours=statistics.median(ours_t),
        reference=statistics.median(ref_t) if ref_t else None,
        notes=notes or "",
        times={"ours": ours_t, "reference": ref_t},
    )


def discover(only: list[str] | None = None) -> list[str]:
    """Names of the ``bench_*`` modules (optionally filtered by substring)."""
    here = Path(__file__).parent
    names = sorted(
        m.name[len("bench_") :]
        for m in pkgutil.iter_modules([str(here)])
        if m.name.startswith("bench_")
    )
    if only:
        names = [n for n in names if any(o in n for o in only)]
    return names


def load_cases(area: str, quick: bool) -> list[Case]:
    module = importlib.import_module(f"benchmarks.bench_{area}")
    return list(module.cases(quick))


def _fmt(t: float | None) -> str:
    if t is None:
        return "—"
    return f"{t * 1e3:.1f} ms" if t < 1 else f"{t:.2f} s"


def _cell(text: str) -> str:
    """Escape pipes so that a note stays in its table cell."""
    return text.replace("|", "\\|")


def markdown_table(results: list[Result]) -> str:
    """Render results as a Markdown table."""
    lines = [
        "| area | case | ours | reference | reference time | ratio (ref/ours) | notes |",
        "|---|---|---:|---|---:|---:|---|",
    ]
    for r in results:
        ratio = "—" if r.ratio is None else f"{r.ratio:.1f}x"
        lines.append(
            f"| {r.area} | {r.case.name} | {_fmt(r.ours)} | "
            f"{r.case.reference_name or '—'} | {_fmt(r.reference)} | {ratio} | "
            f"{_cell(r.notes)} |"
        )
    return "\n".join(lines)
