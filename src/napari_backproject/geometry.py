"""Path -> smooth curve -> rotation-minimizing frames -> slice planes.

Everything here works in *world units* (data coordinates times ``scale`` plus
``translate``, axis order ``(z, y, x)``).

- :func:`clean_path` validates traced points and drops consecutive duplicates.
- :func:`fit_curve` fits a C2 curve through the points (interpolating cubic
  spline; quadratic/linear for three/two points; optional smoothing; optional
  closed loop) and parametrises it by true arc length (:class:`Curve`).
- :func:`rotation_minimizing_frames` propagates a frame along sampled points
  with the double reflection method (Wang, Jüttler, Zheng & Liu, ACM TOG
  2008).
- :func:`slice_frames` and :func:`make_slice_geometry` put it together into a
  :class:`~napari_backproject.slice_geometry.SliceGeometry`.

Frame orientation. For every plane, ``tangent == cross(e_v, e_u)`` with the
vectors written in ``(z, y, x)`` component order. So the map ``(slice, v, u)
-> world`` is a proper rotation (no mirror): the straightened stack has the
same handedness as the source. A path running along +z gets ``e_u = +x`` and
``e_v = +y``: its straightened planes look exactly like the source's ``(y, x)``
planes. In general the initial ``e_u`` is the projection of +x onto the plane
normal to the first tangent (of +y when the tangent is within ~25 degrees of
the x axis), rotated by ``roll`` degrees about the tangent (right-hand rule).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .frames import _rotate_about, rotation_minimizing_frames
from .slice_geometry import SliceGeometry

__all__ = [
    "Curve",
    "clean_path",
    "fit_curve",
    "rotation_minimizing_frames",
    "slice_frames",
    "make_slice_geometry",
    "to_world",
    "validate_scale_translate",
]

# 5-point Gauss-Legendre rule on [0, 1]
_GL_X, _GL_W = np.polynomial.legendre.leggauss(5)
_GL_X = (_GL_X + 1.0) / 2.0
_GL_W = _GL_W / 2.0


# ------------------------------------------------------------------ inputs
def validate_scale_translate(
    scale: Any, translate: Any, ndim: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """Check and return ``scale`` and ``translate`` as float arrays of length 3.

    Parameters
    ----------
    scale, translate : sequence of float or None
        The image layer's scale (positive) and translate; None means ones /
        zeros.
    ndim : int
        Expected length.

    Returns
    -------
    scale, translate : ndarray

    Examples
    --------
    >>> validate_scale_translate((40, 4, 4), None)[1]
    array([0., 0., 0.])
    """
    sc = np.ones(ndim) if scale is None else np.asarray(scale, dtype=np.float64).ravel()
    tr = (
        np.zeros(ndim)
        if translate is None
        else np.asarray(translate, dtype=np.float64).ravel()
    )
    if sc.shape != (ndim,):
        raise ValueError(
            f"scale must have {ndim} values (z, y, x), one per spatial axis; "
            f"got {sc.size}."
        )
    if tr.shape != (ndim,):
        raise ValueError(
            f"translate must have {ndim} values (z, y, x), one per spatial axis; "
            f"got {tr.size}."
        )
    if not np.all(np.isfinite(sc)) or np.any(sc <= 0):
        raise ValueError(f"scale values must be finite and > 0; got {sc.tolist()}.")
    if not np.all(np.isfinite(tr)):
        raise ValueError(f"translate values must be finite; got {tr.tolist()}.")
    return sc, tr


def to_world(points: Any, scale: Any = None, translate: Any = None) -> np.ndarray:
    """Data (voxel) coordinates -> world coordinates: ``points * scale + translate``.

    Examples
    --------
    >>> to_world([[1, 1, 1]], scale=(2, 1, 1), translate=(0, 0, 5))
    array([[2., 1., 6.]])
    """
    sc, tr = validate_scale_translate(scale, translate)
    return np.asarray(points, dtype=np.float64) * sc + tr


def clean_path(points: Any, *, closed: bool = False) -> np.ndarray:
    """Validate traced points and drop consecutive duplicates (with a warning).

    Parameters
    ----------
    points : (N, 3) array_like
        Ordered points (z, y, x).
    closed : bool
        If True the path is a loop: a last point equal to the first is
        dropped too, and at least three distinct points are needed.

    Returns
    -------
    (M, 3) float64 ndarray
        The points without consecutive duplicates.

    Raises
    ------
    ValueError
        Wrong shape, non-finite values, fewer than two (three if closed)
        distinct points.

    Examples
    --------
    >>> clean_path([[0, 0, 0], [0, 0, 1]]).shape
    (2, 3)
    """
    try:
        pts = np.array(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("path must be an (N, 3) array of numbers (z, y, x).") from None
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise ValueError(
            f"path must have shape (N, 3) with (z, y, x) columns; got {pts.shape}. "
            "For a napari Points layer pass layer.data (3D points)."
        )
    if not np.all(np.isfinite(pts)):
        bad = np.flatnonzero(~np.all(np.isfinite(pts), axis=1))
        raise ValueError(
            f"path contains non-finite coordinates (NaN or inf) at point(s) "
            f"{bad.tolist()}; remove or fix them."
        )
    if len(pts):
        scale = max(1.0, float(np.max(np.abs(pts))))
        keep = np.ones(len(pts), dtype=bool)
        keep[1:] = np.linalg.norm(np.diff(pts, axis=0), axis=1) > 1e-9 * scale
        if closed and keep.sum() > 1:
            kept = pts[keep]
            if np.linalg.norm(kept[-1] - kept[0]) <= 1e-9 * scale:
                keep[np.flatnonzero(keep)[-1]] = False
        if not keep.all():
            warnings.warn(
                f"path: dropped {int((~keep).sum())} duplicate consecutive "
                f"point(s) (indices {np.flatnonzero(~keep).tolist()}).",
                UserWarning,
                stacklevel=2,
            )
            pts = pts[keep]
    need = 3 if closed else 2
    if len(pts) < need:
        raise ValueError(
            f"a {'closed ' if closed else ''}path needs at least {need} distinct "
            f"points; got {len(pts)}. Add points along the structure."
        )
    return pts


# ------------------------------------------------------------------- curve
@dataclass
class Curve:
    """A smooth space curve parametrised by arc length ``s`` in ``[0, length]``.

    Use :func:`fit_curve` to make one. ``curve(s)`` gives points,
    ``curve.tangent(s)`` unit tangents (arrays of shape ``(len(s), 3)``).

    Examples
    --------
    >>> c = fit_curve([[0, 0, 0], [0, 0, 10]])
    >>> round(c.length, 6), c(np.array([5.0])).round(6).tolist()
    (10.0, [[0.0, 0.0, 5.0]])
    """

    spline: Any  # callable r(t) with .derivative()
    t_grid: np.ndarray  # dense parameter grid
    s_grid: np.ndarray  # arc length at t_grid
    closed: bool
    points: np.ndarray  # the (clean) points the curve was fitted to

    def __post_init__(self) -> None:
        self._d1 = self.spline.derivative(1)

    @property
    def length(self) -> float:
        """Total arc length (world units)."""
        return float(self.s_grid[-1])

    def _speed(self, t: np.ndarray) -> np.ndarray:
        return np.linalg.norm(self._d1(t), axis=-1)

    def parameter(self, s: Any) -> np.ndarray:
        """Spline parameter ``t`` at arc length ``s`` (Newton-refined inverse)."""
        s_in = np.asarray(s, dtype=np.float64)
        s = np.clip(s_in.ravel(), 0.0, self.length)
        k = np.searchsorted(self.s_grid, s, side="right") - 1
        k = np.clip(k, 0, len(self.t_grid) - 2)
        t0, t1 = self.t_grid[k], self.t_grid[k + 1]
        s0, s1 = self.s_grid[k], self.s_grid[k + 1]
        ds = np.where(s1 > s0, s1 - s0, 1.0)
        t = t0 + (t1 - t0) * np.clip((s - s0) / ds, 0.0, 1.0)
        for _ in range(3):
            # arc length from t0 to t by Gauss-Legendre, then a Newton step
            h = t - t0
            nodes = t0[:, None] + h[:, None] * _GL_X[None, :]
            seg = h * (self._speed(nodes.ravel()).reshape(nodes.shape) @ _GL_W)
            sp = self._speed(t)
            sp = np.where(sp > 1e-300, sp, 1.0)
            t = np.clip(t - (s0 + seg - s) / sp, t0, t1)
        return t.reshape(s_in.shape)

    def __call__(self, s: Any) -> np.ndarray:
        """Points at arc length ``s``, shape ``(..., 3)``."""
        return np.asarray(self.spline(self.parameter(s)), dtype=np.float64)

    def tangent(self, s: Any) -> np.ndarray:
        """Unit tangents at arc length ``s``, shape ``(..., 3)``."""
        d = np.asarray(self._d1(self.parameter(s)), dtype=np.float64)
        n = np.linalg.norm(d, axis=-1, keepdims=True)
        return d / np.where(n > 0, n, 1.0)


def _arc_length_table(spline: Any, t_lo: float, t_hi: float, n: int):
    d1 = spline.derivative(1)
    t = np.linspace(t_lo, t_hi, n + 1)
    h = np.diff(t)
    nodes = t[:-1, None] + h[:, None] * _GL_X[None, :]
    speed = np.linalg.norm(d1(nodes.ravel()), axis=-1).reshape(nodes.shape)
    seg = h * (speed @ _GL_W)
    return t, np.concatenate([[0.0], np.cumsum(seg)])


def fit_curve(
    points: Any,
    *,
    smoothing: float = 0.0,
    closed: bool = False,
    resolution: float | None = None,
) -> Curve:
    """Fit a smooth (C2) curve through ordered points, parametrised by arc length.

    Parameters
    ----------
    points : (N, 3) array_like
        Ordered points in world units (z, y, x), N >= 2 (>= 3 if closed).
    smoothing : float
        0 interpolates the points (cubic spline with not-a-knot ends,
        periodic if closed; quadratic for three and linear for two points).
        A positive value fits a smoothing spline instead whose mean squared
        distance to the points is about ``smoothing`` (world units squared).
    closed : bool
        Fit a periodic (closed-loop) curve.
    resolution : float, optional
        Finest feature size of interest (e.g. the slice spacing); the arc
        length table is made at least 4 times finer than this.

    Returns
    -------
    Curve

    Examples
    --------
    >>> c = fit_curve([[0, 0, 0], [0, 3, 4]])
    >>> round(c.length, 6), c(np.array([2.5])).round(6).tolist()
    (5.0, [[0.0, 1.5, 2.0]])
    """
    from scipy.interpolate import BSpline, CubicSpline, splprep

    smoothing = float(smoothing)
    if not (np.isfinite(smoothing) and smoothing >= 0):
        raise ValueError(f"smoothing must be a number >= 0; got {smoothing}.")
    pts = clean_path(points, closed=closed)
    m = len(pts)
    if closed:
        pts_ext = np.vstack([pts, pts[:1]])
    else:
        pts_ext = pts
    chord = np.linalg.norm(np.diff(pts_ext, axis=0), axis=1)
    t = np.concatenate([[0.0], np.cumsum(chord)])  # chord-length parameter
    if smoothing > 0:
        k = min(3, m - 1) if not closed else min(3, m - 1)
        tck, _ = splprep(
            pts_ext.T, u=t, k=k, s=smoothing * m, per=1 if closed else 0, quiet=1
        )
        knots, coeffs, k = tck
        spline = BSpline(knots, np.asarray(coeffs).T, k)
    elif closed:
        spline = CubicSpline(t, pts_ext, bc_type="periodic", axis=0)
    else:
        spline = CubicSpline(t, pts_ext, bc_type="not-a-knot", axis=0)
    total = float(t[-1])
    n = max(2000, 64 * m)
    if resolution is not None and resolution > 0:
        n = max(n, int(math.ceil(4 * total / resolution)))
    n = min(n, 2_000_000)
    t_grid, s_grid = _arc_length_table(spline, 0.0, total, n)
    if not s_grid[-1] > 0:
        raise ValueError("the path has zero length; give at least two distinct points.")
    return Curve(spline=spline, t_grid=t_grid, s_grid=s_grid, closed=closed, points=pts)


def slice_frames(
    curve: Curve,
    spacing: float,
    *,
    roll: float = 0.0,
    initial_u: Any = None,
    max_rmf_step: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Centres and rotation-minimizing frames of evenly spaced slices.

    Open curves get slices at arc length ``0, spacing, 2 spacing, ...`` up to
    the curve's length; closed curves get ``n = round(length / spacing)``
    slices exactly ``length / n`` apart (so the loop has no seam gap).

    Parameters
    ----------
    curve : Curve
    spacing : float
        Distance between slices (world units).
    roll : float
        Rotation (degrees, right-hand rule about the tangent) of the frames.
    initial_u : (3,), optional
        See :func:`rotation_minimizing_frames`.
    max_rmf_step : float, optional
        Largest arc-length step used to propagate the frames (frames are
        propagated on a finer grid than the slices when they are far apart);
        default ``min(spacing, length / 1024)`` rounded to divide ``spacing``.

    Returns
    -------
    centers, tangents, e_u, e_v : (n, 3) ndarrays

    Examples
    --------
    >>> c = fit_curve([[0, 0, 0], [10, 0, 0]])
    >>> centers, t, eu, ev = slice_frames(c, 2.5)
    >>> centers[:, 0].round(6).tolist()
    [0.0, 2.5, 5.0, 7.5, 10.0]
    """
    spacing = float(spacing)
    if not (np.isfinite(spacing) and spacing > 0):
        raise ValueError(f"spacing must be a positive number; got {spacing}.")
    L = curve.length
    if curve.closed:
        n = max(3, int(round(L / spacing)))
        step = L / n
    else:
        n = int(math.floor(L / spacing + 1e-9)) + 1
        step = spacing
    h = max_rmf_step if max_rmf_step is not None else min(step, L / 1024)
    sub = max(1, int(math.ceil(step / h - 1e-9)))
    n_fine = (n if curve.closed else n - 1) * sub + 1
    s_fine = np.minimum(np.arange(n_fine) * (step / sub), L)
    if curve.closed:
        s_fine[-1] = L
    x_fine = curve(s_fine)
    t_fine = curve.tangent(s_fine)
    e_u, _ = rotation_minimizing_frames(
        x_fine, t_fine, initial_u=initial_u, closed=curve.closed
    )
    idx = np.arange(n) * sub
    centers, tangents, e_u = x_fine[idx], t_fine[idx], e_u[idx]
    if roll:
        e_u = _rotate_about(e_u, tangents, np.full(n, math.radians(float(roll))))
    e_v = np.cross(e_u, tangents)
    e_v /= np.linalg.norm(e_v, axis=1, keepdims=True)
    e_u = np.cross(tangents, e_v)
    return centers, tangents, e_u, e_v


