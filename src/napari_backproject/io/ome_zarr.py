"""OME-Zarr multiscale pyramids in and out (via ome-zarr-py and zarr).

:func:`read_ome_zarr` opens an OME-Zarr image (NGFF v0.4 on zarr v2, or
v0.5 on zarr v3) with ome-zarr-py's reader and returns the levels as lazy
dask arrays, finest first (napari's multiscale convention), with each
level's ``scale`` and ``translate`` from its ``coordinateTransformations``.

:func:`write_ome_zarr` writes a 3D array as a chunked, compressed NGFF v0.5
pyramid, chunk by chunk (memory bounded by a block of chunks), under a
temporary name renamed when complete. The coarser levels are computed from
the level just written (read back from the store), so the input is computed
once. Images are averaged (mean of 2x2x2 blocks, translation shifted by half
a fine voxel, as ome-zarr-py does); labels are subsampled (nearest: the
first voxel of each block), so no label value is ever invented. The
multiscales metadata is written by ome-zarr-py
(:func:`ome_zarr.writer.write_multiscales_metadata`).

With a ``dask.distributed`` client active, each level is stored by the
workers (``dask.array.store`` on chunk-aligned blocks): every worker writes
its own chunks and nothing is gathered through the client.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from .._progress import ProgressCallback, report
from ._blocks import is_dask, iter_blocks

__all__ = [
    "read_ome_zarr",
    "read_volume",
    "write_ome_zarr",
    "is_ome_zarr_path",
    "METADATA_KEY",
]

#: Group attribute under which our own metadata (kind, geometry, ...) lives.
METADATA_KEY = "napari_backproject"
_KINDS = ("image", "labels")
_AXES = ("z", "y", "x")


def is_ome_zarr_path(path: Any) -> bool:
    """True when ``path`` names a ``.zarr`` folder (what we write as OME-Zarr).

    A label image inside an image, ``image.zarr/labels/NAME``, counts too
    (see :func:`label_target`).

    Examples
    --------
    >>> is_ome_zarr_path("out.zarr"), is_ome_zarr_path("out.ome.zarr/"), is_ome_zarr_path("a.tif")
    (True, True, False)
    >>> is_ome_zarr_path("scan.zarr/labels/seg")
    True
    """
    return (
        str(path).rstrip("/\\").lower().endswith(".zarr")
        or label_target(path) is not None
    )


def label_target(path: Any) -> tuple[Path, str] | None:
    """``(image_path, name)`` when ``path`` is ``IMAGE.zarr/labels/NAME``, else None.

    That is where NGFF keeps the label images of an image: writing to such a
    path puts a label pyramid into the image's ``labels`` group.

    Examples
    --------
    >>> label_target("scan.zarr/labels/seg")
    (PosixPath('scan.zarr'), 'seg')
    >>> label_target("seg.zarr") is None
    True
    """
    p = Path(str(path).rstrip("/\\"))
    if (
        p.parent.name == "labels"
        and p.parent.parent.name.lower().endswith(".zarr")
        and p.name
        and not p.name.startswith(".")
    ):
        return p.parent.parent, p.name
    return None


# ---------------------------------------------------------------- reading
def _multiscales(attrs: dict) -> list | None:
    ome = attrs.get("ome")
    if isinstance(ome, dict) and "multiscales" in ome:
        return ome["multiscales"]
    return attrs.get("multiscales")


def _transform(cts: list, n: int) -> tuple[list[float], list[float]]:
    scale, translate = [1.0] * n, [0.0] * n
    for t in cts or ():
        if t.get("type") == "scale" and "scale" in t:
            scale = [float(v) for v in t["scale"]]
        elif t.get("type") == "translation" and "translation" in t:
            translate = [float(v) for v in t["translation"]]
    return scale, translate


def read_ome_zarr(
    path: str | os.PathLike, *, level: int | None = None
) -> tuple[list[Any], dict]:
    """Open an OME-Zarr image as lazy dask arrays, finest level first.

    Parameters
    ----------
    path : str or PathLike
        The ``.zarr`` folder holding a ``multiscales`` image (NGFF v0.4 or
        v0.5, zarr v2 or v3 store).
    level : int, optional
        Return only this level (negative counts from the coarsest).

    Returns
    -------
    levels : list of dask.array.Array
        All levels (or the one chosen), finest first.
    metadata : dict
        ``scale`` and ``translate`` (one list per returned level),
        ``axes`` (names), ``units`` (one per axis, or None), ``name``,
        ``version`` and whatever we stored under ``napari_backproject``
        (``kind``, ``geometry``, ``offset``, ...).

    Raises
    ------
    FileNotFoundError
        The path does not exist.
    ValueError
        Not a zarr group, or a group without OME ``multiscales`` metadata
        (the message says what is missing), or ``level`` out of range.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "a.zarr")
    >>> _ = write_ome_zarr(np.ones((8, 8, 8), np.uint8), p, scale=(1, 1, 1), levels=2)
    >>> levels, md = read_ome_zarr(p)
    >>> [lv.shape for lv in levels], md["scale"][1]
    ([(8, 8, 8), (4, 4, 4)], [2.0, 2.0, 2.0])
    """
    import zarr
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Multiscales, Reader

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such OME-Zarr folder: {path}")
    try:
        group = zarr.open_group(str(path), mode="r")
    except Exception as exc:
        raise ValueError(
            f"{path} is not a zarr group ({exc}); an OME-Zarr image is a folder "
            "with a zarr.json (zarr v3) or .zgroup/.zattrs (zarr v2)."
        ) from None
    attrs = dict(group.attrs)
    ms = _multiscales(attrs)
    if not ms:
        keys = sorted(attrs.get("ome", attrs))
        raise ValueError(
            f"{path} is a zarr group but not an OME-Zarr image: its attributes "
            f"have no 'multiscales' (found {keys or 'no attributes'}). Open an "
            "image group (one with 'multiscales'), or convert the data first."
        )
    loc = parse_url(str(path), mode="r")
    if loc is None:  # pragma: no cover - checked above
        raise ValueError(f"{path}: ome-zarr-py cannot open this location.")
    nodes = [n for n in Reader(loc)() if n.load(Multiscales) is not None]
    # a label image's reader also yields its parent image: keep this group's
    own = [n for n in nodes if n.zarr.basename() == loc.basename()]
    if not (own or nodes):
        raise ValueError(f"{path}: ome-zarr-py found no multiscale image in it.")
    node = (own or nodes)[0]
    data = list(node.data)
    md_in = node.metadata
    axes = [a["name"] if isinstance(a, dict) else str(a) for a in md_in["axes"]]
    units = [a.get("unit") if isinstance(a, dict) else None for a in md_in["axes"]]
    cts = md_in.get("coordinateTransformations") or [[] for _ in data]
    sc_tr = [_transform(ct, len(axes)) for ct in cts]
    ours = dict(attrs.get(METADATA_KEY, {}))
    version = (
        attrs["ome"].get("version")
        if isinstance(attrs.get("ome"), dict)
        else ms[0].get("version")
    )
    if level is not None:
        n = len(data)
        if not -n <= int(level) < n:
            raise ValueError(
                f"level {level} is out of range: {path} has {n} level(s), "
                f"0 (finest) to {n - 1} (coarsest)."
            )
        k = int(level) % n
        data, sc_tr = [data[k]], [sc_tr[k]]
    md = {
        **ours,
        "scale": [s for s, _ in sc_tr],
        "translate": [t for _, t in sc_tr],
        "axes": axes,
        "units": units if any(u is not None for u in units) else None,
        "name": md_in.get("name"),
        "version": version,
    }
    return data, md


def read_volume(path: str | os.PathLike, *, level: int = 0) -> tuple[Any, dict]:
    """One lazy 3D volume and flat metadata from a TIFF or an OME-Zarr.

    For ``.zarr``: the chosen level of :func:`read_ome_zarr`, with that
    level's ``scale`` and ``translate`` (plain lists) in the metadata; for
    anything else :func:`napari_backproject.io.tiff.read_tiff`.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "v.zarr")
    >>> _ = write_ome_zarr(np.ones((8, 8, 8), np.uint8), p, levels=2)
    >>> v, md = read_volume(p, level=1)
    >>> v.shape, md["scale"]
    ((4, 4, 4), [2.0, 2.0, 2.0])
    """
    if not is_ome_zarr_path(path):
        from .tiff import read_tiff

        return read_tiff(path)
    levels, md = read_ome_zarr(path, level=level)
    flat = dict(md)
    flat["scale"], flat["translate"] = md["scale"][0], md["translate"][0]
    return levels[0], flat


# ---------------------------------------------------------------- writing
def _ome_writer() -> Any:
    """``ome_zarr.writer``, imported without its Scaler deprecation warning."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Call to deprecated class Scaler")
        import ome_zarr.writer

    return ome_zarr.writer


