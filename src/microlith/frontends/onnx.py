"""ONNX -> float IR, in the NHWC layout of TFLite and of microlith's kernels.

How a model is read:
 1. Load and validate: the protobuf, the opset, every initializer's size, and that every
    tensor a node reads is an initializer, a graph input or the output of an earlier node.
 2. Fix the input shapes; a dynamic dimension needs `input_shape` (CLI: --input-shape).
 3. List unsupported ops, all of them in one error, before converting anything. A node
    whose inputs are all constant (or a Shape/Size of a static tensor: all shapes are static
    here) is not converted but evaluated by onnx's reference evaluator, so the Shape ->
    Gather -> Concat -> Reshape chains of real exports need no converter of their own.
 4. Convert in one walk, in the model's (topological) order.

Layout. ONNX activations are channels first. A value is stored "channels last" (cl) once a
conv or pool has produced it: a 4-D [N,C,H,W] value as [N,H,W,C], a 3-D [N,C,L] value as
[N,1,L,C] (a 1-D conv or pool is a 2-D one of height 1, exactly as the TFLite converter
lowers Conv1D). Element-wise ops keep the layout (broadcast constants are permuted to
match); ops with an axis remap it (Concat, Softmax, ReduceMean, Pad); ops that see the
memory order (Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Gemm, MatMul) and the graph
outputs get the value back in ONNX order through an explicit TRANSPOSE. So the IR computes
exactly what the ONNX model computes, with the ONNX input and output shapes; passes.optimize
then drops the transposes that move no data (e.g. over an H = W = 1 tensor).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from ..ir import ATTRS, Graph, MicrolithError, Node, Op, Tensor
from ..passes.rewrite import prune
from .tflite import c_identifier, check_model_file, max_model_bytes, read_model_file

MIN_OPSET = 11  # attribute-vs-input forms of opsets 11-12 are read too; exporters default to 17+
# Elements one value (graph input or computed tensor) may hold: far above any model that fits a
# microcontroller, and small enough that the float reference of `quantize` can hold it.
MAX_VALUE_ELEMENTS = 1 << 26
INT32_MAX = (1 << 31) - 1


@dataclass(frozen=True)
class _Val:
    """An ONNX activation as the IR holds it."""
    name: str                   # the IR tensor
    shape: tuple[int, ...]      # the ONNX shape
    cl: bool = False            # stored channels last (see the module docstring)
    nonneg: bool = False        # known >= 0 (after RELU...): zero padding is then max-pool neutral

    @property
    def rank(self) -> int:
        return len(self.shape)


def _cl_shape(shape: tuple) -> tuple:
    """ONNX [N,C,H,W] -> [N,H,W,C]; [N,C,L] -> [N,1,L,C]."""
    if len(shape) == 4:
        n, c, h, w = shape
        return (n, h, w, c)
    n, c, length = shape
    return (n, 1, length, c)


# For a cl value of ONNX rank r: _CL_AXES[r][onnx axis] = IR axis.
_CL_AXES = {4: (0, 3, 1, 2), 3: (0, 3, 2)}


def _ir_shape(v: _Val) -> tuple:
    return _cl_shape(v.shape) if v.cl else v.shape


def _cl_const(arr: np.ndarray, rank: int) -> np.ndarray:
    """A constant that broadcasts against an ONNX rank-`rank` value, permuted for its cl form."""
    arr = arr.reshape((1,) * (rank - arr.ndim) + arr.shape)
    if rank == 4:
        return arr.transpose(0, 2, 3, 1)
    return arr.transpose(0, 2, 1)[:, None]


def _strip_leading_ones(arr: np.ndarray) -> np.ndarray:
    k = 0
    while k < arr.ndim - 1 and arr.shape[k] == 1:
        k += 1
    return arr.reshape(arr.shape[k:]) if arr.ndim else arr.reshape(1)


# ---------------------------------------------------------------------------------------------
# Reading and validating the file


def _read_model(path: str):
    import onnx
    from google.protobuf.message import DecodeError
    buf = read_model_file(path)
    try:
        model = onnx.ModelProto()
        model.ParseFromString(buf)
    except (DecodeError, ValueError, RuntimeError) as e:
        raise MicrolithError(f"{path}: not an ONNX model (the protobuf does not parse: {e})") from None
    _check_text(model, path)
    if not model.HasField("graph") or not model.graph.output or not model.graph.node:
        raise MicrolithError(f"{path}: not an ONNX model, or an empty one (no graph, nodes or outputs)")
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer):
        _check_external_data(model, path)
        from onnx.external_data_helper import load_external_data_for_model
        try:
            load_external_data_for_model(model, os.path.dirname(os.path.abspath(path)))
        except (OSError, ValueError) as e:
            raise MicrolithError(f"{path}: cannot read the model's external weight data ({e})") from None
    return model


def _check_external_data(model, path: str) -> None:
    """External weights are files next to the model: a relative location inside the model's
    folder naming a regular file of bounded size (never /dev/zero, a FIFO or ../../elsewhere)."""
    import onnx
    base = os.path.dirname(os.path.abspath(path))
    total = 0
    for t in model.graph.initializer:
        if t.data_location != onnx.TensorProto.EXTERNAL:
            continue
        info = {e.key: e.value for e in t.external_data}
        loc = info.get("location", "")
        full, root = os.path.realpath(os.path.join(base, loc)), os.path.realpath(base)
        if not loc or os.path.isabs(loc) or os.path.commonpath([full, root]) != root:
            raise MicrolithError(f"{path}: initializer '{t.name}' keeps its data in '{loc}', which is not a "
                                 "file inside the model's folder")
        size = check_model_file(full)
        try:
            offset, length = int(info.get("offset", 0) or 0), int(info.get("length", 0) or 0)
        except ValueError:
            raise MicrolithError(f"{path}: initializer '{t.name}' has an invalid external data offset or "
                                 "length") from None
        if offset < 0 or length < 0 or offset + length > size:
            raise MicrolithError(f"{path}: initializer '{t.name}' reads bytes {offset}..{offset + length} of "
                                 f"'{loc}', which has {size}")
        total += length or size - offset
    if total > max_model_bytes():
        raise MicrolithError(f"{path}: the external weight data adds up to {total} bytes, more than the "
                             f"{max_model_bytes()} allowed (set MICROLITH_MAX_MODEL_BYTES to raise it)")


def _check_text(msg, path: str, depth: int = 0) -> None:
    """ONNX is proto2, whose parser keeps a string field that is not valid UTF-8 as bytes: every
    name, op type and attribute text is checked to be text before anything compares it."""
    if depth > 64:
        raise MicrolithError(f"{path}: the ONNX graph nests more than 64 levels deep")
    for fd, value in msg.ListFields():
        if fd.type == fd.TYPE_MESSAGE:
            for item in (value if hasattr(value, "extend") else [value]):
                _check_text(item, path, depth + 1)
        elif fd.type == fd.TYPE_STRING:
            for item in (value if hasattr(value, "extend") else [value]):
                if not isinstance(item, str):
                    raise MicrolithError(f"{path}: a {msg.DESCRIPTOR.name}.{fd.name} is not valid UTF-8 "
                                         f"text ({bytes(item)[:40]!r}); the file is corrupt")


def _opset(model, path: str) -> int:
    versions = {o.domain: o.version for o in model.opset_import}
    version = versions.get("", versions.get("ai.onnx"))
    if version is None:
        raise MicrolithError(f"{path}: the model imports no default ONNX opset")
    if version < MIN_OPSET:
        raise MicrolithError(f"{path}: ONNX opset {version} is too old; microlith reads opset "
                             f"{MIN_OPSET} and later (re-export with opset_version=13 or newer)")
    return int(version)


def _initializers(model, path: str) -> dict[str, np.ndarray]:
    from onnx import helper, numpy_helper
    if len(model.graph.sparse_initializer):
        raise MicrolithError(f"{path}: sparse initializers are not supported")
    out = {}
    for init in model.graph.initializer:
        dims = tuple(int(d) for d in init.dims)
        try:
            np_type = helper.tensor_dtype_to_np_dtype(init.data_type)
        except (KeyError, ValueError):
            raise MicrolithError(f"{path}: initializer '{init.name}' has unknown data type "
                                 f"{init.data_type}") from None
        if any(d < 0 for d in dims):
            raise MicrolithError(f"{path}: initializer '{init.name}' has negative dimensions {list(dims)}")
        count = math.prod(dims)
        if init.HasField("raw_data") and np_type.itemsize and init.data_type != 8:  # 8: STRING
            if len(init.raw_data) != count * np_type.itemsize:
                raise MicrolithError(
                    f"{path}: initializer '{init.name}' of shape {list(dims)} {np_type} needs "
                    f"{count * np_type.itemsize} bytes but holds {len(init.raw_data)}; the file is corrupt")
        try:
            arr = numpy_helper.to_array(init)
        except Exception as e:  # onnx raises several types on inconsistent tensors
            raise MicrolithError(f"{path}: initializer '{init.name}' of shape {list(dims)} cannot be "
                                 f"read ({e})") from None
        if arr.shape != dims:
            raise MicrolithError(f"{path}: initializer '{init.name}' holds {arr.size} values, its shape "
                                 f"{list(dims)} needs {count}")
        out[init.name] = arr
    return out


def _check_references(model, known: set[str], path: str) -> None:
    """Every tensor a node reads exists and is produced before it is read."""
    produced_later = {o for n in model.graph.node for o in n.output if o}
    seen = set(known)
    for i, node in enumerate(model.graph.node):
        for name in node.input:
            if not name or name in seen:
                continue
            where = f"node '{node.name or '#' + str(i)}' ({node.op_type})"
            if name in produced_later:
                raise MicrolithError(f"{path}: {where} reads '{name}' before the node that computes it "
                                     "(the graph is not in topological order)")
            raise MicrolithError(f"{path}: {where} reads '{name}', which is no initializer, graph input "
                                 "or node output (missing input)")
        seen.update(o for o in node.output if o)
    for out in model.graph.output:
        if out.name not in seen:
            raise MicrolithError(f"{path}: graph output '{out.name}' is never computed")


def _input_shapes(model, inits: dict, input_shape, path: str) -> dict[str, tuple]:
    """Static shape of each graph input; `input_shape` fills the dynamic dimensions."""
    from onnx import TensorProto
    inputs = [i for i in model.graph.input if i.name not in inits]
    if not inputs:
        raise MicrolithError(f"{path}: the model has no inputs (every graph input is an initializer)")
    given: dict[str, list] = {}
    if input_shape is not None:
        if isinstance(input_shape, dict):
            given = {k: list(v) for k, v in input_shape.items()}
            unknown = set(given) - {i.name for i in inputs}
            if unknown:
                raise MicrolithError(f"{path}: input_shape names unknown input(s) {sorted(unknown)}; "
                                     f"the inputs are {[i.name for i in inputs]}")
        elif input_shape and all(isinstance(d, (list, tuple)) for d in input_shape):
            if len(input_shape) != len(inputs):
                raise MicrolithError(f"{path}: {len(input_shape)} input shapes given for "
                                     f"{len(inputs)} inputs")
            given = {i.name: list(s) for i, s in zip(inputs, input_shape)}
        else:
            if len(inputs) != 1:
                raise MicrolithError(f"{path}: the model has {len(inputs)} inputs; give one shape per "
                                     "input (a list of shapes, or a dict name -> shape)")
            given = {inputs[0].name: list(input_shape)}
    shapes = {}
    for inp in inputs:
        tt = inp.type.tensor_type
        if not inp.type.HasField("tensor_type"):
            raise MicrolithError(f"{path}: input '{inp.name}' is not a tensor")
        if tt.elem_type != TensorProto.FLOAT:
            tname = ({v: k for k, v in TensorProto.DataType.items()}.get(tt.elem_type, f"type {tt.elem_type}")
                     if tt.elem_type else "unknown")
            raise MicrolithError(f"{path}: input '{inp.name}' is {tname}; microlith reads float32 "
                                 "ONNX models (quantize them with microlith)")
        dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
                for d in tt.shape.dim] if tt.HasField("shape") else None
        want = given.get(inp.name)
        if want is not None:
            want = [int(d) for d in want]
            if any(d < 1 for d in want):
                raise MicrolithError(f"{path}: input_shape {want} for '{inp.name}' has a dimension < 1")
            if dims is not None and (len(dims) != len(want) or
                                     any(d is not None and d != w for d, w in zip(dims, want))):
                shown = [d if d is not None else "?" for d in dims]
                raise MicrolithError(f"{path}: input_shape {want} does not fit input '{inp.name}' "
                                     f"of shape {shown}")
            shapes[inp.name] = tuple(want)
            continue
        if dims is None or None in dims:
            shown = "unknown rank" if dims is None else str([d if d is not None else "?" for d in dims])
            raise MicrolithError(f"{path}: input '{inp.name}' has a dynamic shape ({shown}); pass a "
                                 "static one with --input-shape (Python: input_shape=[1, ...])")
        shapes[inp.name] = tuple(dims)
    for inp_name, shape in shapes.items():
        if math.prod(shape) > MAX_VALUE_ELEMENTS:
            raise MicrolithError(f"{path}: input '{inp_name}' of shape {list(shape)} holds more than "
                                 f"{MAX_VALUE_ELEMENTS} values; too large for a microcontroller model")
    return shapes


# ---------------------------------------------------------------------------------------------
# The converter: one function per ONNX op family, registered in _CONVERTERS.

Converter = Callable[["_Builder", object, list, dict], list]
_CONVERTERS: dict[str, Converter] = {}


def _converts(*op_types: str):
    def deco(fn):
        for t in op_types:
            _CONVERTERS[t] = fn
        return fn
    return deco


# Ops that never fold even with constant inputs (they would need to run at inference).
_NEVER_FOLD = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial"}


class _Builder:
    def __init__(self, path: str, opset: int):
        self.path, self.opset = path, opset
        self.tensors: dict[str, Tensor] = {}
        self.nodes: list[Node] = []
        self.node = None              # the ONNX node being converted
        self._layouts: dict[tuple[str, bool], _Val] = {}
        self.renamed: dict[str, str] = {}  # tensor renames made while naming the graph outputs
        self.hard_sigmoid_of: dict[str, str] = {}  # HardSigmoid(x) with hard-swish constants -> x

    def current(self, name: str) -> str:
        while name in self.renamed:
            name = self.renamed[name]
        return name

    # -- errors and names
    def where(self) -> str:
        n = self.node
        if n is None:
            return "model"
        return f"{n.op_type} node '{n.name or (n.output[0] if n.output else '?')}'"

    def fail(self, msg: str) -> MicrolithError:
        return MicrolithError(f"{self.path}: {self.where()}: {msg}")

    def unique(self, hint: str) -> str:
        name, k = hint, 1
        while name in self.tensors:
            k += 1
            name = f"{hint}_{k}"
        return name

    def out_name(self, k: int = 0) -> str:
        return self.node.output[k]

    # -- tensors and nodes
    def const(self, hint: str, array) -> str:
        arr = np.asarray(array)
        dtype = "int32" if arr.dtype.kind in "iub" else "float32"
        arr = arr.astype(dtype)
        name = self.unique(hint)
        self.tensors[name] = Tensor(name, tuple(arr.shape), dtype, None, arr)
        return name

    def emit(self, op: Op, inputs: list, shape: tuple, name: str | None = None, **attrs) -> str:
        """Append one IR node writing a new float32 tensor; returns the tensor's name."""
        defaults = {"activation": "NONE"}
        attrs = {k: attrs.get(k, defaults.get(k)) for k in ATTRS[op]} | attrs
        assert set(attrs) == set(ATTRS[op]), (op, attrs)
        base = self.node.output[0] if self.node is not None else "t"
        shape = tuple(int(d) for d in shape)
        if any(d < 1 for d in shape) or math.prod(shape) > MAX_VALUE_ELEMENTS:
            raise self.fail(f"computes a {op.value} result of shape {list(shape)}; every value needs "
                            f"dimensions >= 1 and at most {MAX_VALUE_ELEMENTS} elements")
        out = self.unique(name or f"{base}_{op.value.lower()}")
        self.tensors[out] = Tensor(out, tuple(int(d) for d in shape), "float32")
        node_name = (self.node.name or self.node.op_type) if self.node is not None else op.value
        self.nodes.append(Node(op, tuple(inputs), (out,), attrs, name=f"{node_name}:{op.value.lower()}"))
        return out

    def reshape(self, v: _Val, ir_shape: tuple, name: str | None = None) -> str:
        return self.emit(Op.RESHAPE, [v.name, self.const(f"{v.name}_shape", list(ir_shape))],
                         ir_shape, name)

    def transpose(self, src: str, perm: tuple, shape_in: tuple, name: str | None = None) -> str:
        shape = tuple(shape_in[p] for p in perm)
        return self.emit(Op.TRANSPOSE, [src, self.const(f"{src}_perm", list(perm))], shape, name)

    # -- layout changes, each done once per value
    def plain(self, v: _Val) -> _Val:
        """`v` in ONNX memory order."""
        if not v.cl:
            return v
        key = (v.name, False)
        if key not in self._layouts:
            if v.rank == 4:
                name = self.transpose(v.name, (0, 3, 1, 2), _ir_shape(v), f"{v.name}_nchw")
            else:  # [N,1,L,C] -> [N,L,C] -> [N,C,L]
                n, c, length = v.shape
                flat = self.reshape(v, (n, length, c), f"{v.name}_nlc")
                name = self.transpose(flat, (0, 2, 1), (n, length, c), f"{v.name}_ncl")
            self._layouts[key] = replace(v, name=name, cl=False)
        return self._layouts[key]

    def channels_last(self, v: _Val) -> _Val:
        """`v` in cl order; only 3-D and 4-D values have one."""
        if v.cl:
            return v
        if v.rank not in (3, 4):
            raise self.fail(f"needs a 3-D [N,C,L] or 4-D [N,C,H,W] input, got shape {list(v.shape)}")
        key = (v.name, True)
        if key not in self._layouts:
            if v.rank == 4:
                name = self.transpose(v.name, (0, 2, 3, 1), v.shape, f"{v.name}_nhwc")
            else:  # [N,C,L] -> [N,L,C] -> [N,1,L,C]
                n, c, length = v.shape
                nlc = self.transpose(v.name, (0, 2, 1), v.shape, f"{v.name}_nlc")
                name = self.reshape(_Val(nlc, (n, length, c)), (n, 1, length, c), f"{v.name}_n1lc")
            self._layouts[key] = replace(v, name=name, cl=True)
        return self._layouts[key]

    # -- operand checks
    def need_const(self, x, what: str) -> np.ndarray:
        if x is None:
            raise self.fail(f"{what} is missing")
        if isinstance(x, _Val):
            raise self.fail(f"{what} must be a constant (an initializer), but it is computed at run time")
        return x

    def need_ints(self, x, what: str) -> list[int]:
        """A constant operand holding whole numbers (shapes, pads, axes)."""
        arr = np.asarray(self.need_const(x, what))
        if arr.dtype.kind not in "iub" and not (arr.dtype.kind == "f" and np.all(np.isfinite(arr))
                                                and np.all(arr == np.round(arr))):
            raise self.fail(f"{what} must hold whole numbers, got {arr.dtype} {arr.reshape(-1)[:8].tolist()}")
        return [int(v) for v in arr.reshape(-1)]

    def need_scalar(self, x, what: str) -> float:
        """A constant operand holding one real number."""
        arr = np.asarray(self.need_const(x, what))
        if arr.size != 1 or arr.dtype.kind not in "iubf":
            raise self.fail(f"{what} must be one number, got {arr.dtype} of shape {list(arr.shape)}")
        return float(arr.reshape(-1)[0])

    def need_act(self, x, what: str = "input") -> _Val:
        if x is None:
            raise self.fail(f"{what} is missing")
        if not isinstance(x, _Val):
            raise self.fail(f"{what} is a constant; microlith expects it to be computed from the model input")
        return x


