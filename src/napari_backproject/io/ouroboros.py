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
    "check_ouroboros_stack",
    "ouroboros_geometry",
    "ouroboros_planes",
    "read_ouroboros_options",
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


# -------------------------------------------------------- Ouroboros's planes
def _dedupe(points: np.ndarray) -> np.ndarray:
    _, idx = np.unique(points.round(decimals=2), axis=0, return_index=True)
    return points[np.sort(idx)]


def _arc(tck: Any, t: np.ndarray) -> np.ndarray:
    from scipy.interpolate import splev

    d = np.linalg.norm(np.array(splev(t, tck, der=1)), axis=0)
    return np.cumsum(d * np.diff(t, prepend=0))


def _params(tck: Any, u: np.ndarray, dist: float, adaptive: bool, ratio: float):
    from scipy.interpolate import splev

    arc = _arc(tck, u)
    if not adaptive:
        n = int(np.floor(arc[-1] / dist)) + 1
        return np.interp(np.linspace(0, arc[-1], n), arc, u)
    n = int(arc[-1] / dist) + 1
    calc = np.linspace(0, 1, 10 * n)
    a = _arc(tck, calc)
    d1 = np.array(splev(calc, tck, der=1)).T
    d2 = np.array(splev(calc, tck, der=2)).T
    # Ouroboros divides by the norm of the whole derivative array (a scalar)
    curv = np.linalg.norm(np.cross(d1, d2), axis=1) / np.linalg.norm(d1) ** 3
    csum = np.cumsum(curv * np.linalg.norm(d1))
    wc = ratio / (1 + ratio)
    hybrid = (1 - wc) * a / a[-1] + wc * csum / csum[-1]
    return np.interp(np.linspace(0, 1, n), hybrid, calc)


