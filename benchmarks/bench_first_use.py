"""First use: time to first result with an empty numba cache ("cold").

What a new user waits for the first time they press Run: every operation
runs in a fresh child process whose ``NUMBA_CACHE_DIR`` is an empty
temporary folder, so all its kernels compile. The "warm" column runs the
same child again with that (now filled) cache: the difference is compile
time. Times are measured inside the child from the call to its result
(imports not included; they are listed in the notes, with the CPU time
of the call, which a busy machine inflates much less than the wall time).

Inputs (made once in this process): the Shepp-Logan phantom at N = 256
with 256 angles over 180 degrees (its sinogram from scikit-image), and the
128^3 helix neurite straightened with W = H = 40 (the tube mask as uint8
labels for backprojection). ``python -m benchmarks --only first_use``.

The "widget" rows follow a dock widget instead: it starts its warm-up
(``_warmup.run`` in a thread, as ``JobControls.start_warmup`` does) when it
opens; the user presses Run ``_WIDGET_DELAY`` seconds later, which stops the
warm-up after the kernel it is compiling and runs the widget's Qt-free job
(``_jobs.fbp_job``, ``sart_job``, ``backproject_job``). The time is from
pressing Run to the job's result.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap

import numpy as np

from benchmarks.harness import Case

_STATE: dict = {}

# each operation: code run in the child with the inputs ``d`` (a dict of
# loaded arrays), ``g`` (the geometry) and ``nb`` (napari_backproject)
_OPS = {
    "radon": "nb.radon(d['image'], theta=d['theta'])",
    "iradon (FBP)": "nb.iradon(d['sinogram'], theta=d['theta'])",
    "iradon_sart (1 iteration)": "nb.iradon_sart(d['sinogram'], theta=d['theta'])",
    "straighten (uint8, order 1)": (
        "nb.straighten(d['volume'], d['points'], width=40, height=40, "
        "scale=(1.0, 1.0, 1.0))"
    ),
    "backproject labels uint8": "nb.backproject(d['labels'], g)",
    "backproject labels int64 (after uint8)": (
        "nb.backproject(d['labels'], g); T0 = time.perf_counter(); "
        "C0 = time.process_time(); nb.backproject(d['labels'].astype(np.int64), g)"
    ),
}

#: seconds between opening a widget and pressing Run in the "widget" rows
_WIDGET_DELAY = 5.0

_WIDGET = textwrap.dedent(
    """
    import threading
    from napari_backproject import _jobs, _warmup
    stop = threading.Event()
    warm = threading.Thread(target=_warmup.run, args=({keys}, {dtypes}, stop))
    warm.start()
    time.sleep({delay})
    T0 = time.perf_counter()
    C0 = time.process_time()
    stop.set()
    for _ in {job}:
        pass
    """
)


def _widget_op(keys: str, dtypes: str, job: str) -> str:
    return _WIDGET.format(keys=keys, dtypes=dtypes, delay=_WIDGET_DELAY, job=job)


_OPS.update(
    {
        f"widget FBP, Run {_WIDGET_DELAY:g} s after opening": _widget_op(
            "['fbp']",
            "[d['sinogram'].dtype]",
            "_jobs.fbp_job(d['sinogram'], d['theta'])",
        ),
        f"widget SART, Run {_WIDGET_DELAY:g} s after opening": _widget_op(
            "['sart']",
            "[d['sinogram'].dtype]",
            "_jobs.sart_job(d['sinogram'], d['theta'])",
        ),
        f"widget Backproject labels, Run {_WIDGET_DELAY:g} s after opening": (
            _widget_op(
                "['backproject']",
                "[d['labels'].dtype]",
                "_jobs.backproject_job(d['labels'], g, {})",
            )
        ),
    }
)

_CHILD = textwrap.dedent(
    """
    import json, sys, time
    t0 = time.perf_counter()
    import numpy as np
    import napari_backproject as nb
    from napari_backproject.slice_geometry import SliceGeometry
    t1 = time.perf_counter()
    folder = sys.argv[1]
    d = dict(np.load(folder + "/inputs.npz"))
    g = SliceGeometry.from_json(folder + "/geometry.json")
    T0 = time.perf_counter()
    C0 = time.process_time()
    exec(sys.argv[2])
    t3 = time.perf_counter()
    print(json.dumps({"import": t1 - t0, "first": t3 - T0,
                      "cpu": time.process_time() - C0}))
    """
)


def _inputs() -> str:
    """Folder with the inputs (written once per process)."""
    if "dir" not in _STATE:
        from skimage.transform import radon as sk_radon

        from napari_backproject.data import helix_neurite, shepp_logan
        from napari_backproject.straighten import straighten

        tmp = tempfile.TemporaryDirectory(prefix="nb-first-use-")
        _STATE["tmp"] = tmp
        image = shepp_logan(256)
        theta = np.arange(256) * 180.0 / 256
        s = helix_neurite(shape=(128, 128, 128), scale=(1.0, 1.0, 1.0), seed=0)
        labels, g = straighten(s.mask, s.points, width=40, height=40, scale=s.scale)
        np.savez(
            os.path.join(tmp.name, "inputs.npz"),
            image=image,
            theta=theta,
            sinogram=sk_radon(image, theta=theta),
            volume=s.volume,
            points=s.points,
            labels=labels.astype(np.uint8),
        )
        g.to_json(os.path.join(tmp.name, "geometry.json"))
        _STATE["dir"] = tmp.name
    return _STATE["dir"]


def run_child(code: str, cache_dir: str) -> dict:
    """Run ``code`` in a child process with ``NUMBA_CACHE_DIR=cache_dir``."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    r = subprocess.run(
        [sys.executable, "-c", _CHILD, _inputs(), code],
        capture_output=True,
        text=True,
        env=env,
    )
    if r.returncode != 0:
        raise RuntimeError(f"first-use child failed:\n{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


#: the rows of a ``--quick`` run (every row compiles from scratch: ~5-10 s each)
_QUICK = ("iradon (FBP)", f"widget FBP, Run {_WIDGET_DELAY:g} s after opening")


def cases(quick: bool) -> list[Case]:
    out = []
    for name, code in _OPS.items():
        if quick and name not in _QUICK:
            continue
        state: dict = {}

        def cold(code=code, state=state):
            cache = tempfile.TemporaryDirectory(prefix="nb-numba-cold-")
            state["cache"] = cache  # kept for the warm run
            r = run_child(code, cache.name)
            state["import"] = r["import"]
            state["cpu"] = r["cpu"]
            return r["first"]

        def warm(code=code, state=state):
            return run_child(code, state["cache"].name)["first"]

        out.append(
            Case(
                name=f"first {name}",
                ours=cold,
                reference=warm,
                reference_name="same, second run (cached)",
                setup=_inputs,
                repeats=1,
                self_timed=True,
                notes=lambda state=state: (
                    f"CPU {state['cpu']:.1f} s (on a loaded machine the wall "
                    f"time grows, the CPU time much less); import "
                    f"{state['import']:.1f} s"
                ),
            )
        )
    return out
