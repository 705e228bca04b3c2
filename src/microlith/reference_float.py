"""Float32 numpy reference of every IR op, with TFLite's float kernel semantics.

The quantizer's calibration runs float models through this (TFLM cannot run hybrid models
such as the MLPerf KWS float32 file, whose conv weights are int8), and the accuracy report
compares the int8 model with it. Layout is NHWC; padding SAME/VALID, dilation, depth
multiplier, fused activations and numpy broadcasting follow tensorflow/lite/kernels/internal/
reference/*.h. Agreement with TFLM's float kernels is checked in tests/test_quantize.py.

Constant int8 tensors that carry quantization (weights of hybrid models) are dequantized and
computed in float, which is what such a model means; TFLite's hybrid kernels instead quantize
the activations on the fly, so their outputs differ slightly from this reference.

`run_float` also runs a batch: an input of shape (N, ...) for a graph input of shape (1, ...)
runs N samples at once wherever every op keeps axis 0 as the batch (one sample at a time
otherwise), so calibration over hundreds of samples costs a few large matmuls. Results then
have N in place of the leading 1 (or a new leading axis N for tensors without one).
"""
from __future__ import annotations

import numpy as np

from .ir import Graph, MicrolithError, Node, Op
from . import reference_float_reduce  # --- issue 10: reduction and normalization

F32 = np.float32


def _where(node: Node, g: Graph) -> str:
    return f"{g.source or g.name}: op {node.name or node.op.value} ({node.op.value})"


def const_value(g: Graph, name: str) -> np.ndarray:
    """A constant's value as computed with: float32, or dequantized if int8/int16 with quantization."""
    t = g.t(name)
    if t.dtype == "float32":
        return t.data.astype(F32)
    if t.quant is not None and t.dtype in ("int8", "int16", "uint8"):
        q = t.quant
        data = t.data.astype(np.float64)
        if q.per_axis:
            shape = [1] * data.ndim
            shape[q.axis] = -1
            scale = np.asarray(q.scale, np.float64).reshape(shape)
            zp = np.asarray(q.zero_point, np.float64).reshape(shape)
        else:
            scale, zp = q.scale[0], q.zero_point[0]
        return ((data - zp) * scale).astype(F32)
    return t.data


def _activation(x: np.ndarray, act: str) -> np.ndarray:
    if act == "NONE":
        return x
    if act == "RELU":
        return np.maximum(x, F32(0))
    if act == "RELU6":
        return np.clip(x, F32(0), F32(6))
    if act == "RELU_N1_TO_1":
        return np.clip(x, F32(-1), F32(1))
    raise MicrolithError(f"fused activation {act} is not supported")


def _same_padding(in_size: int, out_size: int, stride: int, k_eff: int) -> tuple[int, int]:
    """TFLite's ComputePaddingHeightWidth: the extra pixel, if any, goes after."""
    total = max((out_size - 1) * stride + k_eff - in_size, 0)
    return total // 2, total - total // 2


def _pads(node: Node, in_hw, out_hw, k_hw, dil_hw=(1, 1)):
    if node.attrs["padding"] == "VALID":
        return (0, 0), (0, 0)
    strides = (node.attrs["stride_h"], node.attrs["stride_w"])
    return tuple(_same_padding(i, o, s, (k - 1) * d + 1)
                 for i, o, s, k, d in zip(in_hw, out_hw, strides, k_hw, dil_hw))


def _taps(xp: np.ndarray, out_hw, k_hw, strides, dil):
    """(kh, kw, view) for every filter tap: the input pixels that tap reads for each output."""
    oh, ow = out_hw
    sh, sw = strides
    dh, dw = dil
    for i in range(k_hw[0]):
        for j in range(k_hw[1]):
            y0, x0 = i * dh, j * dw
            yield i, j, xp[:, y0:y0 + (oh - 1) * sh + 1:sh, x0:x0 + (ow - 1) * sw + 1:sw, :]