def _frames(tangents: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ouroboros's frames: Rodrigues rotation of the previous frame."""
    t0 = tangents[0]
    if abs(t0[0]) < 1e-6 and abs(t0[1]) < 1e-6:
        nrm = np.array([0.0, 1.0, 0.0])
    else:
        nrm = np.array([-t0[1], t0[0], 0.0])
    nrm = nrm / np.linalg.norm(nrm)
    bi = np.cross(t0, nrm)
    nrm = np.cross(bi, t0)
    T, N, B = [t0], [nrm], [bi]
    for cur in tangents[1:]:
        prev = T[-1]
        axis = np.cross(prev, cur)
        na = np.linalg.norm(axis)
        if na < 1e-6:
            T.append(prev)
            N.append(N[-1])
            B.append(B[-1])
            continue
        k = axis / na
        ang = np.arccos(np.clip(np.dot(prev, cur), -1.0, 1.0))
        # Rodrigues: v cos + (k x v) sin + k (k . v)(1 - cos)
        c, s = np.cos(ang), np.sin(ang)

        def rot(v, k=k, c=c, s=s):
            return v * c + np.cross(k, v) * s + k * np.dot(k, v) * (1 - c)

        T.append(cur)
        N.append(rot(N[-1]))
        B.append(rot(B[-1]))
    N_, B_ = np.array(N), np.array(B)
    N_ /= np.linalg.norm(N_, axis=1, keepdims=True)
    B_ /= np.linalg.norm(B_, axis=1, keepdims=True)
    return np.array(T), N_, B_


def ouroboros_planes(
    points_xyz: Any,
    width: int,
    height: int,
    *,
    dist_between_slices: float = 1.0,
    adaptive: bool = True,
    adaptive_ratio: float = 0.5,
    connect_start_and_end: bool = False,
) -> np.ndarray:
    """Ouroboros's slice rectangles ``(n, 4, 3)`` (voxel ``x, y, z``).

    Corners are ``top_left, top_right, bottom_right, bottom_left`` as in its
    ``_rects.npy``.

    Parameters
    ----------
    points_xyz : (N, 3) array_like
        Annotation points as Neuroglancer stores them (voxel ``x, y, z``).
    width, height : int
        Slice width and height (pixels).
    dist_between_slices, adaptive, adaptive_ratio, connect_start_and_end
        As in its slice options.

    Examples
    --------
    >>> t = np.linspace(0, 3, 6)
    >>> r = ouroboros_planes(np.c_[10 * t, 5 * np.sin(t), 2 * t], 8, 8)
    >>> r.shape[1:], round(float(np.linalg.norm(r[0, 1] - r[0, 0])), 6)
    ((4, 3), 8.0)
    """
    from scipy.interpolate import splev, splprep

    pts = np.asarray(points_xyz, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 3 or not np.all(np.isfinite(pts)):
        raise ValueError(f"points must be a finite (N, 3) array; got {pts.shape}.")
    if connect_start_and_end:
        pts = np.concatenate([pts, pts[:1]])  # (Ouroboros then drops it again)
    pts = _dedupe(pts)
    if len(pts) < 4:
        raise ValueError(
            f"Ouroboros fits a cubic spline and needs at least 4 distinct points; "
            f"got {len(pts)}."
        )
    tck, u = splprep(list(pts.T), k=3)
    params = _params(
        tck, u, float(dist_between_slices), bool(adaptive), float(adaptive_ratio)
    )
    centers = np.array(splev(params, tck)).T
    d1 = np.array(splev(params, tck, der=1)).T
    tang = d1 / np.linalg.norm(d1, axis=1, keepdims=True)
    _, nrm, bi = _frames(tang)
    wl, wr = width // 2, width // 2 + width % 2
    ht, hb = height // 2, height // 2 + height % 2
    tl = centers - wl * nrm + ht * bi
    tr = centers + wr * nrm + ht * bi
    br = centers + wr * nrm - hb * bi
    bl = centers - wl * nrm - hb * bi
    return np.stack([tl, tr, br, bl], axis=1)


def rects_to_geometry(
    rects: Any,
    width: int,
    height: int,
    *,
    source_shape: tuple[int, int, int],
    source_dtype: Any = "uint8",
    path_xyz: Any = None,
    options: dict | None = None,
) -> Any:
    """A :class:`SliceGeometry` sampling exactly where Ouroboros's rectangles do.

    The geometry works in Ouroboros's voxel coordinates (``scale`` 1,
    ``translate`` 0, axes ``z, y, x``): Ouroboros fits its curve in voxel
    indices, so with anisotropic voxels its planes are only orthogonal in
    voxel space. Pixels are ``W / (W - 1)`` voxels apart; for
    ``width != height`` ``e_v`` is scaled by ``(H / (H - 1)) / (W / (W - 1))``.

    Examples
    --------
    >>> t = np.linspace(0, 3, 6)
    >>> r = ouroboros_planes(np.c_[10 * t, 5 * np.sin(t), 2 * t], 8, 8)
    >>> g = rects_to_geometry(r, 8, 8, source_shape=(20, 20, 40))
    >>> np.allclose(g.world_coordinates(0, 1)[:, 0, 0, 0], r[0, 0, ::-1])
    True
    """
    from ..slice_geometry import SliceGeometry

    r = np.asarray(rects, dtype=np.float64)
    if r.ndim != 3 or r.shape[1:] != (4, 3) or len(r) < 1:
        raise ValueError(f"rects must have shape (n, 4, 3); got {r.shape}.")
    W, H = int(width), int(height)
    if W < 2 or H < 2:
        raise ValueError(f"width and height must be >= 2; got {W}, {H}.")
    r = r[:, :, ::-1]  # x, y, z -> z, y, x
    du = (r[:, 1] - r[:, 0]) / (W - 1)
    dv = (r[:, 3] - r[:, 0]) / (H - 1)
    D = float(np.mean(np.linalg.norm(du, axis=1)))
    e_u = du / D
    e_v = dv / D
    center = r[:, 0] + du * (W - 1) / 2 + dv * (H - 1) / 2
    # Ouroboros's (N, -B, T) is right-handed in x, y, z; reversed to z, y, x
    # it is left-handed, so the direction of travel is e_u x e_v here.
    tang = np.cross(e_u, e_v)
    tang /= np.linalg.norm(tang, axis=1, keepdims=True)
    path = (
        np.zeros((0, 3)) if path_xyz is None else np.asarray(path_xyz, float)[:, ::-1]
    )
    opts = {"ouroboros": True, "closed": False}
    opts.update(options or {})
    return SliceGeometry(
        source_shape=source_shape,
        source_dtype=source_dtype,
        scale=(1.0, 1.0, 1.0),
        translate=(0.0, 0.0, 0.0),
        width=W,
        height=H,
        spacing=D,
        centers=center,
        tangents=tang,
        e_u=e_u,
        e_v=e_v,
        path=path,
        options=opts,
    )


def ouroboros_geometry(
    slice_options: Any,
    neuroglancer: Any = None,
    *,
    source_shape: tuple[int, int, int],
    source_dtype: Any = "uint8",
    mip_factors: Any = None,
) -> Any:
    """Rebuild the planes of an Ouroboros run as a :class:`SliceGeometry`.

    Parameters
    ----------
    slice_options : path, dict or OuroborosOptions
        The run's ``<name>-slice-options.json``.
    neuroglancer : path or dict, optional
        Its Neuroglancer state; by default the ``neuroglancer_json`` named
        in the options (relative to the options file).
    source_shape : tuple of 3 ints
        Shape ``(Z, Y, X)`` of the volume at the output MIP level.
    source_dtype
        dtype of that volume.
    mip_factors : 3 floats, optional
        Annotation-level size / output-level size along ``x, y, z``; needed
        when ``annotation_mip_level != output_mip_level``.

    Returns
    -------
    SliceGeometry
        In voxel units (``scale`` 1); see :func:`rects_to_geometry`.

    Examples
    --------
    >>> ng = {"layers": [{"type": "annotation", "name": "a", "annotations": [
    ...     {"type": "point", "point": [float(5 * t), float(3 * np.sin(t)) + 10, 2.0 * t]}
    ...     for t in range(6)]}]}
    >>> opts = {"slice_width": 8, "slice_height": 8, "output_file_folder": ".",
    ...         "output_file_name": "a", "neuroglancer_json": "ng.json"}
    >>> g = ouroboros_geometry(opts, ng, source_shape=(12, 20, 30))
    >>> g.straightened_shape[1:]
    (8, 8)
    """
    from .neuroglancer import read_neuroglancer

    o = slice_options
    base = Path(".")
    if isinstance(o, (str, os.PathLike)):
        base = Path(o).parent
    if not isinstance(o, OuroborosOptions):
        o = read_ouroboros_options(o)
    if o.kind != "slice":
        raise ValueError(
            "ouroboros_geometry needs the slice options, not the backproject options."
        )
    if neuroglancer is None:
        ngp = Path(o.output["neuroglancer_json"])
        neuroglancer = ngp if ngp.is_absolute() else base / ngp
    state = read_neuroglancer(neuroglancer)
    name = o.output["annotation_layer"]
    layer = state[name] if name else state.annotations[0]
    pts_xyz = layer.points[:, ::-1]
    if o.output["annotation_mip_level"] != o.output["output_mip_level"]:
        if mip_factors is None:
            raise ValueError(
                "annotation_mip_level and output_mip_level differ; pass "
                "mip_factors (annotation-level size / output-level size, x y z)."
            )
        pts_xyz = pts_xyz / np.asarray(mip_factors, float)
    s = o.straighten
    rects = ouroboros_planes(
        pts_xyz,
        s["width"],
        s["height"],
        dist_between_slices=s["spacing"],
        adaptive=o.output["adaptive"],
        adaptive_ratio=o.output["adaptive_ratio"],
        connect_start_and_end=s["closed"],
    )
    return rects_to_geometry(
        rects,
        s["width"],
        s["height"],
        source_shape=source_shape,
        source_dtype=source_dtype,
        path_xyz=pts_xyz,
        options={"ouroboros_rects": True},
    )


def check_ouroboros_stack(stack_shape: tuple, geometry: Any) -> None:
    """Raise if a straightened stack does not match a (rebuilt) geometry.

    Examples
    --------
    >>> check_ouroboros_stack((3, 4, 5), type("G", (), {"straightened_shape": (3, 4, 5)})())
    """
    shp = tuple(int(s) for s in stack_shape[:3])
    want = tuple(geometry.straightened_shape)
    if shp != want:
        raise ValueError(
            f"the straightened stack has {shp[0]} planes of {shp[1]} x {shp[2]} "
            f"(height x width) but the slice options give {want[0]} planes of "
            f"{want[1]} x {want[2]}; use the stack made with these options."
        )


def write_rects(geometry: Any, path: str | os.PathLike) -> Path:
    """Write a geometry's planes as Ouroboros ``_rects.npy`` (``(n, 4, 3)``, voxel x, y, z).

    Corners follow Ouroboros: ``top_left, top_right, bottom_right,
    bottom_left`` with ``top_left`` at pixel ``(0, 0)`` and
    ``|r1 - r0| = W * D`` (its convention); Ouroboros's sampler puts pixel
    ``u`` at ``r0 + u (r1 - r0) / (W - 1)``, so its pixels are
    ``W / (W - 1)`` times ours apart.

    Examples
    --------
    >>> import tempfile, os
    >>> from napari_backproject.geometry import make_slice_geometry
    >>> g = make_slice_geometry([[0, 5, 5], [4, 5, 5]], source_shape=(5, 10, 10),
    ...                         source_dtype="uint8", width=4, height=4)
    >>> p = write_rects(g, os.path.join(tempfile.mkdtemp(), "a_rects.npy"))
    >>> np.load(p).shape
    (5, 4, 3)
    """
    from ..slice_geometry import SliceGeometry

    g = SliceGeometry.coerce(geometry)
    W, H, D = g.width, g.height, g.spacing
    tl = g.centers - (W - 1) / 2 * D * g.e_u - (H - 1) / 2 * D * g.e_v
    tr = tl + W * D * g.e_u
    bl = tl + H * D * g.e_v
    br = tr + H * D * g.e_v
    rects = np.stack([tl, tr, br, bl], axis=1)
    rects = ((rects - g.translate) / g.scale)[:, :, ::-1]
    out = Path(path)
    tmp = out.with_name(out.name + ".part.npy")
    np.save(tmp, rects)
    os.replace(tmp, out)
    return out


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
