"""Read (and write) a traced path: CSV, JSON, or a napari Points layer CSV.

Accepted inputs for :func:`read_path`:

- napari Points CSV (``layer.save("p.csv")``): columns ``index, axis-0,
  axis-1, axis-2`` (for 4D points the last three ``axis-*`` columns are used).
- Plain CSV with three numeric columns ``z, y, x`` (an optional header row;
  columns named ``z``, ``y``, ``x`` are picked by name in any order).
- JSON: a list of ``[z, y, x]`` triples, a dict with a ``"path"`` or
  ``"points"`` list, or a slice-geometry JSON (its ``"path"``).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["read_path", "write_path"]


def _as_points(arr: Any, source: str) -> np.ndarray:
    try:
        pts = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{source}: the path must be numbers (z, y, x).") from None
    if pts.ndim != 2 or pts.shape[1] < 3:
        raise ValueError(
            f"{source}: expected N rows of (z, y, x); got an array of shape {pts.shape}."
        )
    return pts[:, -3:]


def _read_csv(path: Path) -> np.ndarray:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = [r for r in csv.reader(fh) if r and any(c.strip() for c in r)]
    if not rows:
        raise ValueError(f"{path}: the CSV file is empty.")

    def numeric(row):
        try:
            [float(c) for c in row]
            return True
        except ValueError:
            return False

    header = None if numeric(rows[0]) else [c.strip().lower() for c in rows[0]]
    body = rows if header is None else rows[1:]
    if not body:
        raise ValueError(f"{path}: the CSV file has a header but no points.")
    try:
        table = np.array([[float(c) for c in r] for r in body], dtype=np.float64)
    except ValueError:
        raise ValueError(
            f"{path}: every row after the header must be numbers."
        ) from None
    if header is not None:
        axis_cols = [i for i, h in enumerate(header) if h.startswith("axis-")]
        if len(axis_cols) >= 3:  # napari Points CSV
            return _as_points(table[:, axis_cols], str(path))
        if all(k in header for k in ("z", "y", "x")):
            return table[:, [header.index("z"), header.index("y"), header.index("x")]]
    if table.shape[1] == 4 and header is None:
        # napari CSV without header: index, z, y, x
        if np.array_equal(table[:, 0], np.arange(len(table))):
            return table[:, 1:]
    if table.shape[1] != 3:
        raise ValueError(
            f"{path}: expected 3 columns (z, y, x) or a napari Points CSV "
            f"(index, axis-0, axis-1, axis-2); got {table.shape[1]} columns."
        )
    return table


def read_path(path: str | os.PathLike) -> np.ndarray:
    """Read ordered path points (data coordinates, z, y, x) from a file.

    Parameters
    ----------
    path : str or PathLike
        ``.csv`` (plain or napari Points CSV) or ``.json``.

    Returns
    -------
    (N, 3) float64 ndarray

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        Unknown extension or content that is not a list of (z, y, x) points.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "p.csv")
    >>> _ = open(p, "w").write("z,y,x\\n0,1,2\\n3,4,5\\n")
    >>> read_path(p).tolist()
    [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such path file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path)
    if suffix == ".json":
        with open(path, encoding="utf-8") as fh:
            try:
                d = json.load(fh)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path} is not valid JSON: {exc}") from None
        if isinstance(d, dict):
            for key in ("path", "points", "data"):
                if key in d:
                    return _as_points(d[key], str(path))
            raise ValueError(
                f"{path}: a JSON object must hold the points under 'path' or 'points'."
            )
        return _as_points(d, str(path))
    raise ValueError(f"{path}: a path file must be .csv or .json; got {suffix!r}.")


def write_path(points: Any, path: str | os.PathLike) -> Path:
    """Write points as a napari Points CSV (``index, axis-0, axis-1, axis-2``).

    Examples
    --------
    >>> import tempfile, os
    >>> p = write_path([[0, 1, 2]], os.path.join(tempfile.mkdtemp(), "p.csv"))
    >>> read_path(p).tolist()
    [[0.0, 1.0, 2.0]]
    """
    pts = _as_points(points, "points")
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["index"] + [f"axis-{i}" for i in range(pts.shape[1])])
            for i, row in enumerate(pts):
                w.writerow([i] + [repr(float(v)) for v in row])
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
