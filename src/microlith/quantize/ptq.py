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
  (axis 3), FULLY_CONNECTED per tensor by default (TFLM before 2024 and CMSIS-NN before v6
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
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..ir import Graph, MicrolithError, Node, Op, Quant, Tensor
from ..reference_float import const_value

F32 = np.float32
INT32_MAX = np.iinfo(np.int32).max

SAME_SCALE = (Op.MAX_POOL_2D, Op.AVERAGE_POOL_2D, Op.RESHAPE, Op.SQUEEZE, Op.PAD,
              Op.STRIDED_SLICE, Op.TRANSPOSE, Op.RELU6)
FIXED_OUTPUT = {Op.SOFTMAX: (1.0 / 256.0, -128), Op.LOGISTIC: (1.0 / 256.0, -128),
                Op.TANH: (1.0 / 128.0, 0)}
WEIGHT_OPS = {Op.CONV_2D: 0, Op.DEPTHWISE_CONV_2D: 3, Op.FULLY_CONNECTED: None}
# Smallest range an activation may get (the MLIR quantizer's kNearZeroTolerance): an all-zero
# tensor would otherwise get scale 0, which no kernel can rescale.
NEAR_ZERO = 1.0e-6


def round_away(x) -> np.ndarray:
    """TfLiteRound / std::round: halves away from zero (numpy's round goes to even)."""
    x = np.asarray(x, np.float64)  # exact for float32 inputs; |x| + 0.5 in float32 could round up
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


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
        if node.op in WEIGHT_OPS and not g.t(node.inputs[1]).is_const:
            raise MicrolithError(f"{where}: op #{i} {node.op.value} has non-constant weights "
                                 f"'{node.inputs[1]}'; int8 kernels need constant weights")


def _is_weight(node: Node, k: int) -> bool:
    return node.op in WEIGHT_OPS and k in (1, 2)


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


def plan_activations(g: Graph, ranges: dict[str, tuple[float, float]]) -> dict[str, Quant]:
    """Quantization parameters of every value tensor, with the fixed-output and same-scale rules."""
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
        if node.op in FIXED_OUTPUT and node.outputs[0] in parent:
            fixed[node.outputs[0]] = FIXED_OUTPUT[node.op]
    for node in g.nodes:
        x, y = node.inputs[0], node.outputs[0]
        if node.op in SAME_SCALE and x in parent and y in parent:
            parent[find(y)] = find(x)
            derived.add(y)

    def group_fixed(root):
        return [fixed[n] for n in names if n in fixed and find(n) == root]

    merged = set()
    for node in g.nodes:
        if node.op is not Op.CONCATENATION or node.outputs[0] not in parent:
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
            scale, zp = activation_params(lo, hi)
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


def build_int8_graph(g: Graph, act: dict[str, Quant], io: str = "int8",
                     fc_per_channel: bool = False) -> Graph:
    """The int8 graph for given activation parameters (see plan_activations)."""
    if io not in ("int8", "float"):
        raise MicrolithError(f"io must be 'int8' or 'float', not {io!r}")
    b = _Builder(g)
    for name, t in g.tensors.items():
        if not t.is_const:
            if t.dtype == "float32":
                if name not in act:
                    raise MicrolithError(f"no quantization parameters for tensor '{name}'")
                b.tensors[name] = Tensor(name, t.shape, "int8", act[name])
            else:
                b.tensors[name] = dataclasses.replace(t)
    for node in g.nodes:
        ins = list(node.inputs)
        if node.op in WEIGHT_OPS:
            ins = _quantize_weight_op(b, node, ins, act, fc_per_channel)
        for k, name in enumerate(ins):
            if name is None or _is_weight(node, k) or not g.t(name).is_const:
                continue
            t = g.t(name)
            if t.is_const and t.dtype == "float32":
                q = act.get(name)
                if q is None:  # not planned (no same-scale tie): its own data range
                    scale, zp = activation_params(*const_ranges_of(t))
                    q = Quant((scale,), (zp,))
                ins[k] = b.add_const(name, Tensor(name, t.shape, "int8", q,
                                                  quantize_values(t.data, q.scale[0], q.zero_point[0])))
            elif t.is_const:
                ins[k] = b.add_const(name, dataclasses.replace(t))
        if node.op is Op.CONCATENATION:
            ins = _requantize_concat_inputs(b, node, ins)
        b.nodes.append(node.replace(inputs=tuple(ins)))
    inputs, outputs = list(g.inputs), list(g.outputs)
    if io == "float":
        inputs, outputs = _float_io(b, inputs, outputs)
    used = {n for node in b.nodes for n in list(node.inputs) + list(node.outputs) if n} | set(inputs) | set(outputs)
    tensors = {n: t for n, t in b.tensors.items() if n in used}
    out = Graph(g.name, tensors, b.nodes, inputs, outputs, source=g.source,
                meta={"format": "ir", "quantized_from": g.source or g.name, "io": io,
                      "requantize_ops": b.requantized})
    out.validate()
    return out


def _quantize_weight_op(b: _Builder, node: Node, ins: list, act: dict[str, Quant], fc_per_channel: bool) -> list:
    g = b.g
    axis = WEIGHT_OPS[node.op]
    if node.op is Op.FULLY_CONNECTED and fc_per_channel:
        axis = 0
    w_name = ins[1]
    w = const_value(g, w_name)
    if w.dtype != F32:
        raise MicrolithError(f"op {node.name} ({node.op.value}): weights '{w_name}' are {g.t(w_name).dtype} "
                             "without quantization; expected float32")
    x = ins[0]
    if x not in act:
        raise MicrolithError(f"op {node.name} ({node.op.value}): input '{x}' is not a float tensor")
    in_scale = act[x].scale[0]
    half = weight_half_ranges(w, axis)
    bias_name = ins[2] if len(ins) > 2 else None
    bias = const_value(g, bias_name) if bias_name else None
    if bias is not None:
        if bias.dtype != F32:
            raise MicrolithError(f"op {node.name} ({node.op.value}): bias '{bias_name}' is "
                                 f"{g.t(bias_name).dtype}; expected float32")
        if bias.size != w.shape[WEIGHT_OPS[node.op] or 0]:
            raise MicrolithError(f"op {node.name} ({node.op.value}): bias '{bias_name}' has {bias.size} "
                                 f"values for {w.shape[WEIGHT_OPS[node.op] or 0]} output channels")
        half = adjust_half_ranges_for_bias(half, bias.reshape(-1), in_scale)
    qw, w_scales = quantize_weights(w, half, axis)
    wt = g.t(w_name)
    w_quant = Quant(tuple(float(s) for s in w_scales), (0,) * len(w_scales), 0 if axis is None else axis)
    ins[1] = b.add_const(w_name, Tensor(w_name, wt.shape, "int8", w_quant, qw))
    if bias is not None:
        b_scales = (F32(in_scale) * w_scales).astype(F32)
        qb = quantize_bias(bias.reshape(-1), b_scales).reshape(g.t(bias_name).shape)
        b_quant = Quant(tuple(float(s) for s in b_scales), (0,) * len(b_scales), 0)
        ins[2] = b.add_const(bias_name, Tensor(bias_name, g.t(bias_name).shape, "int32", b_quant, qb))
    return ins


def _requantize_concat_inputs(b: _Builder, node: Node, ins: list) -> list:
    out_q = b.tensors[node.outputs[0]].quant
    for k, name in enumerate(ins):
        if name is None or b.tensors[name].quant == out_q:
            continue
        src = b.tensors[name]
        if src.is_const:  # a constant is simply stored with the output's parameters
            data = (src.data.astype(np.float64) - src.quant.zero_point[0]) * src.quant.scale[0]
            ins[k] = b.add_const(name + "_requant", Tensor(name + "_requant", src.shape, "int8", out_q,
                                                           quantize_values(data, out_q.scale[0], out_q.zero_point[0])))
            continue
        new = b.unique(f"{name}_requant")
        b.tensors[new] = Tensor(new, src.shape, "int8", out_q)
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
        if t.dtype != "int8":
            continue
        new = b.unique(f"{name}_int8")
        b.tensors[new] = dataclasses.replace(t, name=new)
        b.tensors[name] = Tensor(name, t.shape, "float32")
        rename[name] = new
        front.append(Node(Op.QUANTIZE, (name,), (new,), {}, name=f"quantize_{name}"))
    back = []
    out_rename: dict[str, str] = {}
    for name in outputs:
        t = b.tensors[name]
        if t.dtype != "int8" or name in out_rename:
            continue
        new = b.unique(f"{name}_int8")
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


def quantize_graph(float_graph: Graph, samples, method: str = "minmax", io: str = "int8", *,
                   percentile: float = 99.99, fc_per_channel: bool = False,
                   ranges: dict[str, tuple[float, float]] | None = None) -> Graph:
    """Float IR graph + calibration samples -> int8 IR graph following the TFLite int8 spec.

    `samples`: anything quantize.data.load_dataset accepts (an iterable of samples, each an
    array or one array per graph input, or a batch array). `ranges` overrides the calibrated
    ranges of chosen tensors ({name: (min, max)}).
    """
    from .data import load_dataset
    check_float_graph(float_graph)
    ds = load_dataset(samples, float_graph)
    found = collect_ranges_for(float_graph, ds.samples, method, percentile)
    found.update(ranges or {})
    return build_int8_graph(float_graph, plan_activations(float_graph, found), io, fc_per_channel)
