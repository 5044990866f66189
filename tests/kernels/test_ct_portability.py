"""The CT kernels on CPUs other than the host: compiled afresh for a named
target in a subprocess, so these checks give the same answer on every
machine (Intel or AMD, with or without AVX-512).

- generic x86-64 and an AVX2-only CPU (haswell): compiled, RUN, and checked
  against scikit-image (the haswell case needs a host with AVX2).
- AMD Zen 4 (znver4): compiled only (never run, so any x86-64 host can do
  it) and its machine code inspected for AVX-512 scatters/gathers, which
  are slow on that CPU family (the one the kernels were tuned on). On Intel
  CPUs with AVX-512 a scatter costs nothing; the check is about Zen 4 code.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

#: modules whose numba dispatchers make up the CT kernels
CT_KERNEL_MODULES = (
    "napari_backproject.kernels.radon",
    "napari_backproject.kernels.fbp",
    "napari_backproject.kernels.sart.geometry",
    "napari_backproject.kernels.sart.raysums",
    "napari_backproject.kernels.sart.scatter",
    "napari_backproject.kernels.sart.rays",
    "napari_backproject.kernels.sart.drivers",
)

# Runs every CT path at a small size (radon both ways, FBP with every
# interpolation and both float dtypes, SART serial and on two threads),
# checks it against scikit-image, and pickles the signatures numba compiled.
_RUN_SCRIPT = """
import importlib, pickle, sys
import numpy as np
import skimage.transform as sk
import napari_backproject as nb

n = 24
theta = np.linspace(0, 180, 12, endpoint=False)
yy, xx = np.mgrid[:n, :n] - n // 2
img = ((yy + 2) ** 2 + (xx - 3) ** 2 < 36).astype(float)
img[6:9, 10:14] = 0.5
err = {}
def rel(a, b):
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-12)
for circle in (True, False):
    for par in (False, True):
        ours = nb.radon(img, theta, circle=circle, parallel=par)
        err["radon", circle, par] = rel(ours, sk.radon(img, theta, circle=circle))
sino = sk.radon(img, theta)
for interp in ("linear", "nearest", "cubic"):
    for dt in (np.float64, np.float32):
        s = sino.astype(dt)
        for par in (False, True):
            ours = nb.iradon(s, theta, interpolation=interp, parallel=par)
            ref = sk.iradon(s, theta, interpolation=interp)
            err["iradon", interp, np.dtype(dt).name, par] = rel(ours, ref)
for dt in (np.float64, np.float32):
    s = sino.astype(dt)
    ref = sk.iradon_sart(s, theta, clip=(0.0, 1.0))
    for par in (False, True):
        ours = nb.iradon_sart(s, theta, clip=(0.0, 1.0), parallel=par)
        err["sart", np.dtype(dt).name, par] = rel(ours, ref)
print("ERR", {k: float(v) for k, v in err.items()})
sigs = {}
for name in MODULES:
    mod = importlib.import_module(name)
    for attr in dir(mod):
        d = getattr(mod, attr)
        if hasattr(d, "inspect_asm") and getattr(d, "signatures", None):
            sigs[name, attr] = list(d.signatures)
with open(sys.argv[-1] if len(sys.argv) > 1 else OUT, "wb") as fh:
    pickle.dump(sigs, fh)
from napari_backproject.kernels.llvm import simd
print("PERMUTE", simd.HAVE_PERMUTE)
"""

# Compiles the pickled signatures for the target in the environment
# (without running them) and lists scatter/gather instructions.
_ASM_SCRIPT = """
import importlib, pickle, re
pat = re.compile(r"\\\\bv(?:p)?(?:scatter|gather)\\\\w*")
with open(OUT, "rb") as fh:
    sigs = pickle.load(fh)
hits = {}
for (name, attr), todo in sigs.items():
    d = getattr(importlib.import_module(name), attr)
    for sig in todo:
        d.compile(sig)
        found = pat.findall(d.inspect_asm(sig))
        if found:
            hits[name + "." + attr] = sorted(set(found))
