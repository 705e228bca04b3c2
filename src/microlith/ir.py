"""The one intermediate representation every stage of microlith reads and writes.

A Graph holds named Tensors and a topologically ordered list of Nodes. Tensors carry
shape, dtype, quantization and (for constants) data; Nodes carry an Op, the names of their
input and output tensors and a small dict of attributes whose keys are fixed per op
(see ATTRS below). Frontends produce this; passes, the planner, the numpy reference and
the C generator consume it.
"""
from __future__ import annotations

import enum
import hashlib
import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np


class MicrolithError(Exception):
    """Bad input or an unmet requirement; the CLI prints it as one line and exits 2."""


# Model files are untrusted: any text read from one (tensor, op, graph names) passes through
# safe_text before it reaches an error message or a generated file. The result is printable
# ASCII without C comment delimiters, backslashes (line splices) or trigraphs, and bounded, so it
# can sit inside a /* */ comment, a Markdown line or a terminal line without changing them.
NAME_MAX_CHARS = 96
_COMMENT_BREAKERS = re.compile(r"/\*|\*/|\?\?")


def safe_text(text, limit: int = NAME_MAX_CHARS) -> str:
    raw = str(text)
    out = "".join(ch if " " <= ch <= "~" and ch not in "\\`" else "_" for ch in raw)
    while _COMMENT_BREAKERS.search(out):  # "/*/" needs two rounds
        out = _COMMENT_BREAKERS.sub(lambda m: m.group(0)[0] + "_", out)
    if len(out) > limit:  # long names keep a digest so distinct names stay distinct
        digest = hashlib.sha1(raw.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        out = out[:limit - 12] + "..." + "~" + digest
    return out


class Op(enum.Enum):
    CONV_2D = "CONV_2D"
    DEPTHWISE_CONV_2D = "DEPTHWISE_CONV_2D"
    FULLY_CONNECTED = "FULLY_CONNECTED"
    AVERAGE_POOL_2D = "AVERAGE_POOL_2D"
    MAX_POOL_2D = "MAX_POOL_2D"
    ADD = "ADD"
    SUB = "SUB"
    MUL = "MUL"
    RESHAPE = "RESHAPE"
    SQUEEZE = "SQUEEZE"
    SOFTMAX = "SOFTMAX"
    LOGISTIC = "LOGISTIC"
    TANH = "TANH"
    RELU = "RELU"
    RELU6 = "RELU6"
    LEAKY_RELU = "LEAKY_RELU"
    HARD_SWISH = "HARD_SWISH"
    PAD = "PAD"
    CONCATENATION = "CONCATENATION"
    MEAN = "MEAN"
    QUANTIZE = "QUANTIZE"
    DEQUANTIZE = "DEQUANTIZE"
    STRIDED_SLICE = "STRIDED_SLICE"
    TRANSPOSE = "TRANSPOSE"
    # --- issue 10: reduction and normalization
    ARG_MAX = "ARG_MAX"
    ARG_MIN = "ARG_MIN"
    REDUCE_MAX = "REDUCE_MAX"
    REDUCE_MIN = "REDUCE_MIN"
    SUM = "SUM"
    LOG_SOFTMAX = "LOG_SOFTMAX"
    L2_NORMALIZATION = "L2_NORMALIZATION"
    CUMSUM = "CUMSUM"
    # --- issue 10: elementwise math
    MAXIMUM = "MAXIMUM"
    MINIMUM = "MINIMUM"
    PRELU = "PRELU"
    SQUARED_DIFFERENCE = "SQUARED_DIFFERENCE"
    ELU = "ELU"
    RSQRT = "RSQRT"
    ABS = "ABS"
    DIV = "DIV"
    ADD_N = "ADD_N"
    EQUAL = "EQUAL"
    NOT_EQUAL = "NOT_EQUAL"
    LESS = "LESS"
    LESS_EQUAL = "LESS_EQUAL"
    GREATER = "GREATER"
    GREATER_EQUAL = "GREATER_EQUAL"
    SELECT_V2 = "SELECT_V2"
    LOGICAL_AND = "LOGICAL_AND"
    LOGICAL_OR = "LOGICAL_OR"
    LOGICAL_NOT = "LOGICAL_NOT"
    CAST = "CAST"
    # --- issue 10: transpose conv and batch matmul
    TRANSPOSE_CONV = "TRANSPOSE_CONV"
    BATCH_MATMUL = "BATCH_MATMUL"
    # --- issue 10: recurrent layers
    SVDF = "SVDF"
    UNIDIRECTIONAL_SEQUENCE_LSTM = "UNIDIRECTIONAL_SEQUENCE_LSTM"
    # --- issue 10: data movement (ops/movement.py)
    SLICE = "SLICE"
    GATHER = "GATHER"
    SPLIT = "SPLIT"      # lowered by the TFLite frontend into one SLICE per output
    SPLIT_V = "SPLIT_V"  # likewise
    PACK = "PACK"
    UNPACK = "UNPACK"    # lowered by the TFLite frontend into one GATHER per output
    EXPAND_DIMS = "EXPAND_DIMS"
    BROADCAST_TO = "BROADCAST_TO"
    DEPTH_TO_SPACE = "DEPTH_TO_SPACE"
    SPACE_TO_DEPTH = "SPACE_TO_DEPTH"
    MIRROR_PAD = "MIRROR_PAD"
    PADV2 = "PADV2"
    RESIZE_NEAREST_NEIGHBOR = "RESIZE_NEAREST_NEIGHBOR"
    RESIZE_BILINEAR = "RESIZE_BILINEAR"
    BATCH_TO_SPACE_ND = "BATCH_TO_SPACE_ND"
    SPACE_TO_BATCH_ND = "SPACE_TO_BATCH_ND"
    REVERSE_V2 = "REVERSE_V2"
    ZEROS_LIKE = "ZEROS_LIKE"
    GATHER_ND = "GATHER_ND"
    # --- issue 10: signal ops (TFLM signal library; options are FlexBuffers)
    SIGNAL_WINDOW = "CUSTOM:SignalWindow"
    SIGNAL_FFT_AUTO_SCALE = "CUSTOM:SignalFftAutoScale"
    SIGNAL_RFFT = "CUSTOM:SignalRfft"
    SIGNAL_ENERGY = "CUSTOM:SignalEnergy"
    SIGNAL_FILTER_BANK = "CUSTOM:SignalFilterBank"
    SIGNAL_FILTER_BANK_SQUARE_ROOT = "CUSTOM:SignalFilterBankSquareRoot"
    SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION = "CUSTOM:SignalFilterBankSpectralSubtraction"
    SIGNAL_PCAN = "CUSTOM:SignalPCAN"
    SIGNAL_FILTER_BANK_LOG = "CUSTOM:SignalFilterBankLog"
    SIGNAL_DELAY = "CUSTOM:SignalDelay"
    # --- issue 10: extra ops (ops/extra.py)
    EMBEDDING_LOOKUP = "EMBEDDING_LOOKUP"
    FILL = "FILL"
    DYNAMIC_UPDATE_SLICE = "DYNAMIC_UPDATE_SLICE"
    BROADCAST_ARGS = "BROADCAST_ARGS"
    SHAPE = "SHAPE"


# Fused activation names used in attrs["activation"].
ACTIVATIONS = ("NONE", "RELU", "RELU_N1_TO_1", "RELU6")

# Attribute keys each op carries after the frontend. Anything else is a frontend bug.
ATTRS: dict[Op, tuple[str, ...]] = {
    Op.CONV_2D: ("padding", "stride_h", "stride_w", "dilation_h", "dilation_w", "activation"),
    Op.DEPTHWISE_CONV_2D: ("padding", "stride_h", "stride_w", "dilation_h", "dilation_w",
                           "depth_multiplier", "activation"),
    Op.FULLY_CONNECTED: ("activation", "keep_num_dims"),
    Op.AVERAGE_POOL_2D: ("padding", "stride_h", "stride_w", "filter_h", "filter_w", "activation"),
    Op.MAX_POOL_2D: ("padding", "stride_h", "stride_w", "filter_h", "filter_w", "activation"),
    Op.ADD: ("activation",),
    Op.SUB: ("activation",),
    Op.MUL: ("activation",),
    Op.RESHAPE: (),
    Op.SQUEEZE: (),
    Op.SOFTMAX: ("beta",),
    Op.LOGISTIC: (),
    Op.TANH: (),
    Op.RELU: (),
    Op.RELU6: (),
    Op.LEAKY_RELU: ("alpha",),
    Op.HARD_SWISH: (),
    Op.PAD: (),
    Op.CONCATENATION: ("axis", "activation"),
    Op.MEAN: ("keep_dims",),
    Op.QUANTIZE: (),
    Op.DEQUANTIZE: (),
    Op.STRIDED_SLICE: ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask",
                       "shrink_axis_mask", "offset"),
    Op.TRANSPOSE: (),
    # --- issue 10: reduction and normalization
    Op.ARG_MAX: ("output_type",),
    Op.ARG_MIN: ("output_type",),
    Op.REDUCE_MAX: ("keep_dims",),
    Op.REDUCE_MIN: ("keep_dims",),
    Op.SUM: ("keep_dims",),
    Op.LOG_SOFTMAX: (),
    Op.L2_NORMALIZATION: ("activation",),
    Op.CUMSUM: ("exclusive", "reverse"),
    # --- issue 10: elementwise math
    Op.MAXIMUM: (),
    Op.MINIMUM: (),
    Op.PRELU: (),
    Op.SQUARED_DIFFERENCE: (),
    Op.ELU: (),
    Op.RSQRT: (),
    Op.ABS: (),
    Op.DIV: ("activation",),
    Op.ADD_N: (),
    Op.EQUAL: (),
    Op.NOT_EQUAL: (),
    Op.LESS: (),
    Op.LESS_EQUAL: (),
    Op.GREATER: (),
    Op.GREATER_EQUAL: (),
    Op.SELECT_V2: (),
    Op.LOGICAL_AND: (),
    Op.LOGICAL_OR: (),
    Op.LOGICAL_NOT: (),
    Op.CAST: (),
    # --- issue 10: transpose conv and batch matmul
    Op.TRANSPOSE_CONV: ("padding", "stride_h", "stride_w", "activation"),
    Op.BATCH_MATMUL: ("adj_x", "adj_y"),
    # --- issue 10: recurrent layers
    Op.SVDF: ("rank", "activation"),
    # activation: the cell gate's ("TANH"; TFLM's integer kernel supports no other)
    Op.UNIDIRECTIONAL_SEQUENCE_LSTM: ("activation", "cell_clip", "proj_clip", "time_major"),
    # --- issue 10: data movement (ops/movement.py)
    Op.SLICE: (),
    Op.GATHER: ("axis", "batch_dims"),
    Op.SPLIT: ("num_splits",),
    Op.SPLIT_V: ("num_splits",),
    Op.PACK: ("values_count", "axis"),
    Op.UNPACK: ("num", "axis"),
    Op.EXPAND_DIMS: (),
    Op.BROADCAST_TO: (),
    Op.DEPTH_TO_SPACE: ("block_size",),
    Op.SPACE_TO_DEPTH: ("block_size",),
    Op.MIRROR_PAD: ("mode",),  # "REFLECT" or "SYMMETRIC"
    Op.PADV2: (),
    Op.RESIZE_NEAREST_NEIGHBOR: ("align_corners", "half_pixel_centers"),
    Op.RESIZE_BILINEAR: ("align_corners", "half_pixel_centers"),
    Op.BATCH_TO_SPACE_ND: (),
    Op.SPACE_TO_BATCH_ND: (),
    Op.REVERSE_V2: (),
    Op.ZEROS_LIKE: (),
    Op.GATHER_ND: (),
    # --- issue 10: signal ops (the FlexBuffers keys of their custom options)
    Op.SIGNAL_WINDOW: ("shift",),
    Op.SIGNAL_FFT_AUTO_SCALE: (),
    Op.SIGNAL_RFFT: ("fft_length",),
    Op.SIGNAL_ENERGY: ("end_index", "start_index"),
    Op.SIGNAL_FILTER_BANK: ("num_channels",),
    Op.SIGNAL_FILTER_BANK_SQUARE_ROOT: (),
    Op.SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION: (
        "alternate_one_minus_smoothing", "alternate_smoothing", "clamping", "min_signal_remaining",
        "num_channels", "one_minus_smoothing", "smoothing", "smoothing_bits", "spectral_subtraction_bits"),
    Op.SIGNAL_PCAN: ("snr_shift",),
    Op.SIGNAL_FILTER_BANK_LOG: ("input_correction_bits", "output_scale"),
    Op.SIGNAL_DELAY: ("delay_length",),
    # --- issue 10: extra ops (ops/extra.py)
    Op.EMBEDDING_LOOKUP: (),
    Op.FILL: (),
    Op.DYNAMIC_UPDATE_SLICE: (),
    Op.BROADCAST_ARGS: (),
    Op.SHAPE: ("out_type",),
}

