"""Recurrent layers: SVDF and UNIDIRECTIONAL_SEQUENCE_LSTM, integer, as TFLM computes them.

Both keep state from one invoke to the next in TFLite variable tensors (ir.Tensor.variable),
which they read and update in place: `state_inputs` names those input positions, reference()
returns their new values after the outputs (reference.py), and the C kernels write them through
the state pointer codegen gives (planner.state_layout). TFLM sources:
  SVDF   micro/kernels/svdf.cc, svdf_common.cc (EvalIntegerSvdfReference, PrepareSvdf)
  LSTM   micro/kernels/unidirectional_sequence_lstm.cc, lstm_eval.h/.cc, lstm_eval_common.cc,
         lstm_shared.h
Scales that TFLM multiplies in float before widening to double are multiplied in float32 here.
The LSTM runs int8 activations (EvalLstm<int8_t, int8_t, int16_t, int32_t>) and TFLM's 16x8
mode (int16 activations, int64 bias: EvalLstm<int16_t, int8_t, int16_t, int64_t>).
"""
from __future__ import annotations

import re

import numpy as np

from ..arith.fixedpoint import multiply_by_quantized_multiplier, wrap32
from ..csrc import kernel_file
from ..ir import MicrolithError, Op, safe_text
from . import MAX_LEFT_SHIFT, OpImpl, register, requant_multiplier, where

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
        # attrs["activation"] is not applied: EvalIntegerSvdfReference ignores the fused activation
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
        # the whole buffer moves one element down (its last element stays, then is overwritten)
        s = np.concatenate([s[1:], s[-1:]]).reshape(b, f, m)
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


# -------------------------------------------------------------------------------------- LSTM

_LSTM_KERNEL = "ml_lstm_s8"
# lstm_shared.h: input positions of UNIDIRECTIONAL_SEQUENCE_LSTM
_X, _HIDDEN, _CELL = 0, 18, 19
_GATES = {  # gate: (input weights, recurrent weights, bias), TFLM's order of evaluation
    "forget": (2, 6, 13), "input": (1, 5, 12), "cell": (3, 7, 14), "output": (4, 8, 15)}
_UNSUPPORTED = {9: "peephole", 10: "peephole", 11: "peephole", 16: "projection", 17: "projection",
                20: "layer norm", 21: "layer norm", 22: "layer norm", 23: "layer norm"}
_GATE_INPUT_SCALE = F32(2.0 ** -12)   # FC outputs, the activations' input: Q3.12
_GATE_OUTPUT_SCALE = F32(2.0 ** -15)  # activation outputs: Q0.15


def _sigmoid_table() -> np.ndarray:
    """TFLM's sigmoid_table_uint16, read from the C header of the LSTM kernels that embeds it
    (one copy of the data)."""
    text = kernel_file("ml_lstm_common.h").read_text()
    body = text[text.index("ml_lstm_sigmoid_table[256] = {"):]
    values = [int(v) for v in re.findall(r"\d+", body[body.index("{"):body.index("}")])]
    assert len(values) == 256, len(values)
    return np.array(values, np.int64)


_TABLE: np.ndarray | None = None


def _table() -> np.ndarray:
    global _TABLE
    if _TABLE is None:
        _TABLE = _sigmoid_table()
    return _TABLE


def sigmoid_q15(x: np.ndarray) -> np.ndarray:
    """TFLM reference_integer_ops::Logistic, int16, input_multiplier 0 and shift 0 (Q3.12 -> Q0.15)."""
    t = _table()
    v = np.asarray(x, np.int64) * 3
    mag = np.abs(v)
    uh = mag >> 9
    idx = np.minimum(uh, 254)
    r = np.where(uh >= 255, 0x7FFF << 10, (t[idx] << 9) + (mag & 0x1FF) * (t[idx + 1] - t[idx]))
    r = np.where(v >= 0, r + (1 << 9), (1 << 25) - r + (1 << 9) - 1)
    return (r >> 10).astype(np.int16)


def tanh_q15(x: np.ndarray, multiplier: int, shift: int) -> np.ndarray:
    """TFLM reference_integer_ops::Tanh, int16 (multiplier 0: 3 * 2^shift, no shift)."""
    t = _table()
    if multiplier == 0:
        multiplier, shift = 3 << shift, 0
    rnd = (1 << (shift - 1)) if shift > 0 else 0
    v = (np.asarray(x, np.int64) * multiplier + rnd) >> shift
    mag = np.abs(v)
    uh = mag >> 8
    idx = np.minimum(uh, 254)
    r = np.where(uh >= 255, 0xFFFF << 8, (t[idx] << 8) + (mag & 0xFF) * (t[idx + 1] - t[idx]))
    r = np.where(v >= 0, r - (1 << 23) + (1 << 7), -r + (1 << 23) + (1 << 7) - 1)
    return (r >> 8).astype(np.int16)


