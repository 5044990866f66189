"""Straighten and backproject kernels on CPUs other than the host.

Compiled afresh in a subprocess for a generic x86-64 CPU (SSE2 only) and for
an AVX2-only CPU (haswell), then run: straightening is checked against
SciPy's ``map_coordinates`` on the geometry's own sample coordinates, and
every backprojection path (pull and splat; uint8, uint32 and float data)
against the same call compiled for the host, which the other backprojection
tests check against their brute-force references. Labels must agree exactly.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import numpy as np
import pytest

_SCRIPT = """
import sys
import numpy as np
from scipy import ndimage as ndi
import napari_backproject as nb
from napari_backproject.data import helix_neurite

s = helix_neurite(shape=(40, 40, 40), scale=(1.0, 1.0, 1.0), radius=3.0, seed=1)
err = {}
out = {}
for order, dt in ((0, np.uint8), (1, np.uint8), (1, np.float32)):
    vol = s.volume.astype(dt)
    stack, g = nb.straighten(vol, s.points, width=15, height=15, order=order)
    ref = ndi.map_coordinates(
        vol.astype(float), g.voxel_coordinates(), order=order, mode="constant"
    )
    if np.dtype(dt).kind == "u":
        ref = np.clip(np.rint(ref), 0, 255)
    err["straighten", order, np.dtype(dt).name] = float(
        np.abs(stack.astype(float) - ref).max()
    )
labels, g = nb.straighten(s.mask, s.points, width=15, height=15, order=0)
labels = labels.astype(np.uint32) * 70000
labels[:, :7] //= 70000
data = {"uint8": (labels > 0).astype(np.uint8), "uint32": labels,
        "float32": labels.astype(np.float32) / 70000}
for key in ("pull-uint8", "pull-uint32", "pull-float32", "splat-uint32"):
    method, name = key.split("-")
    o, off = nb.backproject(data[name], g, method=method, extent="full")
    out[key] = np.asarray(o)
np.savez(sys.argv[-1], **out)
print("ERR", err)
"""

x86_only = pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64"),
    reason="named x86-64 CPU targets",
)


def _host_has(feature):
    import llvmlite.binding as llvm

    try:
        return bool(llvm.get_host_cpu_features().get(feature, False))
    except Exception:  # pragma: no cover - hosts llvmlite cannot describe
        return False


def _native(script_outputs):
    """The same backprojections compiled for the host, in this process."""
    import napari_backproject as nb
    from napari_backproject.data import helix_neurite

    s = helix_neurite(shape=(40, 40, 40), scale=(1.0, 1.0, 1.0), radius=3.0, seed=1)
    labels, g = nb.straighten(s.mask, s.points, width=15, height=15, order=0)
    labels = labels.astype(np.uint32) * 70000
    labels[:, :7] //= 70000
    data = {
        "uint8": (labels > 0).astype(np.uint8),
        "uint32": labels,
        "float32": labels.astype(np.float32) / 70000,
    }
    for key in script_outputs:
        method, name = key.split("-")
        yield (
            key,
            np.asarray(nb.backproject(data[name], g, method=method, extent="full")[0]),
        )


def _start(cpu, folder):
    """Start the script compiled afresh for ``cpu`` (an empty numba cache)."""
    folder.mkdir()
    npz = folder / "out.npz"
    env = dict(
        os.environ,
        NUMBA_CACHE_DIR=str(folder / "cache"),
        NUMBA_CPU_NAME=cpu,
        NUMBA_CPU_FEATURES="",
    )
    script = _SCRIPT.replace("sys.argv[-1]", repr(str(npz)))
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, npz


def _check(cpu, proc, npz):
    stdout, stderr = proc.communicate(timeout=900)
    assert proc.returncode == 0, (cpu, stderr)
    line = next(x for x in stdout.splitlines() if x.startswith("ERR "))
    errors = eval(line[4:])  # a dict literal printed by the script
    assert len(errors) == 3
    for key, value in errors.items():
        # uint8 output: the same float value may round one level apart at
        # an exact half; float32 output: float32 rounding
        assert value <= (1.0 if "uint8" in key else 1e-4), (cpu, key, value)
    theirs = dict(np.load(npz))
    assert len(theirs) == 4
    for key, ours in _native(theirs):
        if "float" in key:
            np.testing.assert_allclose(
                theirs[key], ours, rtol=0, atol=1e-5, err_msg=f"{cpu} {key}"
            )
        else:  # labels: exact
            np.testing.assert_array_equal(theirs[key], ours, err_msg=f"{cpu} {key}")
            assert theirs[key].any(), key


@x86_only
def test_geometry_kernels_compiled_for_generic_and_avx2_cpus(tmp_path):
    """Compiled for generic x86-64 and (on a host with AVX2) for haswell, in
    two subprocesses at once (the compilations dominate), run, and checked."""
    import numba

    if numba.config.DISABLE_JIT:
        pytest.skip("numba JIT disabled")
    cpus = ["generic"] + (["haswell"] if _host_has("avx2") else [])
    runs = [(cpu, *_start(cpu, tmp_path / cpu)) for cpu in cpus]
    for cpu, proc, npz in runs:
        _check(cpu, proc, npz)
