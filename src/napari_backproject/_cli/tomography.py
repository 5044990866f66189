"""``napari-backproject sinogram`` and ``napari-backproject reconstruct``.

Both stream a TIFF stack one slice at a time: the input is opened lazily
(:func:`napari_backproject.io.tiff.read_tiff`), transformed lazily
(:func:`napari_backproject.tomography.radon_stack` /
:func:`~napari_backproject.tomography.iradon_stack`) and written chunk by chunk
(:func:`napari_backproject.io.tiff.write_tiff`, under a temporary name, renamed
when complete). A 2D TIFF is treated as a stack of one slice and written 2D.

The sinogram file stores its angles (``theta``) and ``circle`` in its metadata,
so ``reconstruct`` uses the right angles without being told.

Examples
--------
.. code-block:: bash

    napari-backproject sinogram phantom.tif -o sino.tif --angles 180
    napari-backproject reconstruct sino.tif -o fbp.tif --method fbp --filter hann
    napari-backproject reconstruct sino.tif -o sart.tif --method sart --iterations 3
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

from ._common import (
    add_output,
    existing_file,
    output_path,
    progress_bar,
    resolve_output,
)

FILTERS = ("ramp", "shepp-logan", "cosine", "hamming", "hann", "none")
INTERPOLATIONS = ("linear", "nearest", "cubic")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``sinogram`` and ``reconstruct`` subcommands.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> register(parser.add_subparsers())
    >>> parser.parse_args(["sinogram", "a.tif", "-o", "b.tif", "--angles", "9"]).angles
    9
    """
    s = sub.add_parser(
        "sinogram",
        help="Radon transform of a 2D image or a stack (one sinogram per slice)",
        description=(
            "Compute the sinogram (Radon transform) of every slice of a TIFF "
            "image or stack, one slice at a time. The output has shape "
            "(slice, detector, angle) (or (detector, angle) for a 2D image) and "
            "records the angles in its metadata for 'reconstruct'."
        ),
    )
    s.add_argument("input", help="input TIFF: 2D image (Y, X) or stack (Z, Y, X)")
    add_output(s, "output sinogram TIFF")
    s.add_argument(
        "--angles", type=int, required=True, help="number of projections (>= 1)"
    )
    s.add_argument(
        "--angle-range",
        nargs=2,
        type=float,
        default=(0.0, 180.0),
        metavar=("START", "END"),
        help="angles in degrees over [START, END), END excluded (default 0 180)",
    )
    s.add_argument(
        "--no-circle",
        action="store_true",
        help="the object may extend outside the inscribed circle (wider detector)",
    )
    _add_compression(s)
    s.set_defaults(func=run_sinogram)

    r = sub.add_parser(
        "reconstruct",
        help="reconstruct a sinogram (stack) by FBP or SART",
        description=(
            "Reconstruct every sinogram of a TIFF (detector, angle) or "
            "(slice, detector, angle), one slice at a time, by filtered back "
            "projection (fbp) or SART. Angles come from the file's metadata "
            "when it has them (files written by 'sinogram' do), else they are "
            "uniform over [0, 180)."
        ),
    )
    r.add_argument("input", help="input sinogram TIFF")
    add_output(r, "output image TIFF")
    r.add_argument(
        "--method",
        choices=("fbp", "sart"),
        default="fbp",
        help="fbp: filtered back projection (default); sart: iterative SART",
    )
    r.add_argument(
        "--filter",
        choices=FILTERS,
        default=None,
        help="FBP filter (default ramp; 'none' for no filter)",
    )
    r.add_argument(
        "--interpolation",
        choices=INTERPOLATIONS,
        default=None,
        help="FBP interpolation (default linear)",
    )
    r.add_argument(
        "--output-size",
        type=int,
        default=None,
        help="FBP output size in pixels (default: from the detector size)",
    )
    r.add_argument(
        "--circle",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="FBP circle option (default: from the file's metadata, else on)",
    )
    r.add_argument(
        "--iterations", type=int, default=None, help="SART iterations (default 1)"
    )
    r.add_argument(
        "--relaxation", type=float, default=None, help="SART relaxation (default 0.15)"
    )
    r.add_argument(
        "--clip",
        nargs=2,
        type=float,
        default=None,
        metavar=("MIN", "MAX"),
        help="SART: clip the estimate to [MIN, MAX]",
    )
    angles = r.add_mutually_exclusive_group()
    angles.add_argument(
        "--theta-from-file",
        action="store_true",
        help="require the angles stored in the file (error when there are none)",
    )
    angles.add_argument(
        "--angle-range",
        nargs=2,
        type=float,
        default=None,
        metavar=("START", "END"),
        help="ignore stored angles; use angles uniform over [START, END)",
    )
    _add_compression(r)
    r.set_defaults(func=run_reconstruct)