def _check_output(path: Path, overwrite: bool) -> Path:
    parent = path.resolve().parent
    if not parent.is_dir():
        raise FileNotFoundError(
            f"cannot write {path}: the directory {parent} does not exist; "
            "create it first or choose another location."
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(
            f"cannot write {path}: the directory {parent} is not writable; "
            "choose another location."
        )
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"{path} already exists; pass overwrite=True to replace it, or "
            "choose another name."
        )
    return parent


def _factors(scale: np.ndarray, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Downsampling factor per axis: 2 where the voxel is finest (within 1.5x)."""
    fine = scale < 1.5 * scale.min()
    return tuple(2 if f and n >= 2 else 1 for f, n in zip(fine, shape, strict=True))


def _downsample(x: Any, f: tuple[int, ...], kind: str) -> Any:
    """One pyramid step of a dask array (shape floor(n / f))."""
    import dask.array as da

    cut = tuple(slice(0, (n // k) * k) for n, k in zip(x.shape, f, strict=True))
    x = x[cut]
    if kind == "labels":  # nearest: never a new label value
        return x[tuple(slice(None, None, k) for k in f)]
    dtype = x.dtype
    m = da.coarsen(np.mean, x.astype(np.float64), dict(enumerate(f)))
    if dtype.kind in "iub":
        info = np.iinfo(dtype) if dtype.kind != "b" else None
        m = da.floor(m + 0.5)
        if info is not None:
            m = da.clip(m, info.min, info.max)
    return m.astype(dtype)


def _default_chunks(shape: tuple[int, ...], data: Any) -> tuple[int, ...]:
    cz = 64
    if is_dask(data) and len(set(data.chunks[0][:-1])) <= 1:
        cz = int(data.chunks[0][0])
    return (min(shape[0], cz), min(shape[1], 256), min(shape[2], 256))


def _client() -> Any:
    try:
        from distributed import default_client

        return default_client()
    except (ImportError, ValueError):
        return None


def _store_level(
    x: Any, arr: Any, chunks: tuple[int, ...], progress_step: Any, client: Any
) -> None:
    """Write ``x`` into zarr array ``arr`` chunk-aligned, block by block."""
    import dask.array as da

    if client is not None and is_dask(x):
        # workers write their own chunks; only None comes back to the client.
        # One task per slab of whole chunk rows (~64 MiB, a multiple of the
        # chunk depth), not per chunk: thousands of small tasks cost more in
        # scheduling than they write.
        cz = chunks[0]
        plane = int(np.prod(x.shape[1:])) * np.dtype(x.dtype).itemsize
        depth = cz * max(1, (64 << 20) // max(1, cz * plane))
        x = x.rechunk((min(depth, x.shape[0]), *x.shape[1:]))
        da.store(x, arr, lock=False, compute=True)
        progress_step(x.shape[0])
        return
    cz = chunks[0]
    ranges = [(a, min(x.shape[0], a + cz)) for a in range(0, x.shape[0], cz)]
    for a, b, block in iter_blocks(x, ranges):
        arr[a:b] = block
        progress_step(b - a)


def write_ome_zarr(
    data: Any,
    path: str | os.PathLike,
    *,
    scale: Any = (1.0, 1.0, 1.0),
    translate: Any = (0.0, 0.0, 0.0),
    units: str | None = None,
    kind: str | None = None,
    levels: int | None = None,
    chunks: tuple[int, int, int] | None = None,
    metadata: dict | None = None,
    name: str | None = None,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
) -> Path:
    """Write a 3D array as an OME-Zarr (NGFF v0.5) multiscale pyramid.

    Parameters
    ----------
    data : array_like, shape (Z, Y, X)
        NumPy, dask, zarr or any sliceable array-like; never computed whole.
    path : str or PathLike
        Output ``.zarr`` folder, or ``IMAGE.zarr/labels/NAME`` to add a label
        image to an existing OME-Zarr image (NGFF ``labels`` group; see
        :mod:`napari_backproject.io.ome_zarr_labels`).
    scale, translate : sequence of 3 floats
        Voxel size and world position of voxel 0 of the finest level.
    units : str, optional
        Unit of every spatial axis (e.g. ``"micrometer"``, ``"nanometer"``).
    kind : {"image", "labels"}, optional
        How coarser levels are made: mean (image) or nearest (labels).
        Default: labels for integer/boolean data, image for floats.
    levels : int, optional
        Number of levels (>= 1). Default: halve until the smallest
        downsampled axis is under 32 voxels, at most 5 levels.
    chunks : (int, int, int), optional
        Chunk shape; default up to ``(64, 256, 256)`` (the dask chunks of a
        dask input along z).
    metadata : dict, optional
        JSON-serialisable, stored under ``"napari_backproject"`` in the
        group attributes (e.g. ``{"geometry": g.to_dict()}``).
    name : str, optional
        The multiscale's name (default the file stem).
    overwrite : bool
        Replace an existing ``path`` (only after the new one is complete).
    progress : callable, optional
        ``progress(done, total)`` in planes over all levels; raise
        :class:`napari_backproject._progress.Cancelled` to stop (nothing is
        left behind).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is False.
    FileNotFoundError, PermissionError
        The parent folder is missing or not writable (nothing is written).
    ValueError
        Not 3D, unknown kind, bad scale/levels/chunks.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "labels.zarr")
    >>> lab = np.zeros((16, 16, 16), np.uint16); lab[4:12, 4:12, 4:12] = 5
    >>> _ = write_ome_zarr(lab, p, translate=(10, 0, 0), levels=2)
    >>> levels, md = read_ome_zarr(p)
    >>> len(levels), np.unique(levels[1].compute()).tolist(), md["translate"][1]
    (2, [0, 5], [10.0, 0.0, 0.0])
    """
    import dask.array as da
    import zarr
    from ome_zarr.format import FormatV05

    write_multiscales_metadata = _ome_writer().write_multiscales_metadata

    if not hasattr(data, "shape") or not hasattr(data, "dtype"):
        data = np.asarray(data)
    shape = tuple(int(s) for s in data.shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"write_ome_zarr writes 3D (z, y, x) arrays; got {shape}.")
    dtype = np.dtype(data.dtype)
    if dtype.kind not in "biuf":
        raise ValueError(f"cannot write dtype {dtype} as OME-Zarr here.")
    if kind is None:
        kind = "image" if dtype.kind == "f" else "labels"
    if kind not in _KINDS:
        raise ValueError(f"kind must be 'image' or 'labels'; got {kind!r}.")
    if kind == "labels" and dtype.kind not in "iub":
        raise ValueError(
            f"labels must be stored as integers; {dtype} cannot hold label "
            "values exactly. Convert first (e.g. data.astype(np.uint16)), or "
            "write intensities with kind='image'."
        )
    sc = np.asarray(scale, dtype=np.float64).reshape(-1)
    tr = np.asarray(translate, dtype=np.float64).reshape(-1)
    if sc.shape != (3,) or tr.shape != (3,) or np.any(sc <= 0):
        raise ValueError(
            f"scale must be 3 positive numbers and translate 3 numbers; got "
            f"{sc.tolist()}, {tr.tolist()}."
        )
    if levels is not None and int(levels) < 1:
        raise ValueError(f"levels must be >= 1; got {levels}.")
    if chunks is None:
        chunks = _default_chunks(shape, data)
    chunks = tuple(int(c) for c in chunks)
    if len(chunks) != 3 or min(chunks) < 1:
        raise ValueError(f"chunks must be 3 positive ints; got {chunks}.")
    path = Path(str(path).rstrip("/\\"))
    if not is_ome_zarr_path(path):
        raise ValueError(
            f"an OME-Zarr path must end in .zarr (or be IMAGE.zarr/labels/NAME "
            f"for a label image); got {path}."
        )
    ome_extra: dict = {}
    if label_target(path) is not None:  # a label image in an image's labels group
        from .ome_zarr_labels import prepare_label_output

        if kind == "image" or dtype.kind not in "iub":
            raise ValueError(
                f"{path} is a label image (IMAGE.zarr/labels/NAME): it holds "
                f"integer labels, not {dtype} {kind or 'image'} data."
            )
        kind = "labels"
        parent = prepare_label_output(path, overwrite)
        ome_extra = {"image-label": {"version": "0.5", "source": {"image": "../../"}}}
    else:
        parent = _check_output(path, overwrite)

    # the pyramid plan: shapes, factors, scales and translations per level
    plan = [(shape, sc.copy(), tr.copy(), (1, 1, 1))]
    while levels is None or len(plan) < int(levels):
        shp, s, t, _ = plan[-1]
        f = _factors(s, shp)
        new = tuple(n // k for n, k in zip(shp, f, strict=True))
        if levels is None and (
            len(plan) >= 5 or min(n for n, k in zip(new, f, strict=True) if k > 1) < 32
        ):
            break
        if f == (1, 1, 1) or min(new) < 1:
            break
        fa = np.asarray(f, dtype=np.float64)
        shift = (fa - 1) / 2 * s if kind == "image" else np.zeros(3)
        plan.append((new, s * fa, t + shift, f))
    if levels is not None and len(plan) < int(levels):
        raise ValueError(
            f"cannot make {levels} levels from shape {shape}: the volume allows "
            f"{len(plan)}."
        )
    total = sum(p[0][0] for p in plan)
    done = [0]

    def step(n: int) -> None:
        done[0] += n
        report(progress, done[0], total)

    tmp = parent / f".{path.name}.{uuid.uuid4().hex[:8]}.part"
    client = _client()
    try:
        root = zarr.open_group(str(tmp), mode="w-", zarr_format=3)
        x = data if is_dask(data) else da.from_array(data, chunks=chunks)
        datasets = []
        for k, (shp, s, t, f) in enumerate(plan):
            if k:
                prev = da.from_zarr(str(tmp), component=str(k - 1))
                x = _downsample(prev, f, kind)
            arr = root.create_array(
                str(k),
                shape=shp,
                chunks=tuple(min(c, n) for c, n in zip(chunks, shp, strict=True)),
                dtype=dtype,
                fill_value=0,
                dimension_names=_AXES,
            )
            _store_level(x, arr, arr.chunks, step, client)
            datasets.append(
                {
                    "path": str(k),
                    "coordinateTransformations": [
                        {"type": "scale", "scale": [float(v) for v in s]},
                        {"type": "translation", "translation": [float(v) for v in t]},
                    ],
                }
            )
        axes = [{"name": a, "type": "space"} for a in _AXES]
        if units:
            for a in axes:
                a["unit"] = str(units)
        write_multiscales_metadata(
            root, datasets, fmt=FormatV05(), axes=axes, name=name or path.stem
        )
        if ome_extra:
            root.attrs["ome"] = {**dict(root.attrs["ome"]), **ome_extra}
        ours = dict(metadata or {})
        ours["kind"] = kind
        root.attrs[METADATA_KEY] = ours
        if path.exists():  # overwrite: move the old one aside, then swap
            old = parent / f".{path.name}.{uuid.uuid4().hex[:8]}.old"
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if ome_extra:
            from .ome_zarr_labels import cleanup_label_output

            cleanup_label_output(path)
        raise
    if ome_extra:
        from .ome_zarr_labels import register_label

        register_label(path)
    return path
