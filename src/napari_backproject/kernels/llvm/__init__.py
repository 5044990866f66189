"""The few helpers that emit LLVM IR (or type-level code) for numba kernels.

See ``README.md`` in this folder: what each emits, why (its measured gain
over plain numba), which LLVM/numba versions are tested, and the traps
(fastmath, stale caches).
"""
