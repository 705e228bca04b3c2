"""Seeded mutation fuzzing of what reads untrusted files: the TFLite and ONNX frontends (through
inspect, compile, quantize and a sample through verify) and quantize's calibration data loaders.

Every input ends in one outcome:
  ok        the API call succeeded
  error     a MicrolithError (the CLI's exit 2: bad input, named)
  mismatch  verify ran and the C differs from TFLM (the CLI's exit 1) -- a finding
  crash     any other exception (the CLI's exit 3: a bug)         -- a finding
  memory    MemoryError under the address-space cap               -- a finding
  timeout   the per-input wall-clock bound passed                 -- a finding
  signal    the worker process died (SIGSEGV in a native library) -- a finding

Input k of a run is a pure function of (seed, k): `make_input(seed, k)` rebuilds it, so any
finding is reproduced from two numbers, whatever --jobs was. Inputs run in worker processes
that are forked from the parent (the seeds are built once, before the fork), each under an
RLIMIT_AS cap; a SIGALRM in the worker bounds each input, and the parent kills a worker that
does not answer within the bound plus a grace period (a hang inside native code).

Mutations: byte flips, truncation, int32 overwrites with extreme values, chunk deletes and
repeats, and structure-aware ones that unpack the model (TFLite through the flatc object API
of tflite-micro's schema, ONNX through its protobuf), set one field anywhere in the tree to an
extreme value (-1, 0, 2^31-1, 2^40, NaN, 1e-30, 3e38, another tensor's name, a 100 kB name...)
or delete / repeat / swap list items, then serialize again.
"""
from __future__ import annotations

import io
import math
import shutil
import signal
import struct
import tempfile
import time
import traceback
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
MLPERF = ROOT / "examples" / "models" / "mlperf_tiny"
# TFLM's own published models (LSTM, SVDF with variable tensors, signal ops with FlexBuffers
# options, int16x8): parsers that only these reach get mutated too. Seanet: one per op kind.
TFLM_MODELS = ROOT / "tests" / "data" / "tflm"
OUTCOMES = ("ok", "error", "mismatch", "crash", "memory", "timeout", "signal")
FINDINGS = ("mismatch", "crash", "memory", "timeout", "signal")
EXT = {"tflite": ".tflite", "onnx": ".onnx"}

INTS = [-1, 0, 1, 2, 3, 7, 127, 128, 255, 256, -128, -129, 1000, 65535, 65536, 2 ** 30, 2 ** 31 - 1,
        -2 ** 31, 2 ** 32, 2 ** 40, 2 ** 62, -2 ** 63]
FLOATS = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1e-30, 1e-45, 3e38, -1.0, 1.0, 0.5, 1e10, -3e38]
HOSTILE = ["", "x" * 100_000, "*/ int injected; /*", "a\nb", "\u202egnp.", "\x00", "??/", "#error x",
           "\u00e9\u4e2d", "con", "../../etc/passwd"]


class _Timeout(BaseException):
    """Raised by SIGALRM; a BaseException so that `except Exception` in the code under test
    cannot swallow it."""


# ---------------------------------------------------------------------------------------------
# Seeds


