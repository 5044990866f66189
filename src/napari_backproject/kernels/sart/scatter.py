"""Scatter of SART: the backward half of one ray's update.

A loop in LLVM vector IR (:func:`_scatter_blocks`) scales the weights by
the deviation and the Hamming window and scatters them, summing each run of
samples with the same pixel index in one 4-wide register and adding it to
the four pixels once. :func:`_scatter_pair` does a mirrored pair from the
weights of its first ray. Scalar twins of both live in :mod:`.reference`
(tests check them bit for bit).

The module knows nothing of napari, dask or files.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .._inner import inner_jit
from .geometry import _border_weights, _sample_weights, _window
from .raysums import _scratch_arrays, _shuffle

__all__ = []

_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_F64 = ir.DoubleType()


@inner_jit
def _flush(flat, p, us, a0, a1, a2, a3):
    u1 = np.uint64(1)
    flat[p] = flat[p] + a0
    flat[p + u1] = flat[p + u1] + a1
    flat[p + us] = flat[p + us] + a2
    flat[p + us + u1] = flat[p + us + u1] + a3


def _splat4(builder, value):
    v4 = ir.VectorType(value.type, 4)
    vec = builder.insert_element(ir.Constant(v4, ir.Undefined), value, _I32(0))
    return _shuffle(builder, vec, ir.Constant(v4, ir.Undefined), [0, 0, 0, 0])


@intrinsic
def _scatter_blocks(
    typingctx, flat, stride, blocks, deviation, win, s, km, dev_m, win_m
):
    """:func:`_scatter` of samples ``[0, 4 * blocks)``, in vector IR.

    The four corner sums of the current run live in one 4-wide register:
    per sample one multiply and one add where the scalar loop needs four
    of each (that loop is bound by how many instructions the CPU issues
    per cycle, not by its loads or branches). Four samples per step: their
    weights are four 4-wide loads (``w0 .. w3``), each multiplied by the
    four samples' amplitudes and then transposed in registers to one
    vector per sample. A run ends, and its four sums are added to
    the pixels, as in :func:`_scatter`; the operations and their order are
    the same, so the results are identical. Returns the open run
    ``(pp, a0, a1, a2, a3)``, not yet added (the caller goes on with the
    remaining samples and adds it).

    With ``km`` not None (a separate compilation) it also scatters the
    update of the mirrored ray (:func:`_mirror_map`; amplitudes
    ``dev_m * win_m[k]``, weights in reverse corner order, cell
    ``km - idx[k]``) in the same pass: the two rays' runs end together, so
    one comparison per sample serves both, and the weights are loaded once.
    It then returns ``(pp, a0 .. a3, b0 .. b3)``, ``b`` the mirror's sums.
    """
    if not (
        isinstance(flat, types.Array)
        and flat.dtype in (types.float32, types.float64)
        and isinstance(win, types.Array)
        and win.dtype == types.float64
        and win.layout == "C"
        and isinstance(s, types.BaseTuple)
        and len(s) == 5
    ):
        return None
    fdt = flat.dtype
    paired = not isinstance(km, (types.NoneType, types.Omitted))
    if paired and not (isinstance(win_m, types.Array) and win_m.layout == "C"):
        return None
    ret = types.Tuple((types.uint64,) + (types.float64,) * (8 if paired else 4))
    sig = ret(flat, types.intp, types.intp, types.float64, win, s, km, dev_m, win_m)

    def codegen(context, builder, sig, args):
        flat_v, stride_v, blocks_v, dev_v, win_v, s_v, km_v, devm_v, winm_v = args
        fl = context.make_array(sig.args[0])(context, builder, flat_v)
        tys = sig.args[5]
        arrs = _scratch_arrays(context, builder, tys, s_v)
        t = context.get_value_type(fdt)
        v4d = ir.VectorType(_F64, 4)
        one = ir.Constant(_I64, 1)
        zero4 = ir.Constant(v4d, [0.0] * 4)

        def flush(pp, acc):
            below = builder.add(pp, stride_v)
            for c, pos in enumerate(
                (pp, builder.add(pp, one), below, builder.add(below, one))
            ):
                ptr = builder.gep(fl.data, [pos])
                add = builder.extract_element(acc, _I32(c))
                old = builder.load(ptr)
                if fdt == types.float32:  # as numba: float32 + float64 -> float64
                    new = builder.fptrunc(
                        builder.fadd(builder.fpext(old, _F64), add), t
                    )
                else:
                    new = builder.fadd(old, add)
                builder.store(new, ptr)

        def sample_parts(k, cols, dev, win_ty, win_val):
            """amp[k] * wc[k] of four samples, one vector per sample."""
            wn = context.make_array(win_ty)(context, builder, win_val)
            wins = builder.bitcast(builder.gep(wn.data, [k]), v4d.as_pointer())
            amps = builder.fmul(_splat4(builder, dev), builder.load(wins, align=8))
            # corner-major products, transposed to sample-major ([c] of
            # sample k): the products the scalar loop forms, one per lane
            cols = [builder.fmul(amps, col) for col in cols]
            lo01 = _shuffle(builder, cols[0], cols[1], [0, 4, 1, 5])
            hi01 = _shuffle(builder, cols[0], cols[1], [2, 6, 3, 7])
            lo23 = _shuffle(builder, cols[2], cols[3], [0, 4, 1, 5])
            hi23 = _shuffle(builder, cols[2], cols[3], [2, 6, 3, 7])
            return [
                _shuffle(builder, lo01, lo23, [0, 1, 4, 5]),
                _shuffle(builder, lo01, lo23, [2, 3, 6, 7]),
                _shuffle(builder, hi01, hi23, [0, 1, 4, 5]),
                _shuffle(builder, hi01, hi23, [2, 3, 6, 7]),
            ]

        pre = builder.basic_block
        head = builder.append_basic_block("scatter.head")
        body = builder.append_basic_block("scatter.body")
        done = builder.append_basic_block("scatter.done")

        def pixel(k):
            return builder.load(builder.gep(arrs[0].data, [k]), align=8)

        pp0 = pixel(ir.Constant(_I64, 0))
        builder.branch(head)
        builder.position_at_end(head)
        i = builder.phi(_I64)
        i.add_incoming(ir.Constant(_I64, 0), pre)
        pp = builder.phi(_I64)
        pp.add_incoming(pp0, pre)
        accs = []
        for _ in range(2 if paired else 1):
            acc = builder.phi(v4d)
            acc.add_incoming(zero4, pre)
            accs.append(acc)
        builder.cbranch(builder.icmp_signed("<", i, blocks_v), body, done)
        builder.position_at_end(body)
        k = builder.mul(i, ir.Constant(_I64, 4))
        cols = [
            builder.load(
                builder.bitcast(builder.gep(arrs[c + 1].data, [k]), v4d.as_pointer()),
                align=8,
            )
            for c in range(4)
        ]
        parts = [sample_parts(k, cols, dev_v, sig.args[4], win_v)]
        if paired:
            parts.append(sample_parts(k, cols[::-1], devm_v, sig.args[8], winm_v))
        run_p, run_accs = pp, list(accs)
        for j in range(4):
            p = pixel(builder.add(k, ir.Constant(_I64, j)))
            with builder.if_else(builder.icmp_unsigned("==", p, run_p)) as (
                same,
                other,
            ):
                with same:
                    grown = [
                        builder.fadd(a, part[j])
                        for a, part in zip(run_accs, parts, strict=True)
                    ]
                    from_same = builder.basic_block
                with other:
                    flush(run_p, run_accs[0])
                    if paired:
                        flush(builder.sub(km_v, run_p), run_accs[1])
                    from_other = builder.basic_block
            nexts = []
            for g, part in zip(grown, parts, strict=True):
                nxt = builder.phi(v4d)
                nxt.add_incoming(g, from_same)
                nxt.add_incoming(part[j], from_other)
                nexts.append(nxt)
            next_p = builder.phi(_I64)
            next_p.add_incoming(run_p, from_same)
            next_p.add_incoming(p, from_other)
            run_p, run_accs = next_p, nexts
        end = builder.basic_block
        i.add_incoming(builder.add(i, one), end)
        pp.add_incoming(run_p, end)
        for acc, val in zip(accs, run_accs, strict=True):
            acc.add_incoming(val, end)
        builder.branch(head)
        builder.position_at_end(done)
        out = [pp]
        for acc in accs:
            out += [builder.extract_element(acc, _I32(c)) for c in range(4)]
        return context.make_tuple(builder, sig.return_type, out)

    return sig, codegen


@inner_jit
def _products(amp, s, u, reverse):
    """``amp`` times the four weights of sample ``u`` (``reverse``: w3 first)."""
    _, w0, w1, w2, w3 = s
    if reverse:
        return amp * w3[u], amp * w2[u], amp * w1[u], amp * w0[u]
    return amp * w0[u], amp * w1[u], amp * w2[u], amp * w3[u]


@inner_jit
def _plus(a, b):
    return a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]


@inner_jit
def _flush4(flat, p, us, a):
    _flush(flat, p, us, a[0], a[1], a[2], a[3])


@inner_jit
def _scatter_from(flat, stride, k0, count, deviation, win, s, run):
    """Scalar scatter of samples ``[k0, count)``, continuing the open ``run``.

    ``run = (pp, a0, a1, a2, a3)``: the flat index of the current run of
    samples and its four corner sums, not yet added; the last run is added
    on return.
    """
    idx = s[0]
    us = np.uint64(stride)
    pp = run[0]
    a = run[1:]
    for k in range(k0, count):
        u = np.uint64(k)
        p = idx[u]
        here = _products(deviation * win[u], s, u, False)
        if p != pp:
            _flush4(flat, pp, us, a)
            pp = p
            a = here
        else:
            a = _plus(a, here)
    _flush4(flat, pp, us, a)


@inner_jit
def _scatter_pair_from(flat, stride, k0, count, dev, win, dev_m, win_m, s, run, km):
    """:func:`_scatter_from` for a ray and its mirror together.

    ``run = (pp, a0 .. a3, b0 .. b3)``: the open run of both (the mirror's
    at ``km - pp``, its sums ``b``); the mirror's amplitudes are
    ``dev_m * win_m[k]`` and its weights the ray's in reverse corner order.
    """
    idx = s[0]
    us = np.uint64(stride)
    km = np.uint64(km)
    pp = run[0]
    a = run[1:5]
    b = run[5:]
    for k in range(k0, count):
        u = np.uint64(k)
        p = idx[u]
        here = _products(dev * win[u], s, u, False)
        there = _products(dev_m * win_m[u], s, u, True)
        if p != pp:
            _flush4(flat, pp, us, a)
            _flush4(flat, km - pp, us, b)
            pp = p
            a = here
            b = there
        else:
            a = _plus(a, here)
            b = _plus(b, there)
    _flush4(flat, pp, us, a)
    _flush4(flat, km - pp, us, b)


@inner_jit
def _scatter(flat, stride, count, deviation, win, s):
    """Add ``deviation * win[k] * wc[k]`` to the four neighbours of sample k.

    Runs of samples with the same flat index (neighbouring samples are
    ~0.5 px apart) are summed in registers and added once: the pixels'
    read-modify-writes drop by about a third to a half. The sums are then
    formed in a different order (rounding only). Blocks of four samples go
    through :func:`_scatter_blocks` (same operations, vector registers),
    the rest through :func:`_scatter_from`.
    """
    blocks = count // 4
    run = _scatter_blocks(flat, stride, blocks, deviation, win, s, None, None, None)
    _scatter_from(flat, stride, 4 * blocks, count, deviation, win, s, run)


@inner_jit
def _scatter_pair(flat, stride, count, dev, win, dev_m, win_m, s, km):
    """:func:`_scatter` of a ray and, from the same weights, of its mirror.

    The mirror (:func:`_mirror_map`) has amplitudes ``dev_m * win_m[k]``
    (``win_m``: the window reversed), weights in reverse corner order and
    cells ``km - idx[k]``; its runs end where the ray's do.
    """
    blocks = count // 4
    run = _scatter_blocks(flat, stride, blocks, dev, win, s, km, dev_m, win_m)
    _scatter_pair_from(
        flat, stride, 4 * blocks, count, dev, win, dev_m, win_m, s, run, km
    )


@inner_jit
def _add_row(flat, q, i, i0, i1, v):
    if v != 0.0 and i0 <= i < i1:
        flat[q] = flat[q] + v


@inner_jit
def _scatter_rows(flat, stride, count, deviation, win, s, i0, i1):
    """:func:`_scatter` on rows ``[i0, i1)`` only, skipping zero weights."""
    idx, w0, w1, w2, w3 = s
    for k in range(count):
        u = np.uint64(k)
        amp = deviation * win[u]
        p = np.int64(idx[u])
        i = p // stride
        _add_row(flat, p, i, i0, i1, amp * w0[u])
        _add_row(flat, p + 1, i, i0, i1, amp * w1[u])
        _add_row(flat, p + stride, i + 1, i0, i1, amp * w2[u])
        _add_row(flat, p + stride + 1, i + 1, i0, i1, amp * w3[u])


@inner_jit
def _ray_scatter(uflat, n, stride, ray, proto, windows, s, i0, i1, fresh, scale):
    """Add ``scale`` times the update of a ray to rows ``[i0, i1)``.

    ``ray`` comes from :func:`_ray_deviation`. ``fresh``: the scratch still
    holds the weights of the whole ray.
    """
    ns, ds, dx, dy, x0, y0, center, deviation, interior = ray
    win = _window(windows, ns, np.bool_(False), proto)
    dev = np.float64(deviation) * scale
    all_rows = interior and i0 == 0 and i1 >= n
    chunk = s[0].shape[0]
    for k0 in range(0, ns + 1, chunk):
        count = min(chunk, ns + 1 - k0)
        if not (fresh and ns < chunk):
            _sample_weights(k0, count, ds, dx, dy, x0, y0, center, stride, proto, s)
            if not interior:
                _border_weights(count, n, stride, s)
        if all_rows:
            _scatter(uflat, stride, count, dev, win[k0:], s)
        else:
            _scatter_rows(uflat, stride, count, dev, win[k0:], s, i0, i1)