def _broadcast(b: _Builder, *shapes) -> tuple:
    try:
        return tuple(int(d) for d in np.broadcast_shapes(*(tuple(s) for s in shapes)))
    except ValueError:
        raise b.fail(f"operand shapes {[list(s) for s in shapes]} do not broadcast together") from None


def _axis(b: _Builder, axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise b.fail(f"axis {axis} is out of range for rank {rank}")
    return axis % rank


# ---------------------------------------------------------------------------------------------
# Windows: Conv, pools. Padding is SAME or VALID when the windows land where TFLite's would,
# otherwise an explicit PAD in front of a VALID window.


@dataclass
class _Window:
    kernel: list[int]
    strides: list[int]
    dilations: list[int]
    pad_begin: list[int]
    pad_end: list[int]
    out: list[int]

    def padding(self, spatial: list[int]) -> str | None:
        """'VALID' or 'SAME' if TFLite's windows equal ONNX's, else None (needs a PAD)."""
        if all(p == 0 for p in self.pad_begin) and all(
                o == (i - (k - 1) * d - 1) // s + 1
                for i, k, d, s, o in zip(spatial, self.kernel, self.dilations, self.strides, self.out)):
            return "VALID"
        for i, k, d, s, o, pb in zip(spatial, self.kernel, self.dilations, self.strides, self.out,
                                     self.pad_begin):
            same_out = -(-i // s)
            total = max((same_out - 1) * s + (k - 1) * d + 1 - i, 0)
            if o != same_out or pb != total // 2:
                return None
        return "SAME"

    def explicit_pads(self, spatial: list[int]) -> list[tuple[int, int]]:
        """Per spatial dim (before, after) for a PAD so that a VALID window gives `out`."""
        return [(pb, max(0, (o - 1) * s + (k - 1) * d + 1 - i - pb))
                for i, k, d, s, o, pb in zip(spatial, self.kernel, self.dilations, self.strides,
                                             self.out, self.pad_begin)]


def _window(b: _Builder, at: dict, spatial: list[int], kernel: list[int], ceil_mode: bool = False) -> _Window:
    nd = len(spatial)
    strides = list(at.get("strides", [1] * nd))
    dilations = list(at.get("dilations", [1] * nd))
    pads = list(at.get("pads", [0] * (2 * nd)))
    if len(kernel) != nd or len(strides) != nd or len(dilations) != nd or len(pads) != 2 * nd:
        raise b.fail(f"kernel/strides/dilations/pads do not match the {nd} spatial dimension(s)")
    if min(kernel + strides + dilations) < 1 or min(pads) < 0:
        raise b.fail(f"kernel {kernel}, strides {strides}, dilations {dilations} must be >= 1 "
                     f"and pads {pads} >= 0")
    if max(kernel + strides + dilations + pads) > INT32_MAX:  # TFLite holds them as int32
        raise b.fail(f"kernel {kernel}, strides {strides}, dilations {dilations} or pads {pads} exceed "
                     f"{INT32_MAX}")
    auto = at.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    begin, end = pads[:nd], pads[nd:]
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        begin, end = [], []
        for i, k, d, s in zip(spatial, kernel, dilations, strides):
            total = max((-(-i // s) - 1) * s + (k - 1) * d + 1 - i, 0)
            small, big = total // 2, total - total // 2
            begin.append(small if auto == "SAME_UPPER" else big)
            end.append(big if auto == "SAME_UPPER" else small)
    elif auto == "VALID":
        begin, end = [0] * nd, [0] * nd
    elif auto != "NOTSET":
        raise b.fail(f"unknown auto_pad '{auto}'")
    out = []
    for i, k, d, s, pb, pe in zip(spatial, kernel, dilations, strides, begin, end):
        span = i + pb + pe - (k - 1) * d - 1
        if span < 0:
            raise b.fail(f"the window ({k} x dilation {d}) is larger than the padded input ({i + pb + pe})")
        o = -(-span // s) + 1 if ceil_mode else span // s + 1
        if ceil_mode and (o - 1) * s >= i + pb:  # a last window starting in the end padding is dropped
            o -= 1
        out.append(o)
    return _Window(list(kernel), strides, dilations, begin, end, out)


def _to_2d(vals: list, rank: int, fill: int) -> list:
    """1-D window parameters -> 2-D with height 1 (the 1-D rule)."""
    return [fill] + list(vals) if rank == 3 else list(vals)


def _pad_explicit(b: _Builder, x: _Val, pads2d: list[tuple[int, int]]) -> _Val:
    n, h, w, c = _ir_shape(x)
    (ph0, ph1), (pw0, pw1) = pads2d
    shape = (n, h + ph0 + ph1, w + pw0 + pw1, c)
    paddings = b.const(f"{x.name}_pads", [[0, 0], [ph0, ph1], [pw0, pw1], [0, 0]])
    name = b.emit(Op.PAD, [x.name, paddings], shape, f"{x.name}_padded")
    # A cl value of ONNX rank 3 is stored with height 1; padding only its width keeps that form.
    onnx_shape = (n, c, shape[1], shape[2]) if x.rank == 4 else (n, c, shape[2])
    return _Val(name, onnx_shape, cl=True, nonneg=x.nonneg)


def _spatial(x: _Val) -> list[int]:
    n, h, w, c = _ir_shape(x)
    return [h, w]


def _onnx_out(x: _Val, channels: int, hw: list[int]) -> tuple:
    n = x.shape[0]
    return (n, channels, hw[0], hw[1]) if x.rank == 4 else (n, channels, hw[1])


@_converts("Conv")
def _conv(b: _Builder, node, ins, at) -> list:
    x = b.channels_last(b.need_act(ins[0]))
    w = b.need_const(ins[1], "weight").astype(np.float32)
    bias = ins[2] if len(ins) > 2 else None
    if bias is not None:
        bias = b.need_const(bias, "bias").astype(np.float32).reshape(-1)
    if w.ndim != x.rank:
        raise b.fail(f"weight of rank {w.ndim} does not fit input {list(x.shape)}")
    cin, cout, group = x.shape[1], w.shape[0], int(at.get("group", 1))
    if bias is None:
        bias = np.zeros(cout, np.float32)
    if bias.size != cout:
        raise b.fail(f"bias has {bias.size} values for {cout} output channels")
    kernel = list(w.shape[2:]) if "kernel_shape" not in at else list(at["kernel_shape"])
    if kernel != list(w.shape[2:]):
        raise b.fail(f"kernel_shape {kernel} does not match the weight shape {list(w.shape)}")
    if w.ndim == 3:  # 1-D: weights [Co, Ci/g, K] -> [Co, Ci/g, 1, K]
        w = w[:, :, None, :]
    for k in ("strides", "dilations"):
        if k in at and len(at[k]) != x.rank - 2:
            raise b.fail(f"{k} {at[k]} do not fit the {x.rank - 2} spatial dimension(s) of input {list(x.shape)}")
    at2 = {k: _to_2d(at[k], x.rank, f) for k, f in (("strides", 1), ("dilations", 1)) if k in at}
    if "pads" in at:
        p = list(at["pads"])
        if len(p) != 2 * (x.rank - 2):
            raise b.fail(f"pads {p} do not fit the {x.rank - 2} spatial dimension(s) of input {list(x.shape)}")
        at2["pads"] = p if x.rank == 4 else [0, p[0], 0, p[1]]
    if "auto_pad" in at:
        at2["auto_pad"] = at["auto_pad"]
    win = _window(b, at2, _spatial(x), list(w.shape[2:]))
    padding = win.padding(_spatial(x))
    if padding is None:
        x = _pad_explicit(b, x, win.explicit_pads(_spatial(x)))
        padding = "VALID"
    geo = dict(padding=padding, stride_h=win.strides[0], stride_w=win.strides[1],
               dilation_h=win.dilations[0], dilation_w=win.dilations[1])
    shape = (x.shape[0], win.out[0], win.out[1], cout)
    if group == 1:
        if w.shape[1] != cin:
            raise b.fail(f"weight expects {w.shape[1]} input channels, the input has {cin}")
        wt = b.const(f"{b.out_name()}_weights", w.transpose(0, 2, 3, 1))     # [Co, Kh, Kw, Ci]
        bt = b.const(f"{b.out_name()}_bias", bias)
        out = b.emit(Op.CONV_2D, [x.name, wt, bt], shape, b.out_name(), **geo)
    elif group == cin and w.shape[1] == 1 and cout % cin == 0:
        wt = b.const(f"{b.out_name()}_weights", w.transpose(1, 2, 3, 0))     # [1, Kh, Kw, Co]
        bt = b.const(f"{b.out_name()}_bias", bias)
        out = b.emit(Op.DEPTHWISE_CONV_2D, [x.name, wt, bt], shape, b.out_name(),
                     depth_multiplier=cout // cin, **geo)
    else:
        raise b.fail(f"grouped convolution (group={group}, {cin} input channels) is not supported; "
                     "only group=1 and depthwise (group = input channels) are")
    return [_Val(out, _onnx_out(x, cout, win.out), cl=True)]


@_converts("MaxPool", "AveragePool")
def _pool(b: _Builder, node, ins, at) -> list:
    x = b.channels_last(b.need_act(ins[0]))
    if len(node.output) > 1 and node.output[1]:
        raise b.fail("the Indices output of MaxPool is not supported")
    kernel = list(at.get("kernel_shape", []))
    if len(kernel) != x.rank - 2:
        raise b.fail(f"kernel_shape {kernel} does not fit input {list(x.shape)}")
    if any(d != 1 for d in at.get("dilations", [1] * len(kernel))):
        raise b.fail(f"dilated pooling (dilations {list(at['dilations'])}) is not supported")
    if "strides" in at and len(at["strides"]) != x.rank - 2:
        raise b.fail(f"strides {at['strides']} do not fit the {x.rank - 2} spatial dimension(s) of input "
                     f"{list(x.shape)}")
    at2 = {k: _to_2d(at[k], x.rank, 1) for k in ("strides",) if k in at}
    if "pads" in at:
        p = list(at["pads"])
        if len(p) != 2 * (x.rank - 2):
            raise b.fail(f"pads {p} do not fit the {x.rank - 2} spatial dimension(s) of input {list(x.shape)}")
        at2["pads"] = p if x.rank == 4 else [0, p[0], 0, p[1]]
    if "auto_pad" in at:
        at2["auto_pad"] = at["auto_pad"]
    win = _window(b, at2, _spatial(x), _to_2d(kernel, x.rank, 1), bool(at.get("ceil_mode", 0)))
    padding = win.padding(_spatial(x))
    is_max = node.op_type == "MaxPool"
    if padding is None or (not is_max and at.get("count_include_pad", 0) and any(win.pad_begin)):
        # ONNX averages padded zeros in only with count_include_pad=1, exactly what a PAD in
        # front of a VALID pool does; a max pool may pad zeros when its input is >= 0.
        if is_max and not x.nonneg:
            raise b.fail(f"MaxPool pads {list(at.get('pads', []))} are neither SAME nor VALID for "
                         f"input {list(x.shape)}, and the input is not known to be >= 0 (then zero "
                         "padding would be exact); not supported")
        if not is_max and not at.get("count_include_pad", 0):
            raise b.fail(f"AveragePool pads {list(at.get('pads', []))} with count_include_pad=0 are "
                         f"neither SAME nor VALID for input {list(x.shape)}; not supported")
        if not is_max and any((o - 1) * s + k > i + pb + pe for o, s, k, i, pb, pe in
                              zip(win.out, win.strides, win.kernel, _spatial(x), win.pad_begin, win.pad_end)):
            raise b.fail("ceil_mode windows past the padding with count_include_pad=1 are not supported")
        x = _pad_explicit(b, x, win.explicit_pads(_spatial(x)))
        padding = "VALID"
    shape = (x.shape[0], win.out[0], win.out[1], x.shape[1])
    op = Op.MAX_POOL_2D if is_max else Op.AVERAGE_POOL_2D
    out = b.emit(op, [x.name], shape, b.out_name(), padding=padding, stride_h=win.strides[0],
                 stride_w=win.strides[1], filter_h=win.kernel[0], filter_w=win.kernel[1])
    return [_Val(out, _onnx_out(x, x.shape[1], win.out), cl=True, nonneg=x.nonneg)]


def _global_pool(b: _Builder, x: _Val, is_max: bool, name: str | None) -> _Val:
    """Mean or max over all spatial axes, keeping them as size 1."""
    x = b.channels_last(x)
    n, h, w, c = _ir_shape(x)
    if is_max:
        out = b.emit(Op.MAX_POOL_2D, [x.name], (n, 1, 1, c), name, padding="VALID",
                     stride_h=1, stride_w=1, filter_h=h, filter_w=w)
    else:
        out = b.emit(Op.MEAN, [x.name, b.const(f"{name or x.name}_axes", [1, 2])], (n, 1, 1, c), name,
                     keep_dims=True)
    return _Val(out, x.shape[:2] + (1,) * (x.rank - 2), cl=True, nonneg=x.nonneg)


@_converts("GlobalAveragePool", "GlobalMaxPool")
def _global(b: _Builder, node, ins, at) -> list:
    return [_global_pool(b, b.need_act(ins[0]), node.op_type == "GlobalMaxPool", b.out_name())]


@_converts("ReduceMax")
def _reduce_max(b: _Builder, node, ins, at) -> list:
    """Only over all spatial axes: a global max pool (torch.export writes AdaptiveMaxPool(1) so)."""
    x = b.need_act(ins[0])
    axes = _axes_operand(b, ins, at)
    axes = sorted({_axis(b, a, x.rank) for a in axes}) if axes else list(range(x.rank))
    if x.rank not in (3, 4) or axes != list(range(2, x.rank)):
        raise b.fail(f"ReduceMax over axes {axes} of shape {list(x.shape)} is not supported; only over "
                     "all spatial axes of a [N,C,L] or [N,C,H,W] tensor (a global max pool)")
    if at.get("keepdims", 1):
        return [_global_pool(b, x, True, b.out_name())]
    return _reshape_to(b, _global_pool(b, x, True, None), x.shape[:2])


# ---------------------------------------------------------------------------------------------
# Dense layers


def _fully_connected(b: _Builder, x: _Val, weights: np.ndarray, bias: np.ndarray, name: str) -> _Val:
    """y = x @ weights.T + bias over the last axis; weights [out, in]."""
    x = b.plain(x)
    if x.shape[-1] != weights.shape[1]:
        raise b.fail(f"input {list(x.shape)} does not fit weights of {weights.shape[1]} inputs")
    shape = x.shape[:-1] + (weights.shape[0],)
    wt = b.const(f"{b.out_name()}_weights", weights.astype(np.float32))
    bt = b.const(f"{b.out_name()}_bias", bias.astype(np.float32))
    out = b.emit(Op.FULLY_CONNECTED, [x.name, wt, bt], shape, name, keep_num_dims=x.rank > 2)
    return _Val(out, shape)


@_converts("Gemm")
def _gemm(b: _Builder, node, ins, at) -> list:
    a = b.plain(b.need_act(ins[0], "input A"))
    w = b.need_const(ins[1], "input B (weights)").astype(np.float32)
    c = ins[2] if len(ins) > 2 else None
    if a.rank != 2 or w.ndim != 2:
        raise b.fail(f"Gemm needs 2-D operands, got {list(a.shape)} and {list(w.shape)}")
    if at.get("transA", 0):
        a = _Val(b.transpose(a.name, (1, 0), a.shape), a.shape[::-1])
    w = w * np.float32(at.get("alpha", 1.0))
    w = w if at.get("transB", 0) else w.T                      # -> [N, K]
    n_out = w.shape[0]
    beta = np.float32(at.get("beta", 1.0))
    bias = np.zeros(n_out, np.float32)
    add = None
    if isinstance(c, np.ndarray):
        if c.size in (1, n_out) and (c.ndim < 2 or c.shape[0] == 1):
            bias = np.broadcast_to(c.astype(np.float32).reshape(-1) * beta, (n_out,))
        else:
            add = c.astype(np.float32) * beta
    elif isinstance(c, _Val):
        if beta != 1:
            raise b.fail("a computed C input with beta != 1 is not supported")
        add = c
    y = _fully_connected(b, a, w, bias, None if add is not None else b.out_name())
    if add is None:
        return [y]
    shape = _broadcast(b, y.shape, add.shape)
    other = b.plain(add).name if isinstance(add, _Val) else b.const(f"{b.out_name()}_c", add)
    return [_Val(b.emit(Op.ADD, [y.name, other], shape, b.out_name()), shape)]


@_converts("MatMul")
def _matmul(b: _Builder, node, ins, at) -> list:
    a, w = ins
    if isinstance(a, _Val) and isinstance(w, np.ndarray) and w.ndim == 2 and a.rank >= 1:
        y = _fully_connected(b, a, w.astype(np.float32).T, np.zeros(w.shape[1], np.float32),
                             b.out_name())
        return [y]
    raise b.fail("MatMul is supported with a computed left operand and a constant 2-D right "
                 "operand (weights); a product of two computed tensors would need BATCH_MATMUL")


@_converts("BatchNormalization")
def _batchnorm(b: _Builder, node, ins, at) -> list:
    x = b.need_act(ins[0])
    if at.get("training_mode", 0):
        raise b.fail("training_mode=1: export the model in eval mode")
    gamma, beta, mean, var = (b.need_const(v, w).astype(np.float64) for v, w in
                              zip(ins[1:5], ("scale", "B", "input_mean", "input_var")))
    c = x.shape[1] if x.rank > 1 else 1
    if not all(t.size == c for t in (gamma, beta, mean, var)):
        raise b.fail(f"scale/B/mean/var must hold {c} values (one per channel)")
    scale = gamma / np.sqrt(var + float(at.get("epsilon", 1e-5)))
    shift = beta - mean * scale
    # Channel axis 1, broadcast over the rest: an MUL and an ADD (passes fold them into the
    # conv or dense layer before, when there is one).
    per_channel = (c,) + (1,) * (x.rank - 2)
    y = _elementwise_const(b, Op.MUL, x, scale.reshape(per_channel), None)
    return [_elementwise_const(b, Op.ADD, y, shift.reshape(per_channel), b.out_name())]


# ---------------------------------------------------------------------------------------------
# Element-wise


def _elementwise_const(b: _Builder, op: Op, x: _Val, c: np.ndarray, name: str | None,
                       const_first: bool = False) -> _Val:
    shape = _broadcast(b, x.shape, c.shape)
    if x.cl and len(shape) != x.rank:
        x = b.plain(x)
    arr = _cl_const(c, x.rank) if x.cl else c.reshape((1,) * (len(shape) - c.ndim) + c.shape)
    cname = b.const(f"{name or b.out_name()}_{'k' if op is Op.MUL else 'c'}",
                    _strip_leading_ones(arr.astype(np.float32)))
    ins = [cname, x.name] if const_first else [x.name, cname]
    ir_shape = _cl_shape(shape) if x.cl else shape
    return _Val(b.emit(op, ins, ir_shape, name), shape, cl=x.cl)


@_converts("Add", "Sub", "Mul", "Div")
def _binary(b: _Builder, node, ins, at) -> list:
    x, y = ins
    op = {"Add": Op.ADD, "Sub": Op.SUB, "Mul": Op.MUL, "Div": Op.MUL}[node.op_type]
    if node.op_type == "Div":
        if not isinstance(y, np.ndarray):
            raise b.fail("division by a computed tensor is not supported (only by a constant, "
                         "which becomes a MUL by its reciprocal)")
        y = np.asarray(1.0 / y.astype(np.float64))
    if isinstance(y, np.ndarray):
        return [_elementwise_const(b, op, b.need_act(x), y.astype(np.float32), b.out_name())]
    if isinstance(x, np.ndarray):
        return [_elementwise_const(b, op, b.need_act(y), x.astype(np.float32), b.out_name(),
                                   const_first=True)]
    for v, gate in ((x, y), (y, x)) if op is Op.MUL else ():
        if b.hard_sigmoid_of.get(gate.name) == v.name:
            # v * HardSigmoid(v) with alpha 1/6, beta 1/2 is v's hard swish (exports before opset 14)
            out = b.emit(Op.HARD_SWISH, [v.name], _ir_shape(v), b.out_name())
            return [replace(v, name=out)]
    shape = _broadcast(b, x.shape, y.shape)
    if x.cl != y.cl or (x.cl and x.rank != y.rank):
        if x.rank == y.rank == len(shape) and x.rank in (3, 4):
            x, y = b.channels_last(x), b.channels_last(y)
        else:
            x, y = b.plain(x), b.plain(y)
    cl = x.cl
    ir_shape = _cl_shape(shape) if cl else shape
    out = b.emit(op, [x.name, y.name], ir_shape, b.out_name())
    return [_Val(out, shape, cl=cl, nonneg=x.nonneg and y.nonneg and op is not Op.SUB)]


def _unary(op: Op, nonneg: bool = False, **attrs):
    def convert(b: _Builder, node, ins, at) -> list:
        x = b.need_act(ins[0])
        out = b.emit(op, [x.name], _ir_shape(x), b.out_name(), **attrs)
        return [replace(x, name=out, nonneg=nonneg or (x.nonneg and op is not Op.TANH))]
    return convert


_converts("Relu")(_unary(Op.RELU, nonneg=True))
_converts("Sigmoid")(_unary(Op.LOGISTIC, nonneg=True))
_converts("Tanh")(_unary(Op.TANH))
_converts("HardSwish")(_unary(Op.HARD_SWISH))


@_converts("LeakyRelu")
def _leaky_relu(b: _Builder, node, ins, at) -> list:
    return _unary(Op.LEAKY_RELU, alpha=float(at.get("alpha", 0.01)))(b, node, ins, at)


@_converts("Clip")
def _clip(b: _Builder, node, ins, at) -> list:
    x = b.need_act(ins[0])
    lo, hi = at.get("min"), at.get("max")       # opset < 11: attributes
    if len(ins) > 1 and ins[1] is not None:
        lo = b.need_scalar(ins[1], "min")
    if len(ins) > 2 and ins[2] is not None:
        hi = b.need_scalar(ins[2], "max")
    lo = None if lo is None or lo <= -3.4e38 else float(lo)
    hi = None if hi is None or hi >= 3.4e38 else float(hi)
    if (lo, hi) == (None, None):
        return [x]
    if (lo, hi) == (0.0, 6.0):
        return _unary(Op.RELU6, nonneg=True)(b, node, [x], at)
    if (lo, hi) == (0.0, None):
        return _unary(Op.RELU, nonneg=True)(b, node, [x], at)
    if (lo, hi) == (-1.0, 1.0):
        # TFLite's RELU_N1_TO_1 lives on as a fused activation only (TFLM has no kernel for the
        # op): a MUL by 1 carries it, and passes move it into the op before when they can.
        one = b.const(f"{b.out_name()}_one", np.float32([1.0]))
        out = b.emit(Op.MUL, [x.name, one], _ir_shape(x), b.out_name(), activation="RELU_N1_TO_1")
        return [replace(x, name=out, nonneg=False)]
    raise b.fail(f"Clip to [{lo}, {hi}] is not supported; only [0, 6] (RELU6), [-1, 1] "
                 "(RELU_N1_TO_1) and [0, inf) (RELU) are")


@_converts("HardSigmoid")
def _hard_sigmoid(b: _Builder, node, ins, at) -> list:
    # max(0, min(1, a*x + b)) = RELU6(6a*x + 6b) / 6
    x = b.need_act(ins[0])
    alpha, beta = float(at.get("alpha", 0.2)), float(at.get("beta", 0.5))
    y = _elementwise_const(b, Op.MUL, x, np.float32([6 * alpha]), None)
    y = _elementwise_const(b, Op.ADD, y, np.float32([6 * beta]), None)
    y = replace(y, name=b.emit(Op.RELU6, [y.name], _ir_shape(y)))
    y = replace(_elementwise_const(b, Op.MUL, y, np.float32([1 / 6]), b.out_name()), nonneg=True)
    if abs(alpha - 1 / 6) < 1e-6 and beta == 0.5:
        b.hard_sigmoid_of[y.name] = x.name  # x * this is x's hard swish (see _binary)
    return [y]


@_converts("Identity", "Dropout")
def _identity(b: _Builder, node, ins, at) -> list:
    if node.op_type == "Dropout" and len(node.output) > 1 and node.output[1]:
        raise b.fail("the mask output of Dropout is not supported")
    return [b.need_act(ins[0])]


@_converts("Cast")
def _cast(b: _Builder, node, ins, at) -> list:
    if int(at.get("to", 0)) != 1:  # FLOAT
        raise b.fail("only casts to float32 of float32 tensors are supported")
    return [b.need_act(ins[0])]


# ---------------------------------------------------------------------------------------------
# Shape and axis ops


@_converts("Reshape")
def _reshape(b: _Builder, node, ins, at) -> list:
    x = b.plain(b.need_act(ins[0]))
    spec = b.need_ints(ins[1], "shape")
    shape = []
    for k, d in enumerate(spec):
        if d == 0 and not at.get("allowzero", 0):
            if k >= x.rank:
                raise b.fail(f"shape {spec} copies dimension {k} of a rank-{x.rank} input")
            d = x.shape[k]
        shape.append(d)
    if shape.count(-1) > 1 or any(d < -1 for d in shape):
        raise b.fail(f"invalid target shape {spec}")
    known = math.prod(d for d in shape if d != -1)
    size = math.prod(x.shape)
    if -1 in shape:
        if known == 0 or size % known:
            raise b.fail(f"cannot reshape {list(x.shape)} to {spec}")
        shape[shape.index(-1)] = size // known
    if math.prod(shape) != size:
        raise b.fail(f"cannot reshape {list(x.shape)} ({size} values) to {shape}")
    return [_Val(b.reshape(x, tuple(shape), b.out_name()), tuple(shape), nonneg=x.nonneg)]


def _reshape_to(b: _Builder, x: _Val, shape: tuple) -> list:
    x = b.plain(x)
    return [_Val(b.reshape(x, tuple(shape), b.out_name()), tuple(shape), nonneg=x.nonneg)]


@_converts("Flatten")
def _flatten(b: _Builder, node, ins, at) -> list:
    x = b.need_act(ins[0])
    axis = at.get("axis", 1)
    axis = axis if axis == x.rank else _axis(b, axis, x.rank)
    return _reshape_to(b, x, (math.prod(x.shape[:axis]), math.prod(x.shape[axis:])))


def _axes_operand(b: _Builder, ins, at, what: str = "axes") -> list[int] | None:
    if len(ins) > 1 and ins[1] is not None:
        return b.need_ints(ins[1], what)
    return list(at["axes"]) if "axes" in at else None


@_converts("Squeeze")
def _squeeze(b: _Builder, node, ins, at) -> list:
    x = b.need_act(ins[0])
    axes = _axes_operand(b, ins, at)
    axes = [k for k, d in enumerate(x.shape) if d == 1] if axes is None else \
        [_axis(b, a, x.rank) for a in axes]
    if any(x.shape[a] != 1 for a in axes):
        raise b.fail(f"cannot squeeze axes {axes} of shape {list(x.shape)}")
    return _reshape_to(b, x, tuple(d for k, d in enumerate(x.shape) if k not in axes))


@_converts("Unsqueeze")
def _unsqueeze(b: _Builder, node, ins, at) -> list:
    x = b.need_act(ins[0])
    axes = _axes_operand(b, ins, at)
    if axes is None:
        raise b.fail("axes are missing")
    rank = x.rank + len(axes)
    axes = sorted(_axis(b, a, rank) for a in axes)
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    return _reshape_to(b, x, tuple(shape))


@_converts("Transpose")
def _transpose(b: _Builder, node, ins, at) -> list:
    x = b.plain(b.need_act(ins[0]))
    perm = list(at.get("perm", range(x.rank)[::-1]))
    if sorted(perm) != list(range(x.rank)):
        raise b.fail(f"perm {perm} is not a permutation of {x.rank} axes")
    out = b.transpose(x.name, tuple(perm), x.shape, b.out_name())
    return [_Val(out, tuple(x.shape[p] for p in perm), nonneg=x.nonneg)]


@_converts("Concat")
def _concat(b: _Builder, node, ins, at) -> list:
    acts = [v for v in ins if isinstance(v, _Val)]
    if not acts:
        raise b.fail("has no computed input")
    rank = acts[0].rank
    if any(len(np.shape(v) if isinstance(v, np.ndarray) else v.shape) != rank for v in ins if v is not None):
        raise b.fail("inputs have different ranks")
    axis = _axis(b, int(at.get("axis", 0)), rank)
    cl = any(v.cl for v in acts) and rank in (3, 4)   # convs before or after: keep channels last
    names, shapes = [], []
    for v in ins:
        if v is None:
            continue
        if isinstance(v, np.ndarray):
            arr = _cl_const(v.astype(np.float32), rank) if cl else v.astype(np.float32)
            names.append(b.const(f"{b.out_name()}_part", arr))
            shapes.append(tuple(v.shape))
        else:
            v = b.channels_last(v) if cl else v
            names.append(v.name)
            shapes.append(v.shape)
    for s in shapes:
        if s[:axis] + s[axis + 1:] != shapes[0][:axis] + shapes[0][axis + 1:]:
            raise b.fail(f"input shapes {[list(s) for s in shapes]} differ outside axis {axis}")
    shape = list(shapes[0])
    shape[axis] = sum(s[axis] for s in shapes)
    shape = tuple(shape)
    ir_axis = _CL_AXES[rank][axis] if cl else axis
    out = b.emit(Op.CONCATENATION, names, _cl_shape(shape) if cl else shape, b.out_name(), axis=ir_axis)
    return [_Val(out, shape, cl=cl, nonneg=all(v.nonneg for v in acts) and len(acts) == len(names))]


@_converts("Pad")
def _pad(b: _Builder, node, ins, at) -> list:
    x = b.need_act(ins[0])
    mode = at.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode != "constant":
        raise b.fail(f"mode '{mode}' is not supported (only 'constant')")
    pads = b.need_ints(ins[1], "pads") if len(ins) > 1 and ins[1] is not None else \
        list(at.get("pads", []))
    value = 0.0
    if len(ins) > 2 and ins[2] is not None:
        value = b.need_scalar(ins[2], "constant_value")
    elif "value" in at:
        value = float(at["value"])
    if value != 0.0:
        raise b.fail(f"padding with {value} is not supported (only with zeros)")
    axes = list(range(x.rank))
    if len(ins) > 3 and ins[3] is not None:
        axes = [_axis(b, a, x.rank) for a in b.need_ints(ins[3], "axes")]
    if len(pads) != 2 * len(axes):
        raise b.fail(f"pads {pads} do not fit {len(axes)} axes")
    per_axis = [(0, 0)] * x.rank
    for k, a in enumerate(axes):
        per_axis[a] = (pads[k], pads[k + len(axes)])
    if any(p < 0 for pair in per_axis for p in pair):
        raise b.fail(f"negative pads {pads} (cropping) are not supported")
    shape = tuple(d + p0 + p1 for d, (p0, p1) in zip(x.shape, per_axis))
    if x.cl:
        ir = [(0, 0)] * 4
        for a, pair in enumerate(per_axis):
            ir[_CL_AXES[x.rank][a]] = pair
        per_axis = ir
    out = b.emit(Op.PAD, [x.name, b.const(f"{b.out_name()}_pads", per_axis)],
                 _cl_shape(shape) if x.cl else shape, b.out_name())
    return [_Val(out, shape, cl=x.cl, nonneg=x.nonneg)]


@_converts("ReduceMean")
def _reduce_mean(b: _Builder, node, ins, at) -> list:
    x = b.need_act(ins[0])
    axes = _axes_operand(b, ins, at)
    keep = bool(at.get("keepdims", 1))
    if not axes:
        if axes is not None and at.get("noop_with_empty_axes", 0):
            return [x]
        axes = list(range(x.rank))
    axes = sorted({_axis(b, a, x.rank) for a in axes})
    shape = tuple(1 if k in axes else d for k, d in enumerate(x.shape) if keep or k not in axes)
    if x.cl:
        # Reduce in place when what is left keeps ONNX order (always with keepdims; without,
        # when the channels or all the spatial axes go: a global pool).
        kept = [_CL_AXES[x.rank][a] for a in range(x.rank) if a not in axes]
        if keep or kept == sorted(kept):
            ir_axes = sorted({_CL_AXES[x.rank][a] for a in axes} | ({1} if x.rank == 3 and not keep else set()))
            out = b.emit(Op.MEAN, [x.name, b.const(f"{b.out_name()}_axes", ir_axes)],
                         _cl_shape(shape) if keep else shape, b.out_name(), keep_dims=keep)
            return [_Val(out, shape, cl=keep, nonneg=x.nonneg)]
        x = b.plain(x)
    out = b.emit(Op.MEAN, [x.name, b.const(f"{b.out_name()}_axes", axes)], shape, b.out_name(),
                 keep_dims=keep)
    return [_Val(out, shape, nonneg=x.nonneg)]


@_converts("Softmax")
def _softmax(b: _Builder, node, ins, at) -> list:
    x = b.need_act(ins[0])
    axis = _axis(b, int(at.get("axis", -1 if b.opset >= 13 else 1)), x.rank)
    joint = b.opset < 13 and any(d != 1 for d in x.shape[axis + 1:])  # see below
    if x.cl and axis == 1 and not joint:   # the channels are the last IR axis
        out = b.emit(Op.SOFTMAX, [x.name], _ir_shape(x), b.out_name(), beta=1.0)
        return [replace(x, name=out, nonneg=True)]
    x = b.plain(x)
    if axis == x.rank - 1:
        return [_Val(b.emit(Op.SOFTMAX, [x.name], x.shape, b.out_name(), beta=1.0), x.shape, nonneg=True)]
    if joint:
        # Before opset 13 Softmax normalizes over all axes from `axis` on, as one.
        flat = (math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))
        s = b.emit(Op.SOFTMAX, [b.reshape(x, flat)], flat, beta=1.0)
        return [_Val(b.reshape(_Val(s, flat), x.shape, b.out_name()), x.shape, nonneg=True)]
    # One axis in the middle: move it last and back.
    perm = [k for k in range(x.rank) if k != axis] + [axis]
    moved_shape = tuple(x.shape[p] for p in perm)
    s = b.emit(Op.SOFTMAX, [b.transpose(x.name, tuple(perm), x.shape)], moved_shape, beta=1.0)
    inverse = tuple(int(k) for k in np.argsort(perm))
    return [_Val(b.transpose(s, inverse, moved_shape, b.out_name()), x.shape, nonneg=True)]


# ---------------------------------------------------------------------------------------------
# Constant evaluation


def _evaluate(b: _Builder, node, ins: list) -> list[np.ndarray]:
    """A node whose inputs are constants, by onnx's reference evaluator at the model's opset."""
    import onnx
    from onnx import helper
    from onnx.reference import ReferenceEvaluator
    feeds, names = {}, []
    for k, (name, v) in enumerate(zip(node.input, ins)):
        if not name:
            names.append("")
            continue
        if isinstance(v, _Val):  # Shape / Size of an activation: only its (static) shape matters
            v = np.zeros(v.shape, np.float32)
        names.append(f"in{k}")
        feeds[f"in{k}"] = v
    n = onnx.NodeProto()
    n.CopyFrom(node)
    del n.input[:]
    n.input.extend(names)
    del n.output[:]
    n.output.extend(f"out{k}" if o else "" for k, o in enumerate(node.output))
    vi = onnx.TypeProto()
    graph = helper.make_graph([n], "fold", [helper.make_value_info(k, vi) for k in feeds],
                              [helper.make_value_info(f"out{k}", vi) for k, o in enumerate(node.output) if o])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", b.opset)])
    try:
        outs = ReferenceEvaluator(model).run(None, feeds)
    except Exception as e:  # the evaluator raises anything on inputs it cannot take
        raise b.fail(f"cannot evaluate this constant expression ({type(e).__name__}: {e})") from None
    return [np.asarray(o) for o in outs]


# ---------------------------------------------------------------------------------------------
# The walk


def _op_key(node) -> str:
    return node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}::{node.op_type}"


def _foldable(node, consts: set[str]) -> bool:
    if node.domain not in ("", "ai.onnx") or node.op_type in _NEVER_FOLD:
        return False
    if node.op_type in ("Shape", "Size"):
        return True  # every shape is static here
    return all(i in consts for i in node.input if i)


def _check_supported(model, inits: dict, path: str) -> None:
    consts = set(inits)
    bad: dict[str, list[str]] = {}
    for i, node in enumerate(model.graph.node):
        if _foldable(node, consts):
            consts.update(o for o in node.output if o)
        elif _op_key(node) not in _CONVERTERS:
            bad.setdefault(_op_key(node), []).append(node.name or f"#{i}")
    if bad:
        detail = ", ".join(f"{op} (x{len(names)}, first node '{names[0]}')" for op, names in sorted(bad.items()))
        raise MicrolithError(f"{path}: unsupported ONNX op(s): {detail}. Supported: "
                             + ", ".join(sorted(_CONVERTERS)))


def _convert(model, path: str, name: str | None, input_shape) -> Graph:
    opset = _opset(model, path)
    inits = _initializers(model, path)
    shapes = _input_shapes(model, inits, input_shape, path)
    _check_references(model, set(inits) | set(shapes), path)
    _check_supported(model, inits, path)

    b = _Builder(path, opset)
    values: dict[str, object] = dict(inits)          # ONNX name -> np.ndarray or _Val
    consts = set(inits)
    for inp, shape in shapes.items():
        b.tensors[inp] = Tensor(inp, shape, "float32")
        values[inp] = _Val(inp, shape)

    for node in model.graph.node:
        b.node = node
        ins = []
        for name_ in node.input:
            if name_ and name_ not in values:
                raise b.fail(f"reads '{name_}', an output of its producer that microlith does not compute")
            ins.append(values[name_] if name_ else None)
        if _foldable(node, consts):
            outs = _evaluate(b, node, ins)
            consts.update(o for o in node.output if o)
        else:
            _check_arity(b, node)
            outs = _CONVERTERS[_op_key(node)](b, node, ins, _attributes(b, node))
        for out_name, v in zip(node.output, outs):
            if out_name:
                values[out_name] = v
    b.node = None
    outputs: list[str] = []
    for o in model.graph.output:
        if o.name in shapes:
            raise MicrolithError(f"{path}: graph output '{o.name}' is a graph input; nothing to compute")
        outputs.append(_graph_output(b, values[o.name], o.name, set(outputs)))
    stem = os.path.splitext(os.path.basename(path))[0]
    graph = Graph(c_identifier(name or stem), b.tensors, b.nodes, list(shapes), outputs,
                  source=path, meta={"format": "onnx", "opset": opset})
    graph = prune(graph)  # e.g. a layout change made for a value only an unused output reads
    graph.validate()
    return graph


# Inputs (min, max) and outputs (max) of each converted op type, per the ONNX operator spec;
# optional trailing inputs may also be present but empty ("").
_ARITY = {"Conv": (2, 3, 1), "MaxPool": (1, 1, 2), "AveragePool": (1, 1, 1), "GlobalAveragePool": (1, 1, 1),
          "GlobalMaxPool": (1, 1, 1), "ReduceMax": (1, 2, 1), "ReduceMean": (1, 2, 1), "Gemm": (2, 3, 1),
          "MatMul": (2, 2, 1), "BatchNormalization": (5, 5, 3), "Add": (2, 2, 1), "Sub": (2, 2, 1),
          "Mul": (2, 2, 1), "Div": (2, 2, 1), "LeakyRelu": (1, 1, 1), "Clip": (1, 3, 1),
          "HardSigmoid": (1, 1, 1), "Identity": (1, 1, 1), "Dropout": (1, 3, 2), "Cast": (1, 1, 1),
          "Reshape": (2, 2, 1), "Flatten": (1, 1, 1), "Squeeze": (1, 2, 1), "Unsqueeze": (1, 2, 1),
          "Transpose": (1, 1, 1), "Concat": (1, 1 << 16, 1), "Pad": (1, 4, 1), "Softmax": (1, 1, 1),
          "Relu": (1, 1, 1), "Sigmoid": (1, 1, 1), "Tanh": (1, 1, 1), "HardSwish": (1, 1, 1)}


def _check_arity(b: _Builder, node) -> None:
    lo, hi, outs = _ARITY[node.op_type]
    n_in = len(node.input)
    if not lo <= n_in <= hi or any(not name for name in node.input[:lo]):
        want = f"{lo}" if lo == hi else f"{lo} to {hi}"
        raise b.fail(f"has {n_in} input(s) ({list(node.input)}); {node.op_type} takes {want}")
    if not node.output or not node.output[0] or len(node.output) > outs:
        raise b.fail(f"has outputs {list(node.output)}; {node.op_type} writes 1 to {outs}, the first named")


# The type each attribute the converters read must have (onnx.AttributeProto.AttributeType).
_ATTR_INTS = {"kernel_shape", "strides", "pads", "dilations", "perm", "axes"}
_ATTR_INT = {"group", "axis", "keepdims", "transA", "transB", "ceil_mode", "allowzero", "to",
             "training_mode", "noop_with_empty_axes", "count_include_pad", "storage_order"}
_ATTR_FLOAT = {"alpha", "beta", "epsilon", "min", "max", "value"}
_ATTR_STRING = {"auto_pad", "mode"}


def _attributes(b: _Builder, node) -> dict:
    from onnx import AttributeProto, helper
    want = {**{k: AttributeProto.INTS for k in _ATTR_INTS}, **{k: AttributeProto.INT for k in _ATTR_INT},
            **{k: AttributeProto.FLOAT for k in _ATTR_FLOAT}, **{k: AttributeProto.STRING for k in _ATTR_STRING}}
    out = {}
    for a in node.attribute:
        if a.name in want and a.type != want[a.name]:
            names = {v: k for k, v in AttributeProto.AttributeType.items()}
            raise b.fail(f"attribute '{a.name}' is of type {names.get(a.type, a.type)}; "
                         f"{node.op_type} needs {names[want[a.name]]}")
        try:
            out[a.name] = helper.get_attribute_value(a)
        except Exception as e:  # an attribute with no or an unknown type
            raise b.fail(f"attribute '{a.name}' cannot be read ({type(e).__name__}: {e})") from None
        if a.type == AttributeProto.STRING and a.name in _ATTR_STRING:
            try:
                out[a.name] = out[a.name].decode()
            except UnicodeDecodeError:
                raise b.fail(f"attribute '{a.name}' is not valid UTF-8 text") from None
        elif a.type == AttributeProto.FLOAT and a.name in _ATTR_FLOAT and not math.isfinite(out[a.name]):
            if a.name not in ("min", "max"):  # Clip's bounds may be +-inf
                raise b.fail(f"attribute '{a.name}' is {out[a.name]}; it must be finite")
        elif a.type == AttributeProto.INTS:
            out[a.name] = [int(v) for v in out[a.name]]
    return out


def _graph_output(b: _Builder, v, onnx_name: str, taken: set[str]) -> str:
    """The IR tensor of an ONNX graph output: in ONNX order and named as in the model."""
    if not isinstance(v, _Val):
        raise MicrolithError(f"{b.path}: graph output '{onnx_name}' is a constant; nothing to compute")
    v = b.plain(replace(v, name=b.current(v.name)))
    written = any(v.name in n.outputs for n in b.nodes)
    if v.name == onnx_name and written:
        return onnx_name
    if onnx_name in b.tensors:  # e.g. the channels-last form of this very value: rename it away
        _rename(b, onnx_name, b.unique(f"{onnx_name}_nhwc"))
        v = replace(v, name=b.current(v.name))
    if written and v.name not in taken:
        _rename(b, v.name, onnx_name)
        return onnx_name
    # A graph input passed through, or a value that already is another output: copy it.
    return b.reshape(v, v.shape, onnx_name)


def _rename(b: _Builder, old: str, new: str) -> None:
    t = b.tensors.pop(old)
    b.tensors[new] = replace(t, name=new)
    b.renamed[old] = new
    b.nodes[:] = [n.replace(inputs=tuple(new if x == old else x for x in n.inputs),
                            outputs=tuple(new if x == old else x for x in n.outputs)) for n in b.nodes]
    b._layouts = {(new if k[0] == old else k[0], k[1]): (replace(v, name=new) if v.name == old else v)
                  for k, v in b._layouts.items()}


def load_onnx(path, name: str | None = None, input_shape=None, optimize: bool = True) -> Graph:
    """An .onnx file -> float IR graph (NHWC). `input_shape` fixes dynamic input dimensions:
    one shape for a single-input model, or a list of shapes / a dict name -> shape.
    `optimize` runs passes.optimize (batch-norm folding, activation fusion, layout cleanup)."""
    import warnings
    path = str(path)
    # Constants of an untrusted file may overflow float32 when folded (a variance of 3e38, a
    # division by 1e-45): numpy's RuntimeWarnings would print on stderr even when the model
    # loads. Non-finite values are refused where they matter (quantize checks every constant).
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        graph = _convert(_read_model(path), path, name, input_shape)
        if optimize:
            from ..passes import optimize as run_passes
            graph = run_passes(graph)
    return graph
