"""Preparing measured projections: flat/dark correction, log, zingers, rings.

Every function takes NumPy or dask arrays and returns the same kind: NumPy
in, NumPy out; dask in, a lazy dask array out that is computed chunk by
chunk (memory bounded by a chunk, never the whole scan).

Layouts (see DESIGN.md): a projection stack is ``(angle, row, column)``, one
projection ``(row, column)``; a sinogram is ``(detector, angle)`` as in
scikit-image.
"""

from __future__ import annotations

from typing import Any
from warnings import warn

import numpy as np
from scipy.ndimage import median_filter

__all__ = ["flat_field", "minus_log", "remove_outliers", "remove_rings"]

#: smallest transmission kept by :func:`flat_field` / :func:`minus_log`
MIN_TRANSMISSION = 1e-6
_METHODS = ("median", "mean")


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def _is_dask(a: Any) -> bool:
    return type(a).__module__.split(".")[0] == "dask"


def _as_array(a: Any, what: str) -> Any:
    """NumPy or dask array of real numbers (other array-likes -> NumPy)."""
    if not _is_dask(a):
        a = np.asarray(a)
    if np.dtype(a.dtype).kind not in "biuf":
        raise TypeError(
            f"{what} must hold real numbers, got dtype {a.dtype}; convert it, "
            "e.g. with `np.asarray(x, dtype=np.float32)`."
        )
    if 0 in a.shape:
        raise ValueError(f"{what} is empty (shape {tuple(a.shape)}).")
    return a


def _float_dtype(dtype: Any) -> np.dtype:
    """float64 stays float64; everything else computes in float32."""
    return np.dtype(np.float64) if np.dtype(dtype) == np.float64 else np.dtype("f4")


def _clip_low(values: np.ndarray, min_value: float, what: str) -> np.ndarray:
    """Clip values below ``min_value`` (and NaN) in place, warning with the count."""
    bad = ~(values >= min_value)  # also catches NaN
    count = int(np.count_nonzero(bad))
    if count:
        values[bad] = min_value
        warn(
            f"{count} of {values.size} values of {what} were below {min_value:g} "
            f"(non-positive transmission: dead or saturated pixels, or a dark "
            f"brighter than the flat); clipped to {min_value:g}.",
            RuntimeWarning,
            stacklevel=3,
        )
    return values


def _where(block_info: dict | None) -> str:
    if not block_info or 0 not in block_info:
        return ""
    loc = block_info[0]["array-location"]
    return " in block [" + ", ".join(f"{a}:{b}" for a, b in loc) + "]"


def _reduce_frames(frames: Any, method: str, what: str, frame: tuple) -> np.ndarray:
    """Median or mean of a stack of frames (or one frame), as a NumPy frame."""
    frames = _as_array(frames, what)
    if frames.ndim == 2:
        frames = frames[None]
    if frames.ndim != 3 or tuple(frames.shape[1:]) != frame:
        hint = ""
        if frames.ndim == 3 and tuple(frames.shape[:2]) == frame:
            hint = " (the frame index looks last: use np.moveaxis(x, -1, 0))"
        raise ValueError(
            f"{what} have shape {tuple(frames.shape)}, but the projections' frames "
            f"are {frame} (rows, columns); give {what} as (n, {frame[0]}, "
            f"{frame[1]}) or one ({frame[0]}, {frame[1]}) frame{hint}."
        )
    if _is_dask(frames):
        import dask.array as da

        reduced = (
            da.median(frames, axis=0) if method == "median" else frames.mean(axis=0)
        )
        return np.asarray(reduced.compute(), dtype=np.float64)
    frames = frames.astype(np.float64, copy=False)
    return np.median(frames, axis=0) if method == "median" else frames.mean(axis=0)


