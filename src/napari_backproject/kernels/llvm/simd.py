"""Eight pixels at a time of the FBP back projection, in LLVM vector IR.

Back projection reads each projection at ``t = y * cos - x * sin``. Along
a row ``t`` moves by ``cos`` per pixel (``|cos| <= 1``), so eight
neighbouring pixels read at most eight neighbouring detector bins: one
unaligned 8-wide load of those bins and an in-register permute give each
pixel its value, where a gather instruction (slow on AMD Zen 4) or eight
scalar loads would be needed otherwise.

:func:`pair8x4` does that for four angles, for eight pixels of a row and
their eight mirror pixels (which see ``-t``), with the operations and
roundings of the scalar loop in :mod:`.fbp`, so the two give identical
numbers. With AVX-512 the permute is one ``vpermq``/``vpermpd``; on other
CPUs the same IR compiles to portable, slower code and :data:`HAVE_PERMUTE`
tells callers to keep the scalar loop.

The module knows nothing of napari, dask or files.
"""

from __future__ import annotations

import llvmlite.binding as llvm
from llvmlite import ir
from numba.core import types
from numba.core.cgutils import get_or_insert_function
from numba.extending import intrinsic

__all__ = ["HAVE_PERMUTE", "LANES", "PAD", "pair8x4"]

LANES = 8
PAD = 8  # zero bins on each side of a table row: 8-wide loads stay inside


def _target_has_avx512() -> bool:
    """Whether numba compiles for a CPU with AVX-512F.

    Follows numba's own rule (``numba.core.codegen``): the features are
    ``NUMBA_CPU_FEATURES`` when set, else the host's (even under a named
    ``NUMBA_CPU_NAME``); an empty feature string (numba's default for
    ``NUMBA_CPU_NAME=generic``) means the named CPU's own features, which
    LLVM is asked for by compiling one 512-bit add for that CPU.
    """
    from numba.core import config

    features = config.CPU_FEATURES
    try:
        if features is None:
            return bool(llvm.get_host_cpu_features().get("avx512f", False))
        if features:
            return "+avx512f" in features.split(",")
        name = config.CPU_NAME or llvm.get_host_cpu_name()
        return name != "generic" and _cpu_has_zmm(name)
    except Exception:  # pragma: no cover - hosts llvmlite cannot describe
        return False


def _cpu_has_zmm(cpu: str) -> bool:
    """True if LLVM gives ``cpu`` 512-bit vector registers (AVX-512)."""
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    mod = llvm.parse_assembly(
        "define <8 x double> @f(<8 x double> %a, <8 x double> %b) {\n"
        "  %c = fadd <8 x double> %a, %b\n"
        "  ret <8 x double> %c\n"
        "}\n"
    )
    machine = llvm.Target.from_default_triple().create_target_machine(cpu=cpu)
    return "zmm" in machine.emit_assembly(mod)


HAVE_PERMUTE = _target_has_avx512()

_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_F64 = ir.DoubleType()
_V8D = ir.VectorType(_F64, LANES)
_V8I = ir.VectorType(_I64, LANES)
_REVERSE = ir.Constant(ir.VectorType(_I32, LANES), list(range(LANES - 1, -1, -1)))
_SPLAT = ir.Constant(ir.VectorType(_I32, LANES), [0] * LANES)


def _splat(builder, value, vty):
    vec = builder.insert_element(ir.Constant(vty, ir.Undefined), value, _I32(0))
    return builder.shuffle_vector(vec, ir.Constant(vty, ir.Undefined), _SPLAT)


def _call(builder, name, ret, args):
    fnty = ir.FunctionType(ret, [a.type for a in args])
    return builder.call(get_or_insert_function(builder.module, fnty, name), args)


def _fma(builder, a, b, c):
    name = "llvm.fma.v8f64" if isinstance(a.type, ir.VectorType) else "llvm.fma.f64"
    return _call(builder, name, a.type, [a, b, c])


def _load8(builder, base_ptr, offset):
    """Eight doubles from ``base_ptr + offset`` (unaligned)."""
    ptr = builder.bitcast(builder.gep(base_ptr, [offset]), _V8D.as_pointer())
    return builder.load(ptr, align=8)


def _permute(builder, vec, idx):
    """``vec[idx]`` lane by lane (indices 0..7)."""
    if HAVE_PERMUTE:
        return _call(builder, "llvm.x86.avx512.permvar.df.512", _V8D, [vec, idx])
    out = ir.Constant(_V8D, ir.Undefined)
    for lane in range(LANES):
        k = builder.extract_element(idx, _I32(lane))
        out = builder.insert_element(out, builder.extract_element(vec, k), _I32(lane))
    return out