def make_slice_geometry(
    path: Any,
    *,
    source_shape: tuple[int, int, int],
    source_dtype: Any,
    width: int,
    height: int,
    spacing: float | None = None,
    scale: Any = None,
    translate: Any = None,
    smoothing: float = 0.0,
    closed: bool = False,
    roll: float = 0.0,
    options: dict | None = None,
) -> SliceGeometry:
    """Build the :class:`SliceGeometry` of a straightening (no voxels touched).

    Parameters
    ----------
    path : (N, 3) array_like
        Ordered points in the source's data coordinates (z, y, x).
    source_shape, source_dtype
        Spatial shape and dtype of the source volume.
    width, height : int
        Pixels per plane along ``u`` and ``v``.
    spacing : float, optional
        World distance between pixels and between slices; default
        ``min(scale)``.
    scale, translate : sequence of 3 floats, optional
        The source layer's scale and translate.
    smoothing, closed, roll
        See :func:`fit_curve` and :func:`slice_frames`.
    options : dict, optional
        Extra entries for ``SliceGeometry.options``.

    Returns
    -------
    SliceGeometry

    Examples
    --------
    >>> g = make_slice_geometry([[0, 5, 5], [9, 5, 5]], source_shape=(10, 10, 10),
    ...                         source_dtype="uint8", width=4, height=3)
    >>> g.straightened_shape
    (10, 3, 4)
    """
    width_i, height_i = _positive_int(width, "width"), _positive_int(height, "height")
    sc, tr = validate_scale_translate(scale, translate)
    if spacing is None:
        spacing = float(np.min(sc))
    try:
        spacing = float(spacing)
    except (TypeError, ValueError):
        raise ValueError(f"spacing must be a number > 0; got {spacing!r}.") from None
    if not (np.isfinite(spacing) and spacing > 0):
        raise ValueError(f"spacing must be a number > 0 (world units); got {spacing}.")
    pts = clean_path(path, closed=closed)
    world = pts * sc + tr
    curve = fit_curve(world, smoothing=smoothing, closed=closed, resolution=spacing)
    centers, tangents, e_u, e_v = slice_frames(curve, spacing, roll=roll)
    opts = {
        "smoothing": float(smoothing),
        "closed": bool(closed),
        "roll": float(roll),
        "curve_length": curve.length,
        "slice_spacing": curve.length / len(centers) if closed else spacing,
    }
    if options:
        opts.update(options)
    return SliceGeometry(
        source_shape=tuple(source_shape),
        source_dtype=str(np.dtype(source_dtype)),
        scale=sc,
        translate=tr,
        width=width_i,
        height=height_i,
        spacing=spacing,
        centers=centers,
        tangents=tangents,
        e_u=e_u,
        e_v=e_v,
        path=pts,
        options=opts,
    )


def _positive_int(value: Any, name: str) -> int:
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive integer; got {value!r}.") from None
    if not (np.isfinite(f) and f >= 1 and f == int(f)):
        raise ValueError(f"{name} must be a positive integer (pixels); got {value!r}.")
    return int(f)