# --------------------------------------------------------------------------
# flat / dark
# --------------------------------------------------------------------------
def _flat_block(
    block: np.ndarray,
    dark: np.ndarray,
    gain: np.ndarray,
    dead: np.ndarray,
    min_value: float,
    ftype: np.dtype,
    block_info: dict | None = None,
) -> np.ndarray:
    if block_info and 0 in block_info:
        loc = block_info[0]["array-location"]
        rows, cols = slice(*loc[-2]), slice(*loc[-1])
        dark, gain, dead = dark[rows, cols], gain[rows, cols], dead[rows, cols]
    out = (block.astype(ftype) - dark.astype(ftype)) * gain.astype(ftype)
    out[..., dead] = 1.0
    return _clip_low(
        out, min_value, "the flat-field corrected projections" + _where(block_info)
    )


def flat_field(
    projections: Any,
    flats: Any,
    darks: Any = None,
    *,
    method: str = "median",
    min_value: float = MIN_TRANSMISSION,
) -> Any:
    """Flat- and dark-field correction: ``(projections - dark) / (flat - dark)``.

    The flat and dark frames are first reduced to one frame each (median or
    mean of the frames given). The result is the transmission, about 1 where
    the beam is free and below 1 in the object. Values that come out
    non-positive (dead pixels, noise in a dark region) are counted, clipped
    to ``min_value`` and reported in a :class:`RuntimeWarning`, so that
    :func:`minus_log` stays finite. Detector pixels whose flat is not
    brighter than their dark are counted too (warning); their transmission
    is set to 1 and they appear as a stripe that :func:`remove_rings` takes
    out.

    Parameters
    ----------
    projections : (angle, row, column) or (row, column) array (NumPy or dask)
        Raw projections, angle axis first.
    flats : (n, row, column) or (row, column) array
        Open-beam images (no sample), same detector frame.
    darks : (n, row, column) or (row, column) array or None, optional
        Images without beam; ``None`` means zero.
    method : {'median', 'mean'}, optional
        How several flats/darks are combined; the median ignores zingers.
    min_value : float, optional
        Smallest transmission kept (default 1e-6, i.e. at most 13.8 after
        :func:`minus_log`).

    Returns
    -------
    array
        Transmission, shape of ``projections``, float32 (float64 for float64
        input). NumPy in, NumPy out; dask in, lazy dask out (the warning is
        then raised per chunk when it is computed).

    Raises
    ------
    ValueError
        Flats or darks whose frame shape differs from the projections', an
        unknown ``method``, a projection stack that is not 2-D or 3-D, a
        non-positive ``min_value``.

    Examples
    --------
    >>> import numpy as np
    >>> proj = np.full((3, 2, 2), 60, np.uint16)    # 3 angles, 2 x 2 pixels
    >>> flats = np.full((4, 2, 2), 110, np.uint16)  # 4 open-beam frames
    >>> flat_field(proj, flats, np.full((2, 2), 10, np.uint16))[0]
    array([[0.5, 0.5],
           [0.5, 0.5]], dtype=float32)
    """
    if method not in _METHODS:
        raise ValueError(f"Unknown method {method!r}; use 'median' or 'mean'.")
    if not (np.isfinite(min_value) and min_value > 0):
        raise ValueError(f"min_value must be a positive number, got {min_value!r}.")
    projections = _as_array(projections, "projections")
    if projections.ndim not in (2, 3):
        raise ValueError(
            f"projections must be (angle, row, column) or one (row, column) "
            f"projection, got {projections.ndim}-D with shape "
            f"{tuple(projections.shape)}."
        )
    frame = tuple(int(s) for s in projections.shape[-2:])
    flat = _reduce_frames(flats, method, "flats", frame)
    dark = (
        np.zeros(frame)
        if darks is None
        else _reduce_frames(darks, method, "darks", frame)
    )
    span = flat - dark
    dead = ~(span > 0)
    if dead.any():
        warn(
            f"{int(dead.sum())} detector pixel(s) have a flat not brighter than "
            "their dark (dead pixels); their transmission is set to 1.",
            RuntimeWarning,
            stacklevel=2,
        )
    gain = 1.0 / np.where(dead, 1.0, span)
    dtype = _float_dtype(projections.dtype)
    if _is_dask(projections):
        return projections.map_blocks(
            _flat_block,
            dark=dark,
            gain=gain,
            dead=dead,
            min_value=float(min_value),
            ftype=dtype,
            dtype=dtype,
            meta=np.empty((0,) * projections.ndim, dtype=dtype),
        )
    return _flat_block(projections, dark, gain, dead, float(min_value), dtype)


