"""Post-training int8 quantization of a float IR graph, as the TFLite converter does it.

The arithmetic is that of TFLite's calibration quantizer (tensorflow/lite/tools/optimize:
GetAsymmetricQuantizationParams, SymmetricPerChannelQuantization, SymmetricQuantizeFloats,
SymmetricBiasQuantize, AdjustWeightsForBiasScale), in float32 exactly as there. With the
activation parameters of the MLPerf Tiny reference int8 models it reproduces their weights,
scales and biases bit for bit (tests/test_quantize.py). The newer MLIR quantizer derives the
same scales; its weight rounding differs only on exact .5 ties.

Rules, checked against TFLM's int8 kernels:
- activations int8 asymmetric per tensor; the range is widened to include 0 and the zero
  point is an integer, so real 0 is exact;
- CONV_2D weights symmetric per output channel (axis 0), DEPTHWISE_CONV_2D per channel
  (axis 3), TRANSPOSE_CONV (issue 10; inputs: output shape, weights, data, bias) per channel
  (axis 0), FULLY_CONNECTED per tensor by default (TFLM before 2024 and CMSIS-NN before v6
  reject per-channel FC; `fc_per_channel=True` gives axis 0); values in [-127, 127];
- bias int32, scale = input scale x weight scale (float32 product), zero point 0;
- SOFTMAX and LOGISTIC outputs 1/256 zp -128, TANH 1/128 zp 0 (TFLM checks these);
- MAX_POOL_2D, AVERAGE_POOL_2D, RESHAPE, SQUEEZE, PAD, STRIDED_SLICE, TRANSPOSE, RELU6:
  output takes the input's parameters (TFLM's kernels copy, compare or average int8 values
  without rescaling; PAD fills with the output zero point; RELU6 clamps to 0 and 6 expressed
  in the input's parameters, unlike RELU, which rescales);
- CONCATENATION: TFLM copies bytes, so inputs share the output's parameters; an input
  whose parameters are fixed elsewhere (a softmax output, say) gets an int8->int8 QUANTIZE
  (requantize) in front, as the converter inserts;
- ADD, SUB, MUL, MEAN, RELU, LEAKY_RELU, HARD_SWISH rescale: own parameters.
- issue 10: LOG_SOFTMAX outputs 16/256 zp 127, L2_NORMALIZATION 1/128 zp 0; REDUCE_MAX and
  REDUCE_MIN take the input's parameters; SUM and CUMSUM rescale (own parameters).
- issue 10: the data-movement ops (SLICE, GATHER, GATHER_ND, EXPAND_DIMS, BROADCAST_TO,
  DEPTH_TO_SPACE, SPACE_TO_DEPTH, MIRROR_PAD, PADV2, RESIZE_*, BATCH_TO_SPACE_ND,
  SPACE_TO_BATCH_ND, REVERSE_V2; SPLIT and UNPACK arrive lowered to SLICE and GATHER) take the
  input's parameters: TFLM copies (or, for RESIZE_BILINEAR, interpolates) int8 values without
  rescaling. PADV2's constant pad value is stored with them too (TFLM pads with its raw int8).
  PACK follows the CONCATENATION rule.

With `activations="int16"` the graph follows TFLite's 16x8 mode instead (the converter's
EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8): activations int16 symmetric
(zero point 0, scale = max |range| / 32767, GetSymmetricQuantizationParams), the same int8
weights, bias int64 (no weight widening: int64 cannot overflow), SOFTMAX, LOGISTIC and TANH
outputs 2^-15; the same-scale and concatenation rules hold (TFLM's int16 CONCATENATION copies
values without comparing scales). Ops without an int16 kernel in TFLM (HARD_SWISH) are refused.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..ir import Graph, MicrolithError, Node, Op, Quant, Tensor
from ..reference_float import const_value

F32 = np.float32
INT32_MAX = np.iinfo(np.int32).max

SAME_SCALE = (Op.MAX_POOL_2D, Op.AVERAGE_POOL_2D, Op.RESHAPE, Op.SQUEEZE, Op.PAD,
              Op.STRIDED_SLICE, Op.TRANSPOSE, Op.RELU6,
              # --- issue 10: reduction and normalization (TFLM requires equal quantization)
              Op.REDUCE_MAX, Op.REDUCE_MIN,
              # --- issue 10: data movement (ops/movement.py: TFLM moves int8 values unscaled)
              Op.SLICE, Op.GATHER, Op.GATHER_ND, Op.EXPAND_DIMS, Op.BROADCAST_TO, Op.DEPTH_TO_SPACE,
              Op.SPACE_TO_DEPTH, Op.MIRROR_PAD, Op.PADV2, Op.RESIZE_NEAREST_NEIGHBOR,
              Op.RESIZE_BILINEAR, Op.BATCH_TO_SPACE_ND, Op.SPACE_TO_BATCH_ND, Op.REVERSE_V2)
# Operands of a SAME_SCALE op, besides its data input, that TFLM reads as raw output values.
SAME_SCALE_OPERANDS = {Op.PADV2: (2,)}  # the pad value
# Ops that copy several inputs into one output unscaled: the inputs share the output's parameters.
CONCAT_LIKE = (Op.CONCATENATION, Op.PACK)
FIXED_OUTPUT = {Op.SOFTMAX: (1.0 / 256.0, -128), Op.LOGISTIC: (1.0 / 256.0, -128),
                Op.TANH: (1.0 / 128.0, 0),
                # --- issue 10: reduction and normalization (TFLM's fixed output formats)
                Op.LOG_SOFTMAX: (16.0 / 256.0, 127), Op.L2_NORMALIZATION: (1.0 / 128.0, 0)}
FIXED_OUTPUT_INT16 = {Op.SOFTMAX: (1.0 / 32768.0, 0), Op.LOGISTIC: (1.0 / 32768.0, 0),
                      Op.TANH: (1.0 / 32768.0, 0)}
ACTIVATION_DTYPES = ("int8", "int16")
WEIGHT_OPS = {Op.CONV_2D: 0, Op.DEPTHWISE_CONV_2D: 3, Op.FULLY_CONNECTED: None,
              # --- issue 10: transpose conv (weights [C_OUT, KH, KW, C_IN], per channel as CONV_2D)
              Op.TRANSPOSE_CONV: 0}
# (data input, weights, bias) positions of a weight op, where they are not (0, 1, 2).
WEIGHT_INPUTS = {Op.TRANSPOSE_CONV: (2, 1, 3)}  # input 0 is the constant output shape


def data_input(node: Node) -> str | None:
    """The input an op computes from (TRANSPOSE_CONV's is its third)."""
    k = WEIGHT_INPUTS.get(node.op, (0,))[0]
    return node.inputs[k] if k < len(node.inputs) else None
# Smallest range an activation may get (the MLIR quantizer's kNearZeroTolerance): an all-zero
# tensor would otherwise get scale 0, which no kernel can rescale.
NEAR_ZERO = 1.0e-6


def round_away(x) -> np.ndarray:
    """TfLiteRound / std::round: halves away from zero (numpy's round goes to even)."""
    x = np.asarray(x, np.float64)  # exact for float32 inputs; |x| + 0.5 in float32 could round up
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


# A range wider than this has no float32 scale (hi - lo overflows, or the scale is inf).
_MAX_ACTIVATION_SPAN = float(np.finfo(np.float32).max)


def activation_params(rmin: float, rmax: float) -> tuple[float, int]:
    """(scale, zero point) of an int8 activation with range [rmin, rmax]: TFLite's
    GetAsymmetricQuantizationParams, in float32 as there."""
    lo, hi = min(F32(rmin), F32(0)), max(F32(rmax), F32(0))
    if float(hi) - float(lo) < NEAR_ZERO:
        lo, hi = F32(lo - F32(NEAR_ZERO)), F32(hi + F32(NEAR_ZERO))
    scale = F32((hi - lo) / F32(255))
    zp_from_min = F32(F32(-128) - lo / scale)
    if zp_from_min < -128:
        zp = -128
    elif zp_from_min > 127:
        zp = 127
    else:
        zp = int(round_away(zp_from_min))
    return float(scale), zp


def activation_params_int16(rmin: float, rmax: float) -> tuple[float, int]:
    """(scale, 0) of an int16 activation with range [rmin, rmax]: TFLite's
    GetSymmetricQuantizationParams with half range 32767, in float32 as there."""
    lo, hi = min(F32(rmin), F32(0)), max(F32(rmax), F32(0))
    if float(hi) - float(lo) < NEAR_ZERO:
        lo, hi = F32(lo - F32(NEAR_ZERO)), F32(hi + F32(NEAR_ZERO))
    return float(F32(max(abs(hi), abs(lo)) / F32(32767))), 0


def quantize_values(x: np.ndarray, scale: float, zero_point: int, dtype=np.int8) -> np.ndarray:
    """Affine quantization of float data with given parameters (rounding half away from zero)."""
    info = np.iinfo(dtype)
    q = round_away(np.asarray(x, np.float64) / float(F32(scale))) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def _channel_view(w: np.ndarray, axis: int) -> np.ndarray:
    return np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)


