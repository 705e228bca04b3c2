"""The values a lowering reads and writes (Val: an ONNX activation in its IR layout) and the
Builder that appends IR tensors and nodes, with the layout changes and operand checks every
lowering shares."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ...ir import ATTRS, MicrolithError, Node, Op, Tensor

MIN_OPSET = 11  # attribute-vs-input forms of opsets 11-12 are read too; exporters default to 17+
# Elements one value (graph input or computed tensor) may hold: far above any model that fits a
# microcontroller, and small enough that the float reference of `quantize` can hold it.
MAX_VALUE_ELEMENTS = 1 << 26
INT32_MAX = (1 << 31) - 1


@dataclass(frozen=True)
class Val:
    """An ONNX activation as the IR holds it."""
    name: str                   # the IR tensor
    shape: tuple[int, ...]      # the ONNX shape
    cl: bool = False            # stored channels last (see the module docstring)
    nonneg: bool = False        # known >= 0 (after RELU...): zero padding is then max-pool neutral

    @property
    def rank(self) -> int:
        return len(self.shape)


def cl_shape(shape: tuple) -> tuple:
    """ONNX [N,C,H,W] -> [N,H,W,C]; [N,C,L] -> [N,1,L,C]."""
    if len(shape) == 4:
        n, c, h, w = shape
        return (n, h, w, c)
    n, c, length = shape
    return (n, 1, length, c)


# For a cl value of ONNX rank r: CL_AXES[r][onnx axis] = IR axis.
CL_AXES = {4: (0, 3, 1, 2), 3: (0, 3, 2)}


def ir_shape_of(v: Val) -> tuple:
    return cl_shape(v.shape) if v.cl else v.shape


def cl_const(arr: np.ndarray, rank: int) -> np.ndarray:
    """A constant that broadcasts against an ONNX rank-`rank` value, permuted for its cl form."""
    arr = arr.reshape((1,) * (rank - arr.ndim) + arr.shape)
    if rank == 4:
        return arr.transpose(0, 2, 3, 1)
    return arr.transpose(0, 2, 1)[:, None]


def strip_leading_ones(arr: np.ndarray) -> np.ndarray:
    k = 0
    while k < arr.ndim - 1 and arr.shape[k] == 1:
        k += 1
    return arr.reshape(arr.shape[k:]) if arr.ndim else arr.reshape(1)



class Builder:
    def __init__(self, path: str, opset: int):
        self.path, self.opset = path, opset
        self.tensors: dict[str, Tensor] = {}
        self.nodes: list[Node] = []
        self.node = None              # the ONNX node being converted
        self._layouts: dict[tuple[str, bool], Val] = {}
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

    def reshape(self, v: Val, ir_shape: tuple, name: str | None = None) -> str:
        return self.emit(Op.RESHAPE, [v.name, self.const(f"{v.name}_shape", list(ir_shape))],
                         ir_shape, name)

    def transpose(self, src: str, perm: tuple, shape_in: tuple, name: str | None = None) -> str:
        shape = tuple(shape_in[p] for p in perm)
        return self.emit(Op.TRANSPOSE, [src, self.const(f"{src}_perm", list(perm))], shape, name)

    # -- layout changes, each done once per value
    def plain(self, v: Val) -> Val:
        """`v` in ONNX memory order."""
        if not v.cl:
            return v
        key = (v.name, False)
        if key not in self._layouts:
            if v.rank == 4:
                name = self.transpose(v.name, (0, 3, 1, 2), ir_shape_of(v), f"{v.name}_nchw")
            else:  # [N,1,L,C] -> [N,L,C] -> [N,C,L]
                n, c, length = v.shape
                flat = self.reshape(v, (n, length, c), f"{v.name}_nlc")
                name = self.transpose(flat, (0, 2, 1), (n, length, c), f"{v.name}_ncl")
            self._layouts[key] = replace(v, name=name, cl=False)
        return self._layouts[key]

    def channels_last(self, v: Val) -> Val:
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
                name = self.reshape(Val(nlc, (n, length, c)), (n, 1, length, c), f"{v.name}_n1lc")
            self._layouts[key] = replace(v, name=name, cl=True)
        return self._layouts[key]

    # -- operand checks
    def need_const(self, x, what: str) -> np.ndarray:
        if x is None:
            raise self.fail(f"{what} is missing")
        if isinstance(x, Val):
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

    def need_act(self, x, what: str = "input") -> Val:
        if x is None:
            raise self.fail(f"{what} is missing")
        if not isinstance(x, Val):
            raise self.fail(f"{what} is a constant; microlith expects it to be computed from the model input")
        return x


def broadcast(b: Builder, *shapes) -> tuple:
    try:
        return tuple(int(d) for d in np.broadcast_shapes(*(tuple(s) for s in shapes)))
    except ValueError:
        raise b.fail(f"operand shapes {[list(s) for s in shapes]} do not broadcast together") from None


def norm_axis(b: Builder, axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise b.fail(f"axis {axis} is out of range for rank {rank}")
    return axis % rank


