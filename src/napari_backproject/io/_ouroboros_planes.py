"""Ouroboros's planes rebuilt exactly, ``_rects.npy`` and TIFF-tag export.

Public names are re-exported by :mod:`napari_backproject.io.ouroboros`; see
its docstring for the conventions.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np


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
    from .ouroboros import OuroborosOptions, read_ouroboros_options

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
    pts_xyz = layer.raw[:, ::-1]  # Ouroboros uses the stored values as indices
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


# ------------------------------------------------------------ TIFF metadata
def annotation_points(geometry: Any) -> np.ndarray:
    """The traced points in straightened coordinates, Ouroboros's way.

    Returns ``(N, 3)`` rows ``(x, y, z) = (u, v, slice)`` (pixels), the
    ``annotation_points`` Ouroboros writes into its straightened TIFF. Points
    on no plane are NaN.

    Examples
    --------
    >>> from napari_backproject.geometry import make_slice_geometry
    >>> g = make_slice_geometry([[0, 5, 5], [8, 5, 5]], source_shape=(9, 11, 11),
    ...                         source_dtype="uint8", width=5, height=5)
    >>> annotation_points(g).round(6).tolist()
    [[2.0, 2.0, 0.0], [2.0, 2.0, 8.0]]
    """
    from ..mapping import to_straightened
    from ..slice_geometry import SliceGeometry

    g = SliceGeometry.coerce(geometry)
    world = g.path * g.scale + g.translate
    return to_straightened(world, g)[:, ::-1]


def save_straightened_ouroboros(
    path: str | os.PathLike,
    data: Any,
    geometry: Any,
    *,
    unit: str = "um",
    unit_size: float = 1.0,
    **write_kw: Any,
) -> tuple[Path, Path]:
    """:func:`~napari_backproject.save_straightened` plus Ouroboros's TIFF tags.

    Adds, like Ouroboros's straightened TIFF: ``annotation_points`` (the
    traced points in straightened coordinates, :func:`annotation_points`),
    ``spacing`` (distance between planes) and ``unit`` in the description
    JSON, and ``XResolution``/``YResolution`` (pixels per centimetre) with
    ``ResolutionUnit`` centimetre. Our metadata (geometry) is kept. Written
    under a temporary name, then renamed.

    Parameters
    ----------
    path, data, geometry
        As for :func:`~napari_backproject.save_straightened`.
    unit : str
        Unit written to the file (Ouroboros writes ``"um"``).
    unit_size : float
        Size of one world unit of the geometry in ``unit`` (e.g. ``0.001``
        when the geometry is in nm and ``unit`` is um).
    **write_kw
        Passed on (``compression``, ``progress``, ...).

    Returns
    -------
    tif_path, json_path : pathlib.Path

    Examples
    --------
    >>> import tempfile, os, tifffile
    >>> from napari_backproject import straighten
    >>> from napari_backproject.geometry import make_slice_geometry
    >>> vol = np.zeros((9, 11, 11), np.uint8)
    >>> st, g = straighten(vol, [[0, 5, 5], [8, 5, 5]], width=5, height=5)
    >>> tif, _ = save_straightened_ouroboros(os.path.join(tempfile.mkdtemp(), "s.tif"),
    ...                                      st, g)
    >>> tifffile.TiffFile(tif).shaped_metadata[0]["annotation_points"][1]
    [2.0, 2.0, 8.0]
    """
    import tifffile

    from ..slice_geometry import SliceGeometry
    from ..straighten import geometry_json_path, save_straightened

    g = SliceGeometry.coerce(geometry)
    out = Path(path)
    tmp = out.with_name(f".{out.stem}.part{out.suffix}")
    pts = annotation_points(g)
    step = float(g.options.get("slice_spacing", g.spacing)) * unit_size
    pixel = g.spacing * unit_size
    try:
        tif, js = save_straightened(tmp, data, g, **write_kw)
        with tifffile.TiffFile(tif) as tf:
            desc = json.loads(tf.pages.first.description)
        desc.update(
            spacing=step,
            unit=unit,
            annotation_points=np.where(np.isfinite(pts), pts, None).tolist(),
        )
        tifffile.tiffcomment(tif, json.dumps(desc).encode())
        per_cm = 1.0 / (
            pixel * {"nm": 1e-7, "um": 1e-4, "mm": 0.1, "cm": 1.0}.get(unit, 1.0)
        )
        with tifffile.TiffFile(tif, mode="r+b") as tf:
            tags = tf.pages.first.tags
            for name in ("XResolution", "YResolution"):
                num, den = _rational(per_cm)
                tags[name].overwrite((num, den))
            tags["ResolutionUnit"].overwrite(3)  # centimetre
        json_out = geometry_json_path(out)
        os.replace(js, json_out)
        os.replace(tif, out)
    except BaseException:
        for f in (tmp, geometry_json_path(tmp)):
            if f.exists():
                f.unlink()
        raise
    return out, json_out


def _rational(x: float) -> tuple[int, int]:
    from fractions import Fraction

    f = Fraction(float(x)).limit_denominator(2**31 - 1)
    num, den = f.numerator, f.denominator
    while num > 2**32 - 1:
        num, den = num // 2, max(1, den // 2)
    return int(num), int(den)
