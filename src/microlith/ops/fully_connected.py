"""FULLY_CONNECTED, int8 x int8 -> int8 with int32 bias (TFLM reference_integer_ops::FullyConnected),
and int16 x int8 -> int16 with int64 (or int32) bias, TFLite's 16x8 mode."""
from __future__ import annotations

import numpy as np

from ..ir import MicrolithError, Op
from ..arith.fixedpoint import activation_range, multiply_by_quantized_multiplier
from . import OpImpl, register, requant_multiplier, where
from .s16 import NP, QRANGE, acc_mode, act_dtype, check_acc64, requantize_acc


def rows6_layout(w: np.ndarray) -> np.ndarray:
    """The weights [out_depth][depth] as the DSP six-row routine reads them (dsp_rows6 in
    ml_fully_connected_s8.h): groups of six rows, block by block of four values, the six rows'
    words side by side; the rows after the last whole group unchanged. The same bytes, moved."""
    out_depth, depth = w.shape
    groups = out_depth // 6
    head = w[:6 * groups].reshape(groups, 6, depth // 4, 4).transpose(0, 2, 1, 3).reshape(-1)
    return np.concatenate([head, w[6 * groups:].reshape(-1)]).astype(np.int8)


@register
class FullyConnected(OpImpl):
    op = Op.FULLY_CONNECTED
    kernels = ("ml_fully_connected_s8", "ml_fully_connected_s16")
    dtypes = ("int8", "int16")

    def kernels_for(self, node, g, p):
        return ("ml_fully_connected_s16",) if p["dtype"] == "int16" else ("ml_fully_connected_s8",)

    def prepare(self, node, g):
        x, w = g.t(node.inputs[0]), g.t(node.inputs[1])
        bias = g.t(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None
        y = g.t(node.outputs[0])
        dtype = act_dtype(node, g, [x.name, y.name])
        if w.dtype != "int8" or w.quant is None or not w.is_const or len(w.shape) != 2:
            raise MicrolithError(f"{where(node, g)}: weights '{w.name}' must be constant 2-D int8 "
                                 f"with quantization (got {w.dtype} {list(w.shape)})")
        out_depth, accum = w.shape
        if x.size % accum:
            raise MicrolithError(f"{where(node, g)}: input '{x.name}' of {x.size} elements is not a "
                                 f"multiple of the weights' depth {accum}")
        batches = x.size // accum
        if y.size != batches * out_depth:
            raise MicrolithError(f"{where(node, g)}: output '{y.name}' has {y.size} elements, "
                                 f"expected {batches} x {out_depth}")
        if not y.shape or y.shape[-1] != out_depth:
            # TFLM takes the output's last dimension as the unit count (its MatchingDim check is
            # debug-only): any other shape computes something else there.
            raise MicrolithError(f"{where(node, g)}: output '{y.name}' has shape {list(y.shape)}; its last "
                                 f"dimension must be the {out_depth} units of weights '{w.name}'")
        acc32 = acc_mode(node, g, bias, dtype, out_depth)
        if len(w.quant.scale) not in (1, out_depth):
            raise MicrolithError(f"{where(node, g)}: weights '{w.name}' have {len(w.quant.scale)} scales; "
                                 f"they need 1 or one per output ({out_depth})")
        in_scale, out_scale = x.quant.scale[0], y.quant.scale[0]
        mult, shift = zip(*(requant_multiplier(node, g, float(np.float64(in_scale) * np.float64(s) /
                                                              np.float64(out_scale)),
                                               f"input scale x weight scale / output scale of row {c}",
                                               w.name)
                            for c, s in enumerate(w.quant.scale)))
        act_min, act_max = activation_range(node.attrs["activation"], out_scale, y.quant.zero_point[0],
                                            *QRANGE[dtype])
        if not acc32:
            bound = np.abs(w.data.astype(np.int64) - w.quant.zero_point[0]).sum(axis=1) * 32768 + \
                (np.abs(bias.data.astype(np.int64)) if bias is not None else 0)
            check_acc64(node, g, bound, shift, "accumulator")
        return dict(dtype=dtype, acc32=acc32, batches=batches, accum=accum, out_depth=out_depth,
                    input_offset=-x.quant.zero_point[0], filter_offset=-w.quant.zero_point[0],
                    output_offset=y.quant.zero_point[0], act_min=act_min, act_max=act_max,
                    multiplier=np.array(mult, np.int32), shift=np.array(shift, np.int32),
                    per_channel=int(len(mult) > 1)) | (
                        # TFLM's per-channel int16 kernel ignores the weights' zero point
                        dict(filter_offset=0) if dtype == "int16" and len(mult) > 1 else {})

    def reference(self, node, g, p, xs):
        x = xs[0].reshape(p["batches"], p["accum"]).astype(np.int64) + p["input_offset"]
        w = g.t(node.inputs[1]).data.astype(np.int64) + p["filter_offset"]
        acc = x @ w.T
        if len(node.inputs) > 2 and node.inputs[2]:
            acc = acc + g.t(node.inputs[2]).data.astype(np.int64)
        if p["dtype"] == "int16":
            acc = requantize_acc(acc, p["acc32"], p["multiplier"], p["shift"])
        else:
            acc = multiply_by_quantized_multiplier(acc, p["multiplier"], p["shift"])
        acc = np.clip(acc + p["output_offset"], p["act_min"], p["act_max"])
        return [acc.astype(NP[p["dtype"]]).reshape(g.t(node.outputs[0]).shape)]

    def emit(self, node, g, p, ctx):
        from ..codegen.optimize import layer_mode
        if p["dtype"] == "int16":
            return self._emit_s16(node, g, p, ctx)
        has_bias = len(node.inputs) > 2 and node.inputs[2]
        if p["filter_offset"] == 0 and p["input_offset"] != 0:
            # Fold the input offset into the bias: sum (x + off) w + b == sum x w + (b + off sum w),
            # modulo 2^32 like TFLM's int32 sums, so every result is unchanged and the kernel's
            # inner loop needs no add (its DSP path requires it).
            folded = g.t(node.inputs[1]).data.astype(np.int64).sum(axis=1) * p["input_offset"]
            if has_bias:
                folded = folded + g.t(node.inputs[2]).data.astype(np.int64)
            folded = ((folded + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.int32)
            bias = ctx.const("bias_folded", folded)
            p = dict(p, input_offset=0)
        else:
            bias = ctx.tensor(node.inputs[2]) if has_bias else "NULL"
        w_ref = ctx.tensor(node.inputs[1])
        rows6 = rows6_layout(g.t(node.inputs[1]).data) if (
            layer_mode(g, node) == "speed" and p["filter_offset"] == 0 and p["input_offset"] == 0
            and bias != "NULL" and p["out_depth"] >= 6 and p["accum"] % 4 == 0) else None
        if rows6 is not None:  # DSP builds read this copy, the others the row-major one; as int32
            # words, so that it is word aligned for the routine's LDM
            words = ctx.const("weights_rows6", rows6.view("<i4"), layout="DSP")
            w_ref = f"ML_FC_DSP_WEIGHTS((const int8_t *){words}, {w_ref})"
        params = ctx.struct("ml_fc_params", "params", dict(
            input_offset=p["input_offset"], filter_offset=p["filter_offset"],
            output_offset=p["output_offset"], act_min=p["act_min"], act_max=p["act_max"],
            per_channel=p["per_channel"], dsp_rows6=int(rows6 is not None)))
        quant = ctx.struct("ml_per_channel_quant", "quant", dict(
            multiplier=ctx.const("multiplier", p["multiplier"]),
            shift=ctx.const("shift", p["shift"])))
        return (f"ml_fully_connected_s8({params}, {quant}, "
                f"{ctx.dims((p['batches'], p['accum']))}, {ctx.tensor(node.inputs[0])}, "
                f"{ctx.dims((p['out_depth'], p['accum']))}, {w_ref}, {bias}, "
                f"{ctx.dims((p['batches'], p['out_depth']))}, {ctx.tensor(node.outputs[0])})")

    def _emit_s16(self, node, g, p, ctx):
        has_bias = len(node.inputs) > 2 and node.inputs[2]
        bias = "NULL"
        if has_bias:  # the kernel reads int64: an int32 bias (acc32) is widened
            b = g.t(node.inputs[2])
            bias = ctx.tensor(b.name) if b.dtype == "int64" else ctx.const("bias64", b.data.astype(np.int64))
        params = ctx.struct("ml_fc_s16_params", "params", dict(
            filter_offset=p["filter_offset"], act_min=p["act_min"], act_max=p["act_max"],
            per_channel=p["per_channel"], acc32=p["acc32"]))
        quant = ctx.struct("ml_per_channel_quant", "quant", dict(
            multiplier=ctx.const("multiplier", p["multiplier"]),
            shift=ctx.const("shift", p["shift"])))
        return (f"ml_fully_connected_s16({params}, {quant}, "
                f"{ctx.dims((p['batches'], p['accum']))}, {ctx.tensor(node.inputs[0])}, "
                f"{ctx.dims((p['out_depth'], p['accum']))}, {ctx.tensor(node.inputs[1])}, {bias}, "
                f"{ctx.dims((p['batches'], p['out_depth']))}, {ctx.tensor(node.outputs[0])})")