def _add_compression(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--compression",
        choices=("zlib", "zstd", "none"),
        default="zlib",
        help="lossless compression of the output (default zlib)",
    )


def _uniform(n: int, start: float, end: float) -> np.ndarray:
    if n < 1:
        raise ValueError(f"--angles must be >= 1; got {n}.")
    if not (np.isfinite(start) and np.isfinite(end)) or end <= start:
        raise ValueError(
            f"--angle-range must be finite with END > START; got {start} {end}."
        )
    return np.linspace(start, end, n, endpoint=False)


def _open(path: str) -> tuple[Any, dict]:
    from ..io.tiff import read_tiff

    data, md = read_tiff(existing_file(path))
    if data.ndim not in (2, 3):
        raise ValueError(
            f"{path} has shape {tuple(data.shape)}; expected a 2D image or a "
            "3D stack (slices first)."
        )
    if np.dtype(data.dtype).kind not in "biuf":
        raise ValueError(f"{path} has dtype {data.dtype}; expected real numbers.")
    return data, md


def _geometry(md: dict, ndim: int) -> tuple[list[float], list[float]]:
    scale = md.get("scale") or [1.0] * ndim
    translate = md.get("translate") or [0.0] * ndim
    if len(scale) != ndim or len(translate) != ndim:
        scale, translate = [1.0] * ndim, [0.0] * ndim
    return [float(s) for s in scale], [float(t) for t in translate]


def _write(data: Any, path, *, description: str, **kwargs: Any) -> None:
    from ..io.tiff import write_tiff

    update, close = progress_bar(description)
    try:
        write_tiff(data, path, progress=update, **kwargs)
    finally:
        close()


def run_sinogram(args: argparse.Namespace) -> int:
    """Run ``napari-backproject sinogram`` (returns the exit code).

    Raises
    ------
    ValueError, FileNotFoundError
        Bad options or input; ``napari_backproject.cli.main`` prints them.

    Examples
    --------
    >>> from napari_backproject.cli import main
    >>> main(["sinogram", "in.tif", "-o", "sino.tif", "--angles", "180"])  # doctest: +SKIP
    0
    """
    from .. import tomography

    theta = _uniform(args.angles, *args.angle_range)
    data, md = _open(args.input)
    out = output_path(resolve_output(args))
    circle = not args.no_circle
    scale, translate = _geometry(md, data.ndim)
    stack = data if data.ndim == 3 else data[None]
    sino = tomography.radon_stack(stack, theta=theta, circle=circle)
    if data.ndim == 2:
        sino = sino[0]
    step = float(theta[1] - theta[0]) if theta.size > 1 else 1.0
    metadata = {
        "kind": "sinogram",
        "theta": [float(t) for t in theta],
        "circle": circle,
        "angle_range": [float(a) for a in args.angle_range],
        "source": str(args.input),
        "source_shape": [int(s) for s in data.shape[-2:]],
        "source_scale": scale,
        "source_translate": translate,
        "axis_labels": ["slice", "detector", "angle (deg)"][-sino.ndim :],
    }
    _write(
        sino,
        out,
        description="sinogram",
        compression=args.compression,
        metadata=metadata,
        scale=(*scale[:-2], scale[-1], step),
        translate=(*translate[:-2], 0.0, float(theta[0])),
    )
    print(
        f"wrote {out} shape {tuple(sino.shape)} ({theta.size} angles)", file=sys.stderr
    )
    return 0


