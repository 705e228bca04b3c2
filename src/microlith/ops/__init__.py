"""One place per op: how it is prepared, computed in numpy and emitted as C.

Each first-tier op has an OpImpl registered here (one module per op family). The three
stages mirror TFLM's kernel structure, so each can be read beside the TFLM source:

  prepare(node, g)             -> dict of integer parameters (TFLM's Prepare/OpData):
                                  multipliers, shifts, offsets, clamps, padding. Raises
                                  MicrolithError when a shape or quantization cannot be honoured.
  reference(node, g, p, xs)    -> list of output arrays: the integer-exact numpy reference.
  emit(node, g, p, ctx)        -> one C expression: the kernel call, returning ml_status.

`kernels` names the csrc files (without extension) the C needs; only those are copied into
the generated folder. `scratch_bytes` asks the planner for per-layer scratch memory.
`alias` marks ops whose output may share the input's memory (reshape, squeeze).
`state_inputs` marks inputs that are state the op updates (recurrent ops; see reference.py).
"""
from __future__ import annotations

import importlib
import math
import threading
from typing import Protocol

import numpy as np

from ..ir import Graph, MicrolithError, Node, Op, safe_text
from ..arith.fixedpoint import quantize_multiplier


class EmitContext(Protocol):
    """What codegen offers an op's emit(): names for data and constant declarations."""
    prefix: str

    def tensor(self, name: str) -> str: ...          # C pointer expression of a tensor's data
    def const(self, hint: str, array: np.ndarray, layout: str | None = None) -> str: ...  # -> ident
    def struct(self, ctype: str, hint: str, fields: dict) -> str: ...  # static const struct -> &ident
    def dims(self, shape) -> str: ...                # &ident of an ml_dims for a shape
    def scratch(self) -> str: ...                    # pointer to this layer's scratch memory
    # --- issue 10: op state kept across invokes (a static array; NAME_reset() zeroes it)
    def state(self, hint: str, ctype: str, count: int) -> str: ...