def _conv(node, g, ins, out_shape):
    x, w = ins[0], ins[1]
    a = node.attrs
    co, kh, kw, ci = w.shape
    if x.shape[3] != ci:
        raise MicrolithError(f"{_where(node, g)}: input has {x.shape[3]} channels, filter expects {ci} "
                             "(grouped convolution is not supported)")
    oh, ow = out_shape[1], out_shape[2]
    dil = (a["dilation_h"], a["dilation_w"])
    ph, pw = _pads(node, x.shape[1:3], (oh, ow), (kh, kw), dil)
    xp = np.pad(x, ((0, 0), ph, pw, (0, 0)))
    acc = np.zeros((x.shape[0], oh, ow, co), F32)
    wt = np.ascontiguousarray(w.transpose(1, 2, 3, 0))  # [kh, kw, ci, co]
    for i, j, view in _taps(xp, (oh, ow), (kh, kw), (a["stride_h"], a["stride_w"]), dil):
        acc += view @ wt[i, j]
    if len(ins) > 2 and ins[2] is not None:
        acc += ins[2]
    return [_activation(acc, a["activation"])]


def _depthwise(node, g, ins, out_shape):
    x, w = ins[0], ins[1]
    a = node.attrs
    _, kh, kw, co = w.shape
    mult = a["depth_multiplier"]
    if x.shape[3] * mult != co:
        raise MicrolithError(f"{_where(node, g)}: {x.shape[3]} input channels x depth multiplier {mult} "
                             f"!= {co} filter channels")
    oh, ow = out_shape[1], out_shape[2]
    dil = (a["dilation_h"], a["dilation_w"])
    ph, pw = _pads(node, x.shape[1:3], (oh, ow), (kh, kw), dil)
    xp = np.pad(x, ((0, 0), ph, pw, (0, 0)))
    if mult > 1:  # output channel c*mult+m reads input channel c
        xp = np.repeat(xp, mult, axis=3)
    acc = np.zeros((x.shape[0], oh, ow, co), F32)
    for i, j, view in _taps(xp, (oh, ow), (kh, kw), (a["stride_h"], a["stride_w"]), dil):
        acc += view * w[0, i, j]
    if len(ins) > 2 and ins[2] is not None:
        acc += ins[2]
    return [_activation(acc, a["activation"])]


def _fully_connected(node, g, ins, out_shape):
    x, w = ins[0], ins[1]
    y = x.reshape(-1, w.shape[1]) @ w.T
    if len(ins) > 2 and ins[2] is not None:
        y = y + ins[2]
    return [_activation(y.astype(F32), node.attrs["activation"]).reshape(out_shape)]


def _pool(node, g, ins, out_shape):
    x = ins[0]
    a = node.attrs
    k = (a["filter_h"], a["filter_w"])
    oh, ow = out_shape[1], out_shape[2]
    ph, pw = _pads(node, x.shape[1:3], (oh, ow), k)
    strides = (a["stride_h"], a["stride_w"])
    if node.op is Op.MAX_POOL_2D:
        xp = np.pad(x, ((0, 0), ph, pw, (0, 0)), constant_values=-np.inf)
        out = np.full((x.shape[0], oh, ow, x.shape[3]), -np.inf, F32)
        for _, _, view in _taps(xp, (oh, ow), k, strides, (1, 1)):
            out = np.maximum(out, view)
    else:  # padding does not count towards the average
        xp = np.pad(x, ((0, 0), ph, pw, (0, 0)))
        ones = np.pad(np.ones((1,) + x.shape[1:3] + (1,), F32), ((0, 0), ph, pw, (0, 0)))
        total = np.zeros((x.shape[0], oh, ow, x.shape[3]), F32)
        count = np.zeros((1, oh, ow, 1), F32)
        for (_, _, view), (_, _, cv) in zip(_taps(xp, (oh, ow), k, strides, (1, 1)),
                                            _taps(ones, (oh, ow), k, strides, (1, 1))):
            total += view
            count += cv
        out = total / count
    return [_activation(out.astype(F32), a["activation"])]


def _binary(fn):
    def run(node, g, ins, out_shape):
        return [_activation(fn(ins[0], ins[1]).astype(F32), node.attrs["activation"])]
    return run


def _plain(fn):
    """fn on the inputs as they are (any count, numpy broadcasting), no fused activation."""
    def run(node, g, ins, out_shape):
        return [np.asarray(fn(*ins))]
    return run


