"""A simulated parallel-beam scan that behaves like a measured one, made offline.

Used by *File > Open Sample*, the tests, the benchmarks and the docs, through
:func:`napari_backproject.data.simulated_scan`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SimulatedScan", "simulated_scan"]


@dataclass(frozen=True)
class SimulatedScan:
    """A simulated CT scan with everything a beamline would give, and the truth.

    Attributes
    ----------
    projections : (angle, row, column) uint16 array
        Raw detector counts.
    flats : (n_flats, row, column) uint16 array
        Open-beam frames (no sample).
    darks : (n_darks, row, column) uint16 array
        Frames without beam.
    theta : (angle,) float64 array
        Projection angles in degrees, ``[0, 180)``.
    center : float
        The true rotation axis, in detector pixels (not ``column // 2``).
    volume : (row, column, column) float32 array
        The true attenuation per pixel; FBP of the corrected scan at the
        true centre estimates it.
    beam : (row, column) float64 array
        The noise-free open beam (counts): a perfect flat.
    dark_current : (row, column) float64 array
        The noise-free dark: a perfect dark.
    defects : (k, 2) int array
        ``(row, column)`` of the detector pixels whose gain differs from
        their flat (they draw rings).
    """

    projections: np.ndarray
    flats: np.ndarray
    darks: np.ndarray
    theta: np.ndarray
    center: float
    volume: np.ndarray
    beam: np.ndarray
    dark_current: np.ndarray
    defects: np.ndarray


def _dust(shape: tuple[int, int], rng: np.random.Generator, n: int) -> np.ndarray:
    rr, cc = np.mgrid[: shape[0], : shape[1]].astype(np.float64)
    field = np.ones(shape)
    for _ in range(n):
        r, c = rng.uniform(0, shape[0]), rng.uniform(0, shape[1])
        depth, width = rng.uniform(0.05, 0.25), rng.uniform(1.0, 3.0)
        field *= 1.0 - depth * np.exp(-((rr - r) ** 2 + (cc - c) ** 2) / (2 * width**2))
    return field


def simulated_scan(
    rows: int = 64,
    columns: int = 128,
    n_angles: int = 180,
    *,
    center_offset: float = 3.37,
    photons: float = 10_000.0,
    n_flats: int = 10,
    n_darks: int = 10,
    n_defects: int = 6,
    n_zingers: int = 30,
    max_attenuation: float = 2.0,
    seed: int = 0,
) -> SimulatedScan:
    """Simulate a parallel-beam scan of the 3D phantom, with real-world flaws.

    The phantom (:func:`napari_backproject.data.phantom_stack`) is projected
    row by row over ``[0, 180)`` with the rotation axis ``center_offset``
    pixels right of the detector's centre (shifted by a cubic spline, not
    by this package's own centre shift). The open beam falls off across the
    detector (a gradient) and has dust spots; the detector adds a dark
    current with a fixed pattern; counts are Poisson at ``photons`` per
    pixel of open beam, plus Gaussian read noise; ``n_defects`` pixels have
    a gain 3-8 % off from their flat (rings after reconstruction) and one
    pixel is dead; ``n_zingers`` projection pixels are hit by zingers.

    Parameters
    ----------
    rows, columns : int, optional
        Detector size (default 64 x 128).
    n_angles : int, optional
        Projections over ``[0, 180)`` (default 180).
    center_offset : float, optional
        Rotation axis minus ``columns // 2``, in pixels (default 3.37).
    photons : float, optional
        Mean open-beam counts per pixel (default 10 000, a lab micro-CT).
    n_flats, n_darks : int, optional
        Number of flat and dark frames (default 10 each).
    n_defects, n_zingers : int, optional
        Detector pixels with a wrong gain, and zinger hits.
    max_attenuation : float, optional
        Largest line integral through the sample (default 2, i.e. 13.5 %
        transmission).
    seed : int, optional
        Random seed: the same seed gives the same scan.

    Returns
    -------
    SimulatedScan

    Raises
    ------
    ValueError
        Sizes too small, or an offset that pushes the sample off the
        detector.

    Examples
    --------
    >>> scan = simulated_scan(rows=4, columns=48, n_angles=30)
    >>> scan.projections.shape, scan.projections.dtype, scan.flats.shape
    ((30, 4, 48), dtype('uint16'), (10, 4, 48))
    >>> scan.center, scan.volume.shape
    (27.37, (4, 48, 48))
    """
    from scipy.ndimage import shift as spline_shift

    from ..data import phantom_stack
    from ..tomography import radon

    rows, columns, n_angles = int(rows), int(columns), int(n_angles)
    margin = int(np.ceil(abs(center_offset))) + 4
    inner = columns - 2 * margin
    if rows < 4 or inner < 16 or n_angles < 8:
        raise ValueError(
            f"need rows >= 4, n_angles >= 8 and columns >= 16 + 2 * "
            f"(|center_offset| + 4); got rows={rows}, columns={columns}, "
            f"n_angles={n_angles}, center_offset={center_offset}."
        )
    rng = np.random.default_rng(seed)
    theta = np.linspace(0.0, 180.0, n_angles, endpoint=False)
    center = columns // 2 + float(center_offset)

    phantom = phantom_stack((rows, inner, inner)).astype(np.float64)
    volume = np.zeros((rows, columns, columns))
    volume[:, margin : margin + inner, margin : margin + inner] = phantom
    lines = np.stack([radon(s, theta, preserve_range=True) for s in volume])
    scale = max_attenuation / max(float(lines.max()), 1e-12)
    volume *= scale
    lines *= scale
    # the axis off centre: shift every row's sinogram along the detector
    lines = spline_shift(lines, (0, center_offset, 0), order=3, mode="constant")
    lines = np.clip(lines, 0.0, None).transpose(2, 0, 1)  # (angle, row, column)

    rr = np.linspace(-1, 1, rows)[:, None]
    cc = np.linspace(-1, 1, columns)[None, :]
    beam = photons * (1.0 - 0.25 * cc - 0.08 * rr**2) * _dust((rows, columns), rng, 8)
    dark_current = 100.0 + 4.0 * cc + rng.normal(0.0, 3.0, size=(rows, columns))
    dark_current = np.clip(dark_current, 50.0, None)
    read_noise = 2.0

    gain = np.ones((rows, columns))
    defects = np.stack(
        [
            rng.integers(0, rows, n_defects),
            rng.integers(margin + 4, columns - margin - 4, n_defects),
        ],
        axis=1,
    )
    gain[defects[:, 0], defects[:, 1]] = 1.0 + rng.choice(
        [-1, 1], n_defects
    ) * rng.uniform(0.03, 0.08, n_defects)
    dead = (rows // 2, columns // 3)
    beam_dead = beam.copy()
    beam_dead[dead] = 0.0

    def detector(expected: np.ndarray) -> np.ndarray:
        counts = rng.poisson(expected) + rng.normal(0.0, read_noise, expected.shape)
        return np.clip(np.rint(counts), 0, 65535).astype(np.uint16)

    projections = detector(beam_dead * gain * np.exp(-lines) + dark_current)
    hits = (
        rng.integers(0, n_angles, n_zingers),
        rng.integers(0, rows, n_zingers),
        rng.integers(0, columns, n_zingers),
    )
    projections[hits] = np.clip(
        projections[hits] + photons * rng.uniform(0.3, 1.0, n_zingers), 0, 65535
    ).astype(np.uint16)
    flats = detector(
        np.broadcast_to(beam_dead + dark_current, (n_flats, rows, columns))
    )
    darks = detector(np.broadcast_to(dark_current, (n_darks, rows, columns)))
    return SimulatedScan(
        projections=projections,
        flats=flats,
        darks=darks,
        theta=theta,
        center=center,
        volume=volume.astype(np.float32),
        beam=beam,
        dark_current=dark_current,
        defects=defects,
    )