class OpImpl:
    op: Op
    kernels: tuple[str, ...] = ()
    alias: bool = False
    # Input positions that are state (TFLite variable tensors) this op updates in place, e.g.
    # SVDF's activation state. reference() returns their new values after the outputs.
    state_inputs: tuple[int, ...] = ()
    # Activation types this op compiles byte-exact with TFLM: "int8", and "int16" for TFLM's
    # 16x8 mode (int16 activations, int8 weights). `microlith ops` reports from this.
    dtypes: tuple[str, ...] = ("int8",)

    def prepare(self, node: Node, g: Graph) -> dict:
        return {}

    def reference(self, node: Node, g: Graph, p: dict, xs: list[np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError

    def emit(self, node: Node, g: Graph, p: dict, ctx: EmitContext) -> str:
        raise NotImplementedError

    def scratch_bytes(self, node: Node, g: Graph, p: dict) -> int:
        return 0

    def inplace_inputs(self, node: Node, g: Graph, p: dict) -> tuple[int, ...]:
        """Input positions whose memory the output may take when that input dies here: the
        kernel must read element i of every input before writing element i of the output, and
        nothing after it (elementwise, same shapes). The planner picks the first that dies.
        Default: an int8 table op (ml_lut_s8, one load, lookup and store per element, in order)."""
        if self.kernels_for(node, g, p) == ("ml_lut_s8",) and \
                g.t(node.inputs[0]).nbytes == g.t(node.outputs[0]).nbytes:
            return (0,)
        return ()

    def prepare_whole(self, node: Node, g: Graph, p: dict) -> dict:
        """The params of a layer the planner runs whole (one call over the whole image, not in
        place in chunks of rows, codegen/inplace.py): `p` unless the kernel has a faster path
        that needs the whole image."""
        return p

    def prepare_dsp_in_place(self, node: Node, g: Graph, p: dict, stream) -> dict | None:
        """Params for a layer the planner runs in place (`stream`: its chunks of rows, output at
        the input's offset, codegen/inplace.py) that on DSP builds may instead run in one call over
        the whole image with its output over its input, because that path of its kernel reads
        every input value it needs before it writes any output over it; None when none does.
        Other builds keep the chunks, with the same params. The params carry the scratch bytes
        each form needs: "chunk_scratch" (a chunk's call) and "whole_scratch" (the one call)."""
        return None

    def m0_in_place_scratch(self, node: Node, g: Graph, p: dict, stream) -> int | None:
        """For a layer the planner runs in place (`stream`), with params `p` (the chunks' or, where
        DSP builds run it whole, prepare_dsp_in_place's): the scratch bytes its kernel's
        Cortex-M0/M0+ and M3 path (ML_M0_PATHS) reads when it runs in one call over the whole image,
        its output over its input, because that path reads every input value it needs before it
        writes any output over it; None when it does not."""
        return None

    # prepare() reads the layer's --optimize mode (codegen.optimize.layer_mode), e.g. to lay weights
    # out for speed at a flash cost: codegen prepares such layers again once the modes are planned.
    mode_dependent = False

    def kernels_for(self, node: Node, g: Graph, p: dict) -> tuple[str, ...]:
        """The kernels this particular node needs (default: all of the op's kernels)."""
        return self.kernels


REGISTRY: dict[Op, OpImpl] = {}

# Op families; each module registers its ops on import.
_FAMILIES = ("conv", "fully_connected", "pool", "elementwise", "activation", "shape",
             # --- issue 10: one module per new op family
             "reduce", "math_ops", "matmul", "recurrent", "movement", "signal",
             # --- issue 10: extra ops
             "extra")


def register(cls):
    impl = cls()
    REGISTRY[impl.op] = impl
    return cls


_loaded = False
_load_lock = threading.Lock()


def impl_for(op: Op) -> OpImpl:
    global _loaded
    if not _loaded:  # importing one family directly (a test might) must not hide the others
        with _load_lock:  # and a second thread must not see a half-filled registry
            if not _loaded:
                for fam in _FAMILIES:
                    try:
                        importlib.import_module(f"{__name__}.{fam}")
                    except ModuleNotFoundError as e:
                        if e.name != f"{__name__}.{fam}":
                            raise
                _loaded = True
    if op not in REGISTRY:
        raise MicrolithError(f"op {op.value} is not implemented by this version of microlith")
    return REGISTRY[op]


def where(node: Node, g: Graph) -> str:
    """'model.tflite: op #3 CONV_2D (output 'name')' for error messages."""
    idx = g.nodes.index(node) if node in g.nodes else -1
    return f"{g.source or g.name}: op #{idx} {node.op.value} (output '{node.outputs[0]}')"


# TFLM's MultiplyByQuantizedMultiplier computes x * (1 << shift) for a positive shift: 31 is
# already signed overflow there (its single-rounding variant DCHECKs shift <= 30), and ours
# (ml_nn_requantize) shifts a uint32 by at most 31. QuantizeMultiplier itself never gives less
# than -31 (it flushes smaller multipliers to 0).
MAX_LEFT_SHIFT = 30


def requant_multiplier(node: Node, g: Graph, real: float, what: str, tensor: str,
                       max_shift: int = MAX_LEFT_SHIFT) -> tuple[int, int]:
    """QuantizeMultiplier of `real` (the scale ratio `what`), refusing what no kernel can apply:
    a ratio that is not a finite number, or one whose exponent exceeds `max_shift`."""
    real = float(real)
    if not math.isfinite(real):
        raise MicrolithError(f"{where(node, g)}: the {what} for tensor '{safe_text(tensor)}' is {real}; "
                             "check the quantization scales")
    mult, shift = quantize_multiplier(real)
    if shift > max_shift:
        raise MicrolithError(f"{where(node, g)}: the {what} for tensor '{safe_text(tensor)}' is {real:.6g} "
                             f"(2^{shift - 1} or more), so requantizing needs a left shift of {shift} bits; "
                             f"TFLM's fixed-point requantization shifts by at most {max_shift} (a ratio below "
                             f"2^{max_shift}). Check the quantization scales")
    return mult, shift


def require_int8(node: Node, g: Graph, names) -> None:
    """Activations of int8 kernels must be int8 with per-tensor quantization."""
    for name in names:
        t = g.t(name)
        if t.dtype != "int8" or t.quant is None or t.quant.per_axis:
            got = t.dtype if t.quant is not None else f"{t.dtype} without quantization"
            raise MicrolithError(
                f"{where(node, g)}: tensor '{name}' is {got}; this kernel needs int8 with "
                "per-tensor quantization. Quantize the model first (microlith quantize)")


def dims4(shape) -> tuple[int, int, int, int]:
    """A shape as NHWC, padding leading dimensions with 1 (how 1-D/2-D tensors reach kernels)."""
    shape = tuple(int(d) for d in shape)
    if len(shape) > 4:
        raise ValueError(shape)
    return (1,) * (4 - len(shape)) + shape
