"""Recurrent layers: SVDF and UNIDIRECTIONAL_SEQUENCE_LSTM, integer, as TFLM computes them.

Both keep state from one invoke to the next in TFLite variable tensors (ir.Tensor.variable),
which they read and update in place: `state_inputs` names those input positions, reference()
returns their new values after the outputs (reference.py), and the C kernels write them through
the state pointer codegen gives (planner.state_layout). TFLM sources:
  SVDF   micro/kernels/svdf.cc, svdf_common.cc (EvalIntegerSvdfReference, PrepareSvdf)
  LSTM   micro/kernels/unidirectional_sequence_lstm.cc, lstm_eval.h/.cc, lstm_eval_common.cc,
         lstm_shared.h
Scales that TFLM multiplies in float before widening to double are multiplied in float32 here.
"""
from __future__ import annotations

import numpy as np

from ..arith.fixedpoint import multiply_by_quantized_multiplier, wrap32
from ..ir import MicrolithError, Op, safe_text
from . import OpImpl, register, requant_multiplier, where

F32 = np.float32


def _fail(node, g, msg: str) -> MicrolithError:
    return MicrolithError(f"{where(node, g)}: {msg}")


def _per_tensor(node, g, name: str, dtypes: tuple[str, ...], role: str, const: bool | None = None):
    """Tensor `name` has one of `dtypes`, per-tensor quantization and (if given) is constant or not."""
    t = g.t(name)
    if t.dtype not in dtypes or t.quant is None or t.quant.per_axis:
        got = t.dtype + ("" if t.quant is not None else " without quantization")
        got += " per-channel" if t.quant is not None and t.quant.per_axis else ""
        raise _fail(node, g, f"{role} '{safe_text(name)}' is {got}; TFLM's integer {node.op.value} needs "
                             f"{' or '.join(dtypes)} with per-tensor quantization")
    if const is True and not t.is_const:
        raise _fail(node, g, f"{role} '{safe_text(name)}' must be a constant (weights in the model)")
    if const is False and t.is_const:
        raise _fail(node, g, f"{role} '{safe_text(name)}' is a constant; it must be computed at run time")
    return t


def _state(node, g, pos: int, dtypes: tuple[str, ...], role: str):
    """Input `pos` is a state (variable) tensor, as TFLM requires (TF_LITE_ENSURE is_variable)."""
    name = node.inputs[pos]
    if name is None or not g.t(name).variable:
        shown = "absent" if name is None else f"'{safe_text(name)}', not a variable tensor"
        raise _fail(node, g, f"input #{pos} ({role}) is {shown}; TFLM keeps this state in a variable "
                             "tensor and refuses the model otherwise")
    return _per_tensor(node, g, name, dtypes, role)


def _shape(node, g, t, want: tuple[int, ...], role: str) -> None:
    if tuple(t.shape) != tuple(want):
        raise _fail(node, g, f"{role} '{safe_text(t.name)}' has shape {list(t.shape)}; expected {list(want)}")


def _scale(t) -> np.float32:
    return F32(t.quant.scale[0])


def _wrap(x: np.ndarray, bits: int) -> np.ndarray:
    """Two's complement conversion to a `bits`-bit integer (C's int -> int8_t/int16_t store)."""
    half = 1 << (bits - 1)
    return ((np.asarray(x, np.int64) + half) & ((1 << bits) - 1)) - half


# ---------------------------------------------------------------------------------------- SVDF