def _reshape(node, g, ins, out_shape):
    return [ins[0].reshape(out_shape)]


def _softmax(node, g, ins, out_shape):
    x = ins[0].astype(F32)
    e = np.exp((x - x.max(axis=-1, keepdims=True)) * F32(node.attrs["beta"]))
    return [(e / e.sum(axis=-1, keepdims=True)).astype(F32)]


def _unary(fn):
    def run(node, g, ins, out_shape):
        return [np.asarray(fn(ins[0], node), F32)]
    return run


def _pad(node, g, ins, out_shape):
    pads = np.asarray(ins[1]).reshape(-1, 2)
    value = 0.0 if len(ins) < 3 or ins[2] is None else float(np.asarray(ins[2]).reshape(-1)[0])
    return [np.pad(ins[0], [tuple(int(v) for v in p) for p in pads], constant_values=value)]


def _concat(node, g, ins, out_shape):
    axis = node.attrs["axis"]
    rank = ins[0].ndim
    axis = axis + rank if axis < 0 else axis
    return [_activation(np.concatenate(ins, axis=axis), node.attrs["activation"])]


def _mean(node, g, ins, out_shape):
    x = ins[0]
    axes = tuple(sorted({int(a) + x.ndim if a < 0 else int(a) for a in np.asarray(ins[1]).reshape(-1)}))
    return [x.mean(axis=axes, dtype=np.float64).astype(F32).reshape(out_shape)]


def _quantize(node, g, ins, out_shape):
    t = g.t(node.outputs[0])
    if t.quant is None or t.quant.per_axis:
        raise MicrolithError(f"{_where(node, g)}: output '{t.name}' needs per-tensor quantization")
    info = np.iinfo(t.np_dtype)
    x = np.asarray(ins[0], F32)
    q = _round_away(x / F32(t.quant.scale[0])) + t.quant.zero_point[0]
    return [np.clip(q, info.min, info.max).astype(t.np_dtype)]


def _dequantize(node, g, ins, out_shape):
    t = g.t(node.inputs[0])
    if t.quant is None or t.quant.per_axis:
        raise MicrolithError(f"{_where(node, g)}: input '{t.name}' needs per-tensor quantization")
    return [(F32(t.quant.scale[0]) * (np.asarray(ins[0]).astype(F32) - F32(t.quant.zero_point[0]))).astype(F32)]


def _round_away(x: np.ndarray) -> np.ndarray:
    """std::round: halves away from zero (numpy's round goes to even)."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def slice_ranges(node: Node, shape: tuple, begin, end, strides) -> list[np.ndarray]:
    """Indices taken along each axis, by TFLite's strided_slice_logic (StridedSliceStart/EndForAxis)."""
    a = node.attrs
    if a["ellipsis_mask"] or a["new_axis_mask"]:
        raise MicrolithError(f"op {node.name}: STRIDED_SLICE with ellipsis_mask or new_axis_mask "
                             "is not supported (TFLM does not support it either)")
    rank = len(shape)
    begin, end, strides = (list(np.asarray(v).reshape(-1).astype(int)) for v in (begin, end, strides))
    pad = rank - len(begin)  # StridedSlicePadIndices: missing leading axes are taken whole
    begin, end, strides = [0] * pad + begin, [1] * pad + end, [1] * pad + strides
    bmask = (a["begin_mask"] << pad) | ((1 << pad) - 1)
    emask = (a["end_mask"] << pad) | ((1 << pad) - 1)
    smask = a["shrink_axis_mask"] << pad
    out = []
    for ax in range(rank):
        size, stride = shape[ax], strides[ax]
        if stride == 0:
            raise MicrolithError(f"op {node.name}: STRIDED_SLICE stride 0 on axis {ax}")
        lo, hi = (0, size) if stride > 0 else (-1, size - 1)
        start = begin[ax] + size if begin[ax] < 0 else begin[ax]
        start = min(max(start, lo), hi)
        if bmask >> ax & 1:
            start = 0 if stride > 0 else size - 1
        if smask >> ax & 1:
            stop = start if start >= size else start + 1
        else:
            stop = end[ax] + start if a["offset"] else end[ax]
            stop = stop + size if stop < 0 else stop
            stop = min(max(stop, lo), hi)
            if emask >> ax & 1:
                stop = size if stride > 0 else -1
        out.append(np.arange(start, stop, stride))
    return out