# --------------------------------------------------------------------------
# log
# --------------------------------------------------------------------------
def _log_block(
    block: np.ndarray, min_value: float, ftype: np.dtype, block_info=None
) -> np.ndarray:
    out = block.astype(ftype)  # a copy: the input is never modified
    _clip_low(out, min_value, "the transmission" + _where(block_info))
    np.log(out, out=out)
    np.negative(out, out=out)
    return out


def minus_log(transmission: Any, *, min_value: float = MIN_TRANSMISSION) -> Any:
    """Line integrals from transmission: ``-log(transmission)``.

    Values below ``min_value`` (zero, negative, NaN) are counted, clipped to
    ``min_value`` and reported in a :class:`RuntimeWarning`, so the result is
    always finite.

    Parameters
    ----------
    transmission : array (NumPy or dask), any shape
        Usually the output of :func:`flat_field`.
    min_value : float, optional
        Smallest transmission kept (default 1e-6).

    Returns
    -------
    array
        Same shape; float32 (float64 for float64 input). NumPy in, NumPy
        out; dask in, lazy dask out.

    Raises
    ------
    ValueError
        Empty input or a non-positive ``min_value``.

    Examples
    --------
    >>> import numpy as np
    >>> minus_log(np.array([1.0, np.exp(-2.0)])).round(6).tolist()
    [-0.0, 2.0]
    """
    if not (np.isfinite(min_value) and min_value > 0):
        raise ValueError(f"min_value must be a positive number, got {min_value!r}.")
    transmission = _as_array(transmission, "transmission")
    dtype = _float_dtype(transmission.dtype)
    if _is_dask(transmission):
        return transmission.map_blocks(
            _log_block,
            min_value=float(min_value),
            ftype=dtype,
            dtype=dtype,
            meta=np.empty((0,) * transmission.ndim, dtype=dtype),
        )
    return _log_block(transmission, float(min_value), dtype)


# --------------------------------------------------------------------------
# zingers / outliers
# --------------------------------------------------------------------------
def _check_size(size: Any, what: str = "size", minimum: int = 3) -> int:
    if (
        isinstance(size, bool)
        or not isinstance(size, (int, np.integer))
        or size < minimum
        or size % 2 == 0
    ):
        raise ValueError(f"{what} must be an odd integer >= {minimum}, got {size!r}.")
    return int(size)


def _outlier_frame(
    frame: np.ndarray, size: int, threshold: float | None, n_sigma: float
) -> np.ndarray:
    smooth = median_filter(frame, size=size, mode="reflect")
    diff = np.abs(frame - smooth)
    if threshold is None:
        # robust noise level: 1.4826 x the median absolute deviation
        sigma = 1.4826 * float(np.median(diff))
        limit = n_sigma * sigma if sigma > 0 else np.inf
    else:
        limit = float(threshold)
    return np.where(diff > limit, smooth, frame)


def _outlier_block(
    block: np.ndarray,
    size: int,
    threshold: float | None,
    n_sigma: float,
    ftype: np.dtype,
) -> np.ndarray:
    block = block.astype(ftype)
    if block.ndim == 2:
        return _outlier_frame(block, size, threshold, n_sigma)
    out = np.empty_like(block)
    for i in range(block.shape[0]):
        out[i] = _outlier_frame(block[i], size, threshold, n_sigma)
    return out


