"""Reuse a previous run: widget settings from a geometry JSON, TIFF or Ouroboros file.

:func:`run_settings` reads what a previous run left behind and returns the
values the Straighten and Backproject widgets (and the CLI) take, Qt-free:

- a geometry JSON (``*.geometry.json``) or a straightened TIFF written by
  :func:`~napari_backproject.save_straightened`: width, height, spacing,
  smoothing, closed, roll and the traced path; the geometry for Backproject;
- an Ouroboros ``<name>-slice-options.json``: width, height, spacing (in
  voxels), closed (and the Neuroglancer state holding the path);
- an Ouroboros ``<name>-backproject-options.json``: extent, binary, order
  and compression.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["RunSettings", "run_settings"]


@dataclass
class RunSettings:
    """Settings of a previous run.

    Attributes
    ----------
    source : str
        ``"geometry"``, ``"tiff"``, ``"ouroboros-slice"`` or
        ``"ouroboros-backproject"``.
    straighten : dict
        Straighten widget values (``width``, ``height``, ``spacing``,
        ``smoothing``, ``closed``, ``roll``) that the file gives.
    backproject : dict
        Backproject widget values (``geometry`` path or object, ``extent``,
        ``binary``, ``order``, ``compression``) that the file gives.
    path : ndarray or None
        The traced points (voxel ``z, y, x``) when the file holds them.
    notes : list of str
        Options without an equivalent and what is done instead.

    Examples
    --------
    >>> RunSettings("geometry").straighten
    {}
    """

    source: str
    straighten: dict = field(default_factory=dict)
    backproject: dict = field(default_factory=dict)
    path: Any = None
    notes: list = field(default_factory=list)


def _from_geometry(g: Any, source: str, where: Any) -> RunSettings:
    opts = g.options
    return RunSettings(
        source=source,
        straighten={
            "width": g.width,
            "height": g.height,
            "spacing": g.spacing,
            "smoothing": float(opts.get("smoothing", 0.0)),
            "closed": bool(opts.get("closed", False)),
            "roll": float(opts.get("roll", 0.0)),
        },
        backproject={"geometry": where},
        path=g.path.copy() if len(g.path) else None,
    )


def run_settings(path: str | os.PathLike) -> RunSettings:
    """Widget settings from a previous run's file.

    Parameters
    ----------
    path : str or PathLike
        A geometry JSON, a straightened TIFF with geometry metadata, or an
        Ouroboros slice/backproject options file.

    Returns
    -------
    RunSettings

    Raises
    ------
    ValueError
        A file that is none of these (the message says what was expected).

    Examples
    --------
    >>> import tempfile, os
    >>> from napari_backproject.geometry import make_slice_geometry
    >>> g = make_slice_geometry([[0, 5, 5], [4, 5, 5]], source_shape=(5, 10, 10),
    ...                         source_dtype="uint8", width=7, height=5)
    >>> p = g.to_json(os.path.join(tempfile.mkdtemp(), "a.geometry.json"))
    >>> run_settings(p).straighten["width"]
    7
    """
    from ..slice_geometry import FORMAT, SliceGeometry

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no such file: {p}")
    low = p.name.lower()
    if low.endswith((".tif", ".tiff")) or p.is_dir():
        from .tiff import read_tiff

        _, md = read_tiff(p)
        if "geometry" not in md:
            raise ValueError(
                f"{p} has no napari-backproject geometry in its metadata; give "
                "its .geometry.json, or a stack written by save_straightened."
            )
        g = SliceGeometry.from_dict(md["geometry"])
        return _from_geometry(g, "tiff", g)
    if not low.endswith(".json"):
        raise ValueError(
            f"{p}: expected a geometry JSON, a straightened TIFF or an Ouroboros "
            "options JSON."
        )
    with open(p, encoding="utf-8") as fh:
        try:
            d = json.load(fh)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{p} is not valid JSON: {exc}") from None
    if isinstance(d, dict) and d.get("format") == FORMAT:
        return _from_geometry(SliceGeometry.from_dict(d), "geometry", str(p))
    from .ouroboros import read_ouroboros_options

    o = read_ouroboros_options(d)
    notes = [f"{k}={v!r}: {why}" for k, v, why in o.no_equivalent]
    if o.kind == "slice":
        st = {k: o.straighten[k] for k in ("width", "height", "closed")}
        st["spacing_voxels"] = o.straighten["spacing"]
        ng = Path(o.output["neuroglancer_json"])
        ng = ng if ng.is_absolute() else p.parent / ng
        path_pts = None
        if ng.is_file():
            from .neuroglancer import read_neuroglancer

            state = read_neuroglancer(ng)
            name = o.output["annotation_layer"]
            path_pts = (state[name] if name else state.annotations[0]).points
        else:
            notes.append(f"Neuroglancer state {ng} not found: trace the path again")
        return RunSettings("ouroboros-slice", straighten=st, path=path_pts, notes=notes)
    return RunSettings(
        "ouroboros-backproject", backproject=dict(o.backproject), notes=notes
    )
