"""Shared fixtures: small sample data reused across tests."""

from __future__ import annotations

import functools
import warnings

import pytest


@pytest.fixture(scope="session")
def small_helix():
    """A small anisotropic helix sample (shared, read-only)."""
    from napari_backproject.data import helix_neurite

    return helix_neurite(shape=(48, 64, 64), scale=(2.0, 1.0, 1.0), radius=3.0)


class RecordingArray:
    """Array-like that records every index it is asked for (in ``requests``)."""

    def __init__(self, arr):
        self.arr = arr
        self.shape = arr.shape
        self.dtype = arr.dtype
        self.ndim = arr.ndim
        self.requests = []

    def __getitem__(self, key):
        self.requests.append(key)
        return self.arr[key]


@pytest.fixture
def recording_array():
    """The :class:`RecordingArray` class, to wrap arrays whose reads a test checks."""
    return RecordingArray


@pytest.fixture
def run_fresh_numba(tmp_path):
    """Run a Python snippet in a subprocess with an empty numba cache.

    Returns a function ``run(script, **env) -> stdout``; ``env`` adds
    environment variables. Compiled code can then be inspected afresh, or a
    second call can check that the first one's cache is used. Skips when
    numba's JIT is disabled.
    """
    import os
    import subprocess
    import sys

    import numba

    if numba.config.DISABLE_JIT:
        pytest.skip("numba JIT disabled")

    def run(script, **env):
        full_env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), **env)
        return subprocess.run(
            [sys.executable, "-c", script],
            env=full_env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    return run


@pytest.fixture(autouse=True)
def _widget_settings_dir(tmp_path_factory, monkeypatch):
    """Widgets keep their settings in a fresh folder per test, not the user's."""
    monkeypatch.setenv(
        "NAPARI_BACKPROJECT_CONFIG_DIR", str(tmp_path_factory.mktemp("settings"))
    )


@pytest.fixture(autouse=True)
def _no_widget_warmup(monkeypatch):
    """Widgets compile nothing in the background unless a test asks for it."""
    monkeypatch.setenv("NAPARI_BACKPROJECT_WARMUP", "0")


@functools.lru_cache(maxsize=8)
def _simulated_scan(rows: int, columns: int, n_angles: int, seed: int):
    from napari_backproject.data import simulated_scan

    scan = simulated_scan(rows=rows, columns=columns, n_angles=n_angles, seed=seed)
    for array in (scan.projections, scan.flats, scan.darks, scan.volume):
        array.setflags(write=False)  # shared between tests: read only
    return scan


@functools.lru_cache(maxsize=8)
def _prepared_scan(rows: int, columns: int, n_angles: int, seed: int):
    from napari_backproject._ct.projections import prepare_projections

    scan = _simulated_scan(rows, columns, n_angles, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the dead pixel
        prepared = prepare_projections(scan.projections, scan.flats, scan.darks)
    prepared.setflags(write=False)
    return scan, prepared


@pytest.fixture(scope="session")
def ct_scan():
    """``ct_scan(rows, columns, n_angles, seed)``: a simulated scan, made once.

    Its arrays are read only (shared by the tests that ask for the same one).
    """
    return _simulated_scan


@pytest.fixture(scope="session")
def prepared_scan():
    """``prepared_scan(rows, columns, n_angles, seed)``: ``(scan, prepared)``.

    ``prepared`` is the scan through ``prepare_projections`` (flats, darks,
    zingers, -log, rings), float32 ``(angle, row, column)``, read only.
    """
    return _prepared_scan
