"""napari-backproject: move data between two coordinate spaces.

Straighten a volume along a traced path, backproject a segmentation made on
the straightened volume, and compute Radon transforms / reconstructions that
are drop-in compatible with scikit-image.

The public API is importable without Qt or napari's GUI; heavy modules are
loaded on first use.

Examples
--------
>>> from napari_backproject import radon, iradon  # doctest: +SKIP
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it (imported lazily on first access)
_EXPORTS = {
    "SliceGeometry": "slice_geometry",
    "straighten": "straighten",
    "backproject": "backproject",
    "radon": "tomography",
    "iradon": "tomography",
    "iradon_sart": "tomography",
    "radon_stack": "tomography",
    "iradon_stack": "tomography",
    "data": None,
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'napari_backproject' has no attribute {name!r}")
    module = _EXPORTS[name]
    if module is None:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
