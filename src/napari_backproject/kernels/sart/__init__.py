"""SART (simultaneous algebraic reconstruction), scikit-image compatible.

One SART step for one angle reproduces ``skimage.transform._radon_transform.
sart_projection_update`` followed by ``image += relaxation * update`` (and the
optional clip). Arithmetic follows the Cython code operation by operation,
including where it rounds to float32 when the data are float32; sums are
formed in a different order, so results agree with scikit-image to rounding.

The package, in the order a ray's update flows through it:

* :mod:`.geometry` -- ray geometry, sample weights, Hamming windows, the
  golden-ratio order, the split of rays between threads and the named
  records (:class:`Ray`, :class:`Record`) that carry rays between phases;
* :mod:`.raysums` -- the forward half of a ray (ray sum, weight norm; one
  pass for a mirrored pair), partly in LLVM vector IR;
* :mod:`.scatter` -- the backward half (the update added to the pixels),
  partly in LLVM vector IR;
* :mod:`.rays` -- phase 1 of an angle: rays summed and updated in place,
  ``LAG`` rays behind (no update buffer); one thread's share;
* :mod:`.drivers` -- all angles on one or several threads, with spin
  barriers between the phases (:func:`sart_steps`, :class:`SartJob`,
  :class:`SartThread`);
* :mod:`.reference` -- scalar twins, a plain serial driver, a ``prange``
  driver and a cache-line ping-pong, for tests and benchmarks only.

Mirrored pairs: without a projection shift, ray ``2c - r`` (``c = n // 2``)
passes through the points of ray ``r`` reflected about the rotation centre,
in reverse order; its samples are those of ray ``r`` with cell ``K - idx``
and the four weights in reverse corner order, so the weights pass runs for
half the rays. Only pixels in a disc slightly larger than the reconstruction
circle are ever updated (:func:`update_rows`), so clipping is done there
only. The kernels keep no global state and are safe to call from several
threads at once (with distinct images and scratch arrays). Nothing here
knows napari, dask or files.

First use: only :func:`sart_steps`, :func:`hamming_windows` and
:func:`clip_outside` are ``@njit`` entry points; the helpers below them are
:func:`..._inner.inner_jit` functions (compiled without Python wrappers
inside their callers), the set-up helpers run as plain Python, and without
projection shifts the shifted-ray path is not compiled at all.
"""

from .drivers import SartJob, SartThread, sart_apply, sart_steps
from .geometry import (
    GAP_RAYS,
    LAG,
    Ray,
    RayGeom,
    Record,
    clip_outside,
    golden_ratio_order,
    hamming_windows,
    new_record,
    new_ring,
    new_scratch,
    pair_split,
    update_rows,
)
from .rays import sart_rays
from .raysums import RaySums

__all__ = [
    "GAP_RAYS",
    "LAG",
    "Ray",
    "RayGeom",
    "RaySums",
    "Record",
    "SartJob",
    "SartThread",
    "clip_outside",
    "golden_ratio_order",
    "hamming_windows",
    "new_record",
    "new_ring",
    "new_scratch",
    "pair_split",
    "sart_apply",
    "sart_rays",
    "sart_steps",
    "update_rows",
]
