"""File > Open Sample contributions: thin wrappers around :mod:`.data`."""

from __future__ import annotations

import numpy as np

from . import data


def helix_layers(sample: data.HelixSample) -> list[tuple]:
    """Layer data tuples (image, ground-truth labels, ordered path points)."""
    scale = tuple(sample.scale)
    order = np.arange(len(sample.points))
    return [
        (
            sample.volume,
            {
                "name": "helix",
                "scale": scale,
                "colormap": "gray",
                "contrast_limits": (40, 230),
            },
            "image",
        ),
        (
            sample.mask,
            {
                "name": "helix ground truth",
                "scale": scale,
                "opacity": 0.35,
                "visible": False,
            },
            "labels",
        ),
        (
            sample.points,
            {
                "name": "helix path",
                "scale": scale,
                "size": 8,
                "face_color": "orange",
                "features": {"order": order},
                "text": {"string": "{order}", "color": "white", "size": 10},
            },
            "points",
        ),
    ]


def helix_neurite_sample() -> list[tuple]:
    """Synthetic helix neurite: volume, ground-truth tube and path points."""
    return helix_layers(data.helix_neurite())


def shepp_logan_sample() -> list[tuple]:
    """scikit-image's 2D Shepp–Logan phantom."""
    return [(data.shepp_logan(), {"name": "Shepp-Logan phantom"}, "image")]


def phantom_stack_sample() -> list[tuple]:
    """A 64-slice 3D Shepp–Logan-like phantom for stack reconstruction."""
    return [(data.phantom_stack(), {"name": "phantom stack"}, "image")]


def ct_scan_layers(scan: data.SimulatedScan) -> list[tuple]:
    """Layer data tuples of a simulated scan: projections, flats, darks, truth."""
    labels = ("angle", "row", "column")
    meta = {"theta": scan.theta.tolist(), "simulated_center": scan.center}
    return [
        (
            scan.projections,
            {"name": "scan projections", "metadata": meta, "axis_labels": labels},
            "image",
        ),
        (scan.flats, {"name": "scan flats", "axis_labels": labels}, "image"),
        (scan.darks, {"name": "scan darks", "axis_labels": labels}, "image"),
        (
            scan.volume,
            {"name": "scan true volume", "visible": False, "colormap": "gray"},
            "image",
        ),
    ]


def ct_scan_sample() -> list[tuple]:
    """A simulated CT scan: projections with flats, darks, angles and the truth."""
    return ct_scan_layers(data.simulated_scan())
