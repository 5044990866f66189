"""Lazy stacks of CT slices: NumPy, dask or zarr in, dask out.

One dask task per chunk of slices (one slice by default); each task runs the
2-D function on its slices on one thread (``parallel=False``): dask's
scheduler runs the chunks side by side.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .validate import (
    check_filter_and_interpolation,
    check_n_iter,
    check_output_size,
    check_theta,
    float_dtype,
)

__all__ = ["as_dask_stack", "radon_stack", "iradon_stack"]


def as_dask_stack(stack: Any, what: str, slices_per_chunk: int):
    import dask.array as da

    if not hasattr(stack, "ndim") or not hasattr(stack, "shape"):
        stack = np.asarray(stack)
    if stack.ndim != 3:
        raise ValueError(
            f"{what} must be 3-D (slices first), got {stack.ndim}-D with shape "
            f"{tuple(stack.shape)}; for one 2-D slice use the 2-D function."
        )
    if 0 in stack.shape:
        raise ValueError(f"{what} is empty (shape {tuple(stack.shape)}).")
    if (
        isinstance(slices_per_chunk, bool)
        or not isinstance(slices_per_chunk, (int, np.integer))
        or slices_per_chunk < 1
    ):
        raise ValueError(
            f"slices_per_chunk must be an integer >= 1, got {slices_per_chunk!r}."
        )
    if np.dtype(stack.dtype).kind not in "biuf":
        raise TypeError(f"{what} must be real numeric, got dtype {stack.dtype}.")
    chunks = (int(slices_per_chunk), stack.shape[1], stack.shape[2])
    if isinstance(stack, da.Array):
        return stack.rechunk(chunks)
    return da.from_array(stack, chunks=chunks)


def slice_chunks(arr, shape_tail: tuple[int, int]) -> tuple:
    return (arr.chunks[0], (shape_tail[0],), (shape_tail[1],))


def radon_stack(
    volume: Any,
    theta: Sequence[float] | np.ndarray | None,
    circle: bool,
    preserve_range: bool,
    slices_per_chunk: int,
    center: float | None = None,
):
    """:func:`napari_backproject.tomography.radon_stack`."""
    from ..tomography import radon
    from .center import check_center

    arr = as_dask_stack(volume, "volume", slices_per_chunk)
    theta = np.arange(180) if theta is None else check_theta(theta)
    n_det = min(arr.shape[1:]) if circle else None
    if n_det is None:
        diagonal = np.sqrt(2) * max(arr.shape[1:])
        n_det = arr.shape[1] + int(np.ceil(diagonal - arr.shape[1]))
    out_dtype = float_dtype(arr.dtype, preserve_range)
    center = None if center is None else check_center(center, n_det)

    def block(b: np.ndarray) -> np.ndarray:
        out = np.empty((b.shape[0], n_det, len(theta)), dtype=out_dtype)
        for i in range(b.shape[0]):
            out[i] = radon(
                b[i],
                theta,
                circle,
                preserve_range=preserve_range,
                parallel=False,
                center=center,
            )
        return out

    return arr.map_blocks(
        block,
        dtype=out_dtype,
        chunks=slice_chunks(arr, (n_det, len(theta))),
        meta=np.empty((0, 0, 0), dtype=out_dtype),
    )


FBP_KWARGS = {
    "output_size",
    "filter_name",
    "interpolation",
    "circle",
    "preserve_range",
    "center",
}
SART_KWARGS = {"n_iter", "projection_shifts", "clip", "relaxation", "dtype", "center"}


def iradon_stack(
    sinograms: Any,
    theta: Sequence[float] | np.ndarray | None,
    method: str,
    slices_per_chunk: int,
    kwargs: dict[str, Any],
):
    """:func:`napari_backproject.tomography.iradon_stack`."""
    from ..tomography import iradon, iradon_sart_iter

    if method not in ("fbp", "sart"):
        raise ValueError(f"Unknown method: {method!r}; use 'fbp' or 'sart'.")
    allowed = FBP_KWARGS if method == "fbp" else SART_KWARGS
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise TypeError(
            f"iradon_stack(method={method!r}) got unexpected keyword argument(s) "
            f"{unknown}; allowed: {sorted(allowed)}."
        )
    arr = as_dask_stack(sinograms, "sinograms", slices_per_chunk)
    n_det, n_angles = arr.shape[1], arr.shape[2]
    if theta is None:
        theta = np.linspace(0, 180, n_angles, endpoint=False)
    theta = check_theta(theta)
    if kwargs.get("center") is not None:
        from .center import check_center

        check_center(kwargs["center"], n_det)
    if len(theta) != n_angles:
        raise ValueError(
            f"Shape of theta ({len(theta)}) does not match the number of "
            f"projections ({n_angles}) in the sinograms (last axis)."
        )

    if method == "fbp":
        filter_name = kwargs.get("filter_name", "ramp")
        interpolation = kwargs.get("interpolation", "linear")
        circle = kwargs.get("circle", True)
        check_filter_and_interpolation(filter_name, interpolation)
        output_size = kwargs.get("output_size")
        if output_size is None:
            output_size = n_det if circle else int(np.floor(np.sqrt(n_det**2 / 2.0)))
        output_size = check_output_size(output_size)
        fbp_kwargs = dict(kwargs, output_size=output_size)
        out_dtype = float_dtype(arr.dtype, kwargs.get("preserve_range", True))

        def block(b: np.ndarray) -> np.ndarray:
            out = np.empty((b.shape[0], output_size, output_size), dtype=out_dtype)
            for i in range(b.shape[0]):
                out[i] = iradon(b[i], theta, parallel=False, **fbp_kwargs)
            return out

        size = output_size
    else:
        n_iter = check_n_iter(kwargs.pop("n_iter", 1))
        dtype = kwargs.get("dtype")
        if dtype is None:
            out_dtype = (
                arr.dtype if np.dtype(arr.dtype).char in "fd" else np.dtype(float)
            )
        elif np.dtype(dtype).char not in "fd":
            raise ValueError(
                "Only floating point data type are valid for inverse radon transform."
            )
        else:
            out_dtype = np.dtype(dtype)
        sart_kwargs = dict(kwargs, dtype=out_dtype)

        def block(b: np.ndarray) -> np.ndarray:
            out = np.empty((b.shape[0], n_det, n_det), dtype=out_dtype)
            for i in range(b.shape[0]):
                for est in iradon_sart_iter(
                    b[i], theta, n_iter=n_iter, parallel=False, **sart_kwargs
                ):
                    out[i] = est
            return out

        size = n_det

    return arr.map_blocks(
        block,
        dtype=out_dtype,
        chunks=slice_chunks(arr, (size, size)),
        meta=np.empty((0, 0, 0), dtype=out_dtype),
    )
