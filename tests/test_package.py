"""Packaging: manifest, contributions, Qt-free import, sample data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_does_not_pull_qt_or_napari_gui():
    code = (
        "import sys, napari_backproject as nb;"
        "from napari_backproject import SliceGeometry, data;"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('PyQt5', 'PyQt6', 'PySide2', 'PySide6', 'qtpy', 'vispy') "
        "or m.startswith('napari._qt') or m == 'napari'];"
        "print(bad)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout


def test_public_api_names_are_functions():
    """Submodule imports must not shadow the functions of the same name."""
    import napari_backproject as nb
    import napari_backproject.backproject
    import napari_backproject.straighten  # noqa: F401

    for name in nb.__all__:
        assert getattr(nb, name) is not None, name
    assert callable(nb.straighten) and nb.straighten.__name__ == "straighten"
    assert callable(nb.backproject) and nb.backproject.__name__ == "backproject"
    with pytest.raises(AttributeError):
        nb.does_not_exist  # noqa: B018


def test_manifest_is_the_top_level_file():
    pkg_manifest = ROOT / "src" / "napari_backproject" / "napari.yaml"
    assert pkg_manifest.resolve() == (ROOT / "napari.yaml").resolve()


def test_npe2_validate_with_imports():
    exe = Path(sys.executable).with_name("npe2")
    out = subprocess.run(
        [str(exe), "validate", "napari-backproject", "--imports"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "valid" in (out.stdout + out.stderr).lower()


def test_every_contribution_resolves():
    """Each command's python_name imports, and widgets/samples point at commands."""
    import npe2

    pm = npe2.PluginManager.instance()
    pm.discover()
    manifest = pm.get_manifest("napari-backproject")
    ids = {c.id for c in manifest.contributions.commands}
    for cmd in manifest.contributions.commands:
        mod_name, attr = cmd.python_name.split(":")
        mod = __import__(mod_name, fromlist=[attr])
        assert callable(getattr(mod, attr)), cmd.python_name
    for w in manifest.contributions.widgets:
        assert w.command in ids, w.command
    for s in manifest.contributions.sample_data:
        assert s.command in ids, s.command
    for r in manifest.contributions.readers:
        assert r.command in ids
    for w in manifest.contributions.writers:
        assert w.command in ids


def test_sample_generators_are_deterministic(small_helix):
    from napari_backproject.data import helix_neurite

    again = helix_neurite(shape=(48, 64, 64), scale=(2.0, 1.0, 1.0), radius=3.0)
    np.testing.assert_array_equal(small_helix.volume, again.volume)
    np.testing.assert_array_equal(small_helix.mask, again.mask)


def test_helix_mask_matches_brute_force_distance(small_helix):
    """The ground truth is exactly 'voxel centre within radius of the helix'."""
    s = small_helix
    t = np.linspace(*s.t_range, 6000)
    curve = s.curve(t)
    rng = np.random.default_rng(1)
    idx = np.column_stack([rng.integers(0, n, 1500) for n in s.mask.shape])
    # add voxels near the tube so both classes are well represented
    near = np.argwhere(s.mask)[:: max(1, s.mask.sum() // 800)]
    idx = np.vstack([idx, near, near + 1])
    idx = np.clip(idx, 0, np.array(s.mask.shape) - 1)
    world = idx * np.asarray(s.scale)
    d = np.min(np.linalg.norm(world[:, None, :] - curve[None, :, :], axis=2), axis=1)
    expected = d <= s.radius
    got = s.mask[tuple(idx.T)] == 1
    ambiguous = np.abs(d - s.radius) < 0.05
    assert np.array_equal(got[~ambiguous], expected[~ambiguous])


def test_helix_points_lie_on_the_tube(small_helix):
    s = small_helix
    assert s.points.shape == (12, 3)
    idx = np.round(s.points).astype(int)
    inside = np.all((idx >= 0) & (idx < np.array(s.volume.shape)), axis=1)
    assert inside.all()
    assert (s.mask[tuple(idx.T)] == 1).all()
    assert s.volume[s.mask == 1].mean() > 150 > 40 > s.volume[s.mask == 0].mean()


def test_phantom_stack_zero_outside_circle():
    from napari_backproject.data import phantom_stack

    vol = phantom_stack((8, 32, 32))
    assert vol.dtype == np.float32 and vol.shape == (8, 32, 32)
    yy, xx = np.mgrid[:32, :32]
    outside = (yy - 16) ** 2 + (xx - 16) ** 2 > 16**2
    assert not vol[:, outside].any()
    assert vol.max() == pytest.approx(1.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"shape": (8, 64, 64)},
        {"scale": (0, 1, 1)},
        {"radius": -1},
        {"n_points": 1},
    ],
)
def test_helix_rejects_bad_input(kwargs):
    from napari_backproject.data import helix_neurite

    with pytest.raises(ValueError):
        helix_neurite(**kwargs)


def test_benchmarks_quick_smoke(tmp_path):
    """The benchmark command runs end to end on small sizes."""
    out = tmp_path / "bench.md"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--repeats",
            "1",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    table = out.read_text()
    assert "| area | case |" in table
    assert table.count("\n|") >= 3


def test_cli_help_lists_subcommands():
    from napari_backproject.cli import build_parser

    text = build_parser().format_help()
    assert "demo" in text


def test_demo_headless_writes_screenshots(tmp_path):
    exe = Path(sys.executable).with_name("napari-backproject")
    res = subprocess.run(
        [str(exe), "demo", "--headless", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert "helix.png" in summary["files"]
    from PIL import Image

    for name in summary["files"]:
        path = tmp_path / name
        assert path.stat().st_size > 0, name
        if name.endswith(".png"):
            img = np.asarray(Image.open(path))
            assert img.ndim == 3 and img.shape[0] > 100
            assert img[..., :3].std() > 5, f"{name} is blank"


def test_numba_uses_a_thread_safe_layer():
    """Concurrent kernel calls need OpenMP or TBB, not workqueue."""
    code = (
        "import numba, numpy as np\n"
        "import napari_backproject.kernels\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "@numba.njit(parallel=True)\n"
        "def f(a):\n"
        "    s = 0.0\n"
        "    for i in numba.prange(a.size):\n"
        "        s += a[i]\n"
        "    return s\n"
        "a = np.ones(100000)\n"
        "with ThreadPoolExecutor(4) as ex:\n"
        "    assert all(r == 1e5 for r in ex.map(lambda _: f(a), range(16)))\n"
        "print(numba.threading_layer())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_THREADING_LAYER"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() in {"omp", "tbb"}
