"""Neuroglancer states in and out: traced points, image source, fly-through.

:func:`read_neuroglancer` reads a Neuroglancer state JSON (the file the ``{}``
button of Neuroglancer exports, and the one Ouroboros reads) and returns each
point-annotation layer's points in napari order ``(z, y, x)``:

- ``points`` are voxel indices in napari's convention (what Neuroglancer
  stores in ``annotations[i]["point"]``, reversed to ``z, y, x``, minus
  0.5: Neuroglancer puts the origin of a voxel at its corner, so the centre
  of voxel ``i`` is ``i + 0.5`` there, while napari and SciPy put it at
  ``i``); with the layer's ``scale`` they give world positions, exactly like
  an image layer opened with the same ``scale``. ``raw`` keeps the stored
  values (``z, y, x``), which is what Ouroboros uses as voxel indices.
- ``scale`` and ``unit`` come from the state's ``dimensions`` (or the
  annotation source's ``transform.outputDimensions``), e.g. ``{"x": [4e-9,
  "m"], ...}`` -> scale 4 in ``"nm"``. A state without ``dimensions`` (the
  legacy form, also what Ouroboros assumes) has points in voxel indices:
  ``scale`` is 1 and ``unit`` is ``"pixel"``.

Legacy states whose ``layers`` are a dict with ``pointAnnotation`` layers
(``"points": [[x, y, z], ...]``) are read too.

:func:`write_neuroglancer` exports a :class:`~napari_backproject.slice_geometry.
SliceGeometry` as a state: the traced path as a point layer, one point per
cross-section, and :func:`flythrough` gives the per-plane
``position``/``crossSectionOrientation`` list (the ``_ng.json`` Ouroboros's
``geometry --include-ng`` writes).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "NeuroglancerLayer",
    "NeuroglancerState",
    "flythrough",
    "is_neuroglancer_state",
    "open_source",
    "read_neuroglancer",
    "write_neuroglancer",
]

#: Neuroglancer voxel i spans [i, i + 1): its centre is napari's index + 0.5
_HALF = 0.5
_ANNOTATION_TYPES = ("annotation", "pointAnnotation", "annotations")
_PREFIX = {1e-9: "nm", 1e-6: "um", 1e-3: "mm", 1.0: "m"}


@dataclass
class NeuroglancerLayer:
    """One point-annotation layer of a Neuroglancer state.

    Attributes
    ----------
    name : str
        Layer name.
    points : (N, 3) ndarray
        Voxel indices ``(z, y, x)``, napari convention (voxel centres at
        integers): ``raw - 0.5``.
    scale : (3,) ndarray
        World size of one coordinate index, ``(z, y, x)``, in ``unit``.
    unit : str
        ``"nm"``, ``"um"``, ... or ``"pixel"`` when the state has no units.
    raw : (N, 3) ndarray
        The stored Neuroglancer coordinates, ``(z, y, x)``.

    Examples
    --------
    >>> lay = NeuroglancerLayer("a", np.array([[1.0, 2, 3]]), np.array([40.0, 4, 4]), "nm")
    >>> lay.world.tolist()
    [[40.0, 8.0, 12.0]]
    """

    name: str
    points: np.ndarray
    scale: np.ndarray
    unit: str
    raw: np.ndarray | None = None

    @property
    def world(self) -> np.ndarray:
        """Points in world units, ``points * scale``."""
        return self.points * self.scale


@dataclass
class NeuroglancerState:
    """What :func:`read_neuroglancer` found in a state.

    Attributes
    ----------
    annotations : list of NeuroglancerLayer
        Point-annotation layers with at least two distinct points, in the
        state's order.
    image_source : str or None
        Source string of the first image layer (``precomputed://...``,
        ``zarr://...``), in the ``scheme://url`` form Ouroboros uses.
    image_name : str or None
        Name of that image layer.
    layer_names : list of str
        Names of all layers, in order.
    layer_types : dict
        Layer name -> Neuroglancer layer type.

    Examples
    --------
    >>> s = read_neuroglancer({"layers": [{"type": "annotation", "name": "p",
    ...     "annotations": [{"type": "point", "point": [0, 0, 0]},
    ...                     {"type": "point", "point": [1, 2, 3]}]}]})
    >>> s["p"].raw.tolist(), s["p"].points.tolist()[1]
    ([[0.0, 0.0, 0.0], [3.0, 2.0, 1.0]], [2.5, 1.5, 0.5])
    """

    annotations: list[NeuroglancerLayer]
    image_source: str | None
    image_name: str | None
    layer_names: list[str]
    layer_types: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> NeuroglancerLayer:
        for layer in self.annotations:
            if layer.name == name:
                return layer
        raise KeyError(
            f"no point-annotation layer named {name!r}; found "
            f"{[a.name for a in self.annotations]}."
        )


# ------------------------------------------------------------------- reading
def _load(path_or_dict: Any) -> tuple[dict, str]:
    if isinstance(path_or_dict, dict):
        return path_or_dict, "the state"
    if not isinstance(path_or_dict, (str, os.PathLike)):
        raise TypeError(
            "read_neuroglancer takes a path to a Neuroglancer JSON file or its "
            f"dict; got {type(path_or_dict).__name__}."
        )
    p = Path(path_or_dict)
    if not p.is_file():
        raise FileNotFoundError(f"no such Neuroglancer state file: {p}")
    with open(p, encoding="utf-8") as fh:
        try:
            return json.load(fh), str(p)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{p} is not valid JSON: {exc}") from None


def _layers(state: dict, where: str) -> list[dict]:
    if not isinstance(state, dict) or "layers" not in state:
        keys = list(state)[:8] if isinstance(state, dict) else type(state).__name__
        raise ValueError(
            f"{where} is not a Neuroglancer state: it has no 'layers' field "
            f"(top-level keys: {keys}). Export the state from Neuroglancer "
            "with the {} button."
        )
    layers = state["layers"]
    if isinstance(layers, dict):  # legacy: {name: layer}
        layers = [dict(v, name=k) for k, v in layers.items() if isinstance(v, dict)]
    if not isinstance(layers, list) or not all(isinstance(x, dict) for x in layers):
        raise ValueError(f"{where}: 'layers' must be a list of layer objects.")
    for i, lay in enumerate(layers):
        if "type" not in lay and not isinstance(lay.get("source"), (str, dict)):
            raise ValueError(f"{where}: layer {i} has no 'type' field.")
    return layers


def _unit_scale(dims: Any, where: str) -> tuple[np.ndarray, str, list[str]]:
    """``(scale_zyx, unit, axis_names_in_point_order)`` from a dimensions dict."""
    if not isinstance(dims, dict) or not dims:
        return np.ones(3), "pixel", ["x", "y", "z"]
    names = list(dims)
    if len(names) < 3:
        raise ValueError(f"{where}: 'dimensions' has {len(names)} axes; need 3.")
    spatial = [n for n in names if str(n).lower() in ("x", "y", "z")]
    if sorted(s.lower() for s in spatial) != ["x", "y", "z"]:
        spatial = names[:3]
    sizes, units = [], []
    for n in spatial:
        try:
            size, unit = dims[n]
            sizes.append(float(size))
            units.append(str(unit))
        except (TypeError, ValueError):
            raise ValueError(
                f"{where}: dimensions[{n!r}] must be [scale, unit]; got {dims[n]!r}."
            ) from None
    if len(set(units)) != 1 or units[0] not in ("m", ""):
        # mixed or non-metric units: keep them as given
        sc = np.array(sizes)
        unit = units[0] if len(set(units)) == 1 else "/".join(units)
    else:
        smallest = min(sizes)
        base = max([b for b in _PREFIX if b <= smallest * (1 + 1e-9)] or [1e-9])
        sc = np.array(sizes) / base
        unit = _PREFIX[base] if units[0] == "m" else "pixel"
    order = [s.lower() for s in spatial]
    # reorder to z, y, x
    zyx = [order.index(a) for a in ("z", "y", "x")]
    return sc[zyx], unit, spatial


def _points_of(layer: dict) -> list:
    if "points" in layer and isinstance(layer["points"], list):  # pointAnnotation
        return [p for p in layer["points"]]
    anns = layer.get("annotations", [])
    if not isinstance(anns, list):
        return []
    return [
        a["point"]
        for a in anns
        if isinstance(a, dict) and a.get("type") == "point" and "point" in a
    ]


def _source_url(src: Any) -> str | None:
    if isinstance(src, list) and src:
        src = src[0]
    if isinstance(src, dict):
        src = src.get("url")
    if not isinstance(src, str):
        return None
    # Neuroglancer 2.40+: "gs://bucket/path|zarr2:" -> "zarr://gs://bucket/path"
    base, _, rest = src.partition("|")
    if rest:
        kind = rest.split(":")[0]
        scheme = {
            "neuroglancer-precomputed": "precomputed",
            "zarr2": "zarr",
            "zarr3": "zarr",
        }
        return f"{scheme.get(kind, kind)}://{base}"
    return src


def is_neuroglancer_state(path: str | os.PathLike) -> bool:
    """Whether a JSON file looks like a Neuroglancer state (cheap check).

    A geometry JSON written by napari-backproject is never one.

    Examples
    --------
    >>> is_neuroglancer_state("not-there.json")
    False
    """
    p = Path(path)
    if p.suffix.lower() != ".json" or not p.is_file():
        return False
    try:
        if p.stat().st_size > 256 * 2**20:
            return False
        with open(p, encoding="utf-8") as fh:
            d = json.load(fh)
    except (OSError, ValueError):
        return False
    if not isinstance(d, dict) or "format" in d or "layers" not in d:
        return False
    lays = d["layers"]
    if isinstance(lays, dict):
        lays = list(lays.values())
    return isinstance(lays, list) and all(isinstance(x, dict) for x in lays)


def read_neuroglancer(path_or_dict: str | os.PathLike | dict) -> NeuroglancerState:
    """Read the point-annotation layers and image source of a Neuroglancer state.

    Parameters
    ----------
    path_or_dict : str, PathLike or dict
        A Neuroglancer state JSON file (or its parsed dict).

    Returns
    -------
    NeuroglancerState
        Point layers (``(z, y, x)`` coordinate indices plus ``scale`` and
        ``unit``), the image layer's source and the layer names.

    Raises
    ------
    ValueError
        Not a Neuroglancer state; no point-annotation layer (the layers found
        are listed); a layer with fewer than 2 distinct points; malformed
        points or dimensions.

    Examples
    --------
    >>> state = {"dimensions": {"x": [4e-9, "m"], "y": [4e-9, "m"], "z": [4e-8, "m"]},
    ...          "layers": [{"type": "image", "name": "em",
    ...                      "source": "precomputed://gs://bucket/em"},
    ...                     {"type": "annotation", "name": "axon", "annotations": [
    ...                         {"type": "point", "point": [10.5, 20.5, 3.5]},
    ...                         {"type": "point", "point": [12.5, 22.5, 5.5]}]}]}
    >>> s = read_neuroglancer(state)
    >>> s["axon"].points[0].tolist(), s["axon"].scale.tolist(), s["axon"].unit
    ([3.0, 20.0, 10.0], [40.0, 4.0, 4.0], 'nm')
    >>> s.image_source
    'precomputed://gs://bucket/em'
    """
    state, where = _load(path_or_dict)
    layers = _layers(state, where)
    gdims = state.get("dimensions")
    if gdims is None:  # legacy navigation.pose.position.voxelSize (nm)
        vs = state.get("navigation", {}).get("pose", {}).get("position", {})
        vs = vs.get("voxelSize") if isinstance(vs, dict) else None
        if isinstance(vs, list) and len(vs) == 3:
            gdims = {a: [float(v) * 1e-9, "m"] for a, v in zip("xyz", vs, strict=True)}
    names = [str(lay.get("name", f"layer {i}")) for i, lay in enumerate(layers)]
    types = {n: str(lay.get("type", "?")) for n, lay in zip(names, layers, strict=True)}
    out: list[NeuroglancerLayer] = []
    image_source = image_name = None
    for name, lay in zip(names, layers, strict=True):
        kind = lay.get("type")
        if kind == "image" and image_source is None:
            image_source, image_name = _source_url(lay.get("source")), name
        if kind not in _ANNOTATION_TYPES:
            continue
        raw = _points_of(lay)
        if not raw:
            continue
        dims = gdims
        src = lay.get("source")
        if isinstance(src, dict):
            od = src.get("transform", {}).get("outputDimensions")
            dims = od or dims
        scale, unit, axes = _unit_scale(dims, f"{where} layer {name!r}")
        try:
            pts = np.array(raw, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"{where}: layer {name!r} has malformed 'point' values; expected "
                "lists of numbers."
            ) from None
        if pts.ndim != 2 or pts.shape[1] < 3 or not np.all(np.isfinite(pts)):
            raise ValueError(
                f"{where}: layer {name!r}: every 'point' needs 3 finite "
                f"coordinates; got an array of shape {pts.shape}."
            )
        if isinstance(dims, dict) and dims:
            order = [s.lower() for s in axes]
            names3 = list(dims)
            idx = [names3.index(a) for a in axes]
            pts3 = pts[:, idx]
            pts = pts3[:, [order.index(a) for a in ("z", "y", "x")]]
        else:
            pts = pts[:, 2::-1]
        distinct = np.unique(pts.round(9), axis=0)
        if len(distinct) < 2:
            raise ValueError(
                f"{where}: annotation layer {name!r} has {len(distinct)} distinct "
                "point(s); a path needs at least 2. Add points along the structure."
            )
        out.append(NeuroglancerLayer(name, pts - _HALF, scale, unit, raw=pts))
    if not out:
        found = ", ".join(f"{n!r} ({types[n]})" for n in names) or "none"
        raise ValueError(
            f"{where} has no point-annotation layer with points; layers found: "
            f"{found}. Add an annotation layer with point annotations in "
            "Neuroglancer."
        )
    return NeuroglancerState(out, image_source, image_name, names, types)


# ----------------------------------------------------------------- sources
def open_source(source: str) -> Any:
    """Open a local ``zarr://`` or ``file://`` zarr source lazily (dask).

    Parameters
    ----------
    source : str
        A Neuroglancer source string.

    Returns
    -------
    dask.array.Array
        The array (the first, finest array of a multiscale group).

    Raises
    ------
    ValueError
        The source is remote or in a format we do not open
        (``precomputed://``, ``n5://``); the message names the source and
        says to load the volume yourself.

    Examples
    --------
    >>> open_source("precomputed://gs://bucket/em")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ValueError: could not open 'precomputed://gs://bucket/em' ...
    """
    s = str(source)
    url = s
    for pre in ("zarr://", "zarr2://", "zarr3://"):
        if url.startswith(pre):
            url = url[len(pre) :]
    if url.startswith("file://"):
        url = url[len("file://") :]
    local = Path(url)
    if "://" in url or not local.exists():
        raise ValueError(
            f"could not open {s!r}: only local zarr sources (zarr:// or file:// "
            "to a folder on this computer) are opened. Load the volume "
            "yourself (File > Open, or a zarr/tensorstore/cloud-volume reader) "
            "and use the points from the annotation layer."
        )
    import dask.array as da
    import zarr

    try:
        node = zarr.open(str(local), mode="r")
    except Exception as exc:  # zarr raises several types
        raise ValueError(f"could not open {s!r} as zarr: {exc}") from None
    if hasattr(node, "shape"):
        return da.from_zarr(node)
    keys = sorted(k for k, v in node.arrays())
    if not keys:
        raise ValueError(f"could not open {s!r}: the zarr group holds no arrays.")
    first = "0" if "0" in keys else keys[0]
    return da.from_zarr(node[first])


# ------------------------------------------------------------------ writing
def _quat_xyzw(m: np.ndarray) -> np.ndarray:
    """Quaternions (x, y, z, w) of rotation matrices (..., 3, 3)."""
    from scipy.spatial.transform import Rotation

    return Rotation.from_matrix(m).as_quat()


def flythrough(geometry: Any) -> list[dict]:
    """Per-plane ``position`` and ``crossSectionOrientation`` for Neuroglancer.

    Positions are plane centres in Neuroglancer coordinates ``(x, y, z)``
    (voxel index + 0.5); orientations are quaternions ``(x, y, z, w)`` of the rotation with
    rows ``e_u, e_v, e_u x e_v`` (in ``x, y, z``), the form Ouroboros's
    ``geometry --include-ng`` writes to ``<name>_ng.json``.

    Examples
    --------
    >>> from napari_backproject.geometry import make_slice_geometry
    >>> g = make_slice_geometry([[0, 5, 5], [4, 5, 5]], source_shape=(5, 10, 10),
    ...                         source_dtype="uint8", width=3, height=3)
    >>> f = flythrough(g)
    >>> len(f), f[0]["position"]
    (5, [5.5, 5.5, 0.5])
    """
    from ..slice_geometry import SliceGeometry

    g = SliceGeometry.coerce(geometry)
    centers = ((g.centers - g.translate) / g.scale)[:, ::-1] + _HALF
    eu = (g.e_u / g.scale)[:, ::-1]
    ev = (g.e_v / g.scale)[:, ::-1]
    eu /= np.linalg.norm(eu, axis=1, keepdims=True)
    ev = ev - np.sum(ev * eu, axis=1, keepdims=True) * eu
    ev /= np.linalg.norm(ev, axis=1, keepdims=True)
    m = np.stack([eu, ev, np.cross(eu, ev)], axis=1)
    q = _quat_xyzw(m)
    return [
        {"position": c.tolist(), "crossSectionOrientation": qq.tolist()}
        for c, qq in zip(centers, q, strict=True)
    ]


def write_neuroglancer(
    geometry: Any,
    path: str | os.PathLike,
    *,
    unit: str = "nm",
    image_source: str | None = None,
) -> Path:
    """Export a geometry as a Neuroglancer state (path + cross-sections).

    Layers: ``path`` (the traced points) and ``cross-sections`` (one point
    per plane centre, with the plane's orientation in the annotation's
    ``description``); the state's ``crossSectionOrientation`` and
    ``position`` show the first plane. The state's ``dimensions`` are the
    geometry's ``scale`` in ``unit`` (``"nm"``, ``"um"``, ``"mm"``, ``"m"``;
    anything else is written as-is). Written under a temporary name, then
    renamed.

    Parameters
    ----------
    geometry : SliceGeometry, dict or path
    path : str or PathLike
        Output ``.json``.
    unit : str
        Unit of the geometry's scale.
    image_source : str, optional
        Source of an image layer to add (e.g. ``"zarr://file:///data/em.zarr"``).

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile, os
    >>> from napari_backproject.geometry import make_slice_geometry
    >>> g = make_slice_geometry([[0, 5, 5], [4, 5, 5]], source_shape=(5, 10, 10),
    ...                         source_dtype="uint8", width=3, height=3)
    >>> p = write_neuroglancer(g, os.path.join(tempfile.mkdtemp(), "s.json"))
    >>> read_neuroglancer(p)["path"].points[-1].tolist()
    [4.0, 5.0, 5.0]
    """
    from ..slice_geometry import SliceGeometry

    g = SliceGeometry.coerce(geometry)
    factor = {v: k for k, v in _PREFIX.items()}.get(unit)
    sc_xyz = g.scale[::-1]
    dims = {
        a: ([float(s) * factor, "m"] if factor else [float(s), unit])
        for a, s in zip("xyz", sc_xyz, strict=True)
    }
    fly = flythrough(g)
    layers: list[dict] = []
    if image_source:
        layers.append({"type": "image", "name": "image", "source": image_source})
    path_pts = g.path[:, ::-1] + _HALF
    layers.append(
        {
            "type": "annotation",
            "name": "path",
            "source": {"url": "local://annotations"},
            "annotations": [
                {"type": "point", "id": f"p{i}", "point": p.tolist()}
                for i, p in enumerate(path_pts)
            ],
        }
    )
    layers.append(
        {
            "type": "annotation",
            "name": "cross-sections",
            "source": {"url": "local://annotations"},
            "annotations": [
                {
                    "type": "point",
                    "id": f"s{i}",
                    "point": f["position"],
                    "description": json.dumps(
                        {
                            "slice": i,
                            "crossSectionOrientation": f["crossSectionOrientation"],
                        }
                    ),
                }
                for i, f in enumerate(fly)
            ],
        }
    )
    state = {
        "dimensions": dims,
        "position": fly[0]["position"],
        "crossSectionOrientation": fly[0]["crossSectionOrientation"],
        "layers": layers,
        "layout": "4panel",
    }
    out = Path(path)
    tmp = out.with_name(out.name + ".part")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(state, fh, indent=1)
    os.replace(tmp, out)
    return out
