"""Reading and validating an .onnx file: protobuf, opset, initializers, references, input shapes."""
from __future__ import annotations

import math
import os

import numpy as np

from ...ir import MicrolithError
from ..tflite import check_model_file, max_model_bytes, read_model_file
from .values import MAX_VALUE_ELEMENTS, MIN_OPSET


def read_model(path: str):
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


def opset_of(model, path: str) -> int:
    versions = {o.domain: o.version for o in model.opset_import}
    version = versions.get("", versions.get("ai.onnx"))
    if version is None:
        raise MicrolithError(f"{path}: the model imports no default ONNX opset")
    if version < MIN_OPSET:
        raise MicrolithError(f"{path}: ONNX opset {version} is too old; microlith reads opset "
                             f"{MIN_OPSET} and later (re-export with opset_version=13 or newer)")
    return int(version)


def initializers(model, path: str) -> dict[str, np.ndarray]:
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


def check_references(model, known: set[str], path: str) -> None:
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


def input_shapes(model, inits: dict, input_shape, path: str) -> dict[str, tuple]:
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


