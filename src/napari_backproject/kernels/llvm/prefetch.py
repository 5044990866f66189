"""Software prefetch for numba kernels (an llvmlite intrinsic).

:func:`prefetch_write` asks the CPU to bring the cache line holding
``arr[i]`` into its caches in a writable state (``prefetchw`` on x86; a
plain hint elsewhere, or nothing). It never faults, also for an index past
the end of the array, and changes no value. Call it from ``@numba.njit``
code only; it compiles with ``cache=True``.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core.cgutils import get_or_insert_function
from numba.extending import intrinsic

__all__ = ["prefetch_write"]

_I32 = ir.IntType(32)


@intrinsic
def prefetch_write(typingctx, arr, i):
    """Prefetch the line of ``arr[i]`` (1-D array, unsigned index) for writing.

    Examples
    --------
    >>> import numba, numpy as np
    >>> @numba.njit
    ... def touch(a):
    ...     prefetch_write(a, np.uint64(3))
    ...     prefetch_write(a, np.uint64(10**9))  # out of range: still harmless
    ...     return a[3]
    >>> float(touch(np.arange(8.0)))
    3.0
    """
    if not (isinstance(arr, types.Array) and arr.ndim == 1):
        return None
    if not isinstance(i, types.Integer):
        return None
    sig = types.void(arr, i)

    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        ptr = builder.gep(ary.data, [args[1]])  # not inbounds: any index is fine
        i8p = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [i8p, _I32, _I32, _I32])
        fn = get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        # rw = 1 (write), locality = 3 (keep in all levels), cache type = data
        args = [builder.bitcast(ptr, i8p), _I32(1), _I32(3), _I32(1)]
        builder.call(fn, args)
        return context.get_dummy_value()

    return sig, codegen
