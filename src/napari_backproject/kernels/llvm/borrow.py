"""Arrays without reference counting inside a numba kernel.

``borrow(a)`` is ``a`` (same data, shape and strides) without its memory
record (``meminfo``): numba's reference counting of it does nothing. Inside
a kernel, numba counts references to an array each time it passes the array
to an ``inline="always"`` helper (an atomic increment and decrement of a
shared counter); in the pull kernel that was ten atomic operations per
sampled voxel, and from two threads the counters' cache line moved between
the cores at every sample. Arrays a ``prange`` loop hands to its body have
no memory record already, which is why the same kernel ran ~20% faster one
thread (and more with two) inside a ``prange`` than called from Python.

Only for arrays that the caller keeps alive for the whole call (the
arguments of the kernel): a borrowed array does not keep its memory alive.
Never return one or store one anywhere that outlives the call.
"""

from __future__ import annotations

from numba import types
from numba.extending import intrinsic

__all__ = ["borrow"]


@intrinsic
def borrow(typingctx, a):
    """``a`` without its memory record (no reference counting); numba only.

    Examples
    --------
    >>> import numba
    >>> import numpy as np
    >>> @numba.njit
    ... def total(x):
    ...     y = borrow(x)
    ...     return y.sum()
    >>> float(total(np.arange(4.0)))
    6.0
    """
    if not isinstance(a, types.Array):
        return None

    def codegen(context, builder, sig, args):
        src = context.make_array(sig.args[0])(context, builder, value=args[0])
        dst = context.make_array(sig.return_type)(context, builder)
        context.populate_array(
            dst,
            data=src.data,
            shape=src.shape,
            strides=src.strides,
            itemsize=src.itemsize,
            meminfo=None,
        )
        return dst._getvalue()

    return a(a), codegen
