"""``napari-backproject backproject``: put a straightened segmentation back.

The segmentation is opened lazily (:func:`napari_backproject.io.tiff.
read_tiff`) and backprojected slab by slab straight into the output file
(:func:`napari_backproject.backproject.write_backprojection`), which is
written under a temporary name and renamed when complete. The output's
metadata holds the bounding-box ``offset``, ``scale`` and ``translate``, so
napari (and the plugin's reader) put it exactly on the source volume.

Examples
--------
.. code-block:: bash

    napari-backproject backproject seg.tif --geometry straightened.geometry.json \\
        -o backprojected.tif --extent full --compression zstd
"""

from __future__ import annotations

import argparse

from ._common import existing_file, output_path, progress_bar

COMPRESSIONS = ("zlib", "zstd", "none")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``backproject`` subcommand."""
    p = sub.add_parser(
        "backproject",
        help="put a segmentation of a straightened volume back into the source space",
        description=(
            "Backproject SEG.tif (slice, v, u), made on a straightened volume, "
            "into the coordinate space of the source volume, using the geometry "
            "JSON written by 'straighten'. Writes a (Big)TIFF (or a folder of "
            "per-plane TIFFs) whose metadata places it on the source."
        ),
    )
    p.add_argument("segmentation", help="straightened data: 3D TIFF (slice, v, u)")
    p.add_argument(
        "--geometry",
        default=None,
        help=(
            "geometry JSON written by 'straighten' (OUT.geometry.json); optional "
            "when SEG.tif itself was written by 'straighten'"
        ),
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="output TIFF (or folder), OME-Zarr OUT.zarr, or IMAGE.zarr/labels/NAME "
        "(a label image in the labels group of the OME-Zarr image IMAGE.zarr)",
    )
    p.add_argument(
        "--target",
        default=None,
        metavar="IMAGE.zarr",
        help="fill the grid of a level of this OME-Zarr image (e.g. the source "
        "pyramid, when the stack was straightened at a coarser level); default "
        "the grid recorded in the geometry",
    )
    p.add_argument(
        "--target-level",
        type=int,
        default=0,
        help="level of --target to fill (0 finest, default)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing .zarr output (TIFF outputs are replaced anyway)",
    )
    p.add_argument(
        "--extent",
        choices=("bbox", "full"),
        default="bbox",
        help="bbox: minimum bounding box (default); full: whole source volume",
    )
    p.add_argument(
        "--method",
        choices=("pull", "splat"),
        default="pull",
        help="pull: exact inverse mapping (default); splat: Ouroboros-style",
    )
    p.add_argument(
        "--order",
        type=int,
        choices=(0, 1),
        default=1,
        help="1: label-weight / trilinear interpolation (default); 0: nearest",
    )
    p.add_argument(
        "--binary", action="store_true", help="write foreground (!= 0) as uint8 0/1"
    )
    p.add_argument(
        "--compression",
        choices=COMPRESSIONS,
        default="zlib",
        help="lossless compression of the output (default zlib)",
    )
    p.add_argument(
        "--folder",
        action="store_true",
        help="write a folder of one TIFF per z plane instead of one file",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Backproject ``args.segmentation`` and write ``args.output``."""
    from ..backproject import placement, write_backprojection
    from ..io.ome_zarr import is_ome_zarr_path, read_ome_zarr, read_volume
    from ..multiscale import retarget
    from ..slice_geometry import SliceGeometry

    seg_file = existing_file(args.segmentation)
    out = output_path(args.output)
    data, meta = read_volume(seg_file)
    if args.geometry is not None:
        geometry = SliceGeometry.from_json(existing_file(args.geometry))
    elif isinstance(meta.get("geometry"), dict):
        geometry = SliceGeometry.from_dict(meta["geometry"])
    else:
        raise ValueError(
            f"{seg_file} carries no geometry; pass --geometry OUT.geometry.json "
            "(written by 'napari-backproject straighten')."
        )
    if tuple(data.shape) != geometry.straightened_shape:
        raise ValueError(
            f"{seg_file} has shape {tuple(data.shape)} but the geometry describes "
            f"{geometry.straightened_shape} (slice, v, u); use the geometry JSON "
            "written with the straightened volume this segmentation was made on."
        )
    target = None
    if args.target is not None:
        target_file = existing_file(args.target)
        if not is_ome_zarr_path(target_file):
            raise ValueError(
                f"--target {target_file}: give an OME-Zarr image (.zarr) whose "
                "level grid to fill."
            )
        levels, md = read_ome_zarr(target_file, level=args.target_level)
        target = (levels[0].shape, md["scale"][0], md["translate"][0])
        geometry = retarget(geometry, target)  # checks the overlap now
    elif args.target_level:
        raise ValueError("--target-level needs --target IMAGE.zarr.")
    update, close = progress_bar("backproject")
    try:
        path, offset = write_backprojection(
            data,
            geometry,
            out,
            extent=args.extent,
            method=args.method,
            order=args.order,
            binary=args.binary,
            compression=args.compression,
            folder=args.folder,
            overwrite=args.overwrite,
            progress=update,
        )
    finally:
        close()
    place = placement(geometry, offset)
    print(
        f"wrote {path} (offset {list(offset)}, scale {place['scale']}, "
        f"translate {place['translate']})"
    )
    return 0
