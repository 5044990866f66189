"""Threading layer: chosen where kernels run, safe from several threads."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from napari_backproject import backproject, straighten
from napari_backproject.data import helix_neurite


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=600,
    )


def test_import_changes_no_numba_setting():
    r = _run(
        """
        import numba
        before = numba.config.THREADING_LAYER
        import napari_backproject, napari_backproject.kernels
        import napari_backproject.kernels.backproject_pull
        import napari_backproject.kernels.sample
        assert numba.config.THREADING_LAYER == before, numba.config.THREADING_LAYER
        print("same", before)
        """
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("same")


def test_openmp_workers_sleep_unless_the_user_chose():
    # libgomp's spinning workers starved the threads that stream chunks; the
    # policy is set before our first parallel launch, never at import
    code = """
        import os
        import numpy as np
        import napari_backproject as nb
        print(os.environ.get("OMP_WAIT_POLICY", "unset"))
        nb.radon(np.ones((8, 8)), np.arange(4.0) * 45, parallel=True)
        print(os.environ["OMP_WAIT_POLICY"])
        """
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    r = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["unset", "PASSIVE"]
    r = _run(code, OMP_WAIT_POLICY="ACTIVE")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["ACTIVE", "ACTIVE"]


def _jobs():
    s = helix_neurite(shape=(48, 48, 48), scale=(1.0, 1.0, 1.0), seed=1)

    def straighten_job():
        return straighten(s.volume, s.points, width=16, height=16, scale=s.scale)[0]

    labels, g = straighten(s.mask, s.points, width=16, height=16, scale=s.scale)

    def backproject_job():
        return backproject(labels, g, extent="full")[0]

    return straighten_job, backproject_job


def test_concurrent_parallel_kernels_from_several_threads():
    """straighten's sampling kernel and the pull kernel launched from four
    Python threads at once give the serial results."""
    jobs = _jobs()
    refs = [job() for job in jobs]
    with ThreadPoolExecutor(4) as ex:
        futs = [(k, ex.submit(jobs[k])) for k in (0, 1, 0, 1, 0, 1, 0, 1)]
        for k, f in futs:
            np.testing.assert_array_equal(f.result(), refs[k])


def test_concurrent_launches_under_workqueue():
    """numba's workqueue layer aborts on concurrent launches; ours serialise."""
    r = _run(
        """
        from concurrent.futures import ThreadPoolExecutor
        import numba
        import numpy as np
        from napari_backproject.data import helix_neurite
        from napari_backproject import backproject, straighten
        s = helix_neurite(shape=(48, 48, 48), scale=(1.0, 1.0, 1.0), seed=1)
        labels, g = straighten(s.mask, s.points, width=16, height=16, scale=s.scale)
        ref = backproject(labels, g)[0]
        with ThreadPoolExecutor(4) as ex:
            outs = list(ex.map(lambda _: backproject(labels, g)[0], range(8)))
        assert all(np.array_equal(o, ref) for o in outs)
        print(numba.threading_layer())
        """,
        NUMBA_THREADING_LAYER="workqueue",
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "workqueue"
