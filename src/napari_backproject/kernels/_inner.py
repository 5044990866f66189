"""``inner_jit``: numba helpers compiled for compiled callers only.

An ``@numba.njit`` function gets, for every signature it is compiled for, a
CPython wrapper (unboxing every argument, boxing the result) and a cfunc
wrapper, whether or not Python ever calls it. numba builds, optimises and
turns into machine code each of them, and links them into every compiled
caller, at every level of the call tree. For the SART kernels (some forty
helpers, three to six levels deep) that was about a third of the first
call's compile time (one iteration, N = 256, empty cache: 11.9 s of CPU
with the wrappers, 8.1 s with them turned off; shared 2-CPU machine, load
~2.8).

:func:`inner_jit` returns a plain function instead. Called from numba code,
numba compiles the helper as an ``@overload`` implementation: once per
signature, nothing but the function itself. Called from Python (tests,
doctests), it runs an ordinary ``@njit`` dispatcher of the same
code, made on the first such call. Either way the compiled code is the same
(same options, same fastmath flags).

The module knows nothing of napari, dask or files.
"""

from __future__ import annotations

import functools

import numba
from numba.extending import overload

__all__ = ["inner_jit"]


def inner_jit(fn=None, *, fastmath=False, cache=True):
    """Compile ``fn`` without Python entry wrappers when numba code calls it.

    Parameters
    ----------
    fn : function
        Plain numba-compatible Python function (``nogil`` is implied).
    fastmath : bool or set of str
        numba's ``fastmath`` option, for both ways of calling it.
    cache : bool
        ``cache`` of the dispatcher that Python calls run (compiled
        callers cache the helper's code with their own).

    Returns
    -------
    function
        Callable from numba code (compiled as an overload) and from Python
        (through a dispatcher made on first use).

    Examples
    --------
    >>> import numba
    >>> @inner_jit(cache=False)  # (a doctest has no file to cache for)
    ... def twice(x):
    ...     return 2 * x
    >>> @numba.njit
    ... def f(x):
    ...     return twice(x) + 1
    >>> f(3), twice(4)
    (7, 8)
    """
    if fn is None:
        return functools.partial(inner_jit, fastmath=fastmath, cache=cache)
    if not callable(fn):
        raise TypeError(f"inner_jit decorates a function, got {type(fn).__name__}")
    made = []

    @functools.wraps(fn)
    def from_python(*args, **kwargs):
        if not made:
            made.append(numba.njit(cache=cache, nogil=True, fastmath=fastmath)(fn))
        return made[0](*args, **kwargs)

    options = {"nogil": True, "fastmath": fastmath, "no_cfunc_wrapper": True}
    overload(from_python, jit_options=options, strict=False)(lambda *args, **kwargs: fn)
    return from_python
