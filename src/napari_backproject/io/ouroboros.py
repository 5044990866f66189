"""Ouroboros files in and out: option files, its planes, ``_rects.npy``, TIFF tags.

Ouroboros (ChengLabResearch/ouroboros, v1.4) keeps a run as
``<name>-slice-options.json`` and ``<name>-backproject-options.json`` plus a
Neuroglancer state. This module

- maps every key of both option files onto our parameters
  (:func:`read_ouroboros_options`), listing keys without an equivalent and
  what we do instead; unknown keys (another Ouroboros version) are an error;
- rebuilds Ouroboros's own planes exactly (:func:`ouroboros_geometry`): its
  smoothing spline (``scipy.interpolate.splprep`` with its default smoothing
  ``s = m - sqrt(2 m)``, fitted in voxel coordinates ``x, y, z``), its
  sampling (arc length from a Riemann sum at the fit parameters, or its
  adaptive curvature/arc-length mix), its frames (tangents rotated by
  Rodrigues' formula from ``(-t_y, t_x, 0)``) and its rectangle corners, so a
  segmentation made on an Ouroboros-straightened stack can be backprojected
  by :func:`napari_backproject.backproject`;
- writes a geometry as Ouroboros rectangles (:func:`write_rects`).

Pixel ``(v, u)`` of Ouroboros plane ``i`` lies at
``r0 + u (r1 - r0) / (W - 1) + v (r3 - r0) / (H - 1)`` with the corners
``r0..r3`` of ``_rects.npy`` (voxel ``x, y, z``), ``|r1 - r0| = W`` and
``|r3 - r0| = H``: pixels are ``W / (W - 1)`` voxels apart along ``u``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "OuroborosOptions",
    "annotation_points",
    "check_ouroboros_stack",
    "ouroboros_geometry",
    "ouroboros_planes",
    "read_ouroboros_options",
    "rects_to_geometry",
    "save_straightened_ouroboros",
    "straighten_cli_defaults",
    "write_rects",
]

# key -> (our parameter or None, what we do instead)
_COMMON = {
    "output_file_folder": ("output folder", ""),
    "output_file_name": ("output name", ""),
    "flush_cache": (None, "no download cache: volumes are read lazily (dask)"),
    "make_single_file": ("folder (= not make_single_file)", ""),
    "output_mip_level": ("level (multiscale index)", ""),
}
_SLICE = {
    "slice_width": ("width", ""),
    "slice_height": ("height", ""),
    "neuroglancer_json": ("path (points read with read_neuroglancer)", ""),
    "neuroglancer_image_layer": ("image layer name", ""),
    "neuroglancer_annotation_layer": ("annotation layer name", ""),
    "slicing_params.dist_between_slices": ("spacing", ""),
    "slicing_params.use_adaptive_slicing": (
        None,
        "exact arc-length spacing (planes evenly spaced along the curve; the "
        "pull backprojection has no holes at bends)",
    ),
    "slicing_params.adaptive_slicing_ratio": (None, "ignored (no adaptive slicing)"),
    "bounding_box_params.max_depth": (
        None,
        "chunked streaming; memory set by chunk size",
    ),
    "bounding_box_params.target_slices_per_box": (
        "chunk_slices",
        "slices per block when writing",
    ),
    "connect_start_and_end": ("closed", "a periodic (closed-loop) curve"),
    "annotation_mip_level": ("level of the annotation (points rescaled)", ""),
    "normalize_output": (None, "output keeps the source dtype and values"),
    "zeroguard_output": (None, "not needed: values are not rescaled"),
}
_BACK = {
    "straightened_volume_path": ("straightened data", ""),
    "slice_options_path": ("geometry (rebuilt from the slice options)", ""),
    "backproject_min_bounding_box": ("extent ('bbox' or 'full')", ""),
    "make_backprojection_binary": ("binary", ""),
    "make_backprojection_discrete": (
        None,
        "always: labels stay exact IDs (no averaging)",
    ),
    "backprojection_compression": ("compression", ""),
    "upsample_order": ("order", "0 nearest, otherwise linear / label vote"),
    "offset_in_name": (
        None,
        "the offset is written into the file's metadata (translate), not its name",
    ),
    "process_count": (None, "threads from the thread budget"),
    "chunk_size": ("chunk_z", ""),
}
_COMPRESSION = {"zlib": "zlib", "zstd": "zstd", "none": "none", "": "none"}


@dataclass
class OuroborosOptions:
    """Our parameters read from an Ouroboros option file.

    Attributes
    ----------
    kind : {"slice", "backproject"}
    raw : dict
        The file's content.
    straighten : dict
        Keywords for :func:`napari_backproject.straighten` (``width``,
        ``height``, ``spacing`` in voxels of the output level, ``closed``).
    backproject : dict
        Keywords for :func:`napari_backproject.backproject` (``extent``,
        ``binary``, ``order``) and its writer (``compression``).
    output : dict
        ``folder``, ``name``, ``single_file``, levels, Neuroglancer names.
    no_equivalent : list of (key, value, what we do instead)

    Examples
    --------
    >>> o = read_ouroboros_options({"slice_width": 40, "slice_height": 30,
    ...     "output_file_folder": ".", "output_file_name": "a",
    ...     "neuroglancer_json": "ng.json"})
    >>> o.straighten
    {'width': 40, 'height': 30, 'spacing': 1.0, 'closed': False}
    """

    kind: str
    raw: dict
    straighten: dict = field(default_factory=dict)
    backproject: dict = field(default_factory=dict)
    output: dict = field(default_factory=dict)
    no_equivalent: list = field(default_factory=list)

    def straighten_kwargs(self, scale: Any = None) -> dict:
        """``straighten`` keywords with ``spacing`` in world units.

        Ouroboros's distance between slices is in voxels; it becomes
        ``dist * min(scale)``.

        Examples
        --------
        >>> o = read_ouroboros_options({"slice_width": 4, "slice_height": 4,
        ...     "output_file_folder": ".", "output_file_name": "a",
        ...     "neuroglancer_json": "n.json"})
        >>> o.straighten_kwargs(scale=(2, 1, 1))["spacing"]
        1.0
        """
        kw = dict(self.straighten)
        if "spacing" in kw:
            sc = 1.0 if scale is None else float(np.min(np.asarray(scale, float)))
            kw["spacing"] = kw["spacing"] * sc
        return kw


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and k in ("slicing_params", "bounding_box_params"):
            out.update(_flatten(v, f"{k}."))
        else:
            out[prefix + k] = v
    return out


def read_ouroboros_options(path_or_dict: str | os.PathLike | dict) -> OuroborosOptions:
    """Map an Ouroboros slice- or backproject-options file onto our parameters.

    Parameters
    ----------
    path_or_dict : str, PathLike or dict
        ``<name>-slice-options.json`` or ``<name>-backproject-options.json``
        (or its dict).

    Returns
    -------
    OuroborosOptions

    Raises
    ------
    ValueError
        Not an Ouroboros option file, unknown keys (listed: another Ouroboros
        version), or values of the wrong type.

    Examples
    --------
    >>> o = read_ouroboros_options({"output_file_folder": ".",
    ...     "output_file_name": "a", "straightened_volume_path": "a.tif",
    ...     "slice_options_path": "a-slice-options.json",
    ...     "make_backprojection_binary": True})
    >>> o.kind, o.backproject["binary"], o.backproject["extent"]
    ('backproject', True, 'bbox')
    """
    if isinstance(path_or_dict, dict):
        raw, where = dict(path_or_dict), "the options"
    elif not isinstance(path_or_dict, (str, os.PathLike)):
        raise ValueError(
            "not an Ouroboros options file: expected a JSON object (dict) or a "
            f"path; got {type(path_or_dict).__name__}."
        )
    else:
        p = Path(path_or_dict)
        if not p.is_file():
            raise FileNotFoundError(f"no such Ouroboros options file: {p}")
        with open(p, encoding="utf-8") as fh:
            try:
                raw = json.load(fh)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{p} is not valid JSON: {exc}") from None
        where = str(p)
    if not isinstance(raw, dict):
        raise ValueError(
            f"{where} is not an Ouroboros options file (not a JSON object)."
        )
    flat = _flatten(raw)
    if "slice_width" in flat or "slice_height" in flat:
        kind, table = "slice", {**_COMMON, **_SLICE}
    elif "straightened_volume_path" in flat or "slice_options_path" in flat:
        kind, table = "backproject", {**_COMMON, **_BACK}
    else:
        raise ValueError(
            f"{where} is not an Ouroboros options file: it has neither "
            "'slice_width' (slice options) nor 'straightened_volume_path' "
            f"(backproject options); keys: {sorted(flat)[:10]}."
        )
    unknown = sorted(k for k in flat if k not in table)
    if unknown:
        raise ValueError(
            f"{where}: unknown Ouroboros {kind} option(s) {unknown}; this reader "
            "knows Ouroboros 1.4 option files. Remove or rename these keys."
        )

    def get(key, default, kinds):
        v = flat.get(key, default)
        if not isinstance(v, kinds) or (isinstance(v, bool) and bool not in kinds):
            raise ValueError(
                f"{where}: {key!r} must be {kinds[0].__name__}; got {v!r}."
            )
        return v

    o = OuroborosOptions(kind=kind, raw=raw)
    o.output = {
        "folder": get("output_file_folder", "./output/", (str,)),
        "name": get("output_file_name", "sample", (str,)),
        "single_file": get("make_single_file", kind == "slice", (bool,)),
        "output_mip_level": get("output_mip_level", 0, (int,)),
    }
    if kind == "slice":
        w = get("slice_width", None, (int,))
        h = get("slice_height", None, (int,))
        if w is None or h is None or w < 2 or h < 2:
            raise ValueError(
                f"{where}: 'slice_width' and 'slice_height' must be integers >= 2; "
                f"got {w!r}, {h!r}."
            )
        dist = float(get("slicing_params.dist_between_slices", 1, (int, float)))
        if not dist > 0:
            raise ValueError(f"{where}: 'dist_between_slices' must be > 0; got {dist}.")
        o.straighten = {
            "width": int(w),
            "height": int(h),
            "spacing": dist,
            "closed": get("connect_start_and_end", False, (bool,)),
        }
        o.output.update(
            neuroglancer_json=get("neuroglancer_json", "", (str,)),
            image_layer=get("neuroglancer_image_layer", "", (str,)),
            annotation_layer=get("neuroglancer_annotation_layer", "", (str,)),
            annotation_mip_level=get("annotation_mip_level", 0, (int,)),
            adaptive=get("slicing_params.use_adaptive_slicing", True, (bool,)),
            adaptive_ratio=float(
                get("slicing_params.adaptive_slicing_ratio", 0.5, (float, int))
            ),
        )
    else:
        comp = get("backprojection_compression", "zlib", (str,))
        order = get("upsample_order", 2, (int,))
        o.backproject = {
            "extent": "bbox"
            if get("backproject_min_bounding_box", True, (bool,))
            else "full",
            "binary": get("make_backprojection_binary", False, (bool,)),
            "order": 0 if order == 0 else 1,
            "compression": _COMPRESSION.get(comp.lower(), "zlib"),
        }
        o.output.update(
            straightened_volume_path=get("straightened_volume_path", "", (str,)),
            slice_options_path=get("slice_options_path", "", (str,)),
        )
        if comp.lower() not in _COMPRESSION:
            o.no_equivalent.append(
                ("backprojection_compression", comp, "written with zlib instead")
            )
    for key, value in flat.items():
        ours, instead = table[key]
        if ours is None:
            o.no_equivalent.append((key, value, instead))
    if kind == "slice" and o.straighten["spacing"] != 1:
        o.no_equivalent.append(
            (
                "slicing_params.dist_between_slices",
                o.straighten["spacing"],
                "our pixels are as far apart as our planes (one spacing); "
                "Ouroboros keeps pixels about 1 voxel apart",
            )
        )
    return o


def straighten_cli_defaults(args: Any) -> Any:
    """Fill ``straighten`` CLI arguments from ``--ouroboros-options`` (in place).

    ``width``, ``height``, ``closed`` and the distance between slices (in
    voxels: ``args.spacing_voxels``, to multiply by the smallest voxel size)
    come from the slice options unless given on the command line; ``path`` defaults to the options' Neuroglancer state, whose
    annotation layer gives ``args.points``. Without the option, checks that
    ``--path``, ``--width`` and ``--height`` were given.

    Examples
    --------
    >>> import argparse
    >>> a = argparse.Namespace(ouroboros_options=None, path="p.csv", width=4,
    ...                        height=4, spacing=None, closed=False)
    >>> straighten_cli_defaults(a).points is None
    True
    """
    args.points = None
    args.spacing_voxels = None
    opt = getattr(args, "ouroboros_options", None)
    if opt:
        o = read_ouroboros_options(opt)
        if o.kind != "slice":
            raise ValueError(
                f"--ouroboros-options needs the slice options file; {opt} holds "
                "backproject options."
            )
        s = o.straighten
        args.width = args.width or s["width"]
        args.height = args.height or s["height"]
        if args.spacing is None and s["spacing"] != 1:
            args.spacing_voxels = float(s["spacing"])
        args.closed = bool(args.closed or s["closed"])
        if args.path is None:
            ng = Path(o.output["neuroglancer_json"])
            args.path = str(ng if ng.is_absolute() else Path(opt).parent / ng)
        for key, value, instead in o.no_equivalent:
            print(f"note: Ouroboros option {key}={value!r}: {instead}")
    missing = [n for n in ("path", "width", "height") if getattr(args, n) is None]
    if missing:
        raise ValueError(
            f"give --{', --'.join(missing)} (or --ouroboros-options with a slice "
            "options file)."
        )
    if str(args.path).lower().endswith(".json"):
        from .neuroglancer import is_neuroglancer_state, read_neuroglancer

        if is_neuroglancer_state(args.path):
            state = read_neuroglancer(args.path)
            name = ""
            if opt:
                name = read_ouroboros_options(opt).output["annotation_layer"]
            args.points = (state[name] if name else state.annotations[0]).points
    return args


# the planes, rects and TIFF export live in their own module (size)
from ._ouroboros_planes import (  # noqa: E402
    annotation_points,
    check_ouroboros_stack,
    ouroboros_geometry,
    ouroboros_planes,
    rects_to_geometry,
    save_straightened_ouroboros,
    write_rects,
)
