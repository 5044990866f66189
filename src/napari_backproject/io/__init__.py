"""File formats: TIFF, path files, geometry JSON and foreign formats.

Examples
--------
>>> from napari_backproject.io import read_neuroglancer
"""

from .neuroglancer import read_neuroglancer, write_neuroglancer
from .ouroboros import read_ouroboros_options

__all__ = ["read_neuroglancer", "read_ouroboros_options", "write_neuroglancer"]