def _checked_log2(x: float) -> int:
    """TFLM's CheckedLog2 result (float arithmetic, rounded half away from zero); TFLM uses it
    even when the scale is not a power of two."""
    v = F32(np.log(F32(x))) * (F32(1.0) / F32(np.log(F32(2.0))))
    return int(np.sign(v) * np.floor(np.abs(v) + F32(0.5)))


def _requantize64(x, multiplier: int, shift: int) -> np.ndarray:
    """TFLM's MultiplyByQuantizedMultiplier(int64_t x, ...) (common.cc, the 16x8 kernels'): the
    multiplier rounded to 16 bits, one rounding shift, the result truncated to int32."""
    reduced = (multiplier + (1 << 15)) >> 16 if multiplier < 0x7FFF0000 else 0x7FFF
    total = 15 - shift
    return wrap32((np.asarray(x, np.int64) * reduced + (1 << (total - 1))) >> total)


@register
class UnidirectionalSequenceLstm(OpImpl):
    """TFLM's integer LSTM: int8 (or int16, TFLM's 16x8 mode) input/output/hidden state, int8
    weights, int16 gates and cell state, int32 (int64) bias."""
    op = Op.UNIDIRECTIONAL_SEQUENCE_LSTM
    kernels = (_LSTM_KERNEL, "ml_lstm_s16")
    state_inputs = (_HIDDEN, _CELL)
    dtypes = ("int8", "int16")

    def kernels_for(self, node, g, p):
        return ("ml_lstm_s16",) if p["bits"] == 16 else (_LSTM_KERNEL,)

    def prepare(self, node, g):
        ins = node.inputs
        x = _per_tensor(node, g, ins[_X], ("int8", "int16"), "input", const=False)
        present = sorted({_UNSUPPORTED[k] for k in _UNSUPPORTED if ins[k] is not None})
        if present:
            raise _fail(node, g, f"has {' and '.join(present)} tensors; TFLM's LSTM kernel supports the "
                                 "standard LSTM only (lstm_eval.cc ValidateTensorStatus) and refuses them")
        missing = [k for k in (1, 5, 12) if ins[k] is None]
        if missing:
            raise _fail(node, g, f"has no input gate (inputs {missing} absent: CIFG); TFLM's LSTM kernel "
                                 "needs all four gates")
        if node.attrs["activation"] != "TANH":
            raise _fail(node, g, f"cell gate activation {node.attrs['activation']}; TFLM's integer LSTM "
                                 "runs TANH")
        h = _state(node, g, _HIDDEN, (x.dtype,), "hidden (output) state")  # TFLM: the input's type
        c = _state(node, g, _CELL, ("int16",), "cell state")
        y = _per_tensor(node, g, node.outputs[0], (x.dtype,), "output")
        if len(x.shape) != 3 or len(y.shape) != 3 or len(h.shape) != 2:
            raise _fail(node, g, f"input {list(x.shape)} and output {list(y.shape)} must be 3-D and the hidden "
                                 f"state {list(h.shape)} 2-D [batch, units]")
        time_major = bool(node.attrs["time_major"])
        steps, batches = (x.shape[0], x.shape[1]) if time_major else (x.shape[1], x.shape[0])
        n_in, units = int(x.shape[2]), int(h.shape[1])
        _shape(node, g, y, (x.shape[0], x.shape[1], units), "output")
        for t, role in ((h, "hidden state"), (c, "cell state")):
            if t.size != batches * units:
                raise _fail(node, g, f"{role} '{safe_text(t.name)}' has {t.size} values; TFLM needs "
                                     f"batches x units = {batches * units}")
        p = dict(batches=int(batches), time_steps=int(steps), input_size=n_in, state_size=units,
                 time_major=int(time_major), input_offset=-int(x.quant.zero_point[0]),
                 hidden_offset=-int(h.quant.zero_point[0]), hidden_zero_point=int(h.quant.zero_point[0]),
                 bits=8 * x.np_dtype.itemsize)
        for gate, (wi, wr, b) in _GATES.items():
            p[gate] = self._gate(node, g, gate, wi, wr, b, x, h, n_in, units)
        p.update(self._cell(node, g, c, h))
        return p

    def _gate(self, node, g, gate, wi, wr, b, x, h, n_in, units) -> dict:
        w_in = _per_tensor(node, g, node.inputs[wi], ("int8",), f"{gate} gate input weights", const=True)
        w_rec = _per_tensor(node, g, node.inputs[wr], ("int8",), f"{gate} gate recurrent weights", const=True)
        # EvalLstm reads the bias as int32 for int8 activations, int64 for int16
        bias_type = "int64" if x.dtype == "int16" else "int32"
        bias = _per_tensor(node, g, node.inputs[b], (bias_type,), f"{gate} gate bias", const=True)
        _shape(node, g, w_in, (units, n_in), f"{gate} gate input weights")
        _shape(node, g, w_rec, (units, units), f"{gate} gate recurrent weights")
        _shape(node, g, bias, (units,), f"{gate} gate bias")
        out = {"input_weights": w_in.name, "recurrent_weights": w_rec.name, "bias": bias.name,
               "input_weight_offset": -int(w_in.quant.zero_point[0]),
               "recurrent_weight_offset": -int(w_rec.quant.zero_point[0])}
        # GetQuantizedConvolutionMultipler: float product of the scales, widened, over 2^-12
        for kind, src, w in (("input", x, w_in), ("recurrent", h, w_rec)):
            real = float(_scale(src) * _scale(w)) / float(_GATE_INPUT_SCALE)
            # the 64-bit requantization (16x8) shifts left by at most 7 (its DCHECK: shift < 8)
            m, s = requant_multiplier(node, g, real, f"{gate} gate {kind} FC scale", w.name,
                                      max_shift=7 if x.dtype == "int16" else MAX_LEFT_SHIFT)
            out[f"{kind}_multiplier"], out[f"{kind}_shift"] = m, s
        return out

    def _cell(self, node, g, c, h) -> dict:
        cs = _scale(c)
        power = _checked_log2(float(cs))
        shift = 15 + power - 3  # lstm_internal::Tanh: the cell state's Q format into Q3.12
        if shift > 14:  # 3 << shift times an int16 leaves int32 in TFLM's Tanh
            raise _fail(node, g, f"cell state '{safe_text(c.name)}' has scale {float(cs):g} (2^{power}); TFLM's "
                                 "int16 tanh overflows for cell state scales above 2^2")
        tanh_multiplier, tanh_shift = (0, shift) if shift >= 0 else (3, -shift)
        out = {"tanh_multiplier": tanh_multiplier, "tanh_shift": tanh_shift}
        q15 = float(_GATE_OUTPUT_SCALE)
        for name, real, tensor in (("forget_mul", q15 * float(cs) / float(cs), c.name),
                                   ("input_mul", q15 * q15 / float(cs), c.name),
                                   ("output_mul", q15 * q15 / float(_scale(h)), h.name)):
            out[f"{name}_multiplier"], out[f"{name}_shift"] = requant_multiplier(
                node, g, real, f"{name.replace('_', ' ')} scale", tensor)
        clip = float(F32(node.attrs["cell_clip"]))
        # quantized_cell_clip: double quotient, clamped to int16, truncated; applied when clip > 0
        out["cell_clip"] = int(min(max(clip / float(cs), -32768.0), 32767.0)) if clip > 0 else 0
        return out

    def reference(self, node, g, p, xs):
        x = np.asarray(xs[_X], np.int64)
        h = np.asarray(xs[_HIDDEN], np.int64).reshape(p["batches"], p["state_size"]).copy()
        c = np.asarray(xs[_CELL], np.int64).reshape(p["batches"], p["state_size"]).copy()
        steps, batches, n_in, units = p["time_steps"], p["batches"], p["input_size"], p["state_size"]
        y = g.t(node.outputs[0])
        out = np.zeros((batches, steps, units), np.int64)
        if p["time_major"]:
            xt = x.reshape(steps, batches, n_in)
            for t in range(steps):  # every batch in one step
                out[:, t] = self._step(g, p, xt[t], h, c)
            out = out.transpose(1, 0, 2)
        else:
            xb = x.reshape(batches, steps, n_in)
            for b in range(batches):  # one batch at a time
                for t in range(steps):
                    out[b, t] = self._step(g, p, xb[b, t:t + 1], h[b:b + 1], c[b:b + 1])[0]
        hs, cs = g.t(node.inputs[_HIDDEN]), g.t(node.inputs[_CELL])
        return [out.astype(y.np_dtype).reshape(y.shape), h.astype(hs.np_dtype).reshape(hs.shape),
                c.astype(np.int16).reshape(cs.shape)]

    def _fc(self, g, p, rows, offset, name, w_offset, bias, mult, shift):
        w = g.t(name).data.astype(np.int64) + w_offset
        acc = (rows + offset) @ w.T
        if bias is not None:
            acc = acc + g.t(bias).data.astype(np.int64)
        if p["bits"] == 16:  # int64 sums (no wrap for any realistic size), 64-bit requantization
            return np.clip(_requantize64(acc, mult, shift), -32768, 32767)
        return np.clip(multiply_by_quantized_multiplier(wrap32(acc), mult, shift), -32768, 32767)

    def _gate_out(self, g, p, gp, x, h, cell_gate):
        a = self._fc(g, p, x, p["input_offset"], gp["input_weights"], gp["input_weight_offset"], gp["bias"],
                     gp["input_multiplier"], gp["input_shift"])
        r = self._fc(g, p, h, p["hidden_offset"], gp["recurrent_weights"], gp["recurrent_weight_offset"], None,
                     gp["recurrent_multiplier"], gp["recurrent_shift"])
        s = np.clip(a + r, -32768, 32767)
        return (tanh_q15(s, 0, 0) if cell_gate else sigmoid_q15(s)).astype(np.int64)

    @staticmethod
    def _mul(a, b, mult, shift, offset, lo, hi):
        return np.clip(multiply_by_quantized_multiplier(a * b, mult, shift) + offset, lo, hi)

    def _step(self, g, p, x, h, c):
        """One time step on rows x [rows, input], h and c [rows, units], both updated in place."""
        f = self._gate_out(g, p, p["forget"], x, h, False)
        i = self._gate_out(g, p, p["input"], x, h, False)
        z = self._gate_out(g, p, p["cell"], x, h, True)
        kept = self._mul(f, c, p["forget_mul_multiplier"], p["forget_mul_shift"], 0, -32768, 32767)
        added = self._mul(i, z, p["input_mul_multiplier"], p["input_mul_shift"], 0, -32768, 32767)
        new_c = np.clip(kept + added, -32768, 32767)
        if p["cell_clip"] > 0:
            new_c = np.clip(new_c, -p["cell_clip"], p["cell_clip"])
        o = self._gate_out(g, p, p["output"], x, h, False)  # still the previous hidden state
        t = tanh_q15(new_c, p["tanh_multiplier"], p["tanh_shift"]).astype(np.int64)
        c[...] = new_c
        lo, hi = -(1 << (p["bits"] - 1)), (1 << (p["bits"] - 1)) - 1
        h[...] = self._mul(t, o, p["output_mul_multiplier"], p["output_mul_shift"], p["hidden_zero_point"], lo, hi)
        return h.copy()

    def scratch_bytes(self, node, g, p):
        return 4 * p["batches"] * p["state_size"] * 2  # TFLM's four int16 buffers

    def emit(self, node, g, p, ctx):
        # With symmetric weights (TFLite's int8 spec) the input and hidden offsets fold into the
        # biases: sum (x + o) w + b = sum x w + (b + o sum w), modulo 2^32 like TFLM's sums, so
        # every result is unchanged and the kernel's dot products need no adds (and use SMLAD).
        fold = p["bits"] == 8 and all(p[gate][k] == 0 for gate in _GATES
                                      for k in ("input_weight_offset", "recurrent_weight_offset"))
        gates = {}
        for gate in _GATES:
            gp = p[gate]
            fields = {k: ctx.tensor(gp[k]) for k in ("input_weights", "recurrent_weights", "bias")}
            fields["bias64"], fields["recurrent_bias"] = "NULL", "NULL"
            if p["bits"] == 16:  # the int64 bias of TFLM's 16x8 kernel
                fields["bias"], fields["bias64"] = "NULL", fields["bias"]
            if fold:
                row_sums = lambda name: g.t(name).data.astype(np.int64).sum(axis=1)  # noqa: E731
                b = g.t(gp["bias"]).data.astype(np.int64) + p["input_offset"] * row_sums(gp["input_weights"])
                fields["bias"] = ctx.const(f"bias_folded_{gate}_gate", wrap32(b).astype(np.int32))
                if p["hidden_offset"]:
                    rb = p["hidden_offset"] * row_sums(gp["recurrent_weights"])
                    fields["recurrent_bias"] = ctx.const(f"recurrent_bias_folded_{gate}_gate",
                                                         wrap32(rb).astype(np.int32))
            fields.update({k: gp[k] for k in ("input_weight_offset", "recurrent_weight_offset", "input_multiplier",
                                              "input_shift", "recurrent_multiplier", "recurrent_shift")})
            gates[f"{gate}_gate"] = ctx.struct("ml_lstm_gate", f"{gate}_gate", fields)
        if fold:
            p = dict(p, input_offset=0, hidden_offset=0)
        scalars = ("batches", "time_steps", "input_size", "state_size", "time_major", "input_offset",
                   "hidden_offset", "hidden_zero_point", "forget_mul_multiplier", "forget_mul_shift",
                   "input_mul_multiplier", "input_mul_shift", "output_mul_multiplier", "output_mul_shift",
                   "cell_clip", "tanh_multiplier", "tanh_shift")
        params = ctx.struct("ml_lstm_params", "params", {**gates, **{k: p[k] for k in scalars}})
        return (f"{self.kernels_for(node, g, p)[0]}({params}, {ctx.tensor(node.inputs[_X])}, {ctx.tensor(node.inputs[_HIDDEN])}, "
                f"{ctx.tensor(node.inputs[_CELL])}, (int16_t *){ctx.scratch()}, {ctx.tensor(node.outputs[0])})")