def _theta(args: argparse.Namespace, md: dict, n_angles: int) -> tuple[np.ndarray, str]:
    if args.angle_range is not None:
        return _uniform(n_angles, *args.angle_range), "uniform"
    stored = md.get("theta")
    if stored is not None:
        theta = np.asarray(stored, dtype=float).ravel()
        if theta.size != n_angles:
            raise ValueError(
                f"{args.input} stores {theta.size} angles but has {n_angles} "
                "projections (last axis); pass --angle-range START END."
            )
        return theta, "metadata"
    if args.theta_from_file:
        raise ValueError(
            f"{args.input} stores no angles (theta) in its metadata; drop "
            "--theta-from-file or pass --angle-range START END."
        )
    return _uniform(n_angles, 0.0, 180.0), "uniform"


def _method_kwargs(args: argparse.Namespace, md: dict) -> dict:
    fbp_only = {
        "--filter": args.filter,
        "--interpolation": args.interpolation,
        "--output-size": args.output_size,
        "--circle/--no-circle": args.circle,
    }
    sart_only = {
        "--iterations": args.iterations,
        "--relaxation": args.relaxation,
        "--clip": args.clip,
    }
    wrong = sart_only if args.method == "fbp" else fbp_only
    given = [name for name, value in wrong.items() if value is not None]
    if given:
        raise ValueError(
            f"{', '.join(given)}: not used by --method {args.method}; "
            "remove it or change --method."
        )
    if args.method == "fbp":
        if args.output_size is not None and args.output_size < 1:
            raise ValueError(f"--output-size must be >= 1; got {args.output_size}.")
        filt = args.filter or "ramp"
        return {
            "filter_name": None if filt == "none" else filt,
            "interpolation": args.interpolation or "linear",
            "output_size": args.output_size,
            "circle": bool(md.get("circle", True))
            if args.circle is None
            else args.circle,
        }
    iterations = 1 if args.iterations is None else args.iterations
    if iterations < 1:
        raise ValueError(f"--iterations must be >= 1; got {iterations}.")
    if args.clip is not None and not args.clip[0] < args.clip[1]:
        raise ValueError(f"--clip needs MIN < MAX; got {args.clip[0]} {args.clip[1]}.")
    return {
        "n_iter": iterations,
        "relaxation": 0.15 if args.relaxation is None else args.relaxation,
        "clip": None if args.clip is None else tuple(args.clip),
    }


def run_reconstruct(args: argparse.Namespace) -> int:
    """Run ``napari-backproject reconstruct`` (returns the exit code).

    Raises
    ------
    ValueError, FileNotFoundError
        Bad options or input; ``napari_backproject.cli.main`` prints them.

    Examples
    --------
    >>> from napari_backproject.cli import main
    >>> main(["reconstruct", "sino.tif", "-o", "rec.tif", "--method", "sart"])  # doctest: +SKIP
    0
    """
    from .. import tomography

    data, md = _open(args.input)
    out = output_path(resolve_output(args))
    kwargs = _method_kwargs(args, md)
    theta, theta_source = _theta(args, md, int(data.shape[-1]))
    scale, translate = _geometry(md, data.ndim)
    stack = data if data.ndim == 3 else data[None]
    image = tomography.iradon_stack(stack, theta=theta, method=args.method, **kwargs)
    if data.ndim == 2:
        image = image[0]
    source_t = md.get("source_translate")
    plane_t = [float(t) for t in source_t[-2:]] if source_t else [0.0, 0.0]
    pixel = scale[-2]
    metadata = {
        "method": args.method,
        **{k: (list(v) if isinstance(v, tuple) else v) for k, v in kwargs.items()},
        "theta": [float(t) for t in theta],
        "theta_source": theta_source,
        "source": str(args.input),
    }
    _write(
        image,
        out,
        description=f"reconstruct ({args.method})",
        compression=args.compression,
        metadata=metadata,
        scale=(*scale[:-2], pixel, pixel),
        translate=(*translate[:-2], *plane_t),
    )
    print(
        f"wrote {out} shape {tuple(image.shape)} ({args.method}, "
        f"{theta.size} angles from {theta_source})",
        file=sys.stderr,
    )
    return 0