def weight_half_ranges(w: np.ndarray, axis: int | None) -> np.ndarray:
    """max |w| per output channel (axis) or over the whole tensor (None), float32."""
    if axis is None:
        return np.array([np.abs(w).max() if w.size else 0.0], F32)
    return np.abs(_channel_view(w, axis)).max(axis=1).astype(F32)


def adjust_half_ranges_for_bias(half: np.ndarray, bias: np.ndarray, input_scale: float) -> np.ndarray:
    """AdjustWeightsForBiasScale: widen a weight scale when bias / (input x weight scale) would
    leave the middle half of int32, so the int32 bias cannot overflow."""
    half = half.copy()
    in_s = F32(input_scale)
    w_scale = (half / F32(127)).astype(F32)
    if half.size > 1:
        b = np.abs(bias.astype(F32))
        bad = b.astype(np.float64) >= 0.5 * float(in_s) * w_scale.astype(np.float64) * INT32_MAX
        fix = 2.0 * b.astype(np.float64) / INT32_MAX * float(F32(F32(127) / in_s))
        half[bad] = fix[bad].astype(F32)
    else:
        b = float(np.abs(bias.astype(F32)).max()) if bias.size else 0.0
        if b / INT32_MAX >= 0.5 * float(in_s) * float(w_scale[0]):
            half[0] = F32(2.0 * b / INT32_MAX * float(F32(F32(127) / in_s)))
    return half


