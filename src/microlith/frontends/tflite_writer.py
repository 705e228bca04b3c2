"""IR -> standard .tflite flatbuffer, through the schema's object API.

Used by the quantizer (its output must load in TFLM and LiteRT) and by the tests, which
write single-op models with exactly the edge case they want and let TFLM judge the kernel.
"""
from __future__ import annotations

import flatbuffers
import numpy as np

from ..ir import Graph, Op
from .flexopts import SCHEMAS as _CUSTOM_OPTIONS, write_custom_options
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

_TYPES = {"float32": fb.TensorType.FLOAT32, "int32": fb.TensorType.INT32, "uint8": fb.TensorType.UINT8,
          "int64": fb.TensorType.INT64, "bool": fb.TensorType.BOOL, "int16": fb.TensorType.INT16,
          "int8": fb.TensorType.INT8,
          # --- issue 10: signal ops
          "uint32": fb.TensorType.UINT32, "uint64": fb.TensorType.UINT64}
_ACT = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3}
_PAD = {"SAME": fb.Padding.SAME, "VALID": fb.Padding.VALID}


def _options(op: Op, a: dict):
    """(BuiltinOptions type, options object) for a node's attributes."""
    B = fb.BuiltinOptions
    if op is Op.CONV_2D:
        o = fb.Conv2DOptionsT()
        o.padding, o.strideH, o.strideW = _PAD[a["padding"]], a["stride_h"], a["stride_w"]
        o.dilationHFactor, o.dilationWFactor = a["dilation_h"], a["dilation_w"]
        o.fusedActivationFunction = _ACT[a["activation"]]
        return B.Conv2DOptions, o
    if op is Op.DEPTHWISE_CONV_2D:
        o = fb.DepthwiseConv2DOptionsT()
        o.padding, o.strideH, o.strideW = _PAD[a["padding"]], a["stride_h"], a["stride_w"]
        o.dilationHFactor, o.dilationWFactor = a["dilation_h"], a["dilation_w"]
        o.depthMultiplier = a["depth_multiplier"]
        o.fusedActivationFunction = _ACT[a["activation"]]
        return B.DepthwiseConv2DOptions, o
    if op is Op.FULLY_CONNECTED:
        o = fb.FullyConnectedOptionsT()
        o.fusedActivationFunction = _ACT[a["activation"]]
        o.keepNumDims = bool(a.get("keep_num_dims", False))
        return B.FullyConnectedOptions, o
    if op in (Op.AVERAGE_POOL_2D, Op.MAX_POOL_2D):
        o = fb.Pool2DOptionsT()
        o.padding, o.strideH, o.strideW = _PAD[a["padding"]], a["stride_h"], a["stride_w"]
        o.filterHeight, o.filterWidth = a["filter_h"], a["filter_w"]
        o.fusedActivationFunction = _ACT[a["activation"]]
        return B.Pool2DOptions, o
    if op in (Op.ADD, Op.SUB, Op.MUL):
        cls, kind = {Op.ADD: (fb.AddOptionsT, B.AddOptions), Op.SUB: (fb.SubOptionsT, B.SubOptions),
                     Op.MUL: (fb.MulOptionsT, B.MulOptions)}[op]
        o = cls()
        o.fusedActivationFunction = _ACT[a["activation"]]
        return kind, o
    if op is Op.CONCATENATION:
        o = fb.ConcatenationOptionsT()
        o.axis, o.fusedActivationFunction = a["axis"], _ACT[a["activation"]]
        return B.ConcatenationOptions, o
    if op is Op.SOFTMAX:
        o = fb.SoftmaxOptionsT()
        o.beta = a["beta"]
        return B.SoftmaxOptions, o
    if op is Op.LEAKY_RELU:
        o = fb.LeakyReluOptionsT()
        o.alpha = a["alpha"]
        return B.LeakyReluOptions, o
    if op is Op.MEAN:
        o = fb.ReducerOptionsT()
        o.keepDims = bool(a["keep_dims"])
        return B.ReducerOptions, o
    if op is Op.STRIDED_SLICE:
        o = fb.StridedSliceOptionsT()
        o.beginMask, o.endMask, o.ellipsisMask = a["begin_mask"], a["end_mask"], a["ellipsis_mask"]
        o.newAxisMask, o.shrinkAxisMask, o.offset = a["new_axis_mask"], a["shrink_axis_mask"], a["offset"]
        return B.StridedSliceOptions, o
    if op is Op.RESHAPE:
        return B.ReshapeOptions, fb.ReshapeOptionsT()
    if op is Op.SQUEEZE:
        return B.SqueezeOptions, fb.SqueezeOptionsT()  # squeeze_dims: filled in by write_tflite
    if op is Op.PAD:
        return B.PadOptions, fb.PadOptionsT()
    if op is Op.TRANSPOSE:
        return B.TransposeOptions, fb.TransposeOptionsT()
    if op is Op.HARD_SWISH:
        return B.HardSwishOptions, fb.HardSwishOptionsT()
    if op is Op.QUANTIZE:
        return B.QuantizeOptions, fb.QuantizeOptionsT()
    if op is Op.DEQUANTIZE:
        return B.DequantizeOptions, fb.DequantizeOptionsT()
    # --- issue 10: reduction and normalization
    if op in (Op.ARG_MAX, Op.ARG_MIN):
        o = fb.ArgMaxOptionsT() if op is Op.ARG_MAX else fb.ArgMinOptionsT()
        o.outputType = _TYPES[a["output_type"]]
        return (B.ArgMaxOptions if op is Op.ARG_MAX else B.ArgMinOptions), o
    if op in (Op.REDUCE_MAX, Op.REDUCE_MIN, Op.SUM):
        o = fb.ReducerOptionsT()
        o.keepDims = bool(a["keep_dims"])
        return B.ReducerOptions, o
    if op is Op.LOG_SOFTMAX:
        return B.LogSoftmaxOptions, fb.LogSoftmaxOptionsT()
    if op is Op.L2_NORMALIZATION:
        o = fb.L2NormOptionsT()
        o.fusedActivationFunction = _ACT[a["activation"]]
        return B.L2NormOptions, o
    if op is Op.CUMSUM:
        o = fb.CumsumOptionsT()
        o.exclusive, o.reverse = bool(a["exclusive"]), bool(a["reverse"])
        return B.CumsumOptions, o
    # --- issue 10: elementwise math
    if op is Op.DIV:
        o = fb.DivOptionsT()
        o.fusedActivationFunction = _ACT[a["activation"]]
        return B.DivOptions, o
    if op in _PLAIN_OPTIONS:
        name = _PLAIN_OPTIONS[op]
        return getattr(B, name), getattr(fb, name + "T")()
    # --- issue 10: transpose conv and batch matmul
    if op is Op.TRANSPOSE_CONV:
        o = fb.TransposeConvOptionsT()
        o.padding, o.strideH, o.strideW = _PAD[a["padding"]], a["stride_h"], a["stride_w"]
        o.fusedActivationFunction = _ACT[a["activation"]]
        return B.TransposeConvOptions, o
    if op is Op.BATCH_MATMUL:
        o = fb.BatchMatMulOptionsT()
        o.adjX, o.adjY = bool(a["adj_x"]), bool(a["adj_y"])
        return B.BatchMatMulOptions, o
    # --- issue 10: recurrent layers
    if op is Op.SVDF:
        o = fb.SVDFOptionsT()
        o.rank, o.fusedActivationFunction = a["rank"], _ACT[a["activation"]]
        return B.SVDFOptions, o
    if op is Op.UNIDIRECTIONAL_SEQUENCE_LSTM:
        o = fb.UnidirectionalSequenceLSTMOptionsT()
        o.fusedActivationFunction = {"TANH": fb.ActivationFunctionType.TANH}.get(a["activation"],
                                                                                 _ACT.get(a["activation"], 0))
        o.cellClip, o.projClip, o.timeMajor = a["cell_clip"], a["proj_clip"], bool(a["time_major"])
        return B.UnidirectionalSequenceLSTMOptions, o
    # --- issue 10: data movement
    if op is Op.SLICE:
        return B.SliceOptions, fb.SliceOptionsT()
    if op is Op.GATHER:
        o = fb.GatherOptionsT()
        o.axis, o.batchDims = a["axis"], a["batch_dims"]
        return B.GatherOptions, o
    if op in (Op.SPLIT, Op.SPLIT_V):
        o = fb.SplitOptionsT() if op is Op.SPLIT else fb.SplitVOptionsT()
        o.numSplits = a["num_splits"]
        return (B.SplitOptions if op is Op.SPLIT else B.SplitVOptions), o
    if op is Op.PACK:
        o = fb.PackOptionsT()
        o.valuesCount, o.axis = a["values_count"], a["axis"]
        return B.PackOptions, o
    if op is Op.UNPACK:
        o = fb.UnpackOptionsT()
        o.num, o.axis = a["num"], a["axis"]
        return B.UnpackOptions, o
    if op is Op.EXPAND_DIMS:
        return B.ExpandDimsOptions, fb.ExpandDimsOptionsT()
    if op is Op.BROADCAST_TO:
        return B.BroadcastToOptions, fb.BroadcastToOptionsT()
    if op in (Op.DEPTH_TO_SPACE, Op.SPACE_TO_DEPTH):
        d2s = op is Op.DEPTH_TO_SPACE
        o = fb.DepthToSpaceOptionsT() if d2s else fb.SpaceToDepthOptionsT()
        o.blockSize = a["block_size"]
        return (B.DepthToSpaceOptions if d2s else B.SpaceToDepthOptions), o
    if op is Op.MIRROR_PAD:
        o = fb.MirrorPadOptionsT()
        o.mode = {"REFLECT": fb.MirrorPadMode.REFLECT, "SYMMETRIC": fb.MirrorPadMode.SYMMETRIC}[a["mode"]]
        return B.MirrorPadOptions, o
    if op is Op.PADV2:
        return B.PadV2Options, fb.PadV2OptionsT()
    if op in (Op.RESIZE_NEAREST_NEIGHBOR, Op.RESIZE_BILINEAR):
        nearest = op is Op.RESIZE_NEAREST_NEIGHBOR
        o = fb.ResizeNearestNeighborOptionsT() if nearest else fb.ResizeBilinearOptionsT()
        o.alignCorners, o.halfPixelCenters = bool(a["align_corners"]), bool(a["half_pixel_centers"])
        return (B.ResizeNearestNeighborOptions if nearest else B.ResizeBilinearOptions), o
    if op is Op.BATCH_TO_SPACE_ND:
        return B.BatchToSpaceNDOptions, fb.BatchToSpaceNDOptionsT()
    if op is Op.SPACE_TO_BATCH_ND:
        return B.SpaceToBatchNDOptions, fb.SpaceToBatchNDOptionsT()
    if op is Op.REVERSE_V2:
        return B.ReverseV2Options, fb.ReverseV2OptionsT()
    if op is Op.ZEROS_LIKE:
        return B.ZerosLikeOptions, fb.ZerosLikeOptionsT()
    if op is Op.GATHER_ND:
        return B.GatherNdOptions, fb.GatherNdOptionsT()
    # --- issue 10: extra ops
    if op is Op.FILL:
        return B.FillOptions, fb.FillOptionsT()
    if op is Op.DYNAMIC_UPDATE_SLICE:
        return B.DynamicUpdateSliceOptions, fb.DynamicUpdateSliceOptionsT()
    if op is Op.SHAPE:
        o = fb.ShapeOptionsT()
        o.outType = _TYPES[a["out_type"]]
        return B.ShapeOptions, o
    return B.NONE, None


