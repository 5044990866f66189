"""Straighten benchmarks: our numba kernel against scipy.ndimage.map_coordinates.

Full size: the 512^3 uint8 helix neurite (isotropic voxels), W = H = 100,
spacing 1 voxel (~1,520 planes). The reference gets *exactly* the same
sample coordinates (``geometry.voxel_coordinates()``, computed untimed in
setup); our timing includes fitting the curve and the frames.

Optional huge case (not in default runs): set ``NB_BENCH_HUGE=1`` to write a
2048^3 uint8 (8 GiB) tiff in a temporary folder, straighten it lazily and
write the result, reporting peak RSS.
"""

from __future__ import annotations

import os
import resource
import tempfile

import numpy as np
from scipy import ndimage as ndi

from benchmarks.harness import Case

_STATE: dict = {}


def _sample(quick: bool):
    key = ("sample", quick)
    if key not in _STATE:
        from napari_backproject.data import helix_neurite

        shape = (64, 64, 64) if quick else (512, 512, 512)
        s = helix_neurite(shape=shape, scale=(1.0, 1.0, 1.0), n_points=12, seed=0)
        _STATE[key] = s
    return _STATE[key]


def _size(quick: bool) -> int:
    return 20 if quick else 100


def _geometry(quick: bool):
    key = ("geometry", quick)
    if key not in _STATE:
        from napari_backproject.straighten import straighten

        s = _sample(quick)
        w = _size(quick)
        out, g = straighten(s.volume, s.points, width=w, height=w, scale=s.scale)
        _STATE[key] = (out, g, g.voxel_coordinates())
    return _STATE[key]


def _peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def cases(quick: bool) -> list[Case]:
    from napari_backproject.straighten import straighten

    w = _size(quick)
    res: dict = {}

    def ours(order=1):
        def run():
            s = _sample(quick)
            res[("ours", order)] = straighten(
                s.volume, s.points, width=w, height=w, scale=s.scale, order=order
            )[0]

        return run

    def ours_one_thread():
        import numba

        s = _sample(quick)
        old = numba.get_num_threads()
        numba.set_num_threads(1)
        try:
            res[("ours", 1)] = straighten(
                s.volume, s.points, width=w, height=w, scale=s.scale
            )[0]
        finally:
            numba.set_num_threads(old)

    def ours_float():
        s = _sample(quick)
        res["ours_f32"] = straighten(
            s.volume, s.points, width=w, height=w, scale=s.scale, dtype=np.float32
        )[0]

    def ref(order):
        def run():
            s = _sample(quick)
            coords = _geometry(quick)[2]
            res[("ref", order)] = ndi.map_coordinates(
                s.volume, coords, order=order, mode="constant", cval=0
            )

        return run

    def ref_float(order):
        def run():
            s = _sample(quick)
            coords = _geometry(quick)[2]
            res[("reff", order)] = ndi.map_coordinates(
                s.volume,
                coords,
                order=order,
                mode="constant",
                cval=0,
                output=np.float32,
            )

        return run

    def setup():
        _sample(quick)
        _geometry(quick)

    def note(kind):
        def make():
            g = _geometry(quick)[1]
            n = g.n_slices * g.width * g.height
            if kind == "u8":
                a, b = res[("ours", 1)], res[("ref", 1)]
                diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
                extra = f"max|diff| {int(diff.max())} (uint8 rounding), "
            elif kind == "o0":
                a, b = res[("ours", 0)], res[("ref", 0)]
                extra = f"identical: {bool(np.array_equal(a, b))}, "
            elif kind == "f32":
                a, b = res["ours_f32"], res[("reff", 1)]
                extra = f"max|diff| {float(np.abs(a - b).max()):.2g}, "
            else:  # cubic
                a, b = res["ours_f32"], res[("reff", 3)]
                extra = f"RMS(trilinear - cubic) {float(np.sqrt(np.mean((a - b) ** 2))):.2f}, "
            return (
                f"{g.n_slices} planes of {g.height}x{g.width}, "
                f"{n / 1e6:.1f} M samples; {extra}peak RSS {_peak_rss_gib():.2f} GiB"
            )

        return make

    size = "64^3, W=H=20" if quick else "512^3, W=H=100"
    reps = 3 if quick else 3
    out = [
        Case(
            name=f"straighten uint8 {size}, order 1",
            ours=ours(1),
            reference=ref(1),
            reference_name="scipy map_coordinates(order=1), same coords",
            setup=setup,
            repeats=reps,
            notes=note("u8"),
        ),
        Case(
            name=f"straighten uint8 {size}, order 1, ONE numba thread",
            ours=ours_one_thread,
            reference=ref(1),
            reference_name="scipy map_coordinates(order=1), same coords",
            setup=setup,
            repeats=reps,
            notes=note("u8"),
        ),
        Case(
            name=f"straighten float32 out {size}, order 1",
            ours=ours_float,
            reference=ref_float(1),
            reference_name="scipy map_coordinates(order=1, output=float32)",
            setup=setup,
            repeats=reps,
            notes=note("f32"),
        ),
        Case(
            name=f"straighten float32 out {size} vs cubic",
            ours=ours_float,
            reference=ref_float(3),
            reference_name="scipy map_coordinates(order=3, default), same coords",
            setup=setup,
            repeats=2 if not quick else reps,
            notes=note("cubic"),
        ),
        Case(
            name=f"straighten uint8 {size}, order 0 (labels)",
            ours=ours(0),
            reference=ref(0),
            reference_name="scipy map_coordinates(order=0)",
            setup=setup,
            repeats=reps,
            notes=note("o0"),
        ),
    ]
    out.append(_lazy_case(quick, w))
    if os.environ.get("NB_BENCH_HUGE") == "1" and not quick:
        out.append(_huge_case())
    return out