@register
class Svdf(OpImpl):
    """SVDF: inputs (input, weights_feature, weights_time, bias or absent, state)."""
    op = Op.SVDF
    kernels = ("ml_svdf_s8", "ml_svdf_s8_s16")
    state_inputs = (4,)

    def kernels_for(self, node, g, p):
        return ("ml_svdf_s8_s16",) if p["state_bits"] == 16 else ("ml_svdf_s8",)

    def prepare(self, node, g):
        x = _per_tensor(node, g, node.inputs[0], ("int8",), "input", const=False)
        wf = _per_tensor(node, g, node.inputs[1], ("int8",), "weights_feature", const=True)
        wt = _per_tensor(node, g, node.inputs[2], ("int8", "int16"), "weights_time", const=True)
        state = _state(node, g, 4, ("int8", "int16"), "activation state")
        y = _per_tensor(node, g, node.outputs[0], ("int8",), "output")
        if state.dtype != wt.dtype:
            # TFLM picks the kernel by weights_time's type and reads the state as that type
            raise _fail(node, g, f"weights_time '{safe_text(wt.name)}' is {wt.dtype} but the state "
                                 f"'{safe_text(state.name)}' is {state.dtype}; TFLM needs both of one type")
        rank = node.attrs["rank"]
        if len(x.shape) != 2 or len(wf.shape) != 2 or len(wt.shape) != 2:
            raise _fail(node, g, f"input {list(x.shape)}, weights_feature {list(wf.shape)} and weights_time "
                                 f"{list(wt.shape)} must be 2-D")
        batches, input_size = x.shape
        filters, memory = wt.shape
        if not isinstance(rank, int) or rank < 1 or filters % rank:
            raise _fail(node, g, f"rank {rank} must be >= 1 and divide the {filters} filters")
        units = filters // rank
        _shape(node, g, wf, (filters, input_size), "weights_feature")
        _shape(node, g, state, (batches, filters * memory), "state")
        _shape(node, g, y, (batches, units), "output")
        if node.inputs[3] is None:
            # PrepareSvdf reads bias->params.scale unconditionally (TODO #1751): TFLM crashes
            raise _fail(node, g, "has no bias; TFLM's integer SVDF reads the bias's scale in Prepare "
                                 "and crashes without one (svdf_common.cc, TODO #1751), so it cannot "
                                 "be verified. Give the layer a zero bias")
        bias = _per_tensor(node, g, node.inputs[3], ("int32",), "bias", const=True)
        _shape(node, g, bias, (units,), "bias")
        # TF_LITE_ENSURE(|bias scale - state scale * weights_time scale| < 1e-5), product in float
        if not abs(float(bias.quant.scale[0]) - float(_scale(state) * _scale(wt))) < 1e-5:
            raise _fail(node, g, f"bias scale {bias.quant.scale[0]:g} differs from state scale x weights_time "
                                 f"scale {float(_scale(state) * _scale(wt)):g} by 1e-5 or more; TFLM refuses it")
        # effective scales: float products and quotient, widened to double (PrepareSvdf)
        s1 = float(_scale(x) * _scale(wf) / _scale(state))
        s2 = float(_scale(state) * _scale(wt) / _scale(y))
        m1, sh1 = requant_multiplier(node, g, s1, "input x weights_feature / state scale", state.name)
        m2, sh2 = requant_multiplier(node, g, s2, "state x weights_time / output scale", y.name)
        return dict(batches=batches, input_size=input_size, filters=filters, memory=memory, rank=rank,
                    units=units, input_offset=-int(x.quant.zero_point[0]),
                    state_zero_point=int(state.quant.zero_point[0]), output_offset=int(y.quant.zero_point[0]),
                    feature_multiplier=m1, feature_shift=sh1, output_multiplier=m2, output_shift=sh2,
                    state_bits=8 * state.np_dtype.itemsize)

    def reference(self, node, g, p, xs):
        x, _, _, bias, state = xs
        b, f, m, bits = p["batches"], p["filters"], p["memory"], p["state_bits"]
        wf = g.t(node.inputs[1]).data.astype(np.int64)
        wt = g.t(node.inputs[2]).data.astype(np.int64)
        s = np.asarray(state, np.int64).reshape(-1)
        s = np.concatenate([s[1:], s[:1]]).reshape(b, f, m)  # the whole buffer moves one element down
        # feature: requantized to the state's scale, saturated to its type, offset, stored modulo 2^bits
        dot = wrap32((x.astype(np.int64) + p["input_offset"]) @ wf.T)
        v = multiply_by_quantized_multiplier(dot, p["feature_multiplier"], p["feature_shift"])
        v = np.clip(v, -(1 << (bits - 1)), (1 << (bits - 1)) - 1)
        s[:, :, m - 1] = _wrap(p["state_zero_point"] + v, bits)
        time_dots = wrap32(((s - p["state_zero_point"]) * wt[None]).sum(axis=2))   # [b, f]
        acc = wrap32(time_dots.reshape(b, p["units"], p["rank"]).sum(axis=2) + bias.astype(np.int64)[None])
        out = multiply_by_quantized_multiplier(acc, p["output_multiplier"], p["output_shift"]) + p["output_offset"]
        out = np.clip(out, -128, 127).astype(np.int8)
        st = g.t(node.inputs[4])
        return [out.reshape(g.t(node.outputs[0]).shape), s.astype(st.np_dtype).reshape(st.shape)]

    def scratch_bytes(self, node, g, p):
        return 4 * p["batches"] * (p["filters"] + p["units"])

    def emit(self, node, g, p, ctx):
        fields = ("batches", "input_size", "filters", "memory", "rank", "input_offset", "state_zero_point",
                  "output_offset", "feature_multiplier", "feature_shift", "output_multiplier", "output_shift")
        params = ctx.struct("ml_svdf_params", "params", {k: p[k] for k in fields})
        fn = self.kernels_for(node, g, p)[0]
        args = [ctx.tensor(n) for n in node.inputs[:4]] + [ctx.tensor(node.inputs[4]),
                                                          f"(int32_t *){ctx.scratch()}", ctx.tensor(node.outputs[0])]
        return f"{fn}({params}, {', '.join(args)})"
