"""The walk: validate, list unsupported ops, fold constant nodes, lower the rest through the
table (table.LOWERINGS), name the graph outputs."""
from __future__ import annotations

import math
import os
from dataclasses import replace

import numpy as np

from ...ir import Graph, MicrolithError, Tensor
from ...passes.rewrite import prune
from ..tflite import c_identifier
from .patterns import fuse_gelu
from .peephole import slices_of_concats
from .reader import check_references, initializers, input_shapes, opset_of, read_model
from .table import LOWERINGS
from .values import Builder, Val

# Ops that never fold even with constant inputs (they would need to run at inference).
_NEVER_FOLD = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial"}

# ---------------------------------------------------------------------------------------------
# Constant evaluation


def _evaluate(b: Builder, node, ins: list) -> list[np.ndarray]:
    """A node whose inputs are constants, by onnx's reference evaluator at the model's opset."""
    import onnx
    from onnx import helper
    from onnx.reference import ReferenceEvaluator
    feeds, names = {}, []
    for k, (name, v) in enumerate(zip(node.input, ins)):
        if not name:
            names.append("")
            continue
        if isinstance(v, Val):  # Shape / Size of an activation: only its (static) shape matters
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
    # A Gelu that patterns.fuse_gelu made from constants: opset 20 is the first to define it.
    opset = max(b.opset, 20) if node.op_type == "Gelu" else b.opset
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
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
        elif _op_key(node) not in LOWERINGS:
            bad.setdefault(_op_key(node), []).append(node.name or f"#{i}")
    if bad:
        detail = ", ".join(f"{op} (x{len(names)}, first node '{names[0]}')" for op, names in sorted(bad.items()))
        hints = "".join(f" {_UNSUPPORTED_HINTS[op]}" for op in sorted(bad) if op in _UNSUPPORTED_HINTS)
        raise MicrolithError(f"{path}: unsupported ONNX op(s): {detail}.{hints} Supported: "
                             + ", ".join(sorted(LOWERINGS)))


# Why an op that models often hold is not supported, and what is.
_UNSUPPORTED_HINTS = {
    "Erf": "TFLM has no Erf kernel: microlith reads Erf only inside exact GELU, 0.5 * x * (1 + Erf(x / sqrt(2))), "
           "which it lowers to GELU's tanh approximation.",
}


def _convert(model, path: str, name: str | None, input_shape) -> Graph:
    opset = opset_of(model, path)
    inits = initializers(model, path)
    shapes = input_shapes(model, inits, input_shape, path)
    check_references(model, set(inits) | set(shapes), path)
    fuse_gelu(model.graph, inits)
    _check_supported(model, inits, path)

    b = Builder(path, opset)
    values: dict[str, object] = dict(inits)          # ONNX name -> np.ndarray or Val
    consts = set(inits)
    for inp, shape in shapes.items():
        b.tensors[inp] = Tensor(inp, shape, "float32")
        values[inp] = Val(inp, shape)

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
            outs = LOWERINGS[_op_key(node)].lower(b, node, ins, _attributes(b, node))
        for out_name, v in zip(node.output, outs):
            if out_name:
                values[out_name] = v
    b.node = None
    outputs: list[str] = []
    for o in model.graph.output:
        if o.name in shapes:
            raise MicrolithError(f"{path}: graph output '{o.name}' is a graph input; nothing to compute")
        outputs.append(_graph_output(b, values[o.name], o.name, set(outputs)))
    slices_of_concats(b)  # e.g. the last step of an unrolled GRU's stacked output
    stem = os.path.splitext(os.path.basename(path))[0]
    graph = Graph(c_identifier(name or stem), b.tensors, b.nodes, list(shapes), outputs,
                  source=path, meta={"format": "onnx", "opset": opset})
    graph = prune(graph)  # e.g. a layout change made for a value only an unused output reads
    graph.validate()
    return graph


def _check_arity(b: Builder, node) -> None:
    low = LOWERINGS[node.op_type]
    lo, hi, outs = low.min_inputs, low.max_inputs, low.max_outputs
    n_in = len(node.input)
    if not lo <= n_in <= hi or any(not name for name in node.input[:lo]):
        want = f"{lo}" if lo == hi else f"{lo} to {hi}"
        raise b.fail(f"has {n_in} input(s) ({list(node.input)}); {node.op_type} takes {want}")
    if not node.output or not node.output[0] or len(node.output) > outs:
        raise b.fail(f"has outputs {list(node.output)}; {node.op_type} writes 1 to {outs}, the first named")


# The type each attribute the converters read must have (onnx.AttributeProto.AttributeType).
_ATTR_INTS = {"kernel_shape", "strides", "pads", "dilations", "perm", "axes", "split"}
_ATTR_INT = {"group", "axis", "keepdims", "transA", "transB", "ceil_mode", "allowzero", "to",
             "training_mode", "noop_with_empty_axes", "count_include_pad", "storage_order",
             "hidden_size", "layout", "linear_before_reset", "input_forget", "num_outputs"}
_ATTR_FLOAT = {"alpha", "beta", "epsilon", "min", "max", "value", "clip"}
_ATTR_STRING = {"auto_pad", "mode", "direction", "approximate"}


def _attributes(b: Builder, node) -> dict:
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


def _graph_output(b: Builder, v, onnx_name: str, taken: set[str]) -> str:
    """The IR tensor of an ONNX graph output: in ONNX order and named as in the model."""
    if not isinstance(v, Val):
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


def _rename(b: Builder, old: str, new: str) -> None:
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
        graph = _convert(read_model(path), path, name, input_shape)
        if optimize:
            from ...passes import optimize as run_passes
            graph = run_passes(graph)
    return graph