# --- issue 10: elementwise math. Ops whose options table has no fields TFLM reads.
_PLAIN_OPTIONS = {Op.MAXIMUM: "MaximumMinimumOptions", Op.MINIMUM: "MaximumMinimumOptions",
                  Op.SQUARED_DIFFERENCE: "SquaredDifferenceOptions", Op.ABS: "AbsOptions",
                  Op.ADD_N: "AddNOptions", Op.EQUAL: "EqualOptions", Op.NOT_EQUAL: "NotEqualOptions",
                  Op.LESS: "LessOptions", Op.LESS_EQUAL: "LessEqualOptions",
                  Op.GREATER: "GreaterOptions", Op.GREATER_EQUAL: "GreaterEqualOptions",
                  Op.SELECT_V2: "SelectV2Options", Op.LOGICAL_AND: "LogicalAndOptions",
                  Op.LOGICAL_OR: "LogicalOrOptions", Op.LOGICAL_NOT: "LogicalNotOptions"}
# CAST is written without options: its CastOptions would need the tensor types, and TFLM
# reads the types from the tensors anyway.


def _squeezed_axes(before: tuple, after: tuple) -> list[int]:
    """The size-1 axes of `before` that `after` drops (the IR keeps shapes, TFLite wants axes).
    Matching `after` as the earliest subsequence of `before` finds a valid choice whenever one
    exists, and every valid choice describes the same data."""
    axes, j = [], 0
    for i, d in enumerate(before):
        if j < len(after) and after[j] == d:
            j += 1
        else:
            axes.append(i)
    assert j == len(after) and all(before[i] == 1 for i in axes), (before, after)
    return axes


