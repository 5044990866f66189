"""``napari-backproject straighten``: straighten a TIFF volume along a path file.

The volume is opened lazily (:func:`napari_backproject.io.tiff.read_tiff`),
straightened lazily (:func:`napari_backproject.straighten.straighten`) and
written chunk by chunk with its geometry
(:func:`napari_backproject.straighten.save_straightened`): ``OUT.tif`` plus
``OUT.geometry.json``. Files are written under a temporary name and renamed
when complete.

Examples
--------
.. code-block:: bash

    napari-backproject straighten volume.tif --path points.csv \\
        --width 40 --height 40 -o straightened.tif
"""

from __future__ import annotations

import argparse

from ._common import existing_file, output_path, progress_bar

COMPRESSIONS = ("zlib", "zstd", "none")


def _positive(kind):
    def convert(text: str):
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0; got {text}")
        return value

    return convert


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``straighten`` subcommand."""
    p = sub.add_parser(
        "straighten",
        help="resample a volume on planes along a traced path",
        description=(
            "Straighten a 3D TIFF volume along a path: the volume is resampled "
            "on planes perpendicular to a smooth curve through the path's "
            "points. Writes OUT.tif (slice, v, u) and OUT.geometry.json, the "
            "geometry 'backproject' needs. The path file holds the ordered "
            "points in the volume's voxel coordinates (z, y, x): a CSV (plain "
            "z,y,x columns or a napari Points CSV) or a JSON list."
        ),
    )
    p.add_argument(
        "volume", help="input volume: 3D TIFF or OME-Zarr (Z, Y, X), read lazily"
    )
    p.add_argument(
        "--level",
        type=int,
        default=0,
        help="resolution level of an OME-Zarr pyramid to sample (0 finest, "
        "default; negative counts from the coarsest); the path stays in level "
        "0 voxel coordinates and is moved to the level through world "
        "coordinates",
    )
    p.add_argument(
        "--path",
        default=None,
        help="ordered path points (.csv or .json), voxel coordinates z, y, x; "
        "or a Neuroglancer state (.json) with a point-annotation layer",
    )
    p.add_argument("--width", type=_positive(int), default=None, help="pixels (u)")
    p.add_argument("--height", type=_positive(int), default=None, help="pixels (v)")
    p.add_argument(
        "--ouroboros-options",
        default=None,
        metavar="F",
        help="an Ouroboros <name>-slice-options.json: width, height, spacing, "
        "closed and (unless --path) the points of its Neuroglancer state; "
        "options given here win",
    )
    p.add_argument(
        "--spacing",
        type=_positive(float),
        default=None,
        help="world distance between pixels and planes (default: smallest voxel size)",
    )
    p.add_argument(
        "--order",
        type=int,
        choices=(0, 1),
        default=1,
        help="0 nearest (labels), 1 trilinear (default)",
    )
    p.add_argument(
        "--scale",
        type=_positive(float),
        nargs=3,
        metavar=("SZ", "SY", "SX"),
        default=None,
        help="voxel size (z y x); default the file's metadata, else 1 1 1",
    )
    p.add_argument(
        "--translate",
        type=float,
        nargs=3,
        metavar=("TZ", "TY", "TX"),
        default=None,
        help="world position of voxel 0 (z y x); default the file's, else 0 0 0",
    )
    p.add_argument(
        "--smoothing",
        type=float,
        default=0.0,
        help="0 interpolates the points (default); > 0 fits a smoothing spline",
    )
    p.add_argument("--closed", action="store_true", help="the path is a closed loop")
    p.add_argument(
        "--roll",
        type=float,
        default=0.0,
        help="rotation of the planes about the tangent, degrees (default 0)",
    )
    p.add_argument(
        "--compression",
        choices=COMPRESSIONS,
        default="zlib",
        help="lossless compression of the output (default zlib)",
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="output TIFF (OUT.tif), or OME-Zarr (OUT.zarr) pyramid",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing .zarr output (TIFF outputs are replaced anyway)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Straighten ``args.volume`` along ``args.path`` and write the result."""
    from ..io.ome_zarr import is_ome_zarr_path, read_volume
    from ..io.ouroboros import straighten_cli_defaults
    from ..io.paths import read_path
    from ..straighten import save_straightened, straighten

    volume_file = existing_file(args.volume)
    out = output_path(args.output)
    straighten_cli_defaults(args)  # fills path/width/height/... from Ouroboros
    path_file = existing_file(args.path)
    if args.smoothing < 0:
        raise ValueError(f"--smoothing must be >= 0; got {args.smoothing}.")
    level = int(args.level)
    if level and not is_ome_zarr_path(volume_file):
        raise ValueError(
            f"--level {level}: {volume_file} is not an OME-Zarr pyramid (.zarr); "
            "a TIFF has one level (0)."
        )
    volume, meta = read_volume(volume_file, level=level)
    if volume.ndim != 3:
        raise ValueError(
            f"{volume_file} has shape {tuple(volume.shape)}; straighten needs a "
            "3D volume (Z, Y, X)."
        )
    scale = args.scale if args.scale is not None else meta.get("scale")
    translate = args.translate if args.translate is not None else meta.get("translate")
    if args.spacing_voxels:  # Ouroboros's distance between slices, in voxels
        args.spacing = args.spacing_voxels * min(scale or (1.0,))
    points = args.points if args.points is not None else read_path(path_file)
    if level:  # the path is in level-0 voxels: move it to the level's
        from ..multiscale import path_to_level

        _, md0 = read_volume(volume_file, level=0)
        points = path_to_level(
            points,
            md0["scale"],
            md0["translate"],
            meta["scale"],
            meta["translate"],
        )
    data, geometry = straighten(
        volume,
        points,
        width=args.width,
        height=args.height,
        spacing=args.spacing,
        scale=scale,
        translate=translate,
        order=args.order,
        smoothing=args.smoothing,
        closed=args.closed,
        roll=args.roll,
    )
    update, close = progress_bar("straighten")
    try:
        kw = {"overwrite": True} if args.overwrite else {}
        tif, json_path = save_straightened(
            out, data, geometry, compression=args.compression, progress=update, **kw
        )
    finally:
        close()
    n, h, w = geometry.straightened_shape
    print(f"wrote {tif} ({n} x {h} x {w} {data.dtype}, spacing {geometry.spacing:g})")
    print(f"wrote {json_path}")
    return 0
