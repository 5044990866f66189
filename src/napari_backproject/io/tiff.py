"""Lazy TIFF reading and chunk-by-chunk (Big)TIFF writing.

:func:`write_tiff` writes a 2D, 3D or 4D array (NumPy, dask, zarr, tifffile
memmap) one block of slices along axis 0 at a time, so a lazy array is never
computed whole. Pages are the planes ``data[i]``: ``(Y, X)`` for 3D data and
``(Y, X, C)`` (contiguous samples) for 4D data. The file is written under a
temporary name (``.<name>.part``) and renamed with :func:`os.replace` when
complete; on any exception (including :class:`~napari_backproject._progress.
Cancelled` raised by the progress callback) the temporary file is deleted and
the exception re-raised.

Metadata (a JSON-serialisable dict, plus ``scale`` and ``translate``) is stored
as JSON in the first page's ``ImageDescription`` under the key
``"napari_backproject"``; :func:`read_tiff` gives it back.

:func:`read_tiff` opens a TIFF (or a folder written with ``folder=True``)
lazily: ``tifffile`` -> zarr store -> dask array. Nothing is read until the
dask array is computed (or sliced and computed).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .._progress import ProgressCallback, report
from ._blocks import iter_blocks

__all__ = ["read_tiff", "write_tiff", "METADATA_KEY"]

#: Key under which our metadata lives in the TIFF ImageDescription JSON.
METADATA_KEY = "napari_backproject"
#: Name of the metadata file inside a folder written with ``folder=True``.
FOLDER_METADATA = "metadata.json"
#: Uncompressed size above which a single file is written as BigTIFF.
BIGTIFF_THRESHOLD = 2**31 - 2**25
_COMPRESSIONS = {"zlib": "zlib", "zstd": "zstd", "none": None, None: None}
_CHUNK_BYTES = 64 * 2**20
#: Bytes of a dask chunk of :func:`read_tiff` when pages are smaller: pages are
#: grouped along axis 0 up to this size (one page per chunk made a lazy
#: threshold -> backprojection of a 3947 x 64 x 64 stack spend ~3 ms of dask
#: and zarr overhead on each 4 KiB page: 2.5-4x the NumPy segmentation's time).
READ_CHUNK_BYTES = 2**20


# ------------------------------------------------------------------ helpers
def _is_dask(data: Any) -> bool:
    return type(data).__module__.startswith("dask") and hasattr(data, "compute")


def _blocks(data: Any, chunk_slices: int | None) -> Iterator[tuple[int, int]]:
    """(start, stop) ranges along axis 0, one block of slices at a time."""
    n = int(data.shape[0])
    if chunk_slices is None and _is_dask(data):
        start = 0
        for c in data.chunks[0]:
            yield start, start + int(c)
            start += int(c)
        return
    if chunk_slices is None:
        plane = (
            int(np.prod(data.shape[1:], dtype=np.int64)) * np.dtype(data.dtype).itemsize
        )
        chunk_slices = max(1, _CHUNK_BYTES // max(plane, 1))
    for start in range(0, n, chunk_slices):
        yield start, min(n, start + chunk_slices)


def _load(data: Any, start: int, stop: int) -> np.ndarray:
    block = data[start:stop]
    if _is_dask(block):
        block = block.compute()
    return np.ascontiguousarray(np.asarray(block))


def _json_ready(metadata: dict | None, scale: Any, translate: Any) -> dict:
    md: dict = {}
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise TypeError(
                f"metadata must be a dict; got {type(metadata).__name__}. "
                "Pass e.g. {'geometry': geometry.to_dict()}."
            )
        md.update(metadata)
    if scale is not None:
        md["scale"] = [float(s) for s in np.asarray(scale, dtype=float).ravel()]
    if translate is not None:
        md["translate"] = [float(t) for t in np.asarray(translate, dtype=float).ravel()]
    try:
        # round trip so that what we store is exactly what comes back
        return json.loads(json.dumps(md, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"metadata must be JSON-serialisable (plain dicts, lists, numbers, "
            f"strings; no NaN): {exc}"
        ) from None


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists() or path.is_symlink():
            path.unlink()
    except OSError:
        pass


def _page_kwargs(ndim: int, compression: str | None, compression_level: int | None):
    kw: dict[str, Any] = {"photometric": "minisblack", "compression": compression}
    if ndim == 4:
        kw["planarconfig"] = "contig"
    if compression is not None and compression_level is not None:
        kw["compressionargs"] = {"level": int(compression_level)}
    return kw


# ------------------------------------------------------------------ writer
def write_tiff(
    data: Any,
    path: str | os.PathLike,
    *,
    compression: str | None = "zlib",
    compression_level: int | None = None,
    folder: bool = False,
    metadata: dict | None = None,
    scale: Any = None,
    translate: Any = None,
    tile: tuple[int, int] | None = None,
    bigtiff: bool | None = None,
    chunk_slices: int | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """Write an array to a (Big)TIFF file, or a folder of TIFFs, block by block.

    Parameters
    ----------
    data : array_like
        2D ``(Y, X)``, 3D ``(Z, Y, X)`` or 4D ``(Z, Y, X, C)`` array: NumPy,
        dask, zarr or a tifffile memmap. Only one block of slices along axis
        0 is in memory at a time (a dask array's own chunks along axis 0, or
        ``chunk_slices`` slices, by default about 64 MiB).
    path : str or PathLike
        Output file (``.tif``) or, with ``folder=True``, output directory.
    compression : {"zlib", "zstd", "none"}, optional
        Lossless compression of each page (``None`` is the same as "none").
    compression_level : int, optional
        Codec level (zlib 1-9, zstd 1-22); the codec's default when None.
    folder : bool, optional
        If True, write ``path/slice_00000.tif``, ``slice_00001.tif``, ... (one
        file per slice along axis 0) plus ``path/metadata.json``.
    metadata : dict, optional
        JSON-serialisable metadata (e.g. ``{"geometry": g.to_dict()}``),
        returned by :func:`read_tiff`.
    scale, translate : sequence of float, optional
        The layer's scale and translate, stored in the metadata.
    tile : (int, int), optional
        Write tiled pages (multiples of 16) instead of strips; makes reading a
        small region of a huge plane cheaper.
    bigtiff : bool, optional
        Force (True) or forbid (False) BigTIFF. By default a single file is
        BigTIFF when the uncompressed data exceed about 2 GiB.
    chunk_slices : int, optional
        Slices per block for non-dask input (and to override dask chunks).
    progress : callable, optional
        ``progress(done_slices, total_slices)`` after every block; raise
        :class:`napari_backproject._progress.Cancelled` in it to cancel.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ValueError
        Bad dimensionality, unknown compression, non-serialisable metadata.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> p = write_tiff(np.zeros((4, 8, 8), np.uint8), os.path.join(d, "a.tif"),
    ...                scale=(2, 1, 1))
    >>> data, meta = read_tiff(p)
    >>> data.shape, meta["scale"]
    ((4, 8, 8), [2.0, 1.0, 1.0])
    """
    import tifffile

    if not hasattr(data, "shape") or not hasattr(data, "dtype"):
        data = np.asarray(data)
    ndim = len(data.shape)
    if ndim not in (2, 3, 4):
        raise ValueError(
            f"write_tiff writes 2D (Y, X), 3D (Z, Y, X) or 4D (Z, Y, X, C) arrays; "
            f"got shape {tuple(data.shape)}."
        )
    if compression not in _COMPRESSIONS:
        raise ValueError(
            f"compression must be 'zlib', 'zstd' or 'none'; got {compression!r}."
        )
    codec = _COMPRESSIONS[compression]
    if chunk_slices is not None and int(chunk_slices) < 1:
        raise ValueError(f"chunk_slices must be >= 1; got {chunk_slices}.")
    if tile is not None:
        tile = tuple(int(t) for t in tile)
        if len(tile) != 2 or any(t < 16 or t % 16 for t in tile):
            raise ValueError(f"tile must be two multiples of 16; got {tile}.")
    dtype = np.dtype(data.dtype)
    if dtype.kind not in "biuf" and dtype.kind != "c":
        raise ValueError(f"cannot write dtype {dtype} to TIFF.")
    md = _json_ready(metadata, scale, translate)
    if dtype == np.bool_:
        # TIFF has no boolean sample format: store as uint8 and remember it
        md.setdefault("dtype", "bool")
    path = Path(path)
    if ndim == 2:
        data = data[None]
        md.setdefault("squeeze", True)
    shape = tuple(int(s) for s in data.shape)
    wdtype = np.dtype(np.uint8) if dtype == np.bool_ else dtype
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
    page_kw = _page_kwargs(len(shape), codec, compression_level)
    if tile is not None:
        page_kw["tile"] = tile
    total = shape[0]

    done = [0]  # tifffile stops pulling after the last page: see below

    def planes() -> Iterator[np.ndarray]:
        for _, stop, block in iter_blocks(data, _blocks(data, chunk_slices)):
            if block.dtype != wdtype:
                block = block.astype(wdtype)
            for plane in block:
                if tile is None:
                    yield plane
                else:  # tifffile wants the tiles of each page, row-major
                    for y in range(0, plane.shape[0], tile[0]):
                        for x in range(0, plane.shape[1], tile[1]):
                            yield plane[y : y + tile[0], x : x + tile[1]]
            done[0] = stop
            report(progress, stop, total)

    try:
        if folder:
            tmp.mkdir(parents=False)
            i = 0
            for _, stop, block in iter_blocks(data, _blocks(data, chunk_slices)):
                block = block.astype(wdtype, copy=False)
                for plane in block:
                    desc_md = {METADATA_KEY: md} if i == 0 else {}
                    tifffile.imwrite(
                        tmp / f"slice_{i:05d}.tif",
                        plane,
                        metadata=desc_md,
                        **page_kw,
                    )
                    i += 1
                report(progress, stop, total)
            with open(tmp / FOLDER_METADATA, "w", encoding="utf-8") as fh:
                json.dump({"shape": list(shape), METADATA_KEY: md}, fh, indent=1)
        else:
            nbytes = int(np.prod(shape, dtype=np.int64)) * wdtype.itemsize
            big = nbytes > BIGTIFF_THRESHOLD if bigtiff is None else bool(bigtiff)
            with tifffile.TiffWriter(tmp, bigtiff=big) as tw:
                tw.write(
                    planes(),
                    # a 2D image stays 2D in the file (readers see (Y, X))
                    shape=shape[1:] if ndim == 2 else shape,
                    dtype=wdtype,
                    metadata={METADATA_KEY: md},
                    **page_kw,
                )
            if done[0] < total:
                report(progress, total, total)
        if folder and path.is_dir() and any(path.iterdir()):
            # replace an existing non-empty folder: move it aside first
            old = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.old")
            os.replace(path, old)
            os.replace(tmp, path)
            _remove(old)
        else:
            os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    return path


# ------------------------------------------------------------------ reader
def _imagej_scale(tf: Any, ndim: int) -> list[float] | None:
    """Voxel size from ImageJ / resolution tags, if the file has one."""
    try:
        page = tf.pages.first
        ij = tf.imagej_metadata or {}
        res = page.tags.get("XResolution"), page.tags.get("YResolution")
        if res[0] is None or res[1] is None:
            return None
        xr = res[0].value[0] / res[0].value[1]
        yr = res[1].value[0] / res[1].value[1]
        if xr <= 0 or yr <= 0:
            return None
        sx, sy = 1.0 / xr, 1.0 / yr
        sz = float(ij.get("spacing", 1.0))
        if (sx, sy, sz) == (1.0, 1.0, 1.0):
            return None
        if ndim == 2:
            return [sy, sx]
        return [1.0] * (ndim - 3) + [sz, sy, sx]
    except Exception:  # pragma: no cover - best effort only
        return None


def _folder_files(path: Path) -> list[Path]:
    files = sorted(path.glob("slice_*.tif"))
    if not files:
        files = sorted(
            p for p in path.iterdir() if p.suffix.lower() in (".tif", ".tiff")
        )
    return files


class _PageStack:
    """The pages of a TIFF's first series as an array-like for dask.

    ``stack[a:b, ...]`` reads pages ``a:b`` with tifffile, one lock around the
    shared file handle. Used for stacks of small pages read in groups: through
    tifffile's zarr store a 4 KiB page cost ~0.2 ms (an asyncio round trip
    per page), read directly ~0.08 ms. Pickles by path (dask.distributed
    workers reopen the file).
    """

    def __init__(self, path: str, shape: tuple[int, ...], dtype: Any) -> None:
        self.path, self.shape = str(path), tuple(int(s) for s in shape)
        self.dtype, self.ndim = np.dtype(dtype), len(self.shape)
        self._tf: Any = None
        self._lock = threading.Lock()
        st = os.stat(self.path)  # a rewritten file gets another dask name
        self._token = (
            self.path,
            self.shape,
            self.dtype.str,
            st.st_dev,
            st.st_ino,  # written under a temporary name, renamed: a new inode
            st.st_mtime_ns,
            st.st_size,
        )

    def __dask_tokenize__(self) -> tuple:
        return self._token

    def __getstate__(self) -> dict:
        return {"path": self.path, "shape": self.shape, "dtype": self.dtype.str}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["path"], state["shape"], state["dtype"])

    def __getitem__(self, key: Any) -> np.ndarray:
        import tifffile

        key = key if isinstance(key, tuple) else (key,)
        first, rest = (key[0] if key else slice(None)), key[1:]
        squeeze = not isinstance(first, slice)
        pages = range(self.shape[0])[first if not squeeze else slice(first, None)]
        if squeeze:
            pages = pages[:1]
        out = np.empty((len(pages), *self.shape[1:]), dtype=self.dtype)
        with self._lock:
            if self._tf is None:
                self._tf = tifffile.TiffFile(self.path)
            series = self._tf.series[0].pages
            for j, i in enumerate(pages):
                out[j] = series[i].asarray(maxworkers=1).reshape(self.shape[1:])
        return out[0][rest] if squeeze else out[(slice(None), *rest)]


def _read_chunks(shape: tuple[int, ...], chunks: tuple[int, ...], itemsize: int):
    """Default dask chunks: pages grouped along axis 0 to ~READ_CHUNK_BYTES.

    A page (or a tile) at least that big keeps the file's own chunks; smaller
    pages stored as strips are read as whole planes, several per chunk; tiles
    of small pages stay tiles, several pages deep.
    """
    if len(shape) < 3 or chunks[0] != 1:
        return chunks
    plane = int(np.prod(shape[1:], dtype=np.int64)) * itemsize
    if plane >= READ_CHUNK_BYTES:
        return chunks
    if tuple(chunks[2:]) == tuple(shape[2:]):  # strips or whole pages
        chunks = (1, *shape[1:])
    block = int(np.prod(chunks[1:], dtype=np.int64)) * itemsize
    return (max(1, min(shape[0], READ_CHUNK_BYTES // max(block, 1))), *chunks[1:])


def _plain_stack(tf: Any, z: Any) -> bool:
    """True when the first series is one page per index along axis 0."""
    try:
        series = tf.series[0]
        return (
            len(z.shape) >= 3
            and len(series.pages) == z.shape[0]
            and tuple(series.keyframe.shape) == tuple(z.shape[1:])
            and np.dtype(series.dtype) == np.dtype(z.dtype)
        )
    except Exception:  # pragma: no cover - unusual series: use the zarr store
        return False


def read_tiff(path: str | os.PathLike, *, chunks: Any = None) -> tuple[Any, dict]:
    """Open a TIFF file (or a folder of per-slice TIFFs) as a lazy dask array.

    Parameters
    ----------
    path : str or PathLike
        A ``.tif``/``.tiff`` file (any TIFF tifffile reads: plain, BigTIFF,
        ImageJ, OME; the first series is returned), or a folder written by
        :func:`write_tiff` with ``folder=True``.
    chunks : optional
        dask chunks. By default pages smaller than ``READ_CHUNK_BYTES``
        (1 MiB) are grouped along axis 0 into chunks of about that size
        (a task per 4 KiB page costs far more than reading it); bigger pages
        keep the file's own chunks (a strip or tile).

    Returns
    -------
    data : dask.array.Array
        Lazy array; reading happens only when (part of) it is computed.
    metadata : dict
        The dict stored by :func:`write_tiff` (with ``scale``, ``translate``
        and anything else it was given), or, for foreign files, the voxel
        size found in ImageJ/resolution tags under ``scale`` when present.

    Raises
    ------
    FileNotFoundError
        The path does not exist.
    ValueError
        The file is not a TIFF tifffile can read.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> p = write_tiff(np.ones((2, 4, 4), np.uint16),
    ...                os.path.join(tempfile.mkdtemp(), "b.tif"), metadata={"a": 1})
    >>> data, meta = read_tiff(p)
    >>> int(data.sum().compute()), meta["a"]
    (32, 1)
    """
    import dask.array as da
    import tifffile
    import zarr

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    md: dict = {}
    tf = None
    if path.is_dir():
        files = _folder_files(path)
        if not files:
            raise ValueError(f"{path} contains no .tif files.")
        mdfile = path / FOLDER_METADATA
        if mdfile.exists():
            with open(mdfile, encoding="utf-8") as fh:
                md = dict(json.load(fh).get(METADATA_KEY, {}))
        seq = tifffile.TiffSequence([str(f) for f in files], pattern=None)
        store = seq.aszarr()
        z = zarr.open(store, mode="r")
    else:
        try:
            tf = tifffile.TiffFile(path)
        except Exception as exc:  # tifffile raises several error types
            raise ValueError(f"{path} is not a readable TIFF file: {exc}") from None
        try:
            for item in tf.shaped_metadata or ():
                if isinstance(item, dict) and METADATA_KEY in item:
                    md = dict(item[METADATA_KEY])
                    break
            store = tf.series[0].aszarr()
            z = zarr.open(store, mode="r")
            if "scale" not in md:
                sc = _imagej_scale(tf, len(z.shape))
                if sc is not None:
                    md["scale"] = sc
        except Exception:
            tf.close()
            raise
    direct = chunks is None and tf is not None and _plain_stack(tf, z)
    if chunks is None:
        chunks = _read_chunks(
            tuple(z.shape), tuple(z.chunks), np.dtype(z.dtype).itemsize
        )
    if direct and chunks[1:] == tuple(z.shape[1:]) and chunks[0] > 1:
        stack = _PageStack(path, tuple(z.shape), z.dtype)
        meta = np.empty((0,) * len(z.shape), dtype=z.dtype)
        data = da.from_array(stack, chunks=chunks, lock=False, meta=meta)
    else:
        data = da.from_zarr(z, chunks=chunks)
    if md.get("squeeze") and data.ndim == 3 and data.shape[0] == 1:
        data = data[0]
    if md.get("dtype") == "bool":
        data = data.astype(bool)
    return data, md
