"""Measured tuning constants of the CT code, each with where it came from.

Machines:

* **AMD dev VM**: 2 vCPUs of an AMD EPYC (Zen 4, AVX-512), numba 0.68,
  llvmlite 0.45. The host places the two vCPUs either on cores that share
  a cache (a cache line's round trip between two threads ~70-85 ns: *near*)
  or apart (~340-370 ns: *far*).
* **Intel AVX-512**: 2-core Intel VM with AVX-512; round trip 160-176 ns.
* **16-core**: 16-core machine, numpy 2.5.2, numba 0.68, llvmlite 0.50.

Nothing here changes a result; only how fast it comes. None of it depends on
timing the machine it runs on.
"""

from __future__ import annotations

#: Below this many pixel-angle updates radon / FBP run on the calling
#: thread: starting and synchronising numba's threads costs more than it
#: saves there (and much more on a busy machine). AMD dev VM.
PARALLEL_MIN_WORK = 4_000_000

#: SART uses two threads from this image size on (when two CPUs are
#: usable): measured faster from 128 x 128 on the AMD dev VM.
SART_THREADS_MIN_SIZE = 128

#: SART never uses more than two threads: every angle is two phases with a
#: barrier after each, and the image lines both threads touch travel
#: between their caches. 16-core, N = 512: 0.64 s on one thread, 0.55 s on
#: two, 0.59 s on sixteen; more threads only add barrier and cache-line
#: traffic.
SART_MAX_THREADS = 2

#: Each SART thread prefetches (for writing) the image lines of the ray this
#: many rays ahead, always. Prefetch on vs off, one iteration at N = 512:
#: AMD dev VM far placement 0.30 s vs 0.38 s; Intel AVX-512 0.345 s vs
#: 0.374 s; AMD dev VM near placement ~4% slower with it (0.243 s off).
#: It wins on two of the three measured states, and it replaces a switch
#: that timed a thread ping-pong against a 200 ns threshold (which chose
#: the slower branch on the Intel machine). Measured again on the AMD dev VM
#: (issue 13, far placement, quiet): 0.317 s on vs 0.416 s off.
SART_PREFETCH_RAYS = 6

#: Checks of a SART barrier (~30 ns each) before a waiting thread yields
#: the CPU; with one usable CPU it yields at once (see
#: :mod:`.sart`). AMD dev VM.
SART_SPINS = 20_000

#: Row padding (elements) of SART's working copy of the image: rows of a
#: power-of-two length alias in the cache and the scatter runs twice as slow
#: (AMD dev VM, N = 512).
SART_ROW_PAD = 16

#: SART reports progress (and may be cancelled) every this many angles.
SART_REPORT_EVERY = 16
