"""Shared fixtures: small sample data reused across tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def small_helix():
    """A small anisotropic helix sample (shared, read-only)."""
    from napari_backproject.data import helix_neurite

    return helix_neurite(shape=(48, 64, 64), scale=(2.0, 1.0, 1.0), radius=3.0)
