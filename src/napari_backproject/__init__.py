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
from .mapping import from_straightened, to_straightened
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
    "from_straightened",
    "iradon",
    "iradon_sart",
    "iradon_sart_iter",
    "iradon_stack",
    "placement",
    "radon",
    "radon_stack",
    "save_straightened",
    "straighten",
    "to_straightened",
    "write_backprojection",
]

# CT on measured scans: correction, rotation centre, projection stacks
from ._ct.center import center_sweep, find_center  # noqa: E402
from ._ct.projections import projection_angles, reconstruct_volume  # noqa: E402
from ._ct.scan import flat_field, minus_log, remove_outliers, remove_rings  # noqa: E402

__all__ += [
    "center_sweep",
    "find_center",
    "flat_field",
    "minus_log",
    "projection_angles",
    "reconstruct_volume",
    "remove_outliers",
    "remove_rings",
]