def _onnx_seeds() -> list[tuple[str, bytes]]:
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(1234)

    def init(name, *shape):
        return numpy_helper.from_array((rng.standard_normal(shape) * 0.3).astype(np.float32), name)

    def model(name, nodes, inp, out, inits, opset=17):
        g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, inp)],
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in out],
                              inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
        return name, m.SerializeToString()

    N = helper.make_node
    seeds = [
        model("conv_pool_gemm", [
            N("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
            N("Relu", ["c1"], ["r1"]),
            N("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
            N("Flatten", ["p1"], ["f1"]),
            N("Gemm", ["f1", "w2", "b2"], ["g1"], transB=1),
            N("Softmax", ["g1"], ["y"])],
            [1, 3, 8, 8], ["y"], [init("w1", 4, 3, 3, 3), init("b1", 4), init("w2", 10, 64), init("b2", 10)]),
        model("bn_add_gap", [
            N("Conv", ["x", "w1"], ["c1"]),
            N("BatchNormalization", ["c1", "s", "bb", "m", "v"], ["n1"], epsilon=1e-5),
            N("Add", ["n1", "x"], ["a1"]),
            N("GlobalAveragePool", ["a1"], ["gp"]),
            N("Reshape", ["gp", "shape"], ["y"])],
            [1, 4, 6, 6], ["y"], [init("w1", 4, 4, 1, 1), init("s", 4), init("bb", 4), init("m", 4),
                                  numpy_helper.from_array(np.full(4, 0.5, np.float32), "v"),
                                  numpy_helper.from_array(np.array([1, 4], np.int64), "shape")]),
        model("conv1d_clip", [
            N("Conv", ["x", "w1", "b1"], ["c1"], kernel_shape=[3], pads=[1, 1]),
            N("Clip", ["c1", "lo", "hi"], ["r1"]),
            N("AveragePool", ["r1"], ["p1"], kernel_shape=[2], strides=[2]),
            N("Flatten", ["p1"], ["f1"]),
            N("MatMul", ["f1", "w2"], ["m1"]),
            N("Add", ["m1", "b2"], ["y"])],
            [1, 2, 16], ["y"], [init("w1", 4, 2, 3), init("b1", 4), init("w2", 32, 5), init("b2", 5),
                                numpy_helper.from_array(np.array(0, np.float32), "lo"),
                                numpy_helper.from_array(np.array(6, np.float32), "hi")]),
        model("depthwise_concat", [
            N("Conv", ["x", "wd"], ["d1"], group=4, pads=[1, 1, 1, 1]),
            N("LeakyRelu", ["d1"], ["l1"], alpha=0.1),
            N("Sigmoid", ["x"], ["s1"]),
            N("Concat", ["l1", "s1"], ["k1"], axis=1),
            N("ReduceMean", ["k1"], ["y"], axes=[2, 3], keepdims=0)],
            [1, 4, 5, 5], ["y"], [init("wd", 4, 1, 3, 3)], opset=13),
        model("pad_transpose", [
            N("Pad", ["x", "pads"], ["p1"]),
            N("Conv", ["p1", "w1"], ["c1"], strides=[2, 2]),
            N("Tanh", ["c1"], ["t1"]),
            N("Transpose", ["t1"], ["t2"], perm=[0, 2, 3, 1]),
            N("Mul", ["t2", "k"], ["m1"]),
            N("Sub", ["m1", "k"], ["u1"]),
            N("Reshape", ["u1", "shape"], ["r1"]),
            N("Unsqueeze", ["r1", "ax"], ["q1"]),
            N("Squeeze", ["q1", "ax"], ["y"])],
            [1, 3, 7, 7], ["y"], [numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads"),
                                  init("w1", 2, 3, 3, 3), init("k", 2),
                                  numpy_helper.from_array(np.array([1, -1], np.int64), "shape"),
                                  numpy_helper.from_array(np.array([0], np.int64), "ax")]),
        model("hardswish_div", [
            N("Conv", ["x", "w1", "b1"], ["c1"], dilations=[2, 2], auto_pad="SAME_UPPER"),
            N("HardSwish", ["c1"], ["h1"]),
            N("Div", ["h1", "k"], ["d1"]),
            N("GlobalMaxPool", ["d1"], ["gm"]),
            N("Flatten", ["gm"], ["y"])],
            [1, 2, 9, 9], ["y"], [init("w1", 3, 2, 3, 3), init("b1", 3),
                                  numpy_helper.from_array(np.full((1, 3, 1, 1), 2.0, np.float32), "k")],
            opset=14),
        model("nhwc_gemm", [  # an image-shaped [1, H, W, 3] input, also the data loaders' model
            N("Flatten", ["x"], ["f1"]),
            N("Gemm", ["f1", "w1", "b1"], ["g1"], transB=1),
            N("Relu", ["g1"], ["y"])],
            [1, 8, 8, 3], ["y"], [init("w1", 6, 192), init("b1", 6)]),
    ]
    return seeds  # _quantized_seeds loads and quantizes each: a broken seed fails there


def _quantized_seeds(onnx_seeds) -> list[tuple[str, bytes]]:
    """int8 .tflite models written by our own quantizer: one per ONNX seed."""
    from .api import load
    from .quantize.api import quantize
    out = []
    rng = np.random.default_rng(99)
    with tempfile.TemporaryDirectory(prefix="microlith-fuzz-seed-") as tmp:
        for name, data in onnx_seeds:
            src = Path(tmp) / f"{name}.onnx"
            src.write_bytes(data)
            g = load(src)
            cal = [[rng.standard_normal(g.t(n).shape).astype(np.float32) for n in g.inputs] for _ in range(4)]
            dst = Path(tmp) / f"{name}_int8.tflite"
            quantize(g, cal, dst, method="minmax", report=False)
            out.append((f"{name}_int8", dst.read_bytes()))
    return out


def _single_op_seeds() -> list[tuple[str, bytes]]:
    """Hand-made single-op int8 models for ops the other seeds lack."""
    from .frontends.tflite_writer import write_tflite
    from .ir import Graph, Node, Op, Quant, Tensor

    def act(name, shape, scale=0.05, zp=0):
        return Tensor(name, tuple(shape), "int8", Quant((scale,), (zp,)))

    def const(name, arr, dtype="int32"):
        arr = np.asarray(arr).astype(dtype)
        return Tensor(name, arr.shape, dtype, None, arr)

    def graph(name, op, ins, outs, attrs=None):
        tensors = {t.name: t for t in ins + outs}
        node = Node(op, tuple(t.name for t in ins), tuple(t.name for t in outs), dict(attrs or {}))
        return name, write_tflite(Graph(name, tensors, [node], [t.name for t in ins if not t.is_const],
                                        [t.name for t in outs]))

    x = act("x", [1, 4, 6, 3])
    return [
        graph("strided_slice", Op.STRIDED_SLICE,
              [x, const("begin", [0, 1, 0, 0]), const("end", [1, 4, 6, 3]), const("strides", [1, 2, 1, 1])],
              [act("y", [1, 2, 6, 3])], dict(begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0,
                                            shrink_axis_mask=0, offset=False)),
        graph("logistic", Op.LOGISTIC, [act("x", [1, 10], 0.1, 3)], [act("y", [1, 10], 1 / 256, -128)]),
        graph("pad", Op.PAD, [x, const("p", [[0, 0], [1, 1], [2, 0], [0, 0]])], [act("y", [1, 6, 8, 3])]),
        graph("mean", Op.MEAN, [x, const("axes", [1, 2])], [act("y", [1, 3], 0.02, 5)], dict(keep_dims=False)),
        graph("quantize", Op.QUANTIZE, [act("x", [1, 8], 0.05, 1)], [act("y", [1, 8], 0.1, -3)]),
        graph("relu6", Op.RELU6, [act("x", [1, 16], 0.05, 10)], [act("y", [1, 16], 0.03, -128)]),
    ]


@dataclass
class Seeds:
    tflite: list = field(default_factory=list)   # (name, bytes)
    onnx: list = field(default_factory=list)
    data_models: list = field(default_factory=list)  # float IR graphs the data loaders feed


_SEEDS: Seeds | None = None


def seeds() -> Seeds:
    """Built once per process (and inherited by forked workers)."""
    global _SEEDS
    if _SEEDS is None:
        from .api import load
        s = Seeds()
        s.onnx = _onnx_seeds()
        s.tflite = [(p.stem, p.read_bytes()) for p in sorted(MLPERF.glob("*.tflite"))]
        s.tflite += _quantized_seeds(s.onnx) + _single_op_seeds()
        tflm = sorted(TFLM_MODELS.glob("*.tflite")) + sorted(TFLM_MODELS.glob("seanet/*/*0.tflite"))
        s.tflite += [(p.stem, p.read_bytes()) for p in tflm if p.stat().st_size < 200_000]
        with tempfile.TemporaryDirectory(prefix="microlith-fuzz-seed-") as tmp:
            from .frontends.tflite_writer import write_tflite
            for name, data in s.onnx:  # small float .tflite models: the float TFLite path
                src = Path(tmp) / f"{name}.onnx"
                src.write_bytes(data)
                s.tflite.append((f"{name}_float", write_tflite(load(src))))
            nhwc = Path(tmp) / "nhwc_gemm.onnx"
            nhwc.write_bytes(dict(s.onnx)["nhwc_gemm"])
            s.data_models = [load(MLPERF / "kws_ref_model_float32.tflite"), load(nhwc)]
        _SEEDS = s
    return _SEEDS


# ---------------------------------------------------------------------------------------------
# Mutators


def _extreme_int(rng, old=None) -> int:
    r = rng.random()
    if old is not None and r < 0.25:
        return int(old) + int(rng.choice([-1, 1, -2, 2])) * int(rng.integers(1, 3))
    if old is not None and r < 0.35:
        return int(old) * int(rng.choice([2, 10, 1000, -1]))
    if r < 0.5:
        return int(rng.integers(-4, 70))
    return int(rng.choice(INTS))


def _extreme_float(rng) -> float:
    if rng.random() < 0.8:
        return float(rng.choice(FLOATS))
    return float(rng.standard_normal() * 10.0 ** int(rng.integers(-40, 39)))


def mutate_bytes(data: bytes, rng, n: int | None = None) -> bytes:
    """Generic byte-level mutations."""
    b = bytearray(data)
    for _ in range(n or int(rng.integers(1, 5))):
        if not b:
            break
        kind = rng.integers(0, 7)
        pos = int(rng.integers(0, len(b)))
        if kind == 0:                           # flip a bit
            b[pos] ^= 1 << int(rng.integers(0, 8))
        elif kind == 1:                         # random byte
            b[pos] = int(rng.integers(0, 256))
        elif kind == 2:                         # truncate
            del b[int(rng.integers(0, len(b))):]
        elif kind == 3 and len(b) >= 8:         # an aligned int32 overwrite: offsets, lengths, indices
            pos = pos & ~3
            if pos + 4 <= len(b):
                v = _extreme_int(rng, struct.unpack_from("<i", b, pos)[0])
                struct.pack_into("<I", b, pos, v & 0xFFFFFFFF)
        elif kind == 4:                         # delete a chunk
            del b[pos:pos + int(rng.integers(1, 64))]
        elif kind == 5:                         # repeat a chunk
            chunk = b[pos:pos + int(rng.integers(1, 64))]
            b[pos:pos] = chunk
        else:                                   # float overwrite (scales live as float32)
            pos = pos & ~3
            if pos + 4 <= len(b):
                struct.pack_into("<f", b, pos, float(np.float32(_extreme_float(rng))))
    return bytes(b)


def _tflite_slots(obj, out, depth=0):
    """(owner, attribute, index) of every scalar in a flatc object-API tree."""
    if depth > 8:
        return
    for k, v in vars(obj).items():
        if isinstance(v, (bool, int, float, bytes, str)) or v is None:
            out.append((obj, k, None))
        elif isinstance(v, np.ndarray):
            if k == "data":  # buffer contents: whole-vector mutations only
                out.append((obj, k, "vector"))
            else:
                out.extend((obj, k, j) for j in range(min(len(v), 64)))
                out.append((obj, k, "vector"))
        elif isinstance(v, list):
            out.append((obj, k, "vector"))
            for j, item in enumerate(v):
                if hasattr(item, "__dict__"):
                    _tflite_slots(item, out, depth + 1)
                else:
                    out.append((obj, k, j))
        elif hasattr(v, "__dict__"):
            _tflite_slots(v, out, depth + 1)


_TFLITE_HOT = {"shape", "buffer", "inputs", "outputs", "opcodeIndex", "scale", "zeroPoint",
               "quantizedDimension", "type", "builtinCode", "deprecatedBuiltinCode", "strideW", "strideH",
               "padding", "filterWidth", "filterHeight", "dilationWFactor", "dilationHFactor",
               "depthMultiplier", "fusedActivationFunction", "axis", "beta", "alpha", "keepDims",
               "squeezeDims", "name", "offset", "size", "beginMask", "endMask", "shrinkAxisMask",
               "newShape", "data", "builtinOptionsType"}


def _mutate_value(old, rng, names):
    if isinstance(old, bool):
        return not old
    if isinstance(old, (int, np.integer)):
        return _extreme_int(rng, old)
    if isinstance(old, (float, np.floating)):
        return _extreme_float(rng)
    if isinstance(old, (bytes, str)) or old is None:
        r = rng.random()
        s = str(rng.choice(names)) if names and r < 0.5 else str(rng.choice(HOSTILE))
        return s.encode("utf-8", "surrogatepass") if isinstance(old, bytes) or old is None else s
    return old


def _mutate_vector(v, rng, names):
    items = list(v) if v is not None else []
    r = rng.random()
    if r < 0.2 or not items:
        return [] if rng.random() < 0.5 else None
    if r < 0.4:
        del items[int(rng.integers(0, len(items)))]
    elif r < 0.6:
        items.insert(int(rng.integers(0, len(items) + 1)), items[int(rng.integers(0, len(items)))])
    elif r < 0.75 and len(items) > 1:
        i, j = rng.choice(len(items), 2, replace=False)
        items[i], items[j] = items[j], items[i]
    elif isinstance(v, np.ndarray) and v.dtype == np.uint8:
        n = int(rng.integers(0, len(items) + 1)) if rng.random() < 0.7 else len(items) * 2
        items = (items * 2)[:n]
    else:
        items.append(items[-1] if rng.random() < 0.5 else _extreme_int(rng))
    if isinstance(v, np.ndarray) and all(isinstance(x, (int, float, np.number)) for x in items):
        return np.asarray(items, dtype=v.dtype) if v.dtype == np.uint8 else items
    return items


def mutate_tflite_structure(data: bytes, rng) -> bytes:
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb
    m = fb.ModelT.InitFromPackedBuf(data, 0)
    slots: list = []
    _tflite_slots(m, slots)
    hot = [s for s in slots if s[1] in _TFLITE_HOT]
    names = [t.name for sg in (m.subgraphs or []) for t in (sg.tensors or []) if t.name]
    for _ in range(int(rng.integers(1, 4))):
        for _attempt in range(8):
            pool = hot if hot and rng.random() < 0.85 else slots
            obj, attr, idx = pool[int(rng.integers(0, len(pool)))]
            old = getattr(obj, attr)
            try:
                if idx == "vector":
                    setattr(obj, attr, _mutate_vector(old, rng, names))
                elif idx is None:
                    setattr(obj, attr, _mutate_value(old, rng, names))
                else:
                    items = [x.item() if isinstance(x, np.generic) else x for x in old]
                    items[idx] = _mutate_value(items[idx], rng, names)
                    setattr(obj, attr, items)
                b = flatbuffers.Builder(1024)
                b.Finish(m.Pack(b), file_identifier=b"TFL3")
                break
            except Exception:  # the value does not fit the field's width: put it back, try another
                setattr(obj, attr, old)
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _onnx_slots(msg, out, depth=0):
    """(message, field descriptor, index) of every field of an ONNX protobuf tree."""
    if depth > 12:
        return
    for fd, value in msg.ListFields():
        repeated = hasattr(value, "extend")  # repeated containers (FieldDescriptor.label is gone in upb)
        if fd.type == fd.TYPE_MESSAGE:
            items = list(value) if repeated else [value]
            if repeated:
                out.append((msg, fd, "vector"))
            for item in items[:256]:
                _onnx_slots(item, out, depth + 1)
        elif repeated:
            out.append((msg, fd, "vector"))
            out.extend((msg, fd, j) for j in range(min(len(value), 32)))
        else:
            out.append((msg, fd, None))


_ONNX_HOT = {"dims", "dim_value", "data_type", "elem_type", "i", "ints", "f", "floats", "s", "input",
             "output", "name", "op_type", "version", "raw_data", "float_data", "int64_data", "type",
             "int32_data", "dim_param"}


def mutate_onnx_structure(data: bytes, rng) -> bytes:
    import onnx
    m = onnx.ModelProto()
    m.ParseFromString(data)
    names = sorted({n for node in m.graph.node for n in list(node.input) + list(node.output)} |
                   {i.name for i in m.graph.initializer} | {i.name for i in m.graph.input})
    op_types = ["Conv", "Gemm", "Relu", "MaxPool", "Add", "Reshape", "Concat", "Softmax", "Transpose",
                "Squeeze", "Pad", "ReduceMean", "Cast", "Shape", "Gather", "Loop", "If", "NoSuchOp"]
    for _ in range(int(rng.integers(1, 4))):
        r = rng.random()
        if r < 0.08 and m.graph.node:               # a node changes its type
            m.graph.node[int(rng.integers(0, len(m.graph.node)))].op_type = str(rng.choice(op_types))
            continue
        if r < 0.16 and m.graph.node:               # a node gains an attribute
            from onnx import helper
            node = m.graph.node[int(rng.integers(0, len(m.graph.node)))]
            key = str(rng.choice(["group", "kernel_shape", "strides", "pads", "dilations", "axis", "axes",
                                  "perm", "auto_pad", "alpha", "keepdims", "ceil_mode", "transA", "transB",
                                  "epsilon", "allowzero", "mode", "to", "storage_order"]))
            kind = rng.integers(0, 4)
            value = ([_extreme_int(rng) for _ in range(int(rng.integers(0, 5)))] if kind == 0 else
                     _extreme_int(rng) if kind == 1 else _extreme_float(rng) if kind == 2 else
                     str(rng.choice(["SAME_UPPER", "VALID", "NOTSET", "reflect", "bogus"])))
            del_idx = [k for k, a in enumerate(node.attribute) if a.name == key]
            for k in reversed(del_idx):
                del node.attribute[k]
            try:
                node.attribute.append(helper.make_attribute(key, value))
            except Exception:
                pass
            continue
        slots: list = []
        _onnx_slots(m, slots)
        hot = [s for s in slots if s[1].name in _ONNX_HOT]
        for _attempt in range(8):
            pool = hot if hot and rng.random() < 0.85 else slots
            msg, fd, idx = pool[int(rng.integers(0, len(pool)))]
            try:
                container = getattr(msg, fd.name)
                if idx == "vector":
                    n = len(container)
                    if n and rng.random() < 0.5:
                        del container[int(rng.integers(0, n))]
                    elif n and fd.type == fd.TYPE_MESSAGE:
                        container.add().CopyFrom(container[int(rng.integers(0, n))])
                    elif n:
                        container.append(container[int(rng.integers(0, n))])
                    else:
                        continue
                elif fd.name == "raw_data":
                    raw = getattr(msg, fd.name)
                    setattr(msg, fd.name, raw[: int(rng.integers(0, len(raw) + 1))] if rng.random() < 0.6
                            else mutate_bytes(raw, rng) if raw else b"\x00" * 7)
                elif idx is None:
                    setattr(msg, fd.name, _onnx_value(fd, getattr(msg, fd.name), rng, names))
                else:
                    container[idx] = _onnx_value(fd, container[idx], rng, names)
                break
            except (ValueError, TypeError, AttributeError):  # out of the field's range: try another
                continue
    return m.SerializeToString()


def _onnx_value(fd, old, rng, names):
    if fd.type == fd.TYPE_BOOL:
        return not old
    if fd.type in (fd.TYPE_FLOAT, fd.TYPE_DOUBLE):
        return _extreme_float(rng)
    if fd.type in (fd.TYPE_STRING, fd.TYPE_BYTES):
        s = str(rng.choice(names)) if names and rng.random() < 0.6 else str(rng.choice(HOSTILE))
        return s.encode() if fd.type == fd.TYPE_BYTES else s
    if fd.type == fd.TYPE_ENUM:
        return int(rng.integers(0, 30))
    return _extreme_int(rng, old)


# -- calibration data files


def _npy_bytes(arr: np.ndarray, allow_pickle=False) -> bytes:
    f = io.BytesIO()
    np.save(f, arr, allow_pickle=allow_pickle)
    return f.getvalue()


def make_data_file(rng, g) -> tuple[str, bytes]:
    """(file name, bytes) of one calibration data file for float graph `g`."""
    shape = g.t(g.inputs[0]).shape
    n = int(rng.choice([0, 1, 2, 3, 5]))
    kind = int(rng.integers(0, 6))
    if kind <= 1:  # .npy
        r = rng.random()
        arr = rng.standard_normal((n,) + tuple(shape)).astype(np.float32)
        if r < 0.15:
            arr = arr.astype(rng.choice([np.float64, np.float16, np.int8, np.int64, np.uint8, np.bool_,
                                         np.complex64]))
        elif r < 0.25:
            arr = np.array([["a", "b"]], dtype="U5")
        elif r < 0.35:
            return "data.npy", _npy_bytes(np.array([{"x": 1}, None], dtype=object), allow_pickle=True)
        elif r < 0.45 and arr.size:
            arr.reshape(-1)[int(rng.integers(0, arr.size))] = rng.choice([np.nan, np.inf, -np.inf, 3e38])
        elif r < 0.55:
            arr = rng.standard_normal(int(rng.integers(0, 50))).astype(np.float32)
        elif r < 0.6:
            arr = np.zeros((3,), dtype=[("a", "<f4"), ("b", "<i4")])
        data = _npy_bytes(arr)
        if rng.random() < 0.3:  # a header that claims another shape (e.g. 2^40 values)
            text = data[:128].decode("latin1")
            claim = str(tuple(_extreme_int(rng) for _ in range(int(rng.integers(1, 5))))).replace(" ", "")
            start = text.find("'shape': ")
            end = text.find("), ", start)
            if start >= 0 and end > start:
                new = text[:start] + "'shape': " + claim + text[end + 1:]
                new = new[:127].ljust(127) + "\n" if len(new) >= 128 else new
                data = new.encode("latin1")[:128] + data[128:]
        return "data.npy", data
    if kind == 2:  # .npz
        f = io.BytesIO()
        arrays = {}
        keys = [g.inputs[0], "x", "arr_0", "labels", "y"]
        for key in rng.choice(keys, int(rng.integers(0, 4)), replace=False):
            r = rng.random()
            if str(key) in ("labels", "y"):
                arrays[str(key)] = (np.array(["cat"] * n) if r < 0.2 else
                                    np.full(n, np.nan) if r < 0.4 else
                                    np.arange(n + int(rng.integers(-1, 2))).clip(0) if r < 0.7 else
                                    np.full((n, 2), 2 ** 62, np.int64) if r < 0.8 else
                                    rng.integers(0, 10, n))
            else:
                arrays[str(key)] = (rng.standard_normal((n,) + tuple(shape)).astype(np.float32) if r < 0.7 else
                                    np.zeros((n, 3), np.float32) if r < 0.85 else np.array(3.0))
        if rng.random() < 0.5:
            np.savez(f, **arrays)
        else:
            np.savez_compressed(f, **arrays)
        data = f.getvalue()
        if rng.random() < 0.2:  # an object array inside the archive
            z = io.BytesIO(data)
            with zipfile.ZipFile(z, "a") as zf:
                zf.writestr("obj.npy", _npy_bytes(np.array([None, 1], dtype=object), allow_pickle=True))
            data = z.getvalue()
        return "data.npz", data
    if kind == 3 or kind == 4:  # an image
        from PIL import Image
        h = int(rng.choice([1, 8, 49, 200, shape[1] if len(shape) > 1 else 8]))
        w = int(rng.choice([1, 8, 10, 300, shape[2] if len(shape) > 2 else 8]))
        mode = str(rng.choice(["L", "RGB", "RGBA", "P", "1", "I", "F", "CMYK", "I;16"]))
        fmt, ext = [("PNG", ".png"), ("BMP", ".bmp"), ("JPEG", ".jpg"), ("GIF", ".gif"), ("TIFF", ".tif"),
                    ("PPM", ".ppm")][int(rng.integers(0, 6))]
        try:
            im = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB").convert(mode)
            f = io.BytesIO()
            im.save(f, fmt)
            data = f.getvalue()
        except Exception:
            data = b"not an image at all\n"
        if rng.random() < 0.15:
            data = b"just text in a file named like an image\n"
        return "img" + ext, data
    # a WAV file
    import wave
    f = io.BytesIO()
    ch = int(rng.choice([1, 2, 3]))
    width = int(rng.choice([1, 2, 3, 4]))
    frames = int(rng.choice([0, 1, 100, 490, 16000]))
    with wave.open(f, "wb") as w:
        w.setnchannels(ch)
        w.setsampwidth(width)
        w.setframerate(int(rng.choice([8000, 16000, 44100])))
        w.writeframes(rng.integers(0, 256, frames * ch * width, dtype=np.uint8).tobytes())
    data = bytearray(f.getvalue())
    r = rng.random()
    if r < 0.4 and len(data) >= 44:  # header fields: channels (22), rate (24), block align (32), bits (34)
        off = int(rng.choice([22, 24, 28, 32, 34, 40, 4, 16]))
        size = 2 if off in (22, 32, 34) else 4
        v = _extreme_int(rng) & ((1 << (8 * size)) - 1)
        data[off:off + size] = v.to_bytes(size, "little")
    return "clip.wav", bytes(data)


# ---------------------------------------------------------------------------------------------
# Inputs


@dataclass
class Input:
    index: int
    kind: str            # "tflite" | "onnx" | "data"
    seed_name: str
    mutation: str
    data: bytes
    file_name: str = ""  # data inputs: the file name (its suffix selects the loader)
    model_index: int = 0  # data inputs: which of seeds().data_models it feeds


def make_input(seed: int, k: int) -> Input:
    """Input k of the run with this seed: a pure function of the two."""
    rng = np.random.default_rng([seed, k])
    s = seeds()
    r = rng.random()
    kind = "tflite" if r < 0.5 else "onnx" if r < 0.88 else "data"
    if kind == "data":
        mi = int(rng.integers(0, len(s.data_models)))
        name, data = make_data_file(rng, s.data_models[mi])
        mutation = "generated"
        if rng.random() < 0.3:
            data, mutation = mutate_bytes(data, rng), "bytes"
        return Input(k, kind, Path(name).suffix, mutation, data, name, mi)
    pool = s.tflite if kind == "tflite" else s.onnx
    seed_name, data = pool[int(rng.integers(0, len(pool)))]
    r = rng.random()
    structure = mutate_tflite_structure if kind == "tflite" else mutate_onnx_structure
    if r < 0.02:
        mutation = "none"
    elif r < 0.6:
        data, mutation = structure(data, rng), "structure"
    elif r < 0.75:
        data, mutation = mutate_bytes(structure(data, rng), rng, 1), "structure+bytes"
    elif r < 0.85 and kind == "tflite":
        # aim at the flatbuffer tables (the tail of a file whose buffers come first)
        b = bytearray(data)
        for _ in range(int(rng.integers(1, 6))):
            pos = int(rng.integers(max(8, len(b) - 6000), len(b) - 4)) & ~3
            struct.pack_into("<I", b, pos, _extreme_int(rng, struct.unpack_from("<i", b, pos)[0]) & 0xFFFFFFFF)
        data, mutation = bytes(b), "int32-tables"
    else:
        data, mutation = mutate_bytes(data, rng), "bytes"
    return Input(k, kind, seed_name, mutation, data)


# ---------------------------------------------------------------------------------------------
# Running one input


@dataclass
class Result:
    index: int
    kind: str
    seed_name: str
    mutation: str
    outcome: str
    stage: str = ""
    detail: str = ""
    seconds: float = 0.0
    verified: bool = False


MAX_CALIBRATION_VALUES = 1 << 22
# verify builds the C and runs TFLM and the C in child processes: an input sampled for it gets
# this many times the per-input bound.
VERIFY_TIME_FACTOR = 12


def _classify(e: BaseException) -> tuple[str, str]:
    from .ir import MicrolithError
    if isinstance(e, MicrolithError):
        return "error", str(e)[:300]
    if isinstance(e, _Timeout):
        return "timeout", "per-input time bound"
    tb = traceback.extract_tb(e.__traceback__)
    where = f"{Path(tb[-1].filename).name}:{tb[-1].lineno} in {tb[-1].name}" if tb else "?"
    kind = "memory" if isinstance(e, MemoryError) else "crash"
    return kind, f"{type(e).__name__}: {str(e)[:200]} [{where}]"


def run_input(inp: Input, workdir: Path, verify: bool = False, seed: int = 0) -> Result:
    """Feed one input through the public API; never raises (but _Timeout propagates)."""
    import microlith
    from .quantize.data import load_dataset
    res = Result(inp.index, inp.kind, inp.seed_name, inp.mutation, "ok")
    t0 = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix=f"in{inp.index}-", dir=workdir))
    rng = np.random.default_rng([seed, inp.index, 1])
    try:
        if inp.kind == "data":
            path = work / inp.file_name
            if path.suffix not in (".npy", ".npz"):  # images and WAVs are read from a folder
                path = work / "folder"
                path.mkdir()
                (path / inp.file_name).write_bytes(inp.data)
            else:
                path.write_bytes(inp.data)
            g = seeds().data_models[inp.model_index]
            res.stage = "load_dataset"
            load_dataset(str(path), g)
            if rng.random() < 0.1:
                res.stage = "quantize"
                microlith.quantize(g, str(path), work / "q.tflite", method="minmax", report=False)
            return res
        path = work / ("model" + EXT[inp.kind])
        path.write_bytes(inp.data)
        res.stage = "inspect"
        microlith.inspect(path)
        res.stage = "load"
        g = microlith.load(path)
        model = path
        if any(g.t(n).dtype == "float32" for n in g.inputs + g.outputs) or inp.kind == "onnx":
            from .quantize.ptq import check_float_graph
            check_float_graph(g)
            sizes = [g.t(n).size for n in g.inputs]
            if sum(sizes) * 3 > MAX_CALIBRATION_VALUES:
                res.detail = "skipped quantize: calibration samples too large for the harness"
                return res
            cal = [[rng.standard_normal(g.t(n).shape).astype(np.float32) for n in g.inputs]
                   for _ in range(3)]
            res.stage = "quantize"
            model = work / "q.tflite"
            method = str(rng.choice(["minmax", "percentile", "mse"]))
            microlith.quantize(g, cal, model, method=method, io=str(rng.choice(["int8", "float"])),
                               report=False)
        res.stage = "compile"
        microlith.compile(model, work / "c", measure=False)
        if verify:
            res.stage = "verify"
            res.verified = True
            v = microlith.verify(model, samples=3, seed=inp.index)
            if not v["bit_exact"]:
                res.outcome = "mismatch"
                res.detail = (f"{v['mismatched_samples']} of {v['samples']} samples differ, max |diff| "
                              f"{v['max_abs_diff']}; first: {v.get('first_mismatch')}")[:300]
    except _Timeout:
        res.outcome, res.detail = "timeout", "per-input time bound"
    except BaseException as e:  # noqa: BLE001 -- classifying everything is the point
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        res.outcome, res.detail = _classify(e)
    finally:
        res.seconds = time.perf_counter() - t0
        shutil.rmtree(work, ignore_errors=True)
    return res


