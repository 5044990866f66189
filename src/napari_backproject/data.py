"""Synthetic sample data, generated offline.

The same generators feed File > Open Sample, the tests, the benchmarks and
the demo, so everybody works on identical data.

- :func:`helix_neurite`: a bright tube following a helix in a noisy,
  anisotropic 3D volume, with the points a user would have clicked along it
  and the exact ground-truth tube mask.
- :func:`shepp_logan`: scikit-image's bundled 2D Shepp–Logan phantom.
- :func:`phantom_stack`: a 3D Shepp–Logan-like phantom made of ellipsoids.
- :func:`simulated_scan`: a CT scan of that phantom as a detector records
  it (flats, darks, noise, off-centre axis, defective pixels, zingers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree


@dataclass(frozen=True)
class HelixSample:
    """A synthetic neurite: volume, traced path, ground truth and geometry.

    Attributes
    ----------
    volume : (Z, Y, X) uint8 array
        Noisy volume with a bright tube and distractor blobs.
    points : (n_points, 3) float array
        Ordered points along the tube centre in data (voxel) coordinates.
    mask : (Z, Y, X) uint8 array
        1 where the voxel centre lies within ``radius`` (world units) of the
        helix, else 0.
    scale : tuple of 3 floats
        World size of a voxel (z, y, x).
    radius : float
        Tube radius in world units.
    centre, helix_radius, pitch, t_range
        Helix parameters: world point at parameter ``t`` is
        ``centre + (pitch * t, helix_radius * sin t, helix_radius * cos t)``
        (see :meth:`curve`).
    """

    volume: np.ndarray
    points: np.ndarray
    mask: np.ndarray
    scale: tuple[float, float, float]
    radius: float
    centre: tuple[float, float, float]
    helix_radius: float
    pitch: float
    t_range: tuple[float, float]

    def curve(self, t: np.ndarray) -> np.ndarray:
        """World coordinates (n, 3) of the helix centre line at parameters ``t``."""
        t = np.asarray(t, dtype=np.float64)
        cz, cy, cx = self.centre
        return np.stack(
            [
                cz + self.pitch * t,
                cy + self.helix_radius * np.sin(t),
                cx + self.helix_radius * np.cos(t),
            ],
            axis=-1,
        )


def helix_neurite(
    shape: tuple[int, int, int] = (256, 256, 256),
    scale: tuple[float, float, float] = (2.0, 1.0, 1.0),
    *,
    radius: float = 6.0,
    turns: float = 2.0,
    n_points: int = 12,
    noise: float = 8.0,
    n_blobs: int = 6,
    seed: int = 0,
) -> HelixSample:
    """Make a synthetic neurite: a bright helical tube in a noisy volume.

    The helix runs along z around the volume's centre line. All geometry is
    in world units (voxel index times ``scale``), so the tube is round in the
    world even though voxels are anisotropic.

    Parameters
    ----------
    shape : tuple of 3 ints
        Volume shape (Z, Y, X); each at least 16.
    scale : tuple of 3 floats
        World size of a voxel (z, y, x); all positive.
    radius : float
        Tube radius in world units (> 0).
    turns : float
        Number of helix turns (> 0).
    n_points : int
        Number of ordered path points a user would have clicked (>= 2).
    noise : float
        Standard deviation of the Gaussian background noise (>= 0).
    n_blobs : int
        Number of bright distractor blobs away from the tube (>= 0).
    seed : int
        Random seed; the same seed gives the same sample.

    Returns
    -------
    HelixSample
        volume, points, mask, scale and the helix parameters.

    Examples
    --------
    >>> s = helix_neurite(shape=(32, 48, 48), scale=(2.0, 1.0, 1.0), radius=3)
    >>> s.volume.shape, s.volume.dtype, s.points.shape
    ((32, 48, 48), dtype('uint8'), (12, 3))
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or min(shape) < 16:
        raise ValueError(f"shape must be 3 ints, each >= 16; got {shape}.")
    scale_arr = np.asarray(scale, dtype=np.float64)
    if scale_arr.shape != (3,) or np.any(scale_arr <= 0):
        raise ValueError(f"scale must be 3 positive numbers; got {scale}.")
    if not radius > 0 or not turns > 0:
        raise ValueError(f"radius and turns must be > 0; got {radius}, {turns}.")
    if int(n_points) < 2:
        raise ValueError(f"n_points must be >= 2; got {n_points}.")
    if noise < 0 or n_blobs < 0:
        raise ValueError("noise and n_blobs must be >= 0.")

    rng = np.random.default_rng(seed)
    extent = np.asarray(shape) * scale_arr  # world size
    centre = (0.15 * extent[0], extent[1] / 2.0, extent[2] / 2.0)
    helix_radius = 0.23 * min(extent[1], extent[2])
    t_end = 2.0 * np.pi * turns
    pitch = 0.70 * extent[0] / t_end

    sample = HelixSample(
        volume=np.empty(0),
        points=np.empty((0, 3)),
        mask=np.empty(0),
        scale=tuple(float(s) for s in scale_arr),
        radius=float(radius),
        centre=tuple(float(c) for c in centre),
        helix_radius=float(helix_radius),
        pitch=float(pitch),
        t_range=(0.0, float(t_end)),
    )

    # Dense centre-line samples: nearest-sample distance is within
    # step**2 / (8 * helix_radius) of the true distance to the curve.
    speed = np.hypot(helix_radius, pitch)
    n_dense = int(np.ceil(t_end * speed / 0.1)) + 1
    tree = cKDTree(sample.curve(np.linspace(0.0, t_end, n_dense)))

    volume = np.empty(shape, dtype=np.uint8)
    mask = np.zeros(shape, dtype=np.uint8)
    yy, xx = np.meshgrid(
        np.arange(shape[1]) * scale_arr[1],
        np.arange(shape[2]) * scale_arr[2],
        indexing="ij",
    )
    ring = np.hypot(yy - centre[1], xx - centre[2])
    near_ring = np.abs(ring - helix_radius) <= radius + 2.0 * scale_arr.max()
    iy, ix = np.nonzero(near_ring)
    for z in range(shape[0]):
        plane = rng.normal(20.0, noise, size=shape[1:]).astype(np.float32)
        pts = np.column_stack(
            [np.full(iy.size, z * scale_arr[0]), yy[iy, ix], xx[iy, ix]]
        )
        d, _ = tree.query(pts, distance_upper_bound=radius + 3.0)
        # bright core with a one-unit soft edge
        inten = 200.0 * np.clip(radius + 0.5 - d, 0.0, 1.0)
        inten[~np.isfinite(d)] = 0.0
        plane[iy, ix] += inten
        mask[z, iy[d <= radius], ix[d <= radius]] = 1
        volume[z] = np.clip(np.rint(plane), 0, 255).astype(np.uint8)

    _add_blobs(volume, mask, scale_arr, n_blobs, rng)

    t_pts = np.linspace(0.0, t_end, int(n_points))
    points = sample.curve(t_pts) / scale_arr
    return HelixSample(
        volume=volume,
        points=points,
        mask=mask,
        scale=sample.scale,
        radius=sample.radius,
        centre=sample.centre,
        helix_radius=sample.helix_radius,
        pitch=sample.pitch,
        t_range=sample.t_range,
    )


