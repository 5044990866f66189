"""One output block: every voxel of a z-slab finds its claims and samples them.

:func:`pull_block` takes the output, a scratch array, the loaded slices and
one :class:`PullPlan` (the geometry, the candidate segments and the loaded
slices' bookkeeping). Groups of output planes run on a few threads, each
in one call of the compiled :func:`.claims._group`, which releases the GIL;
a plane is written by one thread only. Within a group, segments are the
outer loop so that their two slices stay in cache.

Two phases per group (unless the data are dense): phase 0 collects, per
output row, the x range where some claim may sample a non-zero value
(:func:`~.bounds.need_bounds`); phase 1 computes the claims only there
(both in :func:`.claims._group`).

Why threads and not a ``prange`` loop: compiling the parallel loop (and
LLVM optimising the kernel again inside it) added ~3-4 s CPU to the first
backprojection, for no speed gained once the kernel's arrays are borrowed
without reference counting (see :mod:`..llvm.borrow`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._threading import run_tasks
from .bounds import need_bounds
from .claims import _group


class PullPlan(NamedTuple):
    """Everything :func:`pull_block` needs besides the arrays it reads and writes.

    Attributes
    ----------
    origin : (3,) int64
        Voxel index (z, y, x) of ``out[0, 0, 0]`` in the source volume.
    scale, translate : (3,) float64
        World = voxel index * scale + translate.
    centers, tangents, e_u, e_v : (n, 3) float64
        Plane frames (world units).
    width, height : int
        Plane size in pixels.
    spacing : float
        Pixel spacing in world units.
    ids, boxes, proj : arrays
        Candidate segments from :func:`~.bounds.segment_bounds` (any subset).
    lut : (n,) int64
        Index into ``data`` of every straightened slice (-1 if not loaded).
    nzbox : (k, 4) int64
        Inclusive non-zero pixel bounds ``v0, v1, u0, u1`` of every loaded
        slice (``v0 > v1`` when the slice is all zero; ``0, height - 1, 0,
        width - 1`` disables the skipping). Voxels that no claim can sample
        non-zero are skipped (they stay 0); every other voxel gets all its
        claims, so the ownership rule is unchanged.
    mode : int
        ``NEAREST``, ``LINEAR`` (floating data) or ``LABEL_VOTE``.
    newton : int
        Newton steps on the cubic for t (0: the distance-interpolated t).
    closed : bool
        Closed loop (ids from ``segment_bounds(..., closed=True)``).
    groups : int
        Groups of output planes, run in parallel (e.g. 4 x ``threads``).
    threads : int
        Threads to run the groups on, the calling one included (default 1).
    need : (m, 11) array or None
        :func:`~.bounds.need_bounds` of these segments if already known
        (e.g. computed once for all segments and sliced per block); by
        default computed here.
    """

    origin: np.ndarray
    scale: np.ndarray
    translate: np.ndarray
    centers: np.ndarray
    tangents: np.ndarray
    e_u: np.ndarray
    e_v: np.ndarray
    width: int
    height: int
    spacing: float
    ids: np.ndarray
    boxes: np.ndarray
    proj: np.ndarray
    lut: np.ndarray
    nzbox: np.ndarray
    mode: int
    newton: int
    closed: bool
    groups: int
    threads: int = 1
    need: np.ndarray | None = None


def pull_block(out, best, data, plan):
    """Backproject into one output block (in place) by pulling from the stack.

    Plain Python around the compiled steps (:func:`~.bounds.need_bounds`,
    :func:`.claims._group`): compiling this glue as well took seconds more at
    first use.

    Parameters
    ----------
    out : (bz, by, bx) array
        Output block, written in place where a claim is found (untouched
        elsewhere, so pass zeros). Same dtype as ``data``.
    best : (bz, by, bx) float32 array
        Scratch for the best squared in-plane distance of each voxel (any
        contents: the kernel sets it to ``inf`` where it computes).
    data : (k, height, width) array
        The straightened slices that are loaded (``plan.lut`` maps slice
        indices into it).
    plan : PullPlan
        Geometry, candidate segments and sampling options.

    Examples
    --------
    >>> import numpy as np
    >>> from napari_backproject.kernels.backproject_pull import (
    ...     LINEAR, PullPlan, segment_bounds)
    >>> c = np.array([[1.0, 1, 1], [2, 1, 1]]); t = np.array([[1.0, 0, 0]] * 2)
    >>> u = np.array([[0.0, 0, 1]] * 2); v = np.array([[0.0, 1, 0]] * 2)
    >>> ids, boxes, proj = segment_bounds(c, t, u, v, 3, 3, 1.0, np.ones(3),
    ...                                   np.zeros(3))
    >>> plan = PullPlan(origin=np.zeros(3, np.int64), scale=np.ones(3),
    ...                 translate=np.zeros(3), centers=c, tangents=t, e_u=u,
    ...                 e_v=v, width=3, height=3, spacing=1.0, ids=ids,
    ...                 boxes=boxes, proj=proj, lut=np.arange(2),
    ...                 nzbox=np.array([[0, 2, 0, 2]] * 2), mode=LINEAR,
    ...                 newton=2, closed=False, groups=8)
    >>> data = np.ones((2, 3, 3), np.float32); out = np.zeros((4, 3, 3), np.float32)
    >>> pull_block(out, np.empty(out.shape, np.float32), data, plan)
    >>> out[:, 1, 1].tolist()
    [0.0, 1.0, 1.0, 0.0]
    """
    bz, by, _ = out.shape
    need = need_bounds(plan) if plan.need is None else plan.need
    # per output row: x range (voxel index) of the voxels that some claim may
    # sample non-zero (phase 0 collects it, phase 1 computes only there)
    rows = np.empty((bz, by, 2), dtype=np.int64)
    pbox = np.empty((bz, 4), dtype=np.int64)
    dense = _is_dense(need, plan.proj)
    ng = max(1, min(bz, plan.groups))
    shared = (
        out,
        best,
        data,
        plan.origin,
        plan.scale,
        plan.translate,
        plan.centers,
        plan.tangents,
        plan.e_u,
        plan.e_v,
        plan.ids,
        plan.boxes,
        plan.proj,
        plan.lut,
        plan.width,
        plan.height,
        plan.spacing,
        plan.mode,
        plan.newton,
        plan.closed,
        need,
        rows,
        pbox,
        dense,
    )

    def group(grp: int) -> None:
        # each group's scratch is an argument of its own (see _group)
        _group(
            *shared,
            grp * bz // ng,
            (grp + 1) * bz // ng,
            np.empty((9, 3)),
            np.empty(17),
            np.empty(9),
            np.empty(9),
            np.empty(8, dtype=data.dtype),
            np.empty(8),
            np.empty((8, 4)),
        )

    run_tasks(group, ng, plan.threads)


def _is_dense(need: np.ndarray, proj: np.ndarray) -> bool:
    """True when every segment may sample non-zero over most of its plane.

    Then finding the rows would not pay off: compute everywhere.
    """
    area = (need[:, 2] - need[:, 1]) * (need[:, 4] - need[:, 3])
    full = 0.5 * (proj[:, 1] - proj[:, 0]) * (proj[:, 3] - proj[:, 2])
    small = (need[:, 0] == 0.0) | (area < full)
    return not bool(np.any(small & (need[:, 0] != 2.0)))