# ---------------------------------------------------------------------------------------------
# Workers


def _worker(conn, indices, seed, timeout, verify_every, memory_bytes, workdir):
    import faulthandler
    import resource
    import warnings
    faulthandler.disable()  # a native crash is reported as the 'signal' outcome, not a stack dump
    if memory_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    warnings.simplefilter("ignore")  # warnings are not outcomes; keep the worker's stderr quiet

    def alarm(signum, frame):
        raise _Timeout()

    signal.signal(signal.SIGALRM, alarm)
    for k in indices:
        conn.send(("start", k, time.monotonic()))
        verify = bool(verify_every) and k % verify_every == 0
        try:
            signal.setitimer(signal.ITIMER_REAL, timeout * (VERIFY_TIME_FACTOR if verify else 1))
            inp = make_input(seed, k)
            res = run_input(inp, Path(workdir), verify=verify, seed=seed)
        except _Timeout:
            res = Result(k, "?", "?", "?", "timeout", "make_input", "per-input time bound", timeout)
        except Exception as e:  # a bug of the harness itself: reported, not hidden
            res = Result(k, "?", "?", "?", "crash", "make_input", f"harness: {type(e).__name__}: {e}")
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        conn.send(("done", k, res))
    conn.send(("exit", None, None))
    conn.close()


