"""Ray sums of SART: the forward half of one ray's update.

A loop written in LLVM vector IR (:func:`_dot_blocks`) forms the ray sum
and the sum of squared weights four samples at a time, without branches
(two 2-wide pixel loads per sample, transposed in registers). Rays whose
samples may touch the image border (rare) take a checked path with
scikit-image's skipping rules (:func:`_ray_sum_border`). Mirrored pairs
(ray ``r`` and ``2c - r`` without a projection shift) are summed in one
pass over the weights of ``r`` (:func:`_ray_dot_pair`).

The module knows nothing of napari, dask or files.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from llvmlite import ir
from numba import types
from numba.core.cgutils import get_or_insert_function
from numba.extending import intrinsic

from .._inner import inner_jit
from ..llvm.cast import like as _like
from .geometry import (
    Ray,
    _border_weights,
    _interior,
    _ray_setup,
    _sample_weights,
    _weight_norm,
)

__all__ = ["RaySums"]

#: What :func:`_ray_sums` returns: the ray's geometry (as
#: :class:`.geometry.RayGeom`), its ray sum and weight norm, ``interior``,
#: and for a mirrored pair (``mirrored``) the mirror's ray sum.
RaySums = namedtuple(
    "RaySums",
    "ns ds dx dy x0 y0 center ray_sum weight_norm interior mirror_sum mirrored",
)

_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_F64 = ir.DoubleType()


def _scratch_arrays(context, builder, tys, s_v):
    """The five scratch arrays ``(idx, w0 .. w3)`` of tuple ``s_v`` in IR."""
    return [
        context.make_array(tys[c])(context, builder, builder.extract_value(s_v, c))
        for c in range(5)
    ]


def _shuffle(builder, a, b, lanes):
    return builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(_I32, 4), lanes))


@intrinsic
def _dot_blocks(typingctx, flat, stride, blocks, s, km):
    """Ray sum and weight norm of samples ``[0, 4 * blocks)``, in vector IR.

    Four samples per step: each sample's two pixel pairs ``flat[p:p+2]``
    and ``flat[p+S:p+S+2]`` are two 2-wide loads, transposed in registers
    to one 4-wide vector per corner, which meets that corner's four weights
    (one 4-wide load from each of ``w0 .. w3``) in one fused multiply-add;
    the squared weights go into four more accumulators. Three loads per
    sample where the scalar loop needs nine (this CPU does two
    floating-point loads per cycle), and no branch. Arithmetic in the
    dtype of ``flat`` (weights rounded to it, as the scalar loop does);
    returns ``(ray_sum, weight_norm)``. With ``km`` not None (a separate
    compilation) it also forms the ray sum of the mirrored ray from the
    same weights (:func:`_mirror_map`: corner ``c`` of the mirrored sample
    is pixel ``km - idx[k]`` plus the offset of corner ``3 - c``, and has
    weight ``w{3-c}``) and returns ``(ray_sum, weight_norm, mirror_sum)``:
    the weights and indices are loaded once for both rays.
    """
    if not (
        isinstance(flat, types.Array)
        and flat.dtype in (types.float32, types.float64)
        and isinstance(s, types.BaseTuple)
        and len(s) == 5
    ):
        return None
    fdt = flat.dtype
    mapped = not isinstance(km, (types.NoneType, types.Omitted))
    sig = types.UniTuple(fdt, 3 if mapped else 2)(flat, types.intp, types.intp, s, km)

    def codegen(context, builder, sig, args):
        flat_v, stride_v, blocks_v, s_v, km_v = args
        fl = context.make_array(sig.args[0])(context, builder, flat_v)
        tys = sig.args[3]
        arrs = _scratch_arrays(context, builder, tys, s_v)
        t = context.get_value_type(fdt)
        v2 = ir.VectorType(t, 2)
        v4 = ir.VectorType(t, 4)
        v4d = ir.VectorType(_F64, 4)
        align = 4 if fdt == types.float32 else 8
        fma_name = "llvm.fma.v4f32" if fdt == types.float32 else "llvm.fma.v4f64"
        fma = get_or_insert_function(
            builder.module, ir.FunctionType(v4, [v4, v4, v4]), fma_name
        )
        zero = ir.Constant(v4, [0.0] * 4)
        pre = builder.basic_block
        head = builder.append_basic_block("dot.head")
        body = builder.append_basic_block("dot.body")
        done = builder.append_basic_block("dot.done")
        builder.branch(head)
        builder.position_at_end(head)
        i = builder.phi(_I64)
        i.add_incoming(ir.Constant(_I64, 0), pre)
        accs = []
        for _ in range(12 if mapped else 8):
            ph = builder.phi(v4)
            ph.add_incoming(zero, pre)
            accs.append(ph)
        builder.cbranch(builder.icmp_signed("<", i, blocks_v), body, done)
        builder.position_at_end(body)
        k = builder.mul(i, ir.Constant(_I64, 4))
        ws = []
        for c in range(4):
            ptr = builder.bitcast(builder.gep(arrs[c + 1].data, [k]), v4d.as_pointer())
            w = builder.load(ptr, align=8)
            ws.append(w if fdt == types.float64 else builder.fptrunc(w, v4))

        def corner_vectors(ps):
            """Pixel pairs at ``ps`` and ``ps + stride`` -> four corner vectors."""
            tops, bots = [], []
            for p in ps:
                pt = builder.bitcast(builder.gep(fl.data, [p]), v2.as_pointer())
                tops.append(builder.load(pt, align=align))
                pb = builder.gep(fl.data, [builder.add(p, stride_v)])
                pb = builder.bitcast(pb, v2.as_pointer())
                bots.append(builder.load(pb, align=align))
            corners = []
            for pairs in (tops, bots):
                lo = _shuffle(builder, pairs[0], pairs[1], [0, 1, 2, 3])
                hi = _shuffle(builder, pairs[2], pairs[3], [0, 1, 2, 3])
                corners.append(_shuffle(builder, lo, hi, [0, 2, 4, 6]))
                corners.append(_shuffle(builder, lo, hi, [1, 3, 5, 7]))
            return corners

        ps = [
            builder.load(
                builder.gep(arrs[0].data, [builder.add(k, ir.Constant(_I64, j))]),
                align=8,
            )
            for j in range(4)
        ]
        corners = corner_vectors(ps)
        news = [builder.call(fma, [ws[c], corners[c], accs[c]]) for c in range(4)]
        news += [builder.call(fma, [ws[c], ws[c], accs[4 + c]]) for c in range(4)]
        if mapped:
            mirror = corner_vectors([builder.sub(km_v, p) for p in ps])
            news += [
                builder.call(fma, [ws[3 - c], mirror[c], accs[8 + c]]) for c in range(4)
            ]
        i.add_incoming(builder.add(i, ir.Constant(_I64, 1)), body)
        for ph, val in zip(accs, news, strict=True):
            ph.add_incoming(val, body)
        builder.branch(head)
        builder.position_at_end(done)
        out = []
        for a0, a1, a2, a3 in [accs[m : m + 4] for m in range(0, len(accs), 4)]:
            v = builder.fadd(builder.fadd(a0, a1), builder.fadd(a2, a3))
            lanes = [builder.extract_element(v, ir.Constant(_I32, m)) for m in range(4)]
            out.append(
                builder.fadd(
                    builder.fadd(lanes[0], lanes[1]), builder.fadd(lanes[2], lanes[3])
                )
            )
        return context.make_tuple(builder, sig.return_type, out)

    return sig, codegen


@inner_jit(fastmath={"contract"})
def _ray_dot(flat, stride, count, s, proto):
    """``(ray sum, weight norm)`` of ``count`` interior samples, branch free.

    :func:`_dot_blocks` on blocks of four samples, the rest here; the
    sums of the scalar loops (:func:`_ray_sum_border` on interior samples,
    :func:`_weight_norm`), in another order.
    """
    idx, w0, w1, w2, w3 = s
    blocks = count // 4
    acc, nrm = _dot_blocks(flat, stride, blocks, s, None)
    for k in range(4 * blocks, count):
        u = np.uint64(k)
        v0, v1, v2, v3 = _weights_at(s, u, proto)
        acc += _corner_dot(flat, stride, idx[u], v0, v1, v2, v3)
        nrm += (v0 * v0 + v1 * v1) + (v2 * v2 + v3 * v3)
    return acc, nrm


@inner_jit(fastmath={"contract"})
def _ray_dot_pair(flat, stride, count, s, proto, km):
    """:func:`_ray_dot` and the ray sum of the mirrored ray, in one pass.

    Returns ``(ray_sum, weight_norm, mirror_sum)``; ``mirror_sum`` is what
    :func:`_ray_dot` gives for the mirrored ray (pixels ``km - idx[k]``,
    weights in reverse corner order), in the same order, bit for bit.
    """
    idx, w0, w1, w2, w3 = s
    blocks = count // 4
    acc, nrm, acc_m = _dot_blocks(flat, stride, blocks, s, km)
    for k in range(4 * blocks, count):
        u = np.uint64(k)
        v0, v1, v2, v3 = _weights_at(s, u, proto)
        acc += _corner_dot(flat, stride, idx[u], v0, v1, v2, v3)
        nrm += (v0 * v0 + v1 * v1) + (v2 * v2 + v3 * v3)
        acc_m += _corner_dot(flat, stride, np.uint64(km) - idx[u], v3, v2, v1, v0)
    return acc, nrm, acc_m


@inner_jit
def _weights_at(s, u, proto):
    _, w0, w1, w2, w3 = s
    return (
        _like(w0[u], proto),
        _like(w1[u], proto),
        _like(w2[u], proto),
        _like(w3[u], proto),
    )


@inner_jit(fastmath={"contract"})
def _corner_dot(flat, stride, p, v0, v1, v2, v3):
    """Bilinear sum of the cell at flat index ``p`` with weights ``v0 .. v3``."""
    us = np.uint64(stride)
    u1 = np.uint64(1)
    return (v0 * flat[p] + v1 * flat[p + u1]) + (
        v2 * flat[p + us] + v3 * flat[p + us + u1]
    )


@inner_jit
def _add_if(acc, flat, p, v, proto):
    if v != 0:
        acc += _like(v, proto) * flat[p]
    return acc


@inner_jit
def _ray_sum_border(flat, stride, count, s, proto):
    """Bilinear ray sum of ``count`` samples that reads no zero-weight neighbour."""
    idx, w0, w1, w2, w3 = s
    acc = _like(0.0, proto)
    for k in range(count):
        u = np.uint64(k)
        p = np.int64(idx[u])
        t = _like(0.0, proto)
        t = _add_if(t, flat, p, w0[u], proto)
        t = _add_if(t, flat, p + 1, w1[u], proto)
        t = _add_if(t, flat, p + stride, w2[u], proto)
        t = _add_if(t, flat, p + stride + 1, w3[u], proto)
        acc += t
    return acc


@inner_jit
def _ray_sums(flat, n, stride, trig, ray_position, proto, s, km):
    """Geometry, ray sum and weight norm of one ray (and of its mirror).

    Returns a :class:`RaySums`; ``ns == 0`` when the ray has no
    samples. ``interior``: every neighbour of every sample is inside the
    image and not skipped. With ``km`` (:func:`_mirror_map`; 0: no mirror),
    when the mirrored samples are interior too and the scratch ``s`` holds
    the whole ray, ``mirror_sum`` is the ray sum of the mirrored ray, formed
    in the same pass (:func:`_ray_dot_pair`), and ``mirrored`` is True.
    (``km`` is a uint64 either way: one compiled signature serves both.)
    """
    ns, ds, dx, dy, x0, y0, center = _ray_setup(n, trig, ray_position, proto)
    zero = _like(0.0, proto)
    if ns <= 0:
        return RaySums(0, ds, dx, dy, x0, y0, center, zero, zero, True, zero, False)
    interior, mirror_ok = _interior(n, ns, dx, dy, x0, y0, center, proto)
    ray_sum = zero
    weight_norm = zero
    mirror_sum = zero
    mirrored = False
    chunk = s[0].shape[0]
    for k0 in range(0, ns + 1, chunk):
        count = min(chunk, ns + 1 - k0)
        _sample_weights(k0, count, ds, dx, dy, x0, y0, center, stride, proto, s)
        if interior:
            if km != 0 and mirror_ok and count == ns + 1:
                rs, wn, mirror_sum = _ray_dot_pair(flat, stride, count, s, proto, km)
                mirrored = True
            else:
                rs, wn = _ray_dot(flat, stride, count, s, proto)
            ray_sum += rs
            weight_norm += wn
        else:
            _border_weights(count, n, stride, s)
            ray_sum += _ray_sum_border(flat, stride, count, s, proto)
            weight_norm += _weight_norm(count, s, proto)
    return RaySums(
        ns,
        ds,
        dx,
        dy,
        x0,
        y0,
        center,
        ray_sum,
        weight_norm,
        interior,
        mirror_sum,
        mirrored,
    )


@inner_jit
def _deviation(ray_sum, weight_norm, projected, proto):
    """``(ok, deviation)`` of a ray; ``ok`` is False (and 0) if it has no weight."""
    if not weight_norm > 0:
        return False, _like(0.0, proto)
    return True, _like(-(ray_sum - projected) / weight_norm, proto)


@inner_jit
def _ray_deviation(flat, n, stride, trig, ray_position, projected, proto, s):
    """Geometry and deviation of one ray.

    Returns a :class:`.geometry.Ray`; ``ns == 0`` when the ray adds nothing. ``interior``: every neighbour of
    every sample is inside the image and not skipped.
    """
    sums = _ray_sums(flat, n, stride, trig, ray_position, proto, s, np.uint64(0))
    return _ray_of(sums, projected, proto)


@inner_jit
def _ray_of(sums, projected, proto):
    """The ray record :func:`_ray_deviation` returns, from :func:`_ray_sums`."""
    ns, ds, dx, dy, x0, y0, center = (
        sums.ns,
        sums.ds,
        sums.dx,
        sums.dy,
        sums.x0,
        sums.y0,
        sums.center,
    )
    ok, deviation = _deviation(sums.ray_sum, sums.weight_norm, projected, proto)
    if ns <= 0 or not ok:
        return Ray(0, ds, dx, dy, x0, y0, center, deviation, True)
    return Ray(ns, ds, dx, dy, x0, y0, center, deviation, sums.interior)


@inner_jit
def _mirror_ray(flat, n, stride, trig, m, projected, proto, sm, sums, recorded):
    """The mirror ``m`` of a ray with sums ``sums`` (:func:`_ray_sums`).

    Returns ``(ray, aliased)``. ``aliased``: its ray sum was formed with
    the original's (its weight norm is the original's), and its update
    will be scattered from the original's weights too (only ``ns`` and the
    deviation of ``ray`` are set, unless ``recorded``: a recorded ray's
    weights are computed afresh from its geometry in phase 2); otherwise
    its weights are computed into ``sm`` as for any ray.
    """
    ns, wn = sums.ns, sums.weight_norm
    pos = _like(m, proto)
    if sums.mirrored and wn > 0:
        _, dev = _deviation(sums.mirror_sum, wn, projected, proto)
        if not recorded:
            z = _like(0.0, proto)
            return Ray(ns, z, z, z, z, z, z, dev, True), True
        g = _ray_setup(n, trig, pos, proto)
        interior, _ = _interior(n, g.ns, g.dx, g.dy, g.x0, g.y0, g.center, proto)
        return Ray(g.ns, g.ds, g.dx, g.dy, g.x0, g.y0, g.center, dev, interior), True
    return _ray_deviation(flat, n, stride, trig, pos, projected, proto, sm), False
