"""Rotation-minimizing frames along a sampled curve (double reflection).

:func:`rotation_minimizing_frames` propagates a frame along sampled points with
the double reflection method (Wang, Jüttler, Zheng & Liu, ACM TOG 2008); for
closed loops the holonomy is spread along the loop. Used by
:func:`napari_backproject.geometry.slice_frames` and re-exported from
:mod:`napari_backproject.geometry`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["rotation_minimizing_frames"]


def _initial_u(t0: np.ndarray) -> np.ndarray:
    ref = np.array([0.0, 0.0, 1.0]) if abs(t0[2]) < 0.9 else np.array([0.0, 1.0, 0.0])
    u = ref - np.dot(ref, t0) * t0
    return u / np.linalg.norm(u)


def _rotate_about(vecs: np.ndarray, axes: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Rotate vectors (perpendicular to their axes) by angles (radians)."""
    c, s = np.cos(angles)[:, None], np.sin(angles)[:, None]
    return vecs * c + np.cross(axes, vecs) * s


def rotation_minimizing_frames(
    points: Any,
    tangents: Any,
    *,
    initial_u: Any = None,
    closed: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Rotation-minimizing frames along sampled curve points (double reflection).

    Parameters
    ----------
    points, tangents : (n, 3) array_like
        Curve samples (densely enough to follow the curve) and their unit
        tangents.
    initial_u : (3,) array_like, optional
        First ``e_u`` (projected onto the plane normal to the first tangent);
        by default +x, or +y if the tangent is close to the x axis.
    closed : bool
        The samples run once around a loop and the last sample coincides with
        the first. The holonomy angle (the twist the RMF picks up around the
        loop) is distributed linearly along the loop so that the frame closes
        without a seam.

    Returns
    -------
    e_u, e_v : (n, 3) ndarrays
        Orthonormal, with ``tangent == cross(e_v, e_u)``.

    Examples
    --------
    >>> p = np.c_[np.arange(5.0), np.zeros(5), np.zeros(5)]
    >>> eu, ev = rotation_minimizing_frames(p, np.tile([1.0, 0, 0], (5, 1)))
    >>> eu[-1].tolist(), ev[-1].tolist()
    ([0.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    """
    x = np.asarray(points, dtype=np.float64)
    t = np.asarray(tangents, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 3 or t.shape != x.shape:
        raise ValueError(
            f"points and tangents must both have shape (n, 3); got {x.shape}, {t.shape}."
        )
    if len(x) == 0:
        raise ValueError("need at least one sample to build frames.")
    tn = np.linalg.norm(t, axis=1)
    if not np.all(tn > 0) or not np.all(np.isfinite(t)):
        raise ValueError("tangents must be finite and non-zero.")
    t = t / tn[:, None]
    if initial_u is None:
        r0 = _initial_u(t[0])
    else:
        r0 = np.asarray(initial_u, dtype=np.float64).ravel()
        r0 = r0 - np.dot(r0, t[0]) * t[0]
        nr = np.linalg.norm(r0)
        if nr < 1e-12:
            raise ValueError("initial_u must not be parallel to the first tangent.")
        r0 = r0 / nr
    n = len(x)
    xs, ts = x.tolist(), t.tolist()
    out = [r0.tolist()]
    r = out[0]
    for i in range(n - 1):
        xi, xj, ti, tj = xs[i], xs[i + 1], ts[i], ts[i + 1]
        v1 = (xj[0] - xi[0], xj[1] - xi[1], xj[2] - xi[2])
        c1 = v1[0] * v1[0] + v1[1] * v1[1] + v1[2] * v1[2]
        if c1 > 0.0:
            a = 2.0 * (v1[0] * r[0] + v1[1] * r[1] + v1[2] * r[2]) / c1
            rl = (r[0] - a * v1[0], r[1] - a * v1[1], r[2] - a * v1[2])
            b = 2.0 * (v1[0] * ti[0] + v1[1] * ti[1] + v1[2] * ti[2]) / c1
            tl = (ti[0] - b * v1[0], ti[1] - b * v1[1], ti[2] - b * v1[2])
        else:
            rl, tl = tuple(r), tuple(ti)
        v2 = (tj[0] - tl[0], tj[1] - tl[1], tj[2] - tl[2])
        c2 = v2[0] * v2[0] + v2[1] * v2[1] + v2[2] * v2[2]
        if c2 > 0.0:
            a = 2.0 * (v2[0] * rl[0] + v2[1] * rl[1] + v2[2] * rl[2]) / c2
            rn = [rl[0] - a * v2[0], rl[1] - a * v2[1], rl[2] - a * v2[2]]
        else:
            rn = list(rl)
        # re-orthonormalise against the tangent (keeps errors at 1e-15)
        d = rn[0] * tj[0] + rn[1] * tj[1] + rn[2] * tj[2]
        rn = [rn[0] - d * tj[0], rn[1] - d * tj[1], rn[2] - d * tj[2]]
        nn = math.sqrt(rn[0] * rn[0] + rn[1] * rn[1] + rn[2] * rn[2])
        if nn < 1e-12:  # tangent flipped by 180 degrees: keep previous
            rn = list(r)
        else:
            rn = [rn[0] / nn, rn[1] / nn, rn[2] / nn]
        out.append(rn)
        r = rn
    e_u = np.array(out)
    if closed and n > 2:
        # holonomy: angle from the first frame to the propagated last frame
        t0 = t[0]
        phi = math.atan2(
            float(np.dot(np.cross(e_u[0], e_u[-1]), t0)), float(np.dot(e_u[0], e_u[-1]))
        )
        seg = np.linalg.norm(np.diff(x, axis=0), axis=1)
        frac = np.concatenate([[0.0], np.cumsum(seg)])
        frac = frac / frac[-1] if frac[-1] > 0 else np.linspace(0, 1, n)
        e_u = _rotate_about(e_u, t, -phi * frac)
    e_v = np.cross(e_u, t)
    # exact orthonormality
    e_v /= np.linalg.norm(e_v, axis=1, keepdims=True)
    e_u = np.cross(t, e_v)
    return e_u, e_v