# Ops that write more than one output tensor (every other op writes exactly one).
OUTPUTS: dict[Op, int] = {
    # --- issue 10: signal ops
    Op.SIGNAL_FFT_AUTO_SCALE: 2,  # the scaled frame and the scale (int32 scalar)
    Op.SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION: 2,  # the output and a copy of the noise estimate
}

DTYPES = {"int8": np.int8, "uint8": np.uint8, "int16": np.int16, "int32": np.int32,
          "int64": np.int64, "float32": np.float32, "bool": np.bool_,
          # --- issue 10: signal ops (energies, filter bank sums)
          "uint32": np.uint32, "uint64": np.uint64}


@dataclass(frozen=True)
class Quant:
    """Affine quantization: real = scale * (q - zero_point), per tensor or along `axis`."""
    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    axis: int = 0

    @property
    def per_axis(self) -> bool:
        return len(self.scale) > 1


@dataclass
class Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: str
    quant: Quant | None = None
    data: np.ndarray | None = None  # set for constants (weights, biases, shape operands)
    # State (TFLite's variable tensors): the memory of a recurrent op (SVDF, LSTM), which reads
    # and updates it in place. It is an op input that no op outputs; it keeps its value from one
    # invoke to the next and is set to reset_value by a reset (see planner.py, codegen/c.py).
    variable: bool = False

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def reset_value(self) -> int:
        """The byte a state tensor is filled with at reset: TFLM's ResetTensorData writes an int8
        tensor's zero point, any other type zeros (micro_interpreter_graph.cc)."""
        if self.dtype == "int8" and self.quant is not None:
            return int(self.quant.zero_point[0])
        return 0

    @property
    def size(self) -> int:
        # Python ints: a model's dimensions (up to 2^63 each) must not wrap the count.
        return math.prod(int(d) for d in self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(DTYPES[self.dtype]).itemsize

    @property
    def np_dtype(self) -> np.dtype:
        return np.dtype(DTYPES[self.dtype])

    def __repr__(self) -> str:  # a summary: printing a graph must not dump every weight
        q = ""
        if self.quant is not None:
            q = (f", scale={self.quant.scale[0]:.6g}, zero_point={self.quant.zero_point[0]}" if not self.quant.per_axis
                 else f", {len(self.quant.scale)} scales along axis {self.quant.axis}")
        return (f"Tensor({self.name!r}, {list(self.shape)}, {self.dtype}{q}{', const' if self.is_const else ''}"
                f"{', state' if self.variable else ''})")


@dataclass(frozen=True)
class Node:
    op: Op
    inputs: tuple[str | None, ...]  # None marks an optional input that is absent (e.g. no bias)
    outputs: tuple[str, ...]
    attrs: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    name: str = ""

    def replace(self, **kw) -> "Node":
        return replace(self, **kw)


@dataclass
class Graph:
    name: str
    tensors: dict[str, Tensor]
    nodes: list[Node]
    inputs: list[str]
    outputs: list[str]
    source: str = ""  # file the graph came from, for error messages
    meta: dict[str, Any] = field(default_factory=dict)  # e.g. tflite tensor indices, for the oracle

    def t(self, name: str) -> Tensor:
        return self.tensors[name]

    def __repr__(self) -> str:
        return (f"Graph({self.name!r}, {len(self.nodes)} nodes, {len(self.tensors)} tensors, "
                f"inputs={self.inputs}, outputs={self.outputs})")

    def __str__(self) -> str:
        """One line per op: what `print(graph)` shows."""
        lines = [repr(self)]
        for i, n in enumerate(self.nodes):
            ins = ", ".join("-" if x is None else f"{safe_text(x, 40)}{list(self.tensors[x].shape)}"
                            for x in n.inputs)
            outs = ", ".join(f"{safe_text(x, 40)}{list(self.tensors[x].shape)}" for x in n.outputs)
            lines.append(f"  #{i} {n.op.value}({ins}) -> {outs}")
        return "\n".join(lines)

    def sanitize_names(self) -> "Graph":
        """Rename every tensor to its safe_text form (unique), in place. Frontends call this so
        that no later stage can print or emit a raw, model-controlled name."""
        rename, used = {}, set()
        for k, old in enumerate(self.tensors):
            new = safe_text(old)
            if new in used:
                new = f"{safe_text(old, NAME_MAX_CHARS - 8)}#{k}"
            used.add(new)
            rename[old] = new
        if all(o == n for o, n in rename.items()):
            return self
        self.tensors = {rename[o]: replace(t, name=rename[o]) for o, t in self.tensors.items()}
        r = lambda n: None if n is None else rename[n]  # noqa: E731
        self.nodes = [n.replace(inputs=tuple(r(x) for x in n.inputs), outputs=tuple(r(x) for x in n.outputs),
                                attrs=n.attrs) for n in self.nodes]
        self.inputs = [rename[n] for n in self.inputs]
        self.outputs = [rename[n] for n in self.outputs]
        if "tflite_index" in self.meta:
            self.meta["tflite_index"] = {rename.get(n, n): i for n, i in self.meta["tflite_index"].items()}
        self.name = safe_text(self.name)
        return self

    def producers(self) -> dict[str, int]:
        return {o: i for i, n in enumerate(self.nodes) for o in n.outputs}

    def consumers(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for i, n in enumerate(self.nodes):
            for name in n.inputs:
                if name is not None:
                    out.setdefault(name, []).append(i)
        return out

    def state_tensors(self) -> list[str]:
        """Names of the state tensors the ops use, in order of first use."""
        return list(dict.fromkeys(n for node in self.nodes for n in node.inputs
                                  if n is not None and self.tensors[n].variable))

    def activations(self) -> list[str]:
        """Names of non-constant tensors: what lives in the arena (or the I/O buffers)."""
        seen, order = set(), []
        for name in list(self.inputs) + [o for n in self.nodes for o in n.outputs]:
            if name not in seen and not self.tensors[name].is_const:
                seen.add(name)
                order.append(name)
        return order

    def validate(self) -> None:
        """Structural checks every stage may rely on: names resolve, order is topological."""
        where = f"{self.source or self.name}"
        # constants, the caller's inputs and state (it holds its last value, or the reset value)
        known = {n for n, t in self.tensors.items() if t.is_const or t.variable} | set(self.inputs)
        for i, node in enumerate(self.nodes):
            for name in node.inputs:
                if name is None:
                    continue
                if name not in self.tensors:
                    raise MicrolithError(f"{where}: op #{i} {node.op.value} reads unknown tensor '{name}'")
                if name not in known:
                    raise MicrolithError(f"{where}: op #{i} {node.op.value} reads tensor '{name}' "
                                         "before any op writes it (graph is not in topological order)")
            for name in node.outputs:
                if name not in self.tensors:
                    raise MicrolithError(f"{where}: op #{i} {node.op.value} writes unknown tensor '{name}'")
                known.add(name)
        for name in self.outputs:
            if name not in known:
                raise MicrolithError(f"{where}: graph output '{name}' is never computed")

    def validate_for_codegen(self, limits: "Limits | None" = None) -> None:
        """Everything the kernels and the generator assume, checked before any parameter is
        computed, memory is planned or C is written (issue 8): see validate_for_codegen below.
        Without `limits`, those api.compile stored in meta["codegen_limits"], else the defaults."""
        validate_for_codegen(self, limits if limits is not None else self.meta.get("codegen_limits"))


def macs(graph: Graph) -> int:
    """Multiply-accumulates of the conv and fully-connected layers (the figure MLPerf quotes)."""
    total = 0
    for node in graph.nodes:
        if node.op in (Op.CONV_2D, Op.DEPTHWISE_CONV_2D):
            out = graph.t(node.outputs[0]).shape
            w = graph.t(node.inputs[1]).shape  # conv: [Co,Kh,Kw,Ci]; depthwise: [1,Kh,Kw,Co]
            per_out = w[1] * w[2] * (w[3] if node.op is Op.CONV_2D else 1)
            total += math.prod(int(d) for d in out) * int(per_out)
        elif node.op is Op.FULLY_CONNECTED:
            w = graph.t(node.inputs[1]).shape
            total += math.prod(int(d) for d in graph.t(node.outputs[0]).shape) * int(w[1])
        # --- issue 10: transpose conv and batch matmul
        elif node.op is Op.TRANSPOSE_CONV and len(node.inputs) > 2 and node.inputs[2] is not None:
            x, w = graph.t(node.inputs[2]).shape, graph.t(node.inputs[1]).shape  # w: [Co,Kh,Kw,Ci]
            if len(x) == 4 and len(w) == 4:  # each input value meets each weight of its channel
                total += math.prod(int(d) for d in x[:3]) * math.prod(int(d) for d in w)
        elif node.op is Op.BATCH_MATMUL and len(graph.t(node.inputs[0]).shape) >= 2:
            lhs = graph.t(node.inputs[0]).shape
            depth = lhs[-2] if node.attrs.get("adj_x") else lhs[-1]
            total += math.prod(int(d) for d in graph.t(node.outputs[0]).shape) * int(depth)
        # --- issue 10: recurrent layers
        elif node.op in (Op.SVDF, Op.UNIDIRECTIONAL_SEQUENCE_LSTM):
            total += _recurrent_macs(graph, node)
    return total


def _recurrent_macs(graph: Graph, node: Node) -> int:
    """SVDF: the feature [filters, input] and time [filters, memory] products per batch. LSTM: 4
    gates x (input + recurrent) products per row (time step x batch). 0 for shapes the op's
    prepare() would refuse (inspect counts before anything is validated)."""
    shape = lambda k: graph.t(node.inputs[k]).shape if len(node.inputs) > k and node.inputs[k] else ()  # noqa: E731
    if node.op is Op.SVDF:
        x, wf, wt = shape(0), shape(1), shape(2)
        if len(x) == 2 and len(wf) == 2 and len(wt) == 2:
            return int(x[0]) * int(wf[0]) * (int(wf[1]) + int(wt[1]))
        return 0
    y, w_in, w_rec = graph.t(node.outputs[0]).shape, shape(2), shape(6)
    if len(y) == 3 and len(w_in) == 2 and len(w_rec) == 2:
        return int(y[0]) * int(y[1]) * 4 * int(w_in[0]) * (int(w_in[1]) + int(w_rec[1]))
    return 0


# -- validation before code generation (issue 8) ----------------------------------------------
# A model file is untrusted. Everything below is checked with Python integers (no numpy
# wrap-around) on the IR itself, before any op computes parameters, the planner lays out memory
# or a byte of C is written, so that what passes can only compile to C whose int32 arithmetic
# cannot overflow and whose results are TFLM's. Each refusal names the file, the op (number and
# type) and the tensor, and says what to change.

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
INT16_MAX = (1 << 15) - 1
# The kernels index tensors and walk windows in int32 (ml_dims, the row and tap steps): every
# element count, byte size and window extent stays below this whatever limits the user sets.
INDEX_LIMIT = 1 << 30
_FLOAT32_MAX = float(np.finfo(np.float32).max)

# The zero points each storage type can hold; outside them the int8/int16 kernels' offset
# arithmetic (and TFLite's own quantization spec) does not apply. int16 keeps its full range:
# TFLM's int8 -> int16 SOFTMAX needs -32768 and QUANTIZE/DEQUANTIZE accept any int16 value;
# the ops that need a particular int16 zero point check it in their prepare().
ZERO_POINT_RANGE = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767),
                    "int32": (INT32_MIN, INT32_MAX), "int64": (-(1 << 63), (1 << 63) - 1)}