def remove_outliers(
    projections: Any,
    threshold: float | None = None,
    *,
    size: int = 3,
    n_sigma: float = 5.0,
) -> Any:
    """Replace zingers and dead/hot pixels by the median of their neighbours.

    In every projection (frame ``(row, column)``), a pixel that differs from
    the ``size x size`` median of its neighbourhood by more than
    ``threshold`` is replaced by that median (the classic zinger filter, as
    tomopy's ``remove_outlier``). Edges are mirrored.

    Parameters
    ----------
    projections : (angle, row, column) or (row, column) array (NumPy or dask)
        Raw, flat-field corrected or log projections.
    threshold : float or None, optional
        Absolute difference above which a pixel is an outlier, in the units
        of the data. ``None`` (default): ``n_sigma`` robust standard
        deviations (1.4826 x median absolute difference) of that frame.
    size : int, optional
        Odd width of the median window (default 3).
    n_sigma : float, optional
        Used when ``threshold`` is None (default 5).

    Returns
    -------
    array
        Same shape; float32 (float64 for float64 input). Dask in, lazy dask
        out, computed frame by frame (chunks are made to hold whole frames).

    Raises
    ------
    ValueError
        Not 2-D or 3-D, an even or too small ``size``, a negative
        ``threshold`` or non-positive ``n_sigma``.

    Examples
    --------
    >>> import numpy as np
    >>> frame = np.ones((5, 5)); frame[2, 2] = 50.0
    >>> float(remove_outliers(frame, threshold=1.0)[2, 2])
    1.0
    """
    projections = _as_array(projections, "projections")
    if projections.ndim not in (2, 3):
        raise ValueError(
            "projections must be (angle, row, column) or one (row, column) "
            f"frame, got shape {tuple(projections.shape)}."
        )
    size = _check_size(size)
    if threshold is not None and not (np.isfinite(threshold) and threshold >= 0):
        raise ValueError(f"threshold must be >= 0 or None, got {threshold!r}.")
    if not (np.isfinite(n_sigma) and n_sigma > 0):
        raise ValueError(f"n_sigma must be positive, got {n_sigma!r}.")
    dtype = _float_dtype(projections.dtype)
    kwargs = {"size": size, "threshold": threshold, "n_sigma": float(n_sigma)}
    if _is_dask(projections):
        whole = projections.rechunk(
            projections.chunks[: projections.ndim - 2] + (-1, -1)
            if projections.ndim == 3
            else (-1, -1)
        )
        return whole.map_blocks(
            _outlier_block,
            ftype=dtype,
            dtype=dtype,
            meta=np.empty((0,) * projections.ndim, dtype=dtype),
            **kwargs,
        )
    return _outlier_block(projections, ftype=dtype, **kwargs)


# --------------------------------------------------------------------------
# rings (stripes in sinograms)
# --------------------------------------------------------------------------
def _rings_block(
    block: np.ndarray, size: int, snr: float | None, ftype: np.dtype
) -> np.ndarray:
    """Sorting-based stripe removal of ``(..., detector, angle)`` sinograms.

    The angle axis is last (contiguous): sorting along it is twice as fast
    as along a strided axis.
    """
    block = np.ascontiguousarray(block, dtype=ftype)
    order = np.argsort(block, axis=-1)
    ranked = np.take_along_axis(block, order, axis=-1)
    window = (1,) * (block.ndim - 2) + (size, 1)
    smooth = median_filter(ranked, size=window, mode="nearest")
    if snr is not None:
        # keep only the detector pixels whose sorted values stand out from
        # their neighbours' on average: elsewhere the median would only blur
        # the object (steep edges of the sorted profile)
        profile = (ranked - smooth).mean(axis=-1)
        spread = np.abs(profile - np.median(profile, axis=-1, keepdims=True))
        noise = 1.4826 * np.median(spread, axis=-1, keepdims=True)
        stripe = spread > snr * np.maximum(noise, np.finfo(ftype).tiny)
        stripe |= np.roll(stripe, 1, axis=-1) | np.roll(stripe, -1, axis=-1)
        smooth = np.where(stripe[..., None], smooth, ranked)
    out = np.empty_like(block)
    np.put_along_axis(out, order, smooth, axis=-1)
    return out


def _rings_stack(
    block: np.ndarray, size: int, snr: float | None, ftype: np.dtype
) -> np.ndarray:
    """:func:`_rings_block` on a projection stack ``(angle, row, column)``."""
    done = _rings_block(block.transpose(1, 2, 0), size, snr, ftype)
    return np.ascontiguousarray(done.transpose(2, 0, 1))


