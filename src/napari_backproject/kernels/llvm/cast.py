"""Rounding to an array's floating type inside numba code.

``like(x, proto)`` rounds ``x`` to float32 when ``proto`` is a float32 value
and to float64 otherwise. Kernels that reproduce scikit-image's float32
arithmetic (accumulate in float32, round intermediate results) use it at the
places where NumPy or Cython round.
"""

from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import overload

__all__ = ["like"]


def like(x, proto):
    """Round ``x`` to the floating type of ``proto`` (pure-Python fallback).

    Examples
    --------
    >>> import numpy as np
    >>> bool(like(1 / 3, np.float32(0)) == np.float32(1 / 3))
    True
    """
    if isinstance(proto, np.float32):
        return np.float32(x)
    return np.float64(x)


@overload(like, inline="always")
def _ol_like(x, proto):
    if isinstance(proto, types.Float) and proto.bitwidth == 32:
        return lambda x, proto: np.float32(x)
    return lambda x, proto: np.float64(x)