@dataclass(frozen=True)
class Limits:
    """What one compiled model may occupy. max_arena bounds the planned arena and every
    activation tensor (RAM); max_flash bounds the model's constant data (flash)."""
    max_arena: int
    max_flash: int
    origin: str = "set by the caller"  # where the figures come from, for messages

    def checked(self) -> "Limits":
        for what, v in (("max_arena", self.max_arena), ("max_flash", self.max_flash)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 1 <= v <= INDEX_LIMIT:
                raise MicrolithError(f"{what}={v!r}: give a whole number of bytes from 1 to "
                                     f"{INDEX_LIMIT} (the kernels index memory with int32)")
        return self


_default_limits: Limits | None = None


def default_limits() -> Limits:
    """The most RAM and the most flash of any supported target (src/microlith/targets/*.json):
    a model that needs more cannot run on any of them."""
    global _default_limits
    if _default_limits is None:
        import json
        from pathlib import Path
        ram, flash = [], []
        for f in sorted((Path(__file__).resolve().parent / "targets").glob("*.json")):
            try:
                d = json.loads(f.read_text())
            except (OSError, ValueError):
                continue
            mem = d.get("memory") or {}
            for lst, key, board_key in ((ram, "ram", "ram_bytes"), (flash, "flash", "flash_bytes")):
                v = (mem.get(key) or {}).get("length") or (d.get(board_key) or {}).get("value")
                if isinstance(v, int) and v > 0:
                    lst.append((v, d.get("name", f.stem)))
        best_ram = max(ram, default=(4 << 20, "default"))
        best_flash = max(flash, default=(4 << 20, "default"))
        _default_limits = Limits(min(best_ram[0], INDEX_LIMIT), min(best_flash[0], INDEX_LIMIT),
                                 f"the most any supported target has: {best_ram[0]} bytes of RAM "
                                 f"({best_ram[1]}), {best_flash[0]} bytes of flash ({best_flash[1]})")
    return _default_limits


def _shown(name) -> str:
    return safe_text(name)


class _Where:
    """'file: op #3 CONV_2D' for the op that first touches each tensor."""

    def __init__(self, g: Graph):
        self.src = g.source or safe_text(g.name)  # the user's own path, as the other messages show it
        self.first: dict[str, str] = {}
        for i, node in enumerate(g.nodes):
            for name in list(node.inputs) + list(node.outputs):
                if name is not None and name not in self.first:
                    self.first[name] = self.op(i, node)
        for kind, lst in (("graph input", g.inputs), ("graph output", g.outputs)):
            for name in lst:
                self.first.setdefault(name, f"{self.src}: {kind}")

    def op(self, i: int, node: Node) -> str:
        return f"{self.src}: op #{i} {node.op.value}"

    def tensor(self, name: str) -> str:
        return self.first.get(name, self.src)


def validate_for_codegen(g: Graph, limits: Limits | None = None) -> None:
    """Refuse (MicrolithError, exit 2) any graph the generated C could not compute exactly:
    graph structure the generator cannot express, tensors whose dtype, shape, size or
    quantization the kernels cannot hold, and window geometry whose int32 index arithmetic
    could overflow. Requantization multipliers are checked where they are computed (ops/)."""
    limits = (limits or default_limits()).checked()
    g.validate()
    at = _Where(g)
    _validate_structure(g, at)
    used = [n for n in dict.fromkeys(list(g.inputs) + list(g.outputs) +
                                     [x for node in g.nodes for x in list(node.inputs) + list(node.outputs)])
            if n is not None]
    const_bytes = 0
    for name in used:
        t = g.tensors[name]
        _validate_tensor(t, at.tensor(name), limits)
        if t.is_const:
            const_bytes += t.nbytes
    if const_bytes > limits.max_flash:
        raise MicrolithError(f"{at.src}: the model's constants take {const_bytes} bytes, more than the "
                             f"{limits.max_flash} bytes of flash allowed ({limits.origin}); use a smaller "
                             "model or raise the limit (max_flash)")
    for i, node in enumerate(g.nodes):
        _validate_geometry(g, i, node, at)
        _validate_fused_activation(g, i, node, at)


def _validate_structure(g: Graph, at: _Where) -> None:
    src = at.src
    for kind, lst in (("input", g.inputs), ("output", g.outputs)):
        seen: dict[str, int] = {}
        for k, name in enumerate(lst):
            if name not in g.tensors:
                raise MicrolithError(f"{src}: graph {kind} #{k} '{_shown(name)}' is not a tensor of the model")
            if name in seen:
                raise MicrolithError(f"{src}: tensor '{_shown(name)}' is listed twice as a graph {kind} "
                                     f"(#{seen[name]} and #{k}); list each {kind} once")
            seen[name] = k
            if g.tensors[name].variable:
                raise MicrolithError(f"{src}: graph {kind} #{k} '{_shown(name)}' is a state (variable) tensor, "
                                     "which the model keeps to itself; remove it from the graph "
                                     f"{kind}s")
            if g.tensors[name].is_const:
                raise MicrolithError(
                    f"{src}: graph {kind} #{k} '{_shown(name)}' is a constant tensor (its data is in the model, "
                    f"no op {'reads it from the caller' if kind == 'input' else 'computes it'}); "
                    f"remove it from the graph {kind}s")
    inputs = set(g.inputs)
    for k, name in enumerate(g.outputs):
        if name in inputs:
            raise MicrolithError(f"{src}: tensor '{_shown(name)}' is both a graph input and graph output "
                                 f"#{k}; an output must be computed by an op (remove it from the outputs)")
    writer: dict[str, int] = {}
    for i, node in enumerate(g.nodes):
        if node.op in ATTRS:
            missing = [k for k in ATTRS[node.op] if k not in node.attrs]
            if missing:
                raise MicrolithError(f"{at.op(i, node)}: options {missing} are missing")
        n_out = OUTPUTS.get(node.op, 1)
        if len(node.outputs) != n_out:
            raise MicrolithError(f"{at.op(i, node)}: has {len(node.outputs)} outputs; {node.op.value} "
                                 f"writes exactly {'one' if n_out == 1 else n_out}")
        for name in node.outputs:
            if name in inputs:
                raise MicrolithError(f"{at.op(i, node)}: writes graph input '{_shown(name)}', which belongs "
                                     "to the caller; give the op its own output tensor")
            if g.tensors[name].variable:
                raise MicrolithError(f"{at.op(i, node)}: writes state tensor '{_shown(name)}' as its output; "
                                     "state is updated in place by the recurrent op that reads it")
            if g.tensors[name].is_const:
                raise MicrolithError(f"{at.op(i, node)}: writes constant tensor '{_shown(name)}' (it has "
                                     "data in the model); give the op its own output tensor")
            if name in writer:
                j = writer[name]
                raise MicrolithError(f"{at.op(i, node)}: writes tensor '{_shown(name)}', which op #{j} "
                                     f"{g.nodes[j].op.value} already writes; each tensor needs one producer")
            writer[name] = i


def _validate_tensor(t: Tensor, where: str, limits: Limits) -> None:
    name = _shown(t.name)
    if t.dtype not in DTYPES:
        raise MicrolithError(f"{where}: tensor '{name}' has unsupported type {safe_text(t.dtype)}")
    shape = tuple(t.shape)
    if any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 0 for d in shape):
        raise MicrolithError(f"{where}: tensor '{name}' has shape {safe_text(list(shape))}; every dimension "
                             "must be a known size >= 0 (fix dynamic dimensions, e.g. with --input-shape)")
    size = math.prod(int(d) for d in shape)
    nbytes = size * np.dtype(DTYPES[t.dtype]).itemsize
    if not t.is_const and nbytes > limits.max_arena:  # max_arena <= INDEX_LIMIT (Limits.checked)
        raise MicrolithError(f"{where}: tensor '{name}' of shape {list(shape)} needs {nbytes} bytes of "
                             f"RAM, more than the {limits.max_arena} allowed ({limits.origin}); use a "
                             "smaller input or raise the limit (max_arena)")
    if nbytes > INDEX_LIMIT:
        raise MicrolithError(f"{where}: tensor '{name}' of shape {list(shape)} holds {size} elements "
                             f"({nbytes} bytes); the kernels index tensors of at most {INDEX_LIMIT} bytes")
    if t.is_const and int(np.asarray(t.data).size) != size:
        raise MicrolithError(f"{where}: constant '{name}' has {np.asarray(t.data).size} values but "
                             f"shape {list(shape)} needs {size}")
    q = t.quant
    if q is None:
        return
    if len(q.scale) < 1 or len(q.zero_point) != len(q.scale):
        raise MicrolithError(f"{where}: tensor '{name}' has {len(q.scale)} quantization scales and "
                             f"{len(q.zero_point)} zero points; it needs one zero point per scale")
    for s in q.scale:
        # TFLM holds scales as float32: one that rounds to 0 or overflows divides by 0 later.
        ok = isinstance(s, (float, int, np.floating, np.integer)) and not isinstance(s, bool) and \
            math.isfinite(s) and 0 < s <= _FLOAT32_MAX and np.float32(s) > 0
        if not ok:
            raise MicrolithError(f"{where}: tensor '{name}' has quantization scale {s!r}; scales must be "
                                 "positive and finite as float32 (about 1.4e-45 to 3.4e38)")
    if t.dtype in ZERO_POINT_RANGE:
        lo, hi = ZERO_POINT_RANGE[t.dtype]
        for z in q.zero_point:
            if isinstance(z, bool) or not isinstance(z, (int, np.integer)) or not lo <= int(z) <= hi:
                raise MicrolithError(f"{where}: tensor '{name}' ({t.dtype}) has zero point {z!r}; {t.dtype} "
                                     f"zero points lie in [{lo}, {hi}]. Requantize the model")