def _add_blobs(
    volume: np.ndarray,
    mask: np.ndarray,
    scale: np.ndarray,
    n_blobs: int,
    rng: np.random.Generator,
) -> None:
    """Add bright Gaussian blobs that do not touch the tube (in place)."""
    shape = np.asarray(volume.shape)
    placed = 0
    for _ in range(50 * max(n_blobs, 1)):
        if placed >= n_blobs:
            break
        sigma = rng.uniform(3.0, 6.0)  # world units
        centre = rng.uniform(0.1, 0.9, size=3) * shape * scale
        half = np.ceil(3 * sigma / scale).astype(int)
        c_vox = np.round(centre / scale).astype(int)
        lo = np.maximum(c_vox - half, 0)
        hi = np.minimum(c_vox + half + 1, shape)
        box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
        if mask[box].any():
            continue
        grids = np.meshgrid(
            *[
                np.arange(a, b) * s - c
                for a, b, s, c in zip(lo, hi, scale, centre, strict=True)
            ],
            indexing="ij",
        )
        r2 = sum(g * g for g in grids)
        blob = 150.0 * np.exp(-r2 / (2 * sigma * sigma))
        volume[box] = np.clip(volume[box] + blob, 0, 255).astype(np.uint8)
        placed += 1


def shepp_logan(size: int | None = None) -> np.ndarray:
    """scikit-image's bundled 2D Shepp–Logan phantom (float64, 0..1).

    Parameters
    ----------
    size : int, optional
        Resample to ``(size, size)`` (anti-aliased); default keeps 400 x 400.

    Examples
    --------
    >>> shepp_logan(64).shape
    (64, 64)
    """
    from skimage.data import shepp_logan_phantom

    image = shepp_logan_phantom()
    if size is None:
        return image
    if int(size) < 8:
        raise ValueError(f"size must be >= 8; got {size}.")
    from skimage.transform import resize

    return resize(image, (int(size), int(size)), anti_aliasing=True)