def write_tflite(g: Graph, description: str = "microlith") -> bytes:
    model = fb.ModelT()
    model.version = 3
    model.description = description
    model.buffers = [fb.BufferT()]  # buffer 0: the empty sentinel
    names = list(g.tensors)
    index = {n: k for k, n in enumerate(names)}
    tensors = []
    for n in names:
        t = g.tensors[n]
        tt = fb.TensorT()
        tt.name = n
        tt.shape = list(t.shape)
        tt.type = _TYPES[t.dtype]
        if t.quant is not None:
            q = fb.QuantizationParametersT()
            q.scale = [float(s) for s in t.quant.scale]
            q.zeroPoint = [int(z) for z in t.quant.zero_point]
            q.quantizedDimension = t.quant.axis
            tt.quantization = q
        if t.is_const:
            b = fb.BufferT()
            b.data = np.ascontiguousarray(t.data.astype(t.np_dtype).astype(t.np_dtype.newbyteorder("<"))
                                          ).view(np.uint8).reshape(-1)
            model.buffers.append(b)
            tt.buffer = len(model.buffers) - 1
        else:
            tt.buffer = 0
        tt.isVariable = bool(t.variable)
        tensors.append(tt)
    codes: list = []  # builtin codes, and ("CUSTOM", name) for custom ops
    ops = []
    for node in g.nodes:
        custom = node.op.value.startswith("CUSTOM:")
        code = ("CUSTOM", node.op.value[len("CUSTOM:"):]) if custom else getattr(fb.BuiltinOperator, node.op.value)
        if code not in codes:
            codes.append(code)
        o = fb.OperatorT()
        o.opcodeIndex = codes.index(code)
        o.inputs = [index[x] if x is not None else -1 for x in node.inputs]
        o.outputs = [index[x] for x in node.outputs]
        o.builtinOptionsType, o.builtinOptions = _options(node.op, node.attrs)
        if node.op in _CUSTOM_OPTIONS:  # --- issue 10: signal ops (FlexBuffers options)
            o.customOptions = list(write_custom_options(node.op, node.attrs))
            o.customOptionsFormat = fb.CustomOptionsFormat.FLEXBUFFERS
        if node.op is Op.SQUEEZE:
            o.builtinOptions.squeezeDims = _squeezed_axes(g.t(node.inputs[0]).shape, g.t(node.outputs[0]).shape)
        ops.append(o)
    model.operatorCodes = []
    for code in codes:
        oc = fb.OperatorCodeT()
        if isinstance(code, tuple):  # a custom op: CUSTOM plus its name
            code, oc.customCode = fb.BuiltinOperator.CUSTOM, code[1]
        oc.builtinCode = code
        oc.deprecatedBuiltinCode = min(code, 127)
        oc.version = 1
        model.operatorCodes.append(oc)
    sg = fb.SubGraphT()
    sg.tensors, sg.operators = tensors, ops
    sg.inputs = [index[n] for n in g.inputs]
    sg.outputs = [index[n] for n in g.outputs]
    sg.name = "main"
    model.subgraphs = [sg]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
