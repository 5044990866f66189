"""The geometry of a straightened volume: where every plane lies in the world.

A :class:`SliceGeometry` is everything backprojection needs; it can be saved
to (and read from) a versioned, human-readable JSON file, so the source volume
is not needed to put a segmentation back.

Sampling definition (exact). Plane ``i`` has centre ``c_i`` and in-plane unit
vectors ``e_u,i`` and ``e_v,i`` (world units, ``(z, y, x)`` order). Pixel
``(v, u)`` of plane ``i`` lies at::

    c_i + (u - (W - 1) / 2) * D * e_u,i + (v - (H - 1) / 2) * D * e_v,i

and its voxel coordinate in the source volume is
``(world - translate) / scale``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "napari-backproject.slice-geometry"
VERSION = 1


def _vectors(value: Any, name: str, n: int | None = None) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"{name} must have shape (n, 3); got {arr.shape}.")
    if n is not None and arr.shape[0] != n:
        raise ValueError(
            f"{name} has {arr.shape[0]} rows but there are {n} slice centres."
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite values.")
    return arr


def _triple(value: Any, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64).reshape(-1)
    if arr.shape != (3,):
        raise ValueError(f"{name} must have 3 values (z, y, x); got {arr.shape[0]}.")
    return arr


@dataclass
class SliceGeometry:
    """Planes of a straightened volume, in the world space of its source.

    Parameters
    ----------
    source_shape : tuple of int
        Spatial shape ``(Z, Y, X)`` of the source volume.
    source_dtype : str
        dtype of the source volume (e.g. ``"uint8"``).
    scale, translate : array_like of 3 floats
        The source image layer's ``scale`` and ``translate`` (z, y, x).
    width, height : int
        Pixels per plane along ``u`` and ``v``.
    spacing : float
        World distance between pixels within a plane (and the nominal
        distance between consecutive planes).
    centers, tangents, e_u, e_v : (n, 3) arrays
        Per-plane centre, unit tangent and in-plane unit vectors (world units).
    path : (m, 3) array
        The traced points, in the source's data (voxel) coordinates.
    options : dict
        Free-form record of the options used to make the geometry.

    Examples
    --------
    >>> import numpy as np
    >>> g = SliceGeometry(
    ...     source_shape=(10, 10, 10), source_dtype="uint8",
    ...     scale=(1, 1, 1), translate=(0, 0, 0), width=3, height=3, spacing=1.0,
    ...     centers=[[5, 5, 5]], tangents=[[1, 0, 0]], e_u=[[0, 0, 1]],
    ...     e_v=[[0, 1, 0]], path=[[4, 5, 5], [6, 5, 5]])
    >>> g.voxel_coordinates(0, 1)[:, 0, 1, 1]
    array([5., 5., 5.])
    """

    source_shape: tuple[int, ...]
    source_dtype: str
    scale: np.ndarray
    translate: np.ndarray
    width: int
    height: int
    spacing: float
    centers: np.ndarray
    tangents: np.ndarray
    e_u: np.ndarray
    e_v: np.ndarray
    path: np.ndarray
    options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.source_shape = tuple(int(s) for s in self.source_shape)
        if len(self.source_shape) != 3 or min(self.source_shape) < 1:
            raise ValueError(
                f"source_shape must be 3 positive ints (Z, Y, X); got {self.source_shape}."
            )
        self.source_dtype = str(np.dtype(self.source_dtype))
        self.scale = _triple(self.scale, "scale")
        if np.any(self.scale <= 0):
            raise ValueError(f"scale must be positive; got {self.scale.tolist()}.")
        self.translate = _triple(self.translate, "translate")
        self.width, self.height = int(self.width), int(self.height)
        if self.width < 1 or self.height < 1:
            raise ValueError(
                f"width and height must be >= 1; got {self.width}, {self.height}."
            )
        self.spacing = float(self.spacing)
        if not (self.spacing > 0 and np.isfinite(self.spacing)):
            raise ValueError(f"spacing must be a positive number; got {self.spacing}.")
        self.centers = _vectors(self.centers, "centers")
        n = self.centers.shape[0]
        if n < 1:
            raise ValueError("a SliceGeometry needs at least one plane.")
        self.tangents = _vectors(self.tangents, "tangents", n)
        self.e_u = _vectors(self.e_u, "e_u", n)
        self.e_v = _vectors(self.e_v, "e_v", n)
        self.path = np.asarray(self.path, dtype=np.float64).reshape(-1, 3)
        self.options = dict(self.options)

    # ------------------------------------------------------------------ shape
    @property
    def n_slices(self) -> int:
        """Number of planes."""
        return int(self.centers.shape[0])

    @property
    def straightened_shape(self) -> tuple[int, int, int]:
        """Shape ``(slice, v, u)`` of the straightened stack."""
        return (self.n_slices, self.height, self.width)

    # ------------------------------------------------------------ coordinates
    def world_coordinates(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """World coordinates of every pixel of planes ``start:stop``.

        Returns an array of shape ``(3, stop - start, H, W)`` (z, y, x first).
        """
        stop = self.n_slices if stop is None else stop
        u = (np.arange(self.width) - (self.width - 1) / 2.0) * self.spacing
        v = (np.arange(self.height) - (self.height - 1) / 2.0) * self.spacing
        c = self.centers[start:stop, :, None, None]
        eu = self.e_u[start:stop, :, None, None]
        ev = self.e_v[start:stop, :, None, None]
        pts = c + u[None, None, None, :] * eu + v[None, None, :, None] * ev
        return np.moveaxis(pts, 1, 0)

    def voxel_coordinates(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Source voxel coordinates of every pixel of planes ``start:stop``.

        Shape ``(3, stop - start, H, W)``, suitable for
        :func:`scipy.ndimage.map_coordinates`.
        """
        w = self.world_coordinates(start, stop)
        return (w - self.translate[:, None, None, None]) / self.scale[
            :, None, None, None
        ]

    # -------------------------------------------------------------------- io
    def to_dict(self) -> dict:
        """A JSON-ready dictionary (see :meth:`to_json`)."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "source": {
                "shape": list(self.source_shape),
                "dtype": self.source_dtype,
                "scale": self.scale.tolist(),
                "translate": self.translate.tolist(),
            },
            "plane": {
                "width": self.width,
                "height": self.height,
                "spacing": self.spacing,
            },
            "slices": {
                "center": self.centers.tolist(),
                "tangent": self.tangents.tolist(),
                "e_u": self.e_u.tolist(),
                "e_v": self.e_v.tolist(),
            },
            "path": self.path.tolist(),
            "options": self.options,
        }

    @classmethod
    def from_dict(cls, d: dict) -> SliceGeometry:
        """Build from :meth:`to_dict` output, checking format and version."""
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ValueError(
                f"not a slice geometry: expected format {FORMAT!r}, "
                f"got {d.get('format') if isinstance(d, dict) else type(d).__name__!r}."
            )
        if d.get("version") != VERSION:
            raise ValueError(
                f"slice geometry version {d.get('version')!r} is not supported; "
                f"this napari-backproject reads version {VERSION}."
            )
        try:
            src, plane, sl = d["source"], d["plane"], d["slices"]
            return cls(
                source_shape=src["shape"],
                source_dtype=src["dtype"],
                scale=src["scale"],
                translate=src["translate"],
                width=plane["width"],
                height=plane["height"],
                spacing=plane["spacing"],
                centers=sl["center"],
                tangents=sl["tangent"],
                e_u=sl["e_u"],
                e_v=sl["e_v"],
                path=d.get("path", []),
                options=d.get("options", {}),
            )
        except KeyError as exc:
            raise ValueError(f"slice geometry is missing the key {exc}.") from None

    def to_json(self, path: str | os.PathLike) -> Path:
        """Write the geometry as JSON (under a temporary name, then renamed).

        Examples
        --------
        >>> # g.to_json("straightened-geometry.json")
        """
        path = Path(path)
        tmp = path.with_name(path.name + ".part")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(self.to_dict(), fh, indent=1)
        os.replace(tmp, path)
        return path

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> SliceGeometry:
        """Read a geometry written by :meth:`to_json`."""
        with open(path, encoding="utf-8") as fh:
            try:
                d = json.load(fh)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path} is not valid JSON: {exc}") from None
        return cls.from_dict(d)

    @classmethod
    def coerce(
        cls, geometry: SliceGeometry | dict | str | os.PathLike
    ) -> SliceGeometry:
        """Accept a SliceGeometry, its dict form, or a path to its JSON."""
        if isinstance(geometry, cls):
            return geometry
        if isinstance(geometry, dict):
            return cls.from_dict(geometry)
        if isinstance(geometry, (str, os.PathLike)):
            return cls.from_json(geometry)
        raise TypeError(
            "geometry must be a SliceGeometry, its dict, or a path to its JSON; "
            f"got {type(geometry).__name__}."
        )