# 3D Shepp-Logan-like ellipsoids (Kak & Slaney layout, modified contrasts):
# centre (x, y, z), semi-axes (a, b, c), rotation about z in degrees, value.
_ELLIPSOIDS = np.array(
    [
        [0.0, 0.0, 0.0, 0.69, 0.92, 0.90, 0.0, 1.0],
        [0.0, -0.0184, 0.0, 0.6624, 0.874, 0.88, 0.0, -0.8],
        [0.22, 0.0, -0.25, 0.11, 0.31, 0.22, -18.0, -0.2],
        [-0.22, 0.0, -0.25, 0.16, 0.41, 0.28, 18.0, -0.2],
        [0.0, 0.35, -0.25, 0.21, 0.25, 0.41, 0.0, 0.1],
        [0.0, 0.1, -0.25, 0.046, 0.046, 0.05, 0.0, 0.1],
        [0.0, -0.1, -0.25, 0.046, 0.046, 0.05, 0.0, 0.1],
        [-0.08, -0.605, -0.25, 0.046, 0.023, 0.05, 0.0, 0.1],
        [0.0, -0.605, -0.25, 0.023, 0.023, 0.02, 0.0, 0.1],
        [0.06, -0.605, -0.25, 0.023, 0.046, 0.02, 0.0, 0.1],
    ]
)


def phantom_stack(shape: tuple[int, int, int] = (64, 128, 128)) -> np.ndarray:
    """A 3D Shepp–Logan-like phantom of ellipsoids, as a stack of slices.

    Every slice is zero outside its inscribed circle, so it can be
    transformed with ``circle=True``.

    Parameters
    ----------
    shape : tuple of 3 ints
        (slices, rows, columns); each at least 4.

    Returns
    -------
    (slices, rows, columns) float32 array with values in [0, 1].

    Examples
    --------
    >>> vol = phantom_stack((8, 32, 32))
    >>> vol.shape, vol.dtype
    ((8, 32, 32), dtype('float32'))
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or min(shape) < 4:
        raise ValueError(f"shape must be 3 ints, each >= 4; got {shape}.")
    nz, ny, nx = shape
    z = np.linspace(-1.0, 1.0, nz, dtype=np.float64)[:, None, None]
    # image rows run top to bottom; y increases upwards as in the 2D phantom
    y = np.linspace(1.0, -1.0, ny, dtype=np.float64)[None, :, None]
    x = np.linspace(-1.0, 1.0, nx, dtype=np.float64)[None, None, :]
    vol = np.zeros(shape, dtype=np.float64)
    for x0, y0, z0, a, b, c, phi, value in _ELLIPSOIDS:
        cp, sp = np.cos(np.radians(phi)), np.sin(np.radians(phi))
        xr = (x - x0) * cp + (y - y0) * sp
        yr = -(x - x0) * sp + (y - y0) * cp
        inside = (xr / a) ** 2 + (yr / b) ** 2 + ((z - z0) / c) ** 2 <= 1.0
        vol += value * inside
    # keep every slice zero outside its inscribed circle
    r2 = x**2 + y**2
    vol *= r2 <= 0.98
    return np.clip(vol, 0.0, 1.0).astype(np.float32)


# the simulated CT scan lives with the CT code; it is a sample like the others
from ._ct.simulate import SimulatedScan, simulated_scan  # noqa: E402, F401