def _lazy_case(quick: bool, w: int) -> Case:
    """Lazy: dask input, compute the dask result (threaded scheduler)."""
    import dask.array as da

    from napari_backproject.straighten import straighten

    def run():
        s = _sample(quick)
        vol = da.from_array(
            s.volume, chunks=(64, 64, 64) if not quick else (16, 16, 16)
        )
        lazy, _ = straighten(vol, s.points, width=w, height=w, scale=s.scale)
        lazy.compute()

    def eager():
        s = _sample(quick)
        straighten(s.volume, s.points, width=w, height=w, scale=s.scale)

    return Case(
        name="straighten lazy (dask in, 64^3 chunks) vs eager NumPy"
        if not quick
        else "straighten lazy (dask in) vs eager NumPy",
        ours=run,
        reference=eager,
        reference_name="straighten on the NumPy array",
        repeats=3,
        notes="ratio < 1 means lazy is slower (overhead of reading boxes)",
    )


def _huge_case() -> Case:  # pragma: no cover - opt-in only
    """2048^3 uint8 (8 GiB) tiff, straightened lazily and written to tiff."""
    import dask.array as da

    from napari_backproject.io.tiff import read_tiff, write_tiff
    from napari_backproject.straighten import straighten

    tmp = tempfile.mkdtemp(prefix="nb_huge_")
    src = os.path.join(tmp, "huge.tif")
    n = 2048
    t = np.linspace(0, 4 * np.pi, 12)
    points = np.c_[
        100 + (n - 200) * t / t[-1],
        n / 2 + 0.3 * n * np.sin(t),
        n / 2 + 0.3 * n * np.cos(t),
    ]

    def setup():
        if not os.path.exists(src):

            def block(block_id=None):
                rng = np.random.default_rng(block_id[0])  # one generator per block
                return rng.integers(0, 255, (16, n, n), dtype=np.uint8)

            vol = da.map_blocks(
                block,
                chunks=((16,) * (n // 16), (n,), (n,)),
                dtype=np.uint8,
                meta=np.empty((0, 0, 0), np.uint8),
            )
            write_tiff(vol, src, compression="none", tile=(256, 256))

    def run():
        data, _ = read_tiff(src)
        lazy, _ = straighten(data, points, width=100, height=100)
        write_tiff(lazy, os.path.join(tmp, "out.tif"))

    return Case(
        name="straighten 2048^3 uint8 tiff (8 GiB) lazily -> tiff",
        ours=run,
        reference=None,
        reference_name="",
        setup=setup,
        repeats=1,
        notes=lambda: f"peak RSS {_peak_rss_gib():.2f} GiB (target < 1.5)",
    )