@intrinsic
def pair8x4(typingctx, table, a, row, rowm, j, jm, yf, cos4, xs4, lmin4, bias, kmir):
    """Add four angles of back projection to eight pixels and their mirrors.

    For ``q = 0 .. 3`` in order and lanes ``l = 0 .. 7``, with
    ``t = fma(yf + l, cos4[q], -xs4[q])``, ``k = floor(t)``, ``w = t - k``:
    ``row[j + l] += slope[k] * w + f[k]`` and
    ``rowm[jm - l] += slope[km] * (1 - w) + f[km]`` (``km`` the mirror bin),
    each sum rounded to the row dtype, as the scalar loop does.

    ``table`` is 2-D float64, C-contiguous, with rows of length ``2 * m``:
    bin ``b`` of angle ``a`` has its value at ``table[a, PAD + b]`` and its
    slope at ``table[a, m + PAD + b]``. With ``half = n_det // 2`` a lane
    reads bin ``k + half`` and its mirror bin ``2 * half - 1 - (k + half)``;
    pass ``bias = PAD + half`` and ``kmir = 2 * half - 1 + 2 * PAD``.
    ``lmin4[q]`` is the lane with the smallest ``t``: ``0.0`` when
    ``cos4[q] >= 0``, else ``7.0``. ``a, j, jm, bias, kmir`` are int64,
    ``yf`` and the tuples' items float64. Every lane must read bins inside
    the detector (the caller checks); the loads then stay in the padded row.
    """
    if not (
        isinstance(row, types.Array)
        and row.dtype in (types.float32, types.float64)
        and rowm == row
        and isinstance(table, types.Array)
        and table.dtype == types.float64
        and table.ndim == 2
    ):
        return None
    fdt = row.dtype
    sig = types.void(table, a, row, rowm, j, jm, yf, cos4, xs4, lmin4, bias, kmir)

    def codegen(context, builder, sig, args):
        (
            tab_v,
            a_v,
            row_v,
            rowm_v,
            j_v,
            jm_v,
            yf_v,
            cos_v,
            xs_v,
            lmin_v,
            bias_v,
            kmir_v,
        ) = args
        tab = context.make_array(sig.args[0])(context, builder, tab_v)
        rw = context.make_array(sig.args[2])(context, builder, row_v)
        rwm = context.make_array(sig.args[3])(context, builder, rowm_v)
        row_len = builder.extract_value(tab.shape, 1)  # 2 * m
        m = builder.ashr(row_len, _I64(1))
        vout = ir.VectorType(context.get_value_type(fdt), LANES)
        align = 4 if fdt == types.float32 else 8
        lanes = ir.Constant(_V8D, [float(i) for i in range(LANES)])
        yv = builder.fadd(_splat(builder, yf_v, _V8D), lanes)
        one = ir.Constant(_V8D, [1.0] * LANES)
        last = ir.Constant(_V8I, [LANES - 1] * LANES)
        undef = ir.Constant(vout, ir.Undefined)
        pj = builder.bitcast(builder.gep(rw.data, [j_v]), vout.as_pointer())
        acc = builder.load(pj, align=align)
        m_first = builder.sub(jm_v, _I64(LANES - 1))
        pm = builder.bitcast(builder.gep(rwm.data, [m_first]), vout.as_pointer())
        accm = builder.shuffle_vector(builder.load(pm, align=align), undef, _REVERSE)
        for q in range(4):
            c = builder.extract_value(cos_v, q)
            nx = builder.fneg(builder.extract_value(xs_v, q))
            t = _fma(builder, yv, _splat(builder, c, _V8D), _splat(builder, nx, _V8D))
            ft = _call(builder, "llvm.floor.v8f64", _V8D, [t])
            w = builder.fsub(t, ft)
            # floor of the smallest t, by the same fma on a scalar
            ymin = builder.fadd(yf_v, builder.extract_value(lmin_v, q))
            tmin = _fma(builder, ymin, c, nx)
            kmin = builder.fptosi(_call(builder, "llvm.floor.f64", _F64, [tmin]), _I64)
            rel = builder.sub(builder.fptosi(ft, _V8I), _splat(builder, kmin, _V8I))
            rel_m = builder.sub(last, rel)  # mirror bins run the other way
            start = builder.mul(builder.add(a_v, _I64(q)), row_len)
            col = builder.add(kmin, bias_v)
            col_m = builder.sub(builder.sub(kmir_v, col), _I64(LANES - 1))
            f = _load8(builder, tab.data, builder.add(start, col))
            s = _load8(builder, tab.data, builder.add(builder.add(start, m), col))
            fm = _load8(builder, tab.data, builder.add(start, col_m))
            sm = _load8(builder, tab.data, builder.add(builder.add(start, m), col_m))
            v = _fma(builder, _permute(builder, s, rel), w, _permute(builder, f, rel))
            vm = _fma(
                builder,
                _permute(builder, sm, rel_m),
                builder.fsub(one, w),
                _permute(builder, fm, rel_m),
            )
            if fdt == types.float64:
                acc = builder.fadd(acc, v)
                accm = builder.fadd(accm, vm)
            else:
                acc = builder.fptrunc(builder.fadd(builder.fpext(acc, _V8D), v), vout)
                accm = builder.fptrunc(
                    builder.fadd(builder.fpext(accm, _V8D), vm), vout
                )
        builder.store(acc, pj, align=align)
        builder.store(builder.shuffle_vector(accm, undef, _REVERSE), pm, align=align)
        return context.get_dummy_value()

    return sig, codegen
