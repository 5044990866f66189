"""Use a ``dask.distributed`` cluster for a job: ``--scheduler ADDRESS|local:N``.

While the context of :func:`scheduler` is open, its client is dask's default
scheduler, so every lazy computation of the library runs on the cluster, and
:func:`napari_backproject.io.ome_zarr.write_ome_zarr` lets the workers store
their own chunks (nothing is gathered through the client).

In the napari console (or any script), connecting a client is all it takes::

    from distributed import Client
    client = Client("tcp://scheduler:8786")   # an existing cluster
    # ... straighten / write_backprojection(..., "out.zarr") as usual
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["parse_scheduler", "scheduler"]


def parse_scheduler(spec: str | None) -> tuple[str, Any]:
    """``None`` -> ("none", None); ``"local:N"`` -> ("local", N); else ("address", spec).

    Examples
    --------
    >>> parse_scheduler("local:2"), parse_scheduler("tcp://h:8786"), parse_scheduler(None)
    (('local', 2), ('address', 'tcp://h:8786'), ('none', None))
    """
    if spec is None or str(spec).strip() == "":
        return "none", None
    spec = str(spec).strip()
    if spec.startswith("local"):
        _, _, n = spec.partition(":")
        try:
            workers = int(n) if n else 2
        except ValueError:
            workers = 0
        if workers < 1:
            raise ValueError(
                f"--scheduler {spec!r}: write local:N with N >= 1 worker processes "
                "(e.g. local:2), or the address of a running scheduler."
            )
        return "local", workers
    return "address", spec


@contextlib.contextmanager
def scheduler(spec: str | None) -> Iterator[Any]:
    """Open a distributed client for ``spec`` (see :func:`parse_scheduler`).

    ``"local:N"`` starts a :class:`distributed.LocalCluster` of N worker
    processes with one thread each (closed on exit); an address connects to
    an existing scheduler. ``None`` yields None and changes nothing.

    Examples
    --------
    >>> with scheduler(None) as client:
    ...     client is None
    True
    """
    kind, value = parse_scheduler(spec)
    if kind == "none":
        yield None
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - distributed is a dependency of ours
        raise ImportError(
            "--scheduler needs the 'distributed' package: pip install distributed"
        ) from None
    if kind == "local":
        with (
            LocalCluster(
                n_workers=value,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
    else:
        try:
            client = Client(value, timeout="10s")
        except OSError as exc:
            raise OSError(
                f"cannot connect to the dask scheduler at {value!r}: {exc}. "
                "Check the address (tcp://host:8786) or use local:N."
            ) from None
        with client:
            yield client
