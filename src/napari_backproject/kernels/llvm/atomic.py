"""Atomic operations on ``int64`` arrays for numba kernels (llvmlite intrinsics).

Two threads that run nopython code without the GIL can share a counter
through these: :func:`atomic_add` (sequentially consistent read-modify-write),
:func:`atomic_load` (acquire) and :func:`atomic_store` (release) compile to
single atomic instructions, which the optimiser may neither drop nor hoist
out of a loop; :func:`cpu_relax` is the spin-loop hint (``pause`` on x86,
nothing elsewhere). :func:`spin_until` waits for a counter on top of them.

They are numba intrinsics: call them from ``@numba.njit`` code only (they
compile with ``cache=True``). Indices are not bounds checked.
"""

from __future__ import annotations

import platform

import numba
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["atomic_add", "atomic_load", "atomic_store", "cpu_relax", "spin_until"]

_X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")


def _check_array(arr) -> None:
    if not (
        isinstance(arr, types.Array) and arr.dtype == types.int64 and arr.ndim == 1
    ):
        raise numba.core.errors.TypingError(
            f"atomic operations need a 1-D int64 array, got {arr}"
        )


def _item_pointer(context, builder, arrty, arr, index):
    ary = context.make_array(arrty)(context, builder, arr)
    return cgutils.get_item_pointer(
        context, builder, arrty, ary, [index], wraparound=False, boundscheck=False
    )


@intrinsic
def atomic_add(typingctx, arr, i, v):
    """Add ``v`` to ``arr[i]`` atomically; return the value before.

    Sequentially consistent. ``arr`` is a 1-D ``int64`` array.

    Examples
    --------
    >>> import numba
    >>> import numpy as np
    >>> @numba.njit
    ... def bump(a):
    ...     return atomic_add(a, 0, 5)
    >>> a = np.zeros(1, dtype=np.int64)
    >>> int(bump(a)), int(a[0])
    (0, 5)
    """
    _check_array(arr)
    sig = types.int64(arr, types.intp, types.int64)

    def codegen(context, builder, signature, args):
        ptr = _item_pointer(context, builder, signature.args[0], args[0], args[1])
        return builder.atomic_rmw("add", ptr, args[2], "seq_cst")

    return sig, codegen


@intrinsic
def atomic_load(typingctx, arr, i):
    """Read ``arr[i]`` atomically (acquire ordering).

    The load is done every time it is executed: a spin loop on it cannot be
    turned into an infinite loop by the optimiser.

    Examples
    --------
    >>> import numba
    >>> import numpy as np
    >>> @numba.njit
    ... def read(a):
    ...     return atomic_load(a, 1)
    >>> int(read(np.array([3, 4], dtype=np.int64)))
    4
    """
    _check_array(arr)
    sig = types.int64(arr, types.intp)

    def codegen(context, builder, signature, args):
        ptr = _item_pointer(context, builder, signature.args[0], args[0], args[1])
        return builder.load_atomic(ptr, "acquire", 8)

    return sig, codegen


@intrinsic
def atomic_store(typingctx, arr, i, v):
    """Write ``v`` to ``arr[i]`` atomically (release ordering).

    Examples
    --------
    >>> import numba
    >>> import numpy as np
    >>> @numba.njit
    ... def write(a):
    ...     atomic_store(a, 0, 7)
    >>> a = np.zeros(1, dtype=np.int64); write(a); int(a[0])
    7
    """
    _check_array(arr)
    sig = types.none(arr, types.intp, types.int64)

    def codegen(context, builder, signature, args):
        ptr = _item_pointer(context, builder, signature.args[0], args[0], args[1])
        builder.store_atomic(args[2], ptr, "release", 8)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def cpu_relax(typingctx):
    """Spin-loop hint: ``pause`` on x86, nothing on other CPUs.

    Examples
    --------
    >>> import numba
    >>> @numba.njit
    ... def spin():
    ...     cpu_relax()
    ...     return 1
    >>> spin()
    1
    """
    sig = types.none()

    def codegen(context, builder, signature, args):
        if _X86:
            fnty = ir.FunctionType(ir.VoidType(), [])
            fn = cgutils.get_or_insert_function(
                builder.module, fnty, "llvm.x86.sse2.pause"
            )
            builder.call(fn, [])
        return context.get_dummy_value()

    return sig, codegen


@numba.njit(cache=True, nogil=True)
def spin_until(sync, i, target, abort, max_spins):
    """Spin until ``sync[i] >= target`` or ``sync[abort] != 0``.

    Returns 1 once ``sync[i] >= target`` (even if aborted: the wait is
    over), else -1 once ``sync[abort]`` is non-zero, else 0 after
    ``max_spins`` unsuccessful checks (the caller may then yield the CPU and
    call again).

    Examples
    --------
    >>> import numpy as np
    >>> sync = np.array([3, 0], dtype=np.int64)
    >>> spin_until(sync, 0, 2, 1, 10), spin_until(sync, 0, 4, 1, 10)
    (1, 0)
    >>> sync[1] = 1
    >>> spin_until(sync, 0, 2, 1, 10), spin_until(sync, 0, 4, 1, 10)
    (1, -1)
    """
    for _ in range(max_spins):
        if atomic_load(sync, i) >= target:
            return 1
        if atomic_load(sync, abort) != 0:
            return -1
        cpu_relax()
    return 0