def run(count: int, seed: int = 0, jobs: int = 1, timeout: float = 10.0, verify_every: int = 0,
        memory_bytes: int = 4 << 30, start: int = 0, save_dir: str | None = None,
        progress=None) -> list[Result]:
    """Inputs start..start+count-1 of `seed` through `jobs` forked workers; one Result each."""
    import multiprocessing as mp
    from multiprocessing.connection import wait
    seeds()  # built once here, inherited by the workers
    ctx = mp.get_context("fork")
    todo = list(range(start, start + count))
    results: dict[int, Result] = {}
    grace = 5.0 + timeout
    workdir = tempfile.mkdtemp(prefix="microlith-fuzz-")
    workers: dict = {}  # conn -> [process, remaining indices, current index, started at]

    def spawn(indices):
        if not indices:
            return
        parent, child = ctx.Pipe(duplex=False)
        p = ctx.Process(target=_worker, args=(child, indices, seed, timeout, verify_every, memory_bytes,
                                              workdir), daemon=True)
        p.start()
        child.close()
        workers[parent] = [p, list(indices), None, None]

    def record(res: Result):
        results[res.index] = res
        if save_dir and res.outcome in FINDINGS:
            save_finding(seed, res, save_dir)
        if progress:
            progress(res)

    try:
        for w in range(max(1, jobs)):
            spawn(todo[w::max(1, jobs)])
        while workers:
            ready = wait(list(workers), timeout=1.0)
            for conn in ready:
                p, remaining, current, started = workers[conn]
                try:
                    msg, k, payload = conn.recv()
                except (EOFError, OSError):
                    p.join(5)
                    del workers[conn]
                    if current is not None:  # died on an input: a signal (or os._exit)
                        code = p.exitcode
                        detail = (f"worker killed by signal {signal.Signals(-code).name}" if code and code < 0
                                  else f"worker exited with status {code}")
                        record(Result(current, "?", "?", "?", "signal", "", detail))
                    spawn([k for k in remaining if k not in results])  # the rest of its share
                    continue
                if msg == "start":
                    workers[conn][2], workers[conn][3] = k, time.monotonic()
                elif msg == "done":
                    workers[conn][2] = None
                    record(payload)
                elif msg == "exit":
                    p.join(5)
                    del workers[conn]
            now = time.monotonic()
            for conn, (p, remaining, current, started) in list(workers.items()):
                bound = grace + (timeout * VERIFY_TIME_FACTOR if verify_every and current is not None
                                 and current % verify_every == 0 else 0)
                if current is not None and now - started > bound:  # stuck in native code
                    p.kill()
                    p.join(5)
                    del workers[conn]
                    record(Result(current, "?", "?", "?", "timeout", "", f"no answer within {bound:.0f} s; "
                                  "worker killed"))
                    spawn([k for k in remaining if k not in results])
    finally:
        for conn, (p, *_rest) in workers.items():
            p.kill()
        shutil.rmtree(workdir, ignore_errors=True)
    for res in results.values():  # fill in what the parent could not know for killed workers
        if res.kind == "?":
            inp = make_input(seed, res.index)
            res.kind, res.seed_name, res.mutation = inp.kind, inp.seed_name, inp.mutation
    return [results[k] for k in sorted(results)]


