"""Input checks and scikit-image's float conversion for the CT functions.

Errors say what was wrong and what to do; where scikit-image raises, the
same exception type and message.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "FILTERS",
    "INTERPOLATIONS",
    "as_2d_array",
    "check_finite",
    "check_filter_and_interpolation",
    "check_n_iter",
    "check_output_size",
    "check_theta",
    "convert_to_float",
    "float_dtype",
]

FILTERS = ("ramp", "shepp-logan", "cosine", "hamming", "hann", None)
INTERPOLATIONS = ("linear", "nearest", "cubic")


def convert_to_float(image: np.ndarray, preserve_range: bool) -> np.ndarray:
    """scikit-image's ``convert_to_float`` (float32 stays float32)."""
    if image.dtype == np.float16:
        return image.astype(np.float32)
    if preserve_range:
        if image.dtype.char not in "df":
            image = image.astype(float)
        return image
    from skimage.util import img_as_float

    return img_as_float(image)


def float_dtype(dtype: np.dtype, preserve_range: bool) -> np.dtype:
    """The dtype :func:`convert_to_float` gives for input ``dtype``."""
    return convert_to_float(np.zeros((1, 1), dtype=dtype), preserve_range).dtype


def as_2d_array(image: Any, what: str, message: str) -> np.ndarray:
    if not hasattr(image, "ndim") or not hasattr(image, "shape"):
        image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(message)
    arr = np.asarray(image)
    if arr.size == 0:
        raise ValueError(
            f"{what} is empty (shape {arr.shape}); pass a non-empty 2-D array."
        )
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{what} must be a real numeric array, got dtype {arr.dtype}; "
            "convert it, e.g. with `np.asarray(a, dtype=float)`."
        )
    return arr


def check_finite(arr: np.ndarray, what: str) -> None:
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(
            f"{what} contains NaN or infinite values; replace them first, "
            f"e.g. with `np.nan_to_num({what.split()[0]})`."
        )


def check_theta(theta: Any, n: int | None = None) -> np.ndarray:
    th = np.asarray(theta)
    if th.ndim != 1:
        raise ValueError(
            f"theta must be a 1-D sequence of angles in degrees, got shape {th.shape}."
        )
    if th.size == 0:
        raise ValueError(
            "theta is empty; give at least one projection angle in degrees, "
            "e.g. `np.linspace(0, 180, 180, endpoint=False)`."
        )
    if th.dtype.kind not in "biuf":
        raise TypeError(f"theta must hold numbers (degrees), got dtype {th.dtype}.")
    if not np.isfinite(th).all():
        raise ValueError("theta contains NaN or infinite angles; give finite degrees.")
    return th


def check_output_size(output_size: Any) -> int:
    if isinstance(output_size, bool) or not isinstance(output_size, (int, np.integer)):
        raise TypeError(f"output_size must be a positive integer, got {output_size!r}.")
    if output_size <= 0:
        raise ValueError(
            f"output_size must be a positive integer, got {output_size}; "
            "leave it as None for the default size."
        )
    return int(output_size)


def check_n_iter(n_iter: Any) -> int:
    if (
        isinstance(n_iter, bool)
        or not isinstance(n_iter, (int, np.integer))
        or n_iter < 1
    ):
        raise ValueError(f"n_iter must be an integer >= 1, got {n_iter!r}.")
    return int(n_iter)


def check_filter_and_interpolation(filter_name: Any, interpolation: Any) -> None:
    """scikit-image's checks of ``iradon``'s ``interpolation`` and ``filter_name``."""
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"Unknown interpolation: {interpolation}")
    if filter_name not in FILTERS:
        raise ValueError(f"Unknown filter: {filter_name}")
