"""Shared fixtures: small sample data reused across tests."""

from __future__ import annotations

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