def save_finding(seed: int, res: Result, save_dir: str) -> Path:
    """Write a finding's input (and what happened) for a regression file."""
    inp = make_input(seed, res.index)
    out = Path(save_dir)
    out.mkdir(parents=True, exist_ok=True)
    ext = Path(inp.file_name).suffix if inp.kind == "data" else EXT[inp.kind]
    path = out / f"{res.outcome}-s{seed}-{res.index}{ext}"
    path.write_bytes(inp.data)
    path.with_suffix(path.suffix + ".txt").write_text(
        f"seed {seed} input {res.index} kind {inp.kind} seed model {inp.seed_name} mutation "
        f"{inp.mutation}\nstage {res.stage}\n{res.outcome}: {res.detail}\n")
    return path


def replay_file(path: str | Path, workdir: str | Path | None = None) -> Result:
    """Run a regression file (a model, or a data file fed to the kws float model) in-process;
    a model whose name starts with "verify_" is also verified against TFLM."""
    path = Path(path)
    data = path.read_bytes()
    ext = path.suffix.lower()
    if ext in (".tflite", ".onnx"):
        inp = Input(0, ext[1:], path.name, "file", data)
    else:
        inp = Input(0, "data", path.name, "file", data, "data" + ext if ext in (".npy", ".npz") else
                    "file" + ext, 0)
    tmp = tempfile.mkdtemp(prefix="microlith-replay-", dir=workdir)
    try:
        return run_input(inp, Path(tmp), verify=path.name.startswith("verify_"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def summarize(results: list[Result]) -> dict:
    counts = {o: 0 for o in OUTCOMES}
    by_kind: dict[str, dict[str, int]] = {}
    for r in results:
        counts[r.outcome] += 1
        by_kind.setdefault(r.kind, {o: 0 for o in OUTCOMES})[r.outcome] += 1
    return {"inputs": len(results), "outcomes": counts, "by_kind": by_kind,
            "findings": sum(counts[o] for o in FINDINGS),
            "verified": sum(r.verified for r in results)}


def cli_check(inputs: list[Input], memory_bytes: int = 4 << 30, timeout: float = 60.0) -> list[dict]:
    """Each model input through `python3 -m microlith.cli inspect` and `compile` in a subprocess
    under the memory cap: the exit code must be 0, 1 or 2 and stderr at most one line."""
    import resource
    import subprocess
    import sys

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))

    rows = []
    with tempfile.TemporaryDirectory(prefix="microlith-fuzz-cli-") as tmp:
        for inp in inputs:
            if inp.kind == "data":
                continue
            path = Path(tmp) / f"input{inp.index}{EXT[inp.kind]}"
            path.write_bytes(inp.data)
            for args in (["inspect", str(path)], ["compile", str(path), "-o", str(Path(tmp) / f"c{inp.index}")]):
                try:
                    p = subprocess.run([sys.executable, "-m", "microlith.cli", *args], capture_output=True,
                                       text=True, timeout=timeout, preexec_fn=cap)
                    code, err = p.returncode, p.stderr
                except subprocess.TimeoutExpired:
                    code, err = "timeout", ""
                lines = err.strip().splitlines()
                good = code in (0, 1, 2) and len(lines) <= 1 and "Traceback" not in err
                rows.append({"index": inp.index, "kind": inp.kind, "command": args[0], "exit": code,
                             "stderr": lines[0][:160] if lines else "", "good": good})
    return rows