def _strided_slice(node, g, ins, out_shape):
    x = ins[0]
    ranges = slice_ranges(node, g.t(node.inputs[0]).shape, ins[1], ins[2], ins[3])
    if x.shape[0] != g.t(node.inputs[0]).shape[0]:  # a batch: _batchable checked axis 0 is kept whole
        ranges[0] = np.arange(x.shape[0])
    for ax, idx in enumerate(ranges):
        x = np.take(x, idx, axis=ax)
    return [x.reshape(out_shape)]


def _transpose(node, g, ins, out_shape):
    return [np.transpose(ins[0], [int(p) for p in np.asarray(ins[1]).reshape(-1)])]


def _hard_swish(x, node):
    return x * np.clip(x + F32(3), F32(0), F32(6)) / F32(6)


# --- issue 10: transpose conv and batch matmul
def _transpose_conv(node, g, ins, out_shape):
    """reference_ops::TransposeConv: input pixel (iy, ix) adds input * filter to output pixel
    (iy * stride - pad + ky, ...); the padding is computed on the output size (TFLM ignores the
    output-shape operand, ins[0])."""
    w, x = ins[1], ins[2]
    a = node.attrs
    co, kh, kw, ci = w.shape
    n, h, wd, _ = x.shape
    oh, ow = out_shape[1], out_shape[2]
    sh, sw = a["stride_h"], a["stride_w"]
    ph, pw = ((0, 0) if a["padding"] == "VALID" else
              (_same_padding(o, -(-o // s), s, k)[0] for o, s, k in ((oh, sh, kh), (ow, sw, kw))))
    from .ops.matmul import scatter_range
    acc = np.zeros((n, oh, ow, co), F32)
    for i in range(kh):
        rows = scatter_range(h, sh, i - ph, oh)
        for j in range(kw):
            cols = scatter_range(wd, sw, j - pw, ow)
            if rows is not None and cols is not None:  # else the tap misses the output everywhere
                acc[:, rows[2], cols[2], :] += x[:, rows[0]:rows[1], cols[0]:cols[1], :] @ w[:, i, j, :].T
    if len(ins) > 3 and ins[3] is not None:
        acc = acc + ins[3]
    return [_activation(acc.astype(F32), a["activation"])]


def _batch_matmul(node, g, ins, out_shape):
    a, b = ins[0], ins[1]
    if node.attrs["adj_x"]:
        a = np.swapaxes(a, -1, -2)
    if node.attrs["adj_y"]:
        b = np.swapaxes(b, -1, -2)
    return [np.matmul(a, b).astype(F32).reshape(out_shape)]


def _no_float_recurrent(node, g, ins, out_shape):
    raise MicrolithError(f"{g.source or g.name}: {node.op.value} keeps state across invokes; microlith's "
                         "quantizer does not calibrate recurrent layers. Quantize the model with the TFLite "
                         "converter (full integer) and compile that file")


_RUN = {
    Op.CONV_2D: _conv,
    Op.DEPTHWISE_CONV_2D: _depthwise,
    Op.FULLY_CONNECTED: _fully_connected,
    Op.AVERAGE_POOL_2D: _pool,
    Op.MAX_POOL_2D: _pool,
    Op.ADD: _binary(np.add),
    Op.SUB: _binary(np.subtract),
    Op.MUL: _binary(np.multiply),
    Op.RESHAPE: _reshape,
    Op.SQUEEZE: _reshape,
    Op.SOFTMAX: _softmax,
    Op.LOGISTIC: _unary(lambda x, n: F32(1) / (F32(1) + np.exp(-x))),
    Op.TANH: _unary(lambda x, n: np.tanh(x)),
    Op.RELU: _unary(lambda x, n: np.maximum(x, F32(0))),
    Op.RELU6: _unary(lambda x, n: np.clip(x, F32(0), F32(6))),
    Op.LEAKY_RELU: _unary(lambda x, n: np.where(x > 0, x, x * F32(n.attrs["alpha"]))),
    Op.HARD_SWISH: _unary(_hard_swish),
    Op.PAD: _pad,
    Op.CONCATENATION: _concat,
    Op.MEAN: _mean,
    Op.QUANTIZE: _quantize,
    Op.DEQUANTIZE: _dequantize,
    Op.STRIDED_SLICE: _strided_slice,
    Op.TRANSPOSE: _transpose,
    # --- issue 10: reduction and normalization
    **reference_float_reduce.RUN,
    # --- issue 10: elementwise math (TFLite's float kernels; comparisons give bool)
    Op.MAXIMUM: _plain(np.maximum),
    Op.MINIMUM: _plain(np.minimum),
    Op.PRELU: _plain(lambda x, alpha: np.where(x >= 0, x, x * alpha)),
    Op.SQUARED_DIFFERENCE: _plain(lambda a, b: (a - b) * (a - b)),
    Op.ELU: _unary(lambda x, n: np.where(x < 0, np.expm1(x), x)),
    Op.RSQRT: _unary(lambda x, n: F32(1) / np.sqrt(x)),
    Op.ABS: _unary(lambda x, n: np.abs(x)),
    Op.DIV: _binary(np.divide),
    Op.ADD_N: lambda node, g, ins, out_shape: [np.sum(np.stack(ins), axis=0, dtype=F32)],
    Op.EQUAL: _plain(np.equal),
    Op.NOT_EQUAL: _plain(np.not_equal),
    Op.LESS: _plain(np.less),
    Op.LESS_EQUAL: _plain(np.less_equal),
    Op.GREATER: _plain(np.greater),
    Op.GREATER_EQUAL: _plain(np.greater_equal),
    Op.SELECT_V2: _plain(np.where),
    Op.LOGICAL_AND: _plain(np.logical_and),
    Op.LOGICAL_OR: _plain(np.logical_or),
    Op.LOGICAL_NOT: _plain(np.logical_not),
    Op.CAST: _plain(lambda x: x),  # _run converts to the output's type (integers wrap, as static_cast)
    # --- issue 10: transpose conv and batch matmul
    Op.TRANSPOSE_CONV: _transpose_conv,
    Op.BATCH_MATMUL: _batch_matmul,
    # --- issue 10: recurrent layers (state across invokes: not part of the float calibration path)
    Op.SVDF: _no_float_recurrent,
    Op.UNIDIRECTIONAL_SEQUENCE_LSTM: _no_float_recurrent,
}
# --- issue 10: data movement
from .ops.movement import FLOAT_RUN as _MOVEMENT_RUN  # noqa: E402
_RUN.update(_MOVEMENT_RUN)


# --- issue 10: signal ops (integer-only: a front end with them is never quantized)
def _integer_only(node, g, ins, out_shape):
    raise MicrolithError(f"{_where(node, g)}: {node.op.value} is an integer-only signal op with no float "
                         "form; a model with it needs no quantization (compile it as it is)")


_RUN.update({op: _integer_only for op in Op if op.value.startswith("CUSTOM:Signal")})
# --- issue 10: extra ops
from .ops.extra import FLOAT_RUN as _EXTRA_RUN  # noqa: E402
_RUN.update(_EXTRA_RUN)
assert set(_RUN) == set(Op), set(Op) - set(_RUN)


def _batchable(g: Graph) -> bool:
    """True if every op keeps axis 0 as an independent batch axis, so N samples can run at once."""
    for name in g.activations():
        if not g.t(name).shape or g.t(name).shape[0] != 1:
            return False
    for node in g.nodes:
        x = g.t(node.inputs[0]) if node.inputs and node.inputs[0] else None
        if node.op is Op.FULLY_CONNECTED and x is not None and x.size != g.t(node.inputs[1]).shape[1]:
            return False
        if node.op is Op.CONCATENATION and node.attrs["axis"] in (0, -len(x.shape)):
            return False
        if node.op in (Op.MEAN, Op.TRANSPOSE, Op.STRIDED_SLICE, Op.PAD):
            operand = g.t(node.inputs[1])
            if not operand.is_const:
                return False
            v = np.asarray(operand.data).reshape(-1)
            if node.op is Op.MEAN and any(int(a) % len(x.shape) == 0 for a in v):
                return False
            if node.op is Op.TRANSPOSE and int(v[0]) != 0:
                return False
            if node.op is Op.PAD and (v[0] != 0 or v[1] != 0):
                return False
            if node.op is Op.STRIDED_SLICE:
                idx = slice_ranges(node, x.shape, operand.data, g.t(node.inputs[2]).data,
                                   g.t(node.inputs[3]).data)[0]
                shrinks_batch = (node.attrs["shrink_axis_mask"] << (len(x.shape) - v.size)) & 1
                if list(idx) != [0] or shrinks_batch:
                    return False
        # --- issue 10: reduction and normalization
        if reference_float_reduce.mixes_batch(node, g):
            return False
        # --- issue 10: transpose conv and batch matmul
        if node.op is Op.BATCH_MATMUL:  # its batch dimensions broadcast: a stacked axis 0 would mix in
            return False
    return True


def _run(g: Graph, values: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    for node in g.nodes:
        if node.op not in _RUN:
            raise MicrolithError(f"{_where(node, g)}: no float reference for this op")
        ins = []
        for name in node.inputs:
            if name is None:
                ins.append(None)
            elif name in values:
                ins.append(values[name])
            elif g.t(name).is_const:
                ins.append(const_value(g, name))
            else:
                raise MicrolithError(f"{_where(node, g)}: input '{name}' has no value")
        out_t = g.t(node.outputs[0])
        out_shape = (n,) + tuple(out_t.shape[1:]) if n > 1 else tuple(out_t.shape)
        outs = _RUN[node.op](node, g, ins, out_shape)
        for name, arr in zip(node.outputs, outs):
            t = g.t(name)
            shape = (n,) + tuple(t.shape[1:]) if n > 1 else tuple(t.shape)
            arr = np.asarray(arr)
            if arr.size != int(np.prod(shape)):
                raise MicrolithError(f"{_where(node, g)}: computed {arr.size} values for output "
                                     f"'{name}' of shape {list(t.shape)}")
            values[name] = arr.reshape(shape).astype(F32 if t.dtype == "float32" else t.np_dtype, copy=False)
    return values


def run_node(g: Graph, node: Node, ins: list[np.ndarray | None]) -> list[np.ndarray]:
    """One op on given input values (constants included), for a single sample."""
    outs = _RUN[node.op](node, g, ins, tuple(g.t(node.outputs[0]).shape))
    return [np.asarray(o).reshape(g.t(n).shape) for o, n in zip(outs, node.outputs)]


def run_float(g: Graph, xs: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Every activation's float value for one sample (or a batch, see the module docstring):
    graph inputs and each op's outputs, keyed by tensor name."""
    if len(xs) != len(g.inputs):
        raise MicrolithError(f"{g.source or g.name}: {len(xs)} input arrays for {len(g.inputs)} graph inputs")
    arrays, counts = [], set()
    for name, x in zip(g.inputs, xs):
        t = g.t(name)
        x = np.asarray(x)
        if x.size == t.size:
            counts.add(1)
        elif t.shape and t.shape[0] == 1 and t.size and x.size % t.size == 0:
            counts.add(x.size // t.size)
        else:
            raise MicrolithError(f"{g.source or g.name}: input '{name}' has shape {list(t.shape)}; "
                                 f"got an array of shape {list(x.shape)}")
        arrays.append(x.astype(F32 if t.dtype == "float32" else t.np_dtype, copy=False))
    if len(counts) != 1:
        raise MicrolithError(f"{g.source or g.name}: inputs hold different numbers of samples")
    n = counts.pop()
    shapes = [((n,) + tuple(g.t(name).shape[1:])) if n > 1 else g.t(name).shape for name in g.inputs]
    if n == 1 or _batchable(g):
        return _run(g, {name: x.reshape(s) for name, x, s in zip(g.inputs, arrays, shapes)}, n)
    per = [_run(g, {name: x.reshape(s)[k:k + 1] for name, x, s in zip(g.inputs, arrays, shapes)}, 1)
           for k in range(n)]
    return {name: np.concatenate([p[name] for p in per], axis=0) if g.t(name).shape[:1] == (1,)
            else np.stack([p[name] for p in per]) for name in per[0]}