print("COMPILED", sum(len(v) for v in sigs.values()))
print("HITS", hits)
"""


def _script(template, out_path):
    return f"MODULES = {CT_KERNEL_MODULES!r}\nOUT = {str(out_path)!r}\n" + template


def _host_has(feature):
    import llvmlite.binding as llvm

    try:
        return bool(llvm.get_host_cpu_features().get(feature, False))
    except Exception:  # pragma: no cover - hosts llvmlite cannot describe
        return False


def _errors(out):
    line = next(x for x in out.splitlines() if x.startswith("ERR "))
    return eval(line[4:])  # a dict literal printed by the script


def _tolerance(key):
    # relative to the largest value, as the parity tests of test_tomography.py
    return 2e-5 if "float32" in key else 1e-9


x86_only = pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64"),
    reason="named x86-64 CPU targets",
)


def _run_for(cpu, folder):
    """Run every CT path compiled afresh for ``cpu``: (stdout, signatures)."""
    import numba

    if numba.config.DISABLE_JIT:
        pytest.skip("numba JIT disabled")
    folder.mkdir(parents=True, exist_ok=True)
    sigs = folder / "sigs.pkl"
    env = dict(
        os.environ,
        NUMBA_CACHE_DIR=str(folder / "cache"),
        NUMBA_CPU_NAME=cpu,
        NUMBA_CPU_FEATURES="",
    )
    out = subprocess.run(
        [sys.executable, "-c", _script(_RUN_SCRIPT, sigs)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out, sigs


@pytest.fixture(scope="module")
def generic_run(tmp_path_factory):
    """One run compiled for a generic x86-64 CPU, shared by two tests."""
    return _run_for("generic", tmp_path_factory.mktemp("generic"))


def _check_parity(out):
    assert "PERMUTE False" in out, out  # no AVX-512: the scalar FBP rows
    errors = _errors(out)
    assert len(errors) == 4 + 12 + 4
    for key, value in errors.items():
        assert value <= _tolerance(key), (key, value)


@x86_only
def test_ct_kernels_compiled_for_generic_x86_64_match_skimage(generic_run):
    """Kernels compiled for a generic x86-64 CPU (SSE2 only) run and agree
    with scikit-image on every CT path."""
    _check_parity(generic_run[0])


@x86_only
def test_ct_kernels_compiled_for_avx2_cpu_match_skimage(tmp_path):
    """Kernels compiled for an AVX2-only CPU (haswell; the empty feature
    string makes LLVM use that CPU's own features, so no AVX-512 whatever
    the host has) run and agree with scikit-image."""
    if not _host_has("avx2"):
        pytest.skip("host CPU lacks AVX2: code for haswell cannot run here")
    _check_parity(_run_for("haswell", tmp_path)[0])


@x86_only
def test_ct_kernels_for_zen4_have_no_scatter_or_gather_instructions(
    run_fresh_numba, generic_run
):
    """AMD Zen 4 (``znver4``): AVX-512 scatters/gathers are slow there; they
    came from signed or strided scratch indices (SART, radon, FBP) and none
    may come back. The code is compiled for znver4 whatever the host is and
    never run; the signatures come from the generic run of every CT path."""
    out = run_fresh_numba(
        _script(_ASM_SCRIPT, generic_run[1]),
        NUMBA_CPU_NAME="znver4",
        NUMBA_CPU_FEATURES="",
    )
    assert "HITS {}" in out, out
    compiled = int(next(x for x in out.splitlines() if x.startswith("COMPILED"))[9:])
    assert compiled >= 10, out


def test_simd_follows_the_compile_target(run_fresh_numba):
    """HAVE_PERMUTE (the AVX-512 FBP rows) follows numba's target: the
    named CPU's own features when NUMBA_CPU_FEATURES is empty, the host's
    when only NUMBA_CPU_NAME is set (numba's rule), explicit features
    when given."""
    script = (
        "from napari_backproject.kernels.llvm import simd; print(simd.HAVE_PERMUTE)"
    )
    assert "True" in run_fresh_numba(
        script, NUMBA_CPU_NAME="znver4", NUMBA_CPU_FEATURES=""
    )
    assert "False" in run_fresh_numba(
        script, NUMBA_CPU_NAME="haswell", NUMBA_CPU_FEATURES=""
    )
    assert "False" in run_fresh_numba(script, NUMBA_CPU_NAME="generic")
    assert "True" in run_fresh_numba(
        script, NUMBA_CPU_NAME="znver4", NUMBA_CPU_FEATURES="+avx2,+avx512f"
    )
    host = _host_has("avx512f")
    assert str(host) in run_fresh_numba(script, NUMBA_CPU_NAME="haswell")
