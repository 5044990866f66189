"""Pull backprojection kernel: every output voxel finds its straightened position.

Plain NumPy arrays in, NumPy arrays out; no napari, dask or files. The kernel
writes one output block (a z-slab) in place and keeps no global state, so it
may be called from several threads at once on different blocks.

Geometry (world units, ``(z, y, x)``): plane ``i`` has centre ``c_i``, unit
tangent ``t_i`` and in-plane unit vectors ``e_u,i``, ``e_v,i``; pixels are
``D`` apart and the plane extends ``A_u = W * D / 2`` and ``A_v = H * D / 2``
from its centre (pixel centres plus half a pixel).

Claims. A voxel at world position ``p`` lies in *segment* ``i`` (between
planes ``i`` and ``i + 1``) when ``d_i >= 0 > d_{i+1}`` with
``d_i = (p - c_i) . t_i``. Its straightened position solves
``p = c(t) + a e_u(t) + b e_v(t)`` where ``c``, ``e_u``, ``e_v`` are
interpolated linearly between the two planes (the inverse of trilinear
sampling of the straightened stack): ``t`` is the root of the cubic
``(p - c(t)) . (e_u(t) x e_v(t)) = 0``, found by Newton steps from
``t = d_i / (d_i - d_{i+1})``, then ``(a, b)`` solve the in-plane normal
equations. All dot products are updated incrementally along x. The *start cap*
(``-D/2 <= d_0 < 0``) and *end cap* (``0 <= d_{n-1} < D/2``) project onto the
first/last plane. A claim counts when ``|a| <= A_u`` and ``|b| <= A_v``;
where several segments claim a voxel (tight bends) the one with the smallest
in-plane distance ``a**2 + b**2`` wins (first segment on exact ties).

Segment ids: ``-1`` start cap, ``0 .. n-2`` segments, ``n - 1`` end cap.

Modules: :mod:`.bounds` (which voxels each segment can claim, which claims can
be non-zero; :mod:`.need_numpy` its NumPy twin for all segments at once), :mod:`.solve` (a voxel's straightened position),
:mod:`.sample` (reading the stack there: nearest, linear, label vote),
:mod:`.claims` (every segment's claims on a group of output planes) and
:mod:`.block` (one output block from a :class:`PullPlan`).
"""

from .block import PullPlan, pull_block
from .bounds import need_bounds, nonzero_boxes, segment_bounds
from .need_numpy import need_bounds_numpy
from .sample import LABEL_VOTE, LINEAR, NEAREST

__all__ = [
    "LABEL_VOTE",
    "LINEAR",
    "NEAREST",
    "PullPlan",
    "need_bounds",
    "need_bounds_numpy",
    "nonzero_boxes",
    "pull_block",
    "segment_bounds",
]
