"""Input checks shared by the Qt-free jobs and the dock widgets.

Output paths, memory, sinogram orientation and angles, and geometry
equality: everything a job or widget checks before any work starts.
Nothing here imports Qt or napari.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .slice_geometry import SliceGeometry

__all__ = [
    "TIFF_SUFFIXES",
    "available_memory",
    "check_memory",
    "check_output_path",
    "check_sinogram_orientation",
    "same_geometry",
    "sinogram_theta",
    "uniform_theta",
]

#: file name endings the widgets write
TIFF_SUFFIXES = (".tif", ".tiff")


def check_output_path(path: Any, suffixes: tuple[str, ...] = TIFF_SUFFIXES) -> Path:
    """Check an output file path before a job starts; return it as a Path.

    Parameters
    ----------
    path : str or PathLike
        The file to write.
    suffixes : tuple of str
        Accepted endings (lower case, with the dot).

    Raises
    ------
    ValueError
        ``path`` is a folder, has another ending, its folder does not exist
        or cannot be written to.

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> check_output_path(os.path.join(d, "out.tif")).name
    'out.tif'
    >>> check_output_path(os.path.join(d, "out.png"))
    Traceback (most recent call last):
    ...
    ValueError: save to: 'out.png' is not a TIFF file; use a name ending in .tif or .tiff.
    >>> os.mkdir(os.path.join(d, "done.zarr"))
    >>> check_output_path(os.path.join(d, "done.zarr"), (".tif", ".zarr"))
    Traceback (most recent call last):
    ...
    ValueError: save to: 'done.zarr' exists; choose a new name or delete it first (an OME-Zarr folder is never overwritten from a widget).
    """
    p = Path(path).expanduser()
    if p.suffix.lower() == ".zarr" and ".zarr" in suffixes and p.exists():
        raise ValueError(
            f"save to: {p.name!r} exists; choose a new name or delete it first "
            "(an OME-Zarr folder is never overwritten from a widget)."
        )
    if p.is_dir():
        raise ValueError(
            f"save to: {str(p)!r} is a folder; choose a file name in it, "
            f"e.g. {str(p / ('result' + suffixes[0]))!r}."
        )
    if p.suffix.lower() not in suffixes:
        ends = " or ".join(suffixes)
        raise ValueError(
            f"save to: {p.name!r} is not a "
            f"{'TIFF file' if '.zarr' not in suffixes else 'TIFF or OME-Zarr'}; "
            f"use a name ending in {ends}."
        )
    parent = p.resolve().parent
    if not parent.is_dir():
        raise ValueError(
            f"save to: the folder {str(parent)!r} does not exist; create it first."
        )
    if not os.access(parent, os.W_OK | os.X_OK) or (
        p.exists() and not os.access(p, os.W_OK)
    ):
        raise ValueError(
            f"save to: {str(p)!r} cannot be written (no permission); "
            "choose another folder."
        )
    return p


def same_geometry(a: SliceGeometry, b: SliceGeometry) -> bool:
    """Whether two geometries place the same planes (options such as ``order`` aside).

    Examples
    --------
    >>> from napari_backproject import SliceGeometry
    >>> kw = dict(source_shape=(8, 8, 8), source_dtype="uint8", scale=(1, 1, 1),
    ...           translate=(0, 0, 0), width=3, height=3, spacing=1.0,
    ...           centers=[[4, 4, 4]], tangents=[[1, 0, 0]], e_u=[[0, 0, 1]],
    ...           e_v=[[0, 1, 0]], path=[[4, 4, 4]])
    >>> same_geometry(SliceGeometry(**kw, options={"order": 0}),
    ...               SliceGeometry(**kw, options={"order": 1}))
    True
    """
    da, db = a.to_dict(), b.to_dict()
    da.pop("options", None)
    db.pop("options", None)
    return da == db


def check_sinogram_orientation(shape: tuple, metadata: dict | None) -> str | None:
    """A message when a sinogram looks transposed (angles on the detector axis).

    A sinogram is ``(detector, angle)`` (the last axis holds the angles). When
    the metadata's ``theta`` has as many values as the second-to-last axis but
    not the last one, the layer is most likely ``(angle, detector)``.

    Examples
    --------
    >>> check_sinogram_orientation((180, 400), {"theta": list(range(180))})[:30]
    'the sinogram looks transposed:'
    >>> check_sinogram_orientation((400, 180), {"theta": list(range(180))}) is None
    True
    """
    theta = (metadata or {}).get("theta")
    if theta is None or len(shape) < 2:
        return None
    k = int(np.size(theta))
    if k != int(shape[-1]) and k == int(shape[-2]):
        return (
            f"the sinogram looks transposed: its metadata has {k} angles, which "
            f"matches axis {len(shape) - 2} (size {shape[-2]}), not the angle axis "
            f"(the last, size {shape[-1]}). A sinogram is (detector, angle); "
            "transpose the layer's last two axes first."
        )
    return None


def available_memory() -> int | None:
    """Bytes of memory available to this process now, or None when unknown.

    Examples
    --------
    >>> m = available_memory()
    >>> m is None or m > 0
    True
    """
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return None


def check_memory(shape: tuple, dtype: Any, what: str) -> None:
    """Refuse a result of ``shape``/``dtype`` that cannot fit in memory.

    Raises
    ------
    ValueError
        The result needs more than the available memory.

    Examples
    --------
    >>> check_memory((2, 3), "uint8", "straighten")
    >>> check_memory((10**7, 10**6), "float64", "straighten")
    Traceback (most recent call last):
    ...
    ValueError: straighten: the result (10000000 x 1000000, float64) needs 76293945 MiB ...
    """
    need = int(np.prod(shape, dtype=np.float64)) * np.dtype(dtype).itemsize
    have = available_memory()
    if have is not None and need > have:
        dims = " x ".join(str(int(n)) for n in shape)
        raise ValueError(
            f"{what}: the result ({dims}, {np.dtype(dtype).name}) needs "
            f"{need // 2**20} MiB but only {have // 2**20} MiB are free; make it "
            "smaller (width, height, spacing) or save it to a file."
        )


def _check_finite(array: np.ndarray, what: str) -> None:
    if np.dtype(array.dtype).kind in "fc" and not np.isfinite(array).all():
        raise ValueError(
            f"{what} contains NaN or infinite values; replace them first "
            "(e.g. numpy.nan_to_num) so that they do not spread into the result."
        )


def uniform_theta(n_angles: int, start: float = 0.0, end: float = 180.0) -> np.ndarray:
    """``n_angles`` projection angles in degrees over ``[start, end)``.

    Parameters
    ----------
    n_angles : int
        Number of projections (at least 1).
    start, end : float
        Angle range in degrees; ``end`` is excluded and must exceed ``start``.

    Returns
    -------
    numpy.ndarray
        Float64 angles ``start + k * (end - start) / n_angles``.

    Examples
    --------
    >>> uniform_theta(4).tolist()
    [0.0, 45.0, 90.0, 135.0]
    """
    if int(n_angles) < 1:
        raise ValueError(f"the number of projections must be >= 1; got {n_angles}.")
    if not np.isfinite(start) or not np.isfinite(end) or end <= start:
        raise ValueError(
            f"the angle range must be finite with end > start; got [{start}, {end})."
        )
    return np.linspace(float(start), float(end), int(n_angles), endpoint=False)


def sinogram_theta(n_angles: int, metadata: dict | None) -> tuple[np.ndarray, str]:
    """Projection angles for a sinogram with ``n_angles`` columns.

    Parameters
    ----------
    n_angles : int
        Size of the sinogram's angle axis (its last axis).
    metadata : dict or None
        The layer's (or file's) metadata; its ``"theta"`` is used when it has
        exactly ``n_angles`` values.

    Returns
    -------
    theta : numpy.ndarray
        Angles in degrees.
    source : str
        ``"metadata"`` or ``"uniform"`` (uniform over [0, 180)); the latter
        also when the metadata's theta has the wrong length.

    Examples
    --------
    >>> sinogram_theta(3, {"theta": [0, 10, 20]})[1]
    'metadata'
    >>> sinogram_theta(4, None)[0].tolist()
    [0.0, 45.0, 90.0, 135.0]
    """
    if int(n_angles) < 1:
        raise ValueError(f"a sinogram needs at least one angle; got {n_angles}.")
    theta = (metadata or {}).get("theta")
    if theta is not None:
        theta = np.asarray(theta, dtype=float).ravel()
        if theta.size == int(n_angles) and np.all(np.isfinite(theta)):
            return theta, "metadata"
    return uniform_theta(int(n_angles)), "uniform"