def remove_rings(
    data: Any,
    *,
    size: int | None = None,
    snr: float | None = 3.0,
    rows_per_chunk: int = 8,
) -> Any:
    """Remove stripes from sinograms (rings in reconstructions), sorting-based.

    Implements the sorting-based stripe removal of Vo, Atwood and
    Drakopoulos, "Superior techniques for eliminating ring artifacts in
    X-ray micro-tomography", Optics Express 26(22), 28396 (2018),
    algorithm 3: in each sinogram, the values of every detector pixel are
    sorted over the angles; in the sorted image a stripe (a pixel whose
    response is off by a constant or a gain) is a whole column that differs
    from its neighbours, which a median filter across the detector removes;
    the values are then put back in their original order. Features of the
    object, which move across the detector with the angle, are barely
    touched. With ``snr`` set (default), only the detector pixels detected
    as stripes are replaced (the detection step of the same paper's
    algorithms 5-6): a pixel whose mean difference to the filtered sorted
    image exceeds ``snr`` robust standard deviations of that difference
    over the detector, and its two neighbours; the rest of the sinogram is
    returned unchanged, so sharp object edges are not blurred.

    Parameters
    ----------
    data : array (NumPy or dask)
        A sinogram ``(detector, angle)`` (2-D) or a projection stack
        ``(angle, row, column)`` (3-D, each detector row is one sinogram).
        Use it on flat-field corrected data, before or after
        :func:`minus_log`.
    size : int or None, optional
        Odd width of the median filter across the detector, in pixels; it
        must be wider than the widest stripe, and the wider it is the more
        it blurs sharp object edges in the sorted image. Default: about
        1/100 of the detector width, between 5 and 31 (21 for 2048 pixels,
        the value used in the paper's examples).
    snr : float or None, optional
        Detection threshold (default 3); ``None`` filters every pixel
        (algorithm 3 as published).
    rows_per_chunk : int, optional
        Detector rows per dask chunk for 3-D dask input (each chunk needs
        all angles of its rows).

    Returns
    -------
    array
        Same shape and layout; float32 (float64 for float64 input). NumPy
        in, NumPy out; dask in, lazy dask out.

    Raises
    ------
    ValueError
        Not 2-D or 3-D, an even or too small ``size``, a ``size`` larger
        than the detector, a non-positive ``snr``.

    Examples
    --------
    >>> import numpy as np
    >>> clean = np.tile(np.linspace(0, 1, 8), (16, 1))  # (detector, angle)
    >>> sino = clean.copy()
    >>> sino[5] += 0.3                                  # one bad pixel: a stripe
    >>> bool(np.allclose(remove_rings(sino, size=5), clean))
    True
    """
    data = _as_array(data, "data")
    if data.ndim not in (2, 3):
        raise ValueError(
            "data must be a sinogram (detector, angle) or a projection stack "
            f"(angle, row, column), got shape {tuple(data.shape)}."
        )
    n_det = int(data.shape[0] if data.ndim == 2 else data.shape[2])
    if size is None:
        size = min(31, max(5, (n_det // 100) | 1))
    size = _check_size(size)
    if size > n_det:
        raise ValueError(
            f"size ({size}) is wider than the detector ({n_det} pixels); "
            "use a smaller odd size."
        )
    if snr is not None and not (np.isfinite(snr) and snr > 0):
        raise ValueError(f"snr must be a positive number or None, got {snr!r}.")
    snr = None if snr is None else float(snr)
    dtype = _float_dtype(data.dtype)
    if data.ndim == 2:  # (detector, angle): angles already last
        if _is_dask(data):
            return data.rechunk((-1, -1)).map_blocks(
                lambda b: _rings_block(b, size, snr, dtype),
                dtype=dtype,
                meta=np.empty((0, 0), dtype=dtype),
            )
        return _rings_block(data, size, snr, dtype)
    if _is_dask(data):
        rows = max(1, int(rows_per_chunk))
        return data.rechunk((-1, rows, -1)).map_blocks(
            _rings_stack,
            size=size,
            snr=snr,
            ftype=dtype,
            dtype=dtype,
            meta=np.empty((0, 0, 0), dtype=dtype),
        )
    return _rings_stack(data, size, snr, dtype)