def quantize_weights(w: np.ndarray, half: np.ndarray, axis: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 weights in [-127, 127] and their float32 scales (half range / 127).

    Per channel: SymmetricPerChannelQuantization (inverse scale 127/half in float32, product
    in float32); per tensor: SymmetricQuantizeFloats (the same formula over the whole tensor).
    """
    w = np.asarray(w, F32)
    scales = (half / F32(127)).astype(F32)
    with np.errstate(divide="ignore"):
        inv = np.where(half == 0, F32(0), F32(127) / np.where(half == 0, F32(1), half)).astype(F32)
    if axis is None:
        q = round_away((w * inv[0]).astype(F32))
    else:
        shape = [1] * w.ndim
        shape[axis] = -1
        q = round_away((w * inv.reshape(shape)).astype(F32))
    if axis is None and half[0] == 0:
        scales = np.array([1.0], F32)  # SymmetricQuantizeFloats' choice for an all-zero tensor
    return np.clip(q, -127, 127).astype(np.int8), scales


def quantize_bias(b: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """SymmetricBiasQuantize: inverse scale 1/scale rounded to float32, product in float32,
    saturated to [-INT32_MAX, INT32_MAX]."""
    scales = np.asarray(scales, F32)
    with np.errstate(divide="ignore"):
        inv = np.where(scales == 0, 0.0, 1.0 / np.where(scales == 0, 1.0, scales.astype(np.float64))).astype(F32)
    if inv.size == 1:
        inv = np.full(b.shape, inv[0], F32)
    q = round_away((np.asarray(b, F32) * inv).astype(F32)).astype(np.float64)
    return np.clip(q, -INT32_MAX, INT32_MAX).astype(np.int32)


def quantize_bias_int64(b: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """SymmetricBiasQuantize<int64_t> (16x8 mode): the same float32 arithmetic, no practical
    saturation (|bias / scale| would have to reach 2^63)."""
    scales = np.asarray(scales, F32)
    with np.errstate(divide="ignore"):
        inv = np.where(scales == 0, 0.0, 1.0 / np.where(scales == 0, 1.0, scales.astype(np.float64))).astype(F32)
    if inv.size == 1:
        inv = np.full(b.shape, inv[0], F32)
    q = round_away((np.asarray(b, F32) * inv).astype(F32))
    limit = float(np.iinfo(np.int64).max)
    return np.clip(q, -limit, limit).astype(np.int64)


# Elements any one tensor of a float model may hold: 4 Mi, what the largest supported board's
# RAM (or flash) holds as int8, far above any model compile accepts. The float reference keeps
# every activation of every calibration sample in memory, and larger ones take minutes.
MAX_FLOAT_ELEMENTS = 1 << 22
_SAME_SHAPE_OPS = (Op.SOFTMAX, Op.LOGISTIC, Op.TANH, Op.RELU, Op.RELU6, Op.LEAKY_RELU, Op.HARD_SWISH,
                   Op.QUANTIZE, Op.DEQUANTIZE)
# Ops whose inputs broadcast together (numpy rules, as TFLite's) into the output.
_BROADCAST_OPS = (Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.MAXIMUM, Op.MINIMUM, Op.SQUARED_DIFFERENCE, Op.PRELU,
                  Op.EQUAL, Op.NOT_EQUAL, Op.LESS, Op.LESS_EQUAL, Op.GREATER, Op.GREATER_EQUAL,
                  Op.LOGICAL_AND, Op.LOGICAL_OR, Op.SELECT_V2)
_ARITY = {Op.CONV_2D: 2, Op.DEPTHWISE_CONV_2D: 2, Op.FULLY_CONNECTED: 2,
          Op.PAD: 2, Op.PADV2: 2, Op.MIRROR_PAD: 2, Op.MEAN: 2, Op.TRANSPOSE: 2, Op.STRIDED_SLICE: 4,
          # --- issue 10: transpose conv
          Op.TRANSPOSE_CONV: 3,
          **{op: 2 for op in _BROADCAST_OPS}, Op.SELECT_V2: 3}


def _window_out(size: int, k: int, d: int, s: int, padding: str) -> int:
    """TFLite's output size of a window (ComputeOutSize)."""
    return -(-size // s) if padding == "SAME" else (size - (k - 1) * d - 1) // s + 1


def _check_float_structure(g: Graph, where: str) -> None:
    """Graph inputs and outputs are distinct computed tensors, and each tensor has at most one
    producer that is neither a constant nor a graph input: what the int8 graph builder (and
    TFLM) assume of a model."""
    for kind, names in (("input", g.inputs), ("output", g.outputs)):
        if len(set(names)) != len(names):
            raise MicrolithError(f"{where}: a tensor is listed twice as a graph {kind}: {list(names)}")
        for name in names:
            if g.t(name).is_const:
                raise MicrolithError(f"{where}: graph {kind} '{name}' is a constant tensor")
    both = set(g.inputs) & set(g.outputs)
    if both:
        raise MicrolithError(f"{where}: tensor '{sorted(both)[0]}' is both a graph input and a graph output")
    written: dict[str, int] = {}
    for i, node in enumerate(g.nodes):
        for name in node.outputs:
            t = g.t(name)
            if t.is_const or name in g.inputs or name in written:
                what = ("a constant" if t.is_const else "a graph input" if name in g.inputs
                        else f"already written by op #{written[name]}")
                raise MicrolithError(f"{where}: op #{i} {node.op.value} writes tensor '{name}', {what}")
            written[name] = i


def check_float_shapes(g: Graph) -> None:
    """Every op's tensors fit together as TFLite defines the op, and no tensor is too large, so
    that the float reference computes exactly what the file describes. A model file is untrusted:
    without this, inconsistent shapes reach numpy as IndexErrors or as paddings of 2^30 rows."""
    where = g.source or g.name
    _check_float_structure(g, where)
    for name, t in g.tensors.items():
        if (not t.is_const and any(int(d) < 1 for d in t.shape)) or t.size > MAX_FLOAT_ELEMENTS:
            raise MicrolithError(f"{where}: tensor '{name}' has shape {list(t.shape)}; quantize needs "
                                 f"dimensions >= 1 and at most {MAX_FLOAT_ELEMENTS} elements per tensor")
        if not t.is_const and t.dtype != "float32":
            raise MicrolithError(f"{where}: tensor '{name}' is {t.dtype} in a float model; quantize needs "
                                 "every computed tensor in float32")
        if t.is_const and np.asarray(t.data).dtype.kind == "f" and not np.all(np.isfinite(t.data)):
            raise MicrolithError(f"{where}: constant '{name}' holds NaN or infinite values; the float model "
                                 "cannot be calibrated (check the export)")
    for i, node in enumerate(g.nodes):
        here = f"{where}: op #{i} {node.op.value}"
        need = _ARITY.get(node.op, 1)
        if len(node.inputs) < need or any(x is None for x in node.inputs[:need]) or len(node.outputs) != 1:
            raise MicrolithError(f"{here} has inputs {list(node.inputs)} and outputs {list(node.outputs)}; "
                                 f"it needs {need} input(s) and 1 output")
        x, y = g.t(data_input(node)), g.t(node.outputs[0])
        xs, ys = tuple(int(d) for d in x.shape), tuple(int(d) for d in y.shape)
        if x.is_const and (node.op not in (Op.ADD, Op.SUB, Op.MUL) + CONCAT_LIKE or
                           all(g.t(n).is_const for n in node.inputs if n is not None)):
            raise MicrolithError(f"{here} reads constant '{x.name}' as its data input; quantize needs it "
                                 "computed from the model input (fold constant expressions first)")
        data_k = WEIGHT_INPUTS.get(node.op, (0,))[0]
        operands = [g.t(n) for k, n in enumerate(node.inputs) if n is not None and k != data_k]

        def bad(msg: str) -> MicrolithError:
            return MicrolithError(f"{here}: {msg} (input '{x.name}' {list(xs)}, output '{y.name}' {list(ys)})")

        op, a = node.op, node.attrs
        if op in (Op.CONV_2D, Op.DEPTHWISE_CONV_2D, Op.AVERAGE_POOL_2D, Op.MAX_POOL_2D):
            if len(xs) != 4 or len(ys) != 4 or xs[0] != ys[0]:
                raise bad("needs 4-D [N, H, W, C] input and output of one batch size")
            if op in (Op.CONV_2D, Op.DEPTHWISE_CONV_2D):
                w = tuple(int(d) for d in g.t(node.inputs[1]).shape)
                if len(w) != 4 or min(w) < 1:
                    raise bad(f"weights '{node.inputs[1]}' of shape {list(w)} are not 4-D with every "
                              "dimension at least 1")
                k, dil = (w[1], w[2]), (a["dilation_h"], a["dilation_w"])
                channels = (w[0] if op is Op.CONV_2D else w[3])
                fits = (w[3] == xs[3] if op is Op.CONV_2D else
                        w[0] == 1 and xs[3] * a["depth_multiplier"] == w[3])
                if not fits or ys[3] != channels:
                    raise bad(f"weights '{node.inputs[1]}' of shape {list(w)} do not fit")
                bias = node.inputs[2] if len(node.inputs) > 2 else None
                if bias is not None and g.t(bias).size != channels:
                    raise bad(f"bias '{bias}' holds {g.t(bias).size} values for {channels} channels")
            else:
                k, dil = (a["filter_h"], a["filter_w"]), (1, 1)
                if ys[3] != xs[3]:
                    raise bad("a pool keeps the channel count")
            padded = []
            for axis in (0, 1):
                stride = (a["stride_h"], a["stride_w"])[axis]
                want = _window_out(xs[1 + axis], k[axis], dil[axis], stride, a["padding"])
                if want < 1 or ys[1 + axis] != want:
                    raise bad(f"{a['padding']} windows of {k[axis]} (dilation {dil[axis]}, stride "
                              f"{stride}) give {want} along axis {1 + axis}")
                padded.append(max(xs[1 + axis], (want - 1) * stride + (k[axis] - 1) * dil[axis] + 1))
            if xs[0] * padded[0] * padded[1] * xs[3] > MAX_FLOAT_ELEMENTS:
                raise bad(f"the windows span a padded input of {padded[0]} x {padded[1]}, more than "
                          f"{MAX_FLOAT_ELEMENTS} elements")
        elif op is Op.FULLY_CONNECTED:
            w = tuple(int(d) for d in g.t(node.inputs[1]).shape)
            if len(w) != 2 or min(w) < 1 or x.size % w[1] or y.size != x.size // w[1] * w[0] or not ys \
                    or ys[-1] != w[0]:
                raise bad(f"weights '{node.inputs[1]}' of shape {list(w)} do not fit")
            bias = node.inputs[2] if len(node.inputs) > 2 else None
            if bias is not None and g.t(bias).size != w[0]:
                raise bad(f"bias '{bias}' holds {g.t(bias).size} values for {w[0]} outputs")
        elif op in _BROADCAST_OPS:
            shapes = [tuple(int(d) for d in g.t(n).shape) for n in node.inputs[:_ARITY[op]]]
            try:
                shape = np.broadcast_shapes(*shapes)
            except ValueError:
                raise bad(f"input shapes {' and '.join(str(list(sh)) for sh in shapes)} do not broadcast") from None
            if math.prod(shape) != y.size:
                raise bad(f"the inputs broadcast to {list(shape)}")
        elif op in _SAME_SHAPE_OPS + (Op.RESHAPE, Op.SQUEEZE):
            if x.size != y.size or (op in _SAME_SHAPE_OPS and not xs):
                raise bad("input and output must hold the same number of values")
        elif op is Op.CONCATENATION:
            parts = [tuple(int(d) for d in g.t(n).shape) for n in node.inputs if n is not None]
            axis = a["axis"]
            if not -len(ys) <= axis < len(ys) or any(len(p) != len(ys) for p in parts):
                raise bad(f"axis {axis} or the input ranks do not fit")
            axis %= len(ys)
            if any(p[:axis] + p[axis + 1:] != ys[:axis] + ys[axis + 1:] for p in parts) or \
                    sum(p[axis] for p in parts) != ys[axis]:
                raise bad(f"inputs {[list(p) for p in parts]} do not concatenate along axis {axis}")
        elif op is Op.TRANSPOSE_CONV:  # TFLM reads the output shape from the output tensor
            w = tuple(int(d) for d in g.t(node.inputs[1]).shape)
            if len(xs) != 4 or len(ys) != 4 or xs[0] != ys[0] or len(w) != 4 or min(w) < 1 or w[3] != xs[3] \
                    or ys[3] != w[0]:
                raise bad(f"needs 4-D [N, H, W, C] input and output and weights [C_OUT, KH, KW, C_IN]; "
                          f"weights '{node.inputs[1]}' are {list(w)}")
            bias = node.inputs[3] if len(node.inputs) > 3 else None
            if bias is not None and g.t(bias).size != w[0]:
                raise bad(f"bias '{bias}' holds {g.t(bias).size} values for {w[0]} channels")
            for axis in (0, 1):
                stride = (a["stride_h"], a["stride_w"])[axis]
                if stride < 1 or _window_out(ys[1 + axis], w[1 + axis], 1, stride, a["padding"]) != xs[1 + axis]:
                    raise bad(f"{a['padding']} windows of {w[1 + axis]} with stride {stride} on the output do "
                              f"not give the input's size along axis {1 + axis}")
        elif op in (Op.PAD, Op.PADV2, Op.MIRROR_PAD, Op.MEAN, Op.TRANSPOSE, Op.STRIDED_SLICE):
            if not all(t.is_const for t in operands):
                raise bad("the operands after the first must be constants")
            if op is Op.PADV2 and len(operands) > 1 and operands[1].size != 1:
                raise bad(f"the pad value '{operands[1].name}' holds {operands[1].size} values, not 1")
            # PADV2's pad value is a float; the paddings and the other ops' operands are integers
            vals = [np.asarray(t.data) for t in (operands[:1] if op is Op.PADV2 else operands)]
            if any(v.dtype.kind not in "iu" for v in vals):
                raise bad("the operands after the first must be integer constants")
            if op in (Op.PAD, Op.PADV2, Op.MIRROR_PAD):
                p = vals[0]
                if p.shape != (len(xs), 2) or (p < 0).any() or \
                        tuple(d + int(lo) + int(hi) for d, (lo, hi) in zip(xs, p)) != ys:
                    raise bad(f"paddings {p.tolist()} do not fit")
                if op is Op.MIRROR_PAD:  # TensorFlow's MirrorPad limits (ops/movement.py MirrorPad)
                    limit = [d - (1 if a["mode"] == "REFLECT" else 0) for d in xs]
                    if any(int(v) > lim for row, lim in zip(p, limit) for v in row):
                        raise bad(f"paddings {p.tolist()} reach past what {a['mode']} mode can mirror")
            elif op is Op.MEAN:
                axes = {int(v) % len(xs) if xs and -len(xs) <= int(v) < len(xs) else None
                        for v in vals[0].reshape(-1)}
                kept = math.prod(d for k, d in enumerate(xs) if k not in axes)
                if None in axes or kept != y.size:
                    raise bad(f"axes {vals[0].reshape(-1).tolist()} do not fit")
            elif op is Op.TRANSPOSE:
                perm = [int(v) for v in vals[0].reshape(-1)]
                if sorted(perm) != list(range(len(xs))) or tuple(xs[k] for k in perm) != ys:
                    raise bad(f"perm {perm} does not fit")
            else:
                from ..reference_float import slice_ranges
                if len({v.size for v in vals}) != 1 or vals[0].size > len(xs) or (vals[2] == 0).any():
                    raise bad("begin, end and strides must have one entry per axis and strides != 0")
                idx = slice_ranges(node, xs, vals[0], vals[1], vals[2])
                if math.prod(len(r) for r in idx) != y.size:
                    raise bad("the slice does not give the output's size")


def check_float_graph(g: Graph) -> None:
    """The quantizer's input must be a float model: float activations, no QUANTIZE/DEQUANTIZE."""
    where = g.source or g.name
    for name in g.activations():
        t = g.t(name)
        if t.dtype in ("int8", "uint8", "int16") and t.quant is not None:
            raise MicrolithError(f"{where}: model is already quantized (tensor '{name}' is {t.dtype}); "
                                 "quantize takes a float32 model")
    if not any(g.t(n).dtype == "float32" for n in g.activations()):
        raise MicrolithError(f"{where}: model has no float32 activations; quantize takes a float32 model")
    for i, node in enumerate(g.nodes):
        if node.op in (Op.QUANTIZE, Op.DEQUANTIZE):
            raise MicrolithError(f"{where}: op #{i} is {node.op.value}; quantize takes a float32 model "
                                 "without quantize/dequantize ops")
        if node.op is Op.CONCATENATION and node.attrs["activation"] != "NONE":
            raise MicrolithError(f"{where}: op #{i} CONCATENATION has fused activation "
                                 f"{node.attrs['activation']}, which TFLM's CONCATENATION rejects")
        if node.op in WEIGHT_OPS and (len(node.inputs) < 2 or node.inputs[1] is None or
                                      not g.t(node.inputs[1]).is_const):
            raise MicrolithError(f"{where}: op #{i} {node.op.value} has non-constant weights "
                                 f"'{node.inputs[1] if len(node.inputs) > 1 else None}'; int8 kernels need "
                                 "constant weights")
    check_float_shapes(g)


def _is_weight(node: Node, k: int) -> bool:
    return node.op in WEIGHT_OPS and k in WEIGHT_INPUTS.get(node.op, (0, 1, 2))[1:]


def value_tensors(g: Graph) -> list[str]:
    """Float tensors that get activation-style (asymmetric per-tensor) parameters: activations
    and float constants that are not weights or biases (e.g. the operand of an ADD)."""
    names = [n for n in g.activations() if g.t(n).dtype == "float32"]
    seen = set(names)
    for node in g.nodes:
        for k, name in enumerate(node.inputs):
            if name and name not in seen and g.t(name).is_const and g.t(name).dtype == "float32" \
                    and not _is_weight(node, k):
                seen.add(name)
                names.append(name)
    return names


def const_ranges_of(t: Tensor) -> tuple[float, float]:
    d = t.data.astype(F32)
    return (float(d.min()), float(d.max())) if d.size else (0.0, 0.0)


def const_ranges(g: Graph) -> dict[str, tuple[float, float]]:
    """Ranges of the float constants that value_tensors lists: their data."""
    return {name: const_ranges_of(g.t(name)) for name in value_tensors(g) if g.t(name).is_const}


def plan_activations(g: Graph, ranges: dict[str, tuple[float, float]],
                     activations: str = "int8") -> dict[str, Quant]:
    """Quantization parameters of every value tensor, with the fixed-output and same-scale rules."""
    fixed_outputs = FIXED_OUTPUT_INT16 if activations == "int16" else FIXED_OUTPUT
    params_of = activation_params_int16 if activations == "int16" else activation_params
    names = value_tensors(g)
    parent = {n: n for n in names}

    def find(n):
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    fixed: dict[str, tuple[float, int]] = {}
    derived = set()  # outputs of same-scale ops: their range is their input's
    for node in g.nodes:
        if node.op in fixed_outputs and node.outputs[0] in parent:
            fixed[node.outputs[0]] = fixed_outputs[node.op]
    for node in g.nodes:
        x, y = node.inputs[0], node.outputs[0]
        if node.op in SAME_SCALE and x in parent and y in parent:
            parent[find(y)] = find(x)
            derived.add(y)
            for k in SAME_SCALE_OPERANDS.get(node.op, ()):
                v = node.inputs[k] if k < len(node.inputs) else None
                if v in parent and find(v) != find(x):
                    parent[find(v)] = find(x)

    def group_fixed(root):
        return [fixed[n] for n in names if n in fixed and find(n) == root]

    merged = set()
    for node in g.nodes:
        if node.op not in CONCAT_LIKE or node.outputs[0] not in parent:
            continue
        out = node.outputs[0]
        for x in node.inputs:
            if x in parent and find(x) != find(out) and not group_fixed(find(x)):
                parent[find(x)] = find(out)
                merged.add(x)

    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(find(n), []).append(n)
    plan: dict[str, Quant] = {}
    for members in groups.values():
        fx = [fixed[n] for n in members if n in fixed]
        if fx:
            scale, zp = fx[0]
        else:
            sources = [n for n in members if n not in derived and n not in merged] or members
            missing = [n for n in sources if n not in ranges]
            if missing:
                raise MicrolithError(f"no calibration range for tensor '{missing[0]}'")
            lo = min(ranges[n][0] for n in sources)
            hi = max(ranges[n][1] for n in sources)
            if not (math.isfinite(lo) and math.isfinite(hi)) or hi - lo > _MAX_ACTIVATION_SPAN:
                raise MicrolithError(f"{g.source or g.name}: tensor '{sources[0]}' ranges over [{lo:g}, {hi:g}] on the calibration "
                                     f"samples; its {activations} scale would overflow float32 (the float "
                                     "model's values are too large: check its weights)")
            scale, zp = params_of(lo, hi)
        for n in members:
            plan[n] = Quant((float(scale),), (int(zp),))
    return plan


class _Builder:
    """Accumulates the int8 graph's tensors and nodes; names stay those of the float graph."""

    def __init__(self, g: Graph):
        self.g = g
        self.tensors: dict[str, Tensor] = {}
        self.nodes: list[Node] = []
        self.requantized = 0

    def unique(self, base: str) -> str:
        name, k = base, 1
        while name in self.tensors or (name in self.g.tensors and name != base):
            name = f"{base}#{k}"
            k += 1
        return name

    def add_const(self, base: str, t: Tensor) -> str:
        """A constant under `base`, or a suffixed name if `base` already holds different data
        (the same float weights used by two ops with different input scales)."""
        if base in self.tensors:
            old = self.tensors[base]
            if old.dtype == t.dtype and old.quant == t.quant and np.array_equal(old.data, t.data):
                return base
            base = self.unique(base)
        self.tensors[base] = dataclasses.replace(t, name=base)
        return base


def check_activation_dtype(g: Graph, activations: str) -> None:
    """Refuse an activation type TFLM has no kernel for on one of the graph's ops."""
    from ..ops import impl_for
    if activations not in ACTIVATION_DTYPES:
        raise MicrolithError(f"activations must be 'int8' or 'int16', not {activations!r}")
    for i, node in enumerate(g.nodes):
        if activations not in impl_for(node.op).dtypes:
            raise MicrolithError(f"{g.source or g.name}: op #{i} {node.op.value} has no {activations} kernel in "
                                 f"TFLM (it supports {', '.join(impl_for(node.op).dtypes)}); quantize with "
                                 f"int8 activations or replace the op")


def build_int8_graph(g: Graph, act: dict[str, Quant], io: str | None = None,
                     fc_per_channel: bool = False, activations: str = "int8") -> Graph:
    """The int8 (or, with activations="int16", 16x8) graph for given activation parameters
    (see plan_activations). io: the activation type (the default) for quantized inputs and
    outputs, or "float" for QUANTIZE/DEQUANTIZE at the edges."""
    check_activation_dtype(g, activations)
    io = io or activations
    if io not in (activations, "float"):
        raise MicrolithError(f"io must be '{activations}' (the activation type) or 'float', not {io!r}")
    b = _Builder(g)
    for name, t in g.tensors.items():
        if not t.is_const:
            if t.dtype == "float32":
                if name not in act:
                    raise MicrolithError(f"no quantization parameters for tensor '{name}'")
                b.tensors[name] = Tensor(name, t.shape, activations, act[name])
            else:
                b.tensors[name] = dataclasses.replace(t)
    for node in g.nodes:
        ins = list(node.inputs)
        if node.op in WEIGHT_OPS:
            ins = _quantize_weight_op(b, node, ins, act, fc_per_channel, activations)
        for k, name in enumerate(ins):
            if name is None or _is_weight(node, k) or not g.t(name).is_const:
                continue
            t = g.t(name)
            if t.is_const and t.dtype == "float32":
                q = act.get(name)
                if q is None:  # not planned (no same-scale tie): its own data range
                    scale, zp = activation_params(*const_ranges_of(t))
                    q = Quant((scale,), (zp,))
                ins[k] = b.add_const(name, Tensor(name, t.shape, activations, q,
                                                  quantize_values(t.data, q.scale[0], q.zero_point[0],
                                                                  np.dtype(activations))))
            elif t.is_const:
                ins[k] = b.add_const(name, dataclasses.replace(t))
        if node.op in CONCAT_LIKE:
            ins = _requantize_concat_inputs(b, node, ins)
        b.nodes.append(node.replace(inputs=tuple(ins)))
    inputs, outputs = list(g.inputs), list(g.outputs)
    if io == "float":
        inputs, outputs = _float_io(b, inputs, outputs)
    used = {n for node in b.nodes for n in list(node.inputs) + list(node.outputs) if n} | set(inputs) | set(outputs)
    tensors = {n: t for n, t in b.tensors.items() if n in used}
    out = Graph(g.name, tensors, b.nodes, inputs, outputs, source=g.source,
                meta={"format": "ir", "quantized_from": g.source or g.name, "io": io, "activations": activations,
                      "requantize_ops": b.requantized})
    out.validate()
    return out


def _quantize_weight_op(b: _Builder, node: Node, ins: list, act: dict[str, Quant], fc_per_channel: bool,
                        activations: str = "int8") -> list:
    g = b.g
    axis = WEIGHT_OPS[node.op]
    if node.op is Op.FULLY_CONNECTED and fc_per_channel:
        axis = 0
    x_k, w_k, b_k = WEIGHT_INPUTS.get(node.op, (0, 1, 2))
    w_name = ins[w_k]
    w = const_value(g, w_name)
    if w.dtype != F32:
        raise MicrolithError(f"op {node.name} ({node.op.value}): weights '{w_name}' are {g.t(w_name).dtype} "
                             "without quantization; expected float32")
    x = ins[x_k]
    if x not in act:
        raise MicrolithError(f"op {node.name} ({node.op.value}): input '{x}' is not a float tensor")
    in_scale = act[x].scale[0]
    half = weight_half_ranges(w, axis)
    bias_name = ins[b_k] if len(ins) > b_k else None
    bias = const_value(g, bias_name) if bias_name else None
    if bias is not None:
        if bias.dtype != F32:
            raise MicrolithError(f"op {node.name} ({node.op.value}): bias '{bias_name}' is "
                                 f"{g.t(bias_name).dtype}; expected float32")
        if bias.size != w.shape[WEIGHT_OPS[node.op] or 0]:
            raise MicrolithError(f"op {node.name} ({node.op.value}): bias '{bias_name}' has {bias.size} "
                                 f"values for {w.shape[WEIGHT_OPS[node.op] or 0]} output channels")
        if activations == "int8":  # an int64 bias (16x8) cannot overflow: no widening
            half = adjust_half_ranges_for_bias(half, bias.reshape(-1), in_scale)
    qw, w_scales = quantize_weights(w, half, axis)
    wt = g.t(w_name)
    w_quant = Quant(tuple(float(s) for s in w_scales), (0,) * len(w_scales), 0 if axis is None else axis)
    ins[w_k] = b.add_const(w_name, Tensor(w_name, wt.shape, "int8", w_quant, qw))
    if bias is not None:
        b_scales = (F32(in_scale) * w_scales).astype(F32)
        quantize_b, b_dtype = (quantize_bias, "int32") if activations == "int8" else (quantize_bias_int64, "int64")
        qb = quantize_b(bias.reshape(-1), b_scales).reshape(g.t(bias_name).shape)
        b_quant = Quant(tuple(float(s) for s in b_scales), (0,) * len(b_scales), 0)
        ins[b_k] = b.add_const(bias_name, Tensor(bias_name, g.t(bias_name).shape, b_dtype, b_quant, qb))
    return ins


def _requantize_concat_inputs(b: _Builder, node: Node, ins: list) -> list:
    out_q = b.tensors[node.outputs[0]].quant
    for k, name in enumerate(ins):
        if name is None or b.tensors[name].quant == out_q:
            continue
        src = b.tensors[name]
        if src.is_const:  # a constant is simply stored with the output's parameters
            data = (src.data.astype(np.float64) - src.quant.zero_point[0]) * src.quant.scale[0]
            ins[k] = b.add_const(name + "_requant", Tensor(name + "_requant", src.shape, src.dtype, out_q,
                                                           quantize_values(data, out_q.scale[0], out_q.zero_point[0],
                                                                           src.np_dtype)))
            continue
        new = b.unique(f"{name}_requant")
        b.tensors[new] = Tensor(new, src.shape, src.dtype, out_q)
        b.nodes.append(Node(Op.QUANTIZE, (name,), (new,), {}, name=f"requantize_{new}"))
        b.requantized += 1
        ins[k] = new
    return ins


def _float_io(b: _Builder, inputs: list[str], outputs: list[str]) -> tuple[list[str], list[str]]:
    """QUANTIZE at each graph input, DEQUANTIZE at each output; the float tensors keep the
    original names so callers address the model as before."""
    rename: dict[str, str] = {}
    front = []
    for name in inputs:
        t = b.tensors[name]
        if t.dtype not in ACTIVATION_DTYPES:
            continue
        new = b.unique(f"{name}_{t.dtype}")
        b.tensors[new] = dataclasses.replace(t, name=new)
        b.tensors[name] = Tensor(name, t.shape, "float32")
        rename[name] = new
        front.append(Node(Op.QUANTIZE, (name,), (new,), {}, name=f"quantize_{name}"))
    back = []
    out_rename: dict[str, str] = {}
    for name in outputs:
        t = b.tensors[name]
        if t.dtype not in ACTIVATION_DTYPES or name in out_rename:
            continue
        new = b.unique(f"{name}_{t.dtype}")
        b.tensors[new] = dataclasses.replace(t, name=new)
        b.tensors[name] = Tensor(name, t.shape, "float32")
        out_rename[name] = new
        back.append(Node(Op.DEQUANTIZE, (new,), (name,), {}, name=f"dequantize_{name}"))
    nodes = []
    for node in b.nodes:
        nodes.append(node.replace(
            inputs=tuple(rename.get(n, out_rename.get(n, n)) if n else n for n in node.inputs),
            outputs=tuple(out_rename.get(n, n) for n in node.outputs)))
    b.nodes = front + nodes + back
    return inputs, outputs


def collect_ranges_for(g: Graph, samples: list[list[np.ndarray]], method: str = "minmax",
                       percentile: float = 99.99) -> dict[str, tuple[float, float]]:
    """Calibrated ranges of the activations plus the data ranges of non-weight float constants."""
    from .calibrate import collect_ranges
    found = collect_ranges(g, samples, method, percentile=percentile)
    found.update(const_ranges(g))
    return found


def quantize_graph(float_graph: Graph, samples, method: str = "minmax", io: str | None = None, *,
                   percentile: float = 99.99, fc_per_channel: bool = False,
                   ranges: dict[str, tuple[float, float]] | None = None, activations: str = "int8") -> Graph:
    """Float IR graph + calibration samples -> int8 IR graph following the TFLite int8 spec.

    `samples`: anything quantize.data.load_dataset accepts (an iterable of samples, each an
    array or one array per graph input, or a batch array). `ranges` overrides the calibrated
    ranges of chosen tensors ({name: (min, max)}). `activations`: "int8", or "int16" for
    TFLite's 16x8 mode; io defaults to the activation type.
    """
    from .data import load_dataset
    check_float_graph(float_graph)
    check_activation_dtype(float_graph, activations)
    ds = load_dataset(samples, float_graph)
    found = collect_ranges_for(float_graph, ds.samples, method, percentile)
    found.update(ranges or {})
    return build_int8_graph(float_graph, plan_activations(float_graph, found, activations), io or activations,
                            fc_per_channel, activations)
