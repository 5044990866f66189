"""napari-backproject: move data between two coordinate spaces.

Straighten a volume along a traced path, backproject a segmentation made on
the straightened volume, and compute Radon transforms / reconstructions that
are drop-in compatible with scikit-image.

The public API is importable without Qt or napari's GUI.

Examples
--------
>>> from napari_backproject import straighten, backproject, radon, iradon
"""

from __future__ import annotations

__version__ = "0.1.0"

# Functions are imported eagerly: two of them share their module's name
# (``straighten``, ``backproject``), and a lazy attribute would be replaced by
# the module as soon as someone imports ``napari_backproject.straighten``.
from . import data
from ._progress import Cancelled
from .backproject import backproject, placement, write_backprojection
from .slice_geometry import SliceGeometry
from .straighten import save_straightened, straighten
from .tomography import (
    iradon,
    iradon_sart,
    iradon_sart_iter,
    iradon_stack,
    radon,
    radon_stack,
)

__all__ = [
    "Cancelled",
    "SliceGeometry",
    "backproject",
    "data",
    "iradon",
    "iradon_sart",
    "iradon_sart_iter",
    "iradon_stack",
    "placement",
    "radon",
    "radon_stack",
    "save_straightened",
    "straighten",
    "write_backprojection",
]
