"""Read the straightened stack at a solved position: nearest, linear, label vote."""

from __future__ import annotations

import numba
import numpy as np

#: sampling modes
NEAREST = 0
LINEAR = 1
LABEL_VOTE = 2


@numba.njit(cache=True, inline="always")
def _sample(
    data, lut, n, height, width, s, v, u, mode, out, kz, ky, kx, labels, weights, closed
):
    """Sample the straightened stack at (s, v, u) into out[kz, ky, kx].

    ``labels`` and ``weights`` are scratch arrays of length 8. For closed
    loops slice ``n`` is slice 0.
    """
    if mode == NEAREST:
        si = int(np.floor(s + 0.5))
        if closed and si >= n:
            si -= n
        vi = int(np.floor(v + 0.5))
        ui = int(np.floor(u + 0.5))
        si = min(max(si, 0), n - 1)
        vi = min(max(vi, 0), height - 1)
        ui = min(max(ui, 0), width - 1)
        out[kz, ky, kx] = data[lut[si], vi, ui]
        return
    s0 = int(np.floor(s))
    v0 = int(np.floor(v))
    u0 = int(np.floor(u))
    s0 = min(max(s0, 0), n - 1)
    v0 = min(max(v0, 0), height - 1)
    u0 = min(max(u0, 0), width - 1)
    fs = s - s0
    fv = v - v0
    fu = u - u0
    s1 = min(s0 + 1, n - 1)
    if closed and s0 == n - 1:
        s1 = 0
    v1 = min(v0 + 1, height - 1)
    u1 = min(u0 + 1, width - 1)
    if fs <= 0.0:
        s1 = s0
    if fv <= 0.0:
        v1 = v0
    if fu <= 0.0:
        u1 = u0
    if mode == LINEAR:
        acc = 0.0
        for cs in range(2):
            ss = s1 if cs else s0
            ws = fs if cs else 1.0 - fs
            if ws == 0.0:
                continue
            for cv in range(2):
                vv = v1 if cv else v0
                wv = fv if cv else 1.0 - fv
                if wv == 0.0:
                    continue
                for cu in range(2):
                    uu = u1 if cu else u0
                    wu = fu if cu else 1.0 - fu
                    if wu == 0.0:
                        continue
                    acc += ws * wv * wu * data[lut[ss], vv, uu]
        out[kz, ky, kx] = acc
        return
    # LABEL_VOTE: sum the weight of each distinct label among the 8 corners
    first = data[lut[s0], v0, u0]
    if (
        data[lut[s0], v0, u1] == first
        and data[lut[s0], v1, u0] == first
        and data[lut[s0], v1, u1] == first
        and data[lut[s1], v0, u0] == first
        and data[lut[s1], v0, u1] == first
        and data[lut[s1], v1, u0] == first
        and data[lut[s1], v1, u1] == first
    ):
        out[kz, ky, kx] = first
        return
    m = 0
    for cs in range(2):
        ss = s1 if cs else s0
        ws = fs if cs else 1.0 - fs
        for cv in range(2):
            vv = v1 if cv else v0
            wv = fv if cv else 1.0 - fv
            for cu in range(2):
                uu = u1 if cu else u0
                wu = fu if cu else 1.0 - fu
                w = ws * wv * wu
                if w <= 0.0:
                    continue
                lab = data[lut[ss], vv, uu]
                found = False
                for j in range(m):
                    if labels[j] == lab:
                        weights[j] += w
                        found = True
                        break
                if not found:
                    labels[m] = lab
                    weights[m] = w
                    m += 1
    best = 0
    for j in range(1, m):
        if weights[j] > weights[best]:
            best = j
        elif weights[j] == weights[best]:
            # ties: a label beats background; among labels the smaller ID wins
            lb = labels[best]
            lj = labels[j]
            if lb == 0 or (lj != 0 and lj < lb):
                best = j
    if m > 0:
        out[kz, ky, kx] = labels[best]