def _validate_geometry(g: Graph, i: int, node: Node, at: _Where) -> None:
    """Strides, dilations, filter sizes and the padded extent of every window: the kernels compute
    tap positions and their offsets ((kernel - 1) * dilation + 1, out * stride - pad, times the
    row length) in int32, which must not overflow even for taps that fall in the padding."""
    if node.op not in (Op.CONV_2D, Op.DEPTHWISE_CONV_2D, Op.AVERAGE_POOL_2D, Op.MAX_POOL_2D):
        return
    here = at.op(i, node)
    a = node.attrs
    conv = node.op in (Op.CONV_2D, Op.DEPTHWISE_CONV_2D)
    keys = ("stride_h", "stride_w") + (("dilation_h", "dilation_w") if conv else ("filter_h", "filter_w"))
    if node.op is Op.DEPTHWISE_CONV_2D:
        keys += ("depth_multiplier",)
    for key in keys:
        v = a[key]
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise MicrolithError(f"{here}: {key}={safe_text(v)}; it must be a whole number >= 1")
        # TFLM's ConvParams / DepthwiseParams hold these in int16_t: a larger value wraps there.
        if conv and not key.startswith("filter") and v > INT16_MAX:
            raise MicrolithError(f"{here}: {key}={v}; TFLM holds convolution strides, dilations and depth "
                                 f"multipliers in int16 (at most {INT16_MAX}), so it cannot run this model")
    if a["padding"] not in ("SAME", "VALID"):
        raise MicrolithError(f"{here}: padding {safe_text(a['padding'])} is neither SAME nor VALID")
    names = [n for n in node.inputs[:2] if n is not None]
    if len(node.inputs) < (2 if conv else 1) or len(names) < (2 if conv else 1):
        return  # the op's prepare() names what is missing
    x, y = g.tensors[node.inputs[0]], g.tensors[node.outputs[0]]
    if len(x.shape) != 4 or len(y.shape) != 4:
        return  # prepare() refuses it with the shapes
    if conv:
        w = g.tensors[node.inputs[1]]
        if len(w.shape) != 4:
            return
        taps = (int(w.shape[1]), int(w.shape[2]))
        dil = (int(a["dilation_h"]), int(a["dilation_w"]))
    else:
        taps = (int(a["filter_h"]), int(a["filter_w"]))
        dil = (1, 1)
    extents = []
    for axis, k, d in ((1, taps[0], dil[0]), (2, taps[1], dil[1])):
        size, out, s = int(x.shape[axis]), int(y.shape[axis]), int(a["stride_h" if axis == 1 else "stride_w"])
        window = (k - 1) * d + 1
        pad = max((max(out, 1) - 1) * s + window - size, 0) // 2
        if pad > INT16_MAX:  # TFLM's PaddingValues are int16_t: its result would wrap
            raise MicrolithError(
                f"{here}: input '{_shown(x.name)}' {('height', 'width')[axis - 1]} {size} with a window of "
                f"{window} (filter {k}{f', dilation {d}' if conv else ''}) needs {pad} positions of padding; "
                f"TFLM holds padding in int16 (at most {INT16_MAX}), so it cannot run this model. Use a "
                f"smaller {'dilation' if conv else 'pooling window'}")
        # The furthest any index strays from the first input row/column, in either direction
        # (a stride counts only between outputs: with one output the kernels get stride 1).
        extents.append(pad + (max(out, 1) - 1) * s + window + size)
        if extents[-1] > INDEX_LIMIT:
            what = "dilation" if conv else "filter"
            raise MicrolithError(
                f"{here}: input '{_shown(x.name)}' {('height', 'width')[axis - 1]} {size} with a window of {window} "
                f"(filter {k}, {what} {d if conv else k}) and stride {s} spans {extents[-1]} positions; "
                f"the kernels index windows with int32 (at most {INDEX_LIMIT}). Use a smaller "
                f"{'dilation' if conv else 'pooling window'} or stride")
    span = int(x.shape[0]) * (extents[0] + 1) * (extents[1] + 1) * max(int(x.shape[3]), 1)
    if span > INDEX_LIMIT:
        raise MicrolithError(
            f"{here}: input '{_shown(x.name)}' {list(x.shape)} with windows spanning {extents[0]} x "
            f"{extents[1]} positions needs offsets up to {span}, past the kernels' int32 indexing "
            f"({INDEX_LIMIT}); use a smaller dilation, pooling window or stride")


# The real bounds each fused activation quantizes (CalculateActivationRangeQuantized).
_FUSED_BOUNDS = {"RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0)}


def _validate_fused_activation(g: Graph, i: int, node: Node, at: _Where) -> None:
    """TFLM quantizes a fused activation's bounds as round(bound / output scale) in float32 and
    refuses the model (TF_LITE_ENSURE) when that leaves int32; so do we, by name, instead of
    overflowing later."""
    bounds = _FUSED_BOUNDS.get(node.attrs.get("activation"))
    if bounds is None or not node.outputs:
        return
    y = g.tensors[node.outputs[0]]
    if y.quant is None:
        return
    with np.errstate(all="ignore"):
        steps = [float(np.float32(b) / np.float32(y.quant.scale[0])) for b in bounds]
    if not all(math.isfinite(v) and abs(v) < 2.0 ** 31 - 256 for v in steps):
        raise MicrolithError(f"{at.op(i, node)}: output '{_shown(y.name)}' has scale {y.quant.scale[0]:g}, so "
                             f"its fused {node.attrs['activation']} bound {max(bounds, key=abs):g} is "
                             f"{max(abs(v) for v in steps):.3g} steps, past int32; TFLM refuses that too. "
                             "Check the quantization scales")

