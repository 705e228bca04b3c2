"""`--optimize speed|size|balanced`: where the generated code trades instructions for flash.

Three kinds of code grow with what a model asks for, and each has a compact form:

  kernel variants   a kernel picks a shape-specialised variant of its generic path at run time
                    (the DSP 3x3 depthwise pixel, the convolution's full-group fast path). They
                    compute the same bytes in fewer instructions with more code. The C macro
                    ML_SPECIALISE (ml_common.h) gates each choice; size mode sets it to 0 and
                    the compiler drops the variants.
  compiler flags    size mode also compiles the kernels and the model for size: the generated
                    ml_config.h defines ML_OPTIMIZE_SIZE and ml_common.h turns that into
                    `#pragma GCC optimize("Os")`, so the folder keeps that choice under the
                    user's own build flags (clang ignores it, with the same bytes out).
  per-layer glue    a stride-1 convolution run in place (codegen/inplace.py) loops over chunks
                    of rows. speed emits that loop inline in NAME_invoke for each such layer
                    (about 100 bytes each at -O2 on Cortex-M4); the compact form is a few lines around
                    one shared cursor (csrc/common/ml_row_stream.c).

Modes, resolved before any code is emitted:
  speed     every variant, -O2 as the build says, inline glue, filters staged where the arena
            is free (codegen/stage.py resolve_stage_budget), and the other convolution filters laid
            out in channel pairs for DSP builds' two-channel routine over int8 weights (codegen/c.py
            _pair_filters): the fewest cycles in the same arena, for more instructions and code.
  size      one generic instance per kernel family (plus the few variants that save far more
            than their bytes: kept_variants), -Os, no unused portable fallback, compact glue;
            every layer "size".
  balanced  (default) kernel variants and flags as speed, which pay 1,000+ instructions per byte
            (measured below), filters staged where the arena is free as plain int8 copies (no
            two-channel routine: codegen/stage.py widens_by_default), and no portable fallback a
            DSP core never runs for this model
            (free: see drop_fallbacks); a kernel only "size" layers use keeps its compact
            form (compact_kernels), and an unrolled loop that saves the model fewer than
            BALANCED_MIN_GAIN instructions per byte is left out (plan.unrolls_out). Per layer: inline glue only where it saves at least
            BALANCED_MIN_GAIN instructions per byte of code it adds, within a code budget
            (`code_budget`, default CODE_BUDGET bytes); a layer doing less than COLD_SHARE of
            the model's MACs is a "size" layer, the others "speed" layers.

Op implementations read the mode of the layer they emit as `ctx.optimize` ("speed" or
"size": balanced is already resolved per layer), and in prepare()/scratch_bytes() as
`layer_mode(g, node)` (one source: g.meta["optimize_layers"]): an op with an offline weight
layout or a per-layer specialisation that costs flash keeps it for "speed" and leaves it out
for "size".
"""
from __future__ import annotations

import re
import types
from dataclasses import dataclass, field

from ..ir import Graph, MicrolithError, Node, Op, macs
from ..ops import impl_for
from .inplace import KEEPS_SCRATCH, RowStream, _split_call

MODES = ("speed", "size", "balanced")
DEFAULT = "balanced"
CODE_BUDGET = 20 * 1024  # bytes of code beside the weights that balanced aims to stay within

# Inline glue against the shared cursor, per in-place layer, arm-none-eabi-gcc 12.2 -O2 on
# Cortex-M4 (KWS, `microlith profile ... --target cortex-m4 --optimize speed|balanced --json`):
# the cursor costs about this many more instructions per chunk of rows (two calls and the
# cursor's loads), and the inline loop about this many more bytes per layer.
CURSOR_INSTRUCTIONS_PER_CHUNK = 31   # KWS: +2,492 instructions over its 80 chunks
INLINE_GLUE_BYTES = 100              # KWS: 8 layers' loops, less the cursor's own code
# Kernel variants save far more (KWS, size mode without each, when its depthwise layers still took
# the group path: the 3x3 depthwise pixel 1.54 M
# instructions for 480 bytes, the convolution's full-group path 0.63 M for 654 bytes, so
# 1,000-3,000 per byte); per-layer glue saves about 2. Balanced keeps code that saves at least:
BALANCED_MIN_GAIN = 16
# Size mode keeps a variant only when it saves far more: at least this many instructions per byte.
SIZE_MIN_GAIN = 100
# The fully connected kernel's row groups (four rows per input word) against its compact one row at
# a time (Cortex-M4, size mode, the kernel with its out-of-line helpers): 732 bytes more code (1,370
# against 638), about 2 instructions less per MAC (AD: 1,022,975 -> 490,693 instructions for its
# 264 k MACs; KWS's 768-MAC classifier saves 2.2 k, 3 per byte).
# Max pooling's depth-32 two-row loop over four windows per turn (ml_maxpool_dsp_tile2,
# ML_MAXPOOL_QUADS) against two: 0.75 instructions less per window for this many bytes more
# (Cortex-M4, -O2, measured on bench/bench_pool.py's 2x2/2 over 16x16x32, 64 windows: the routine
# 1,452 -> 1,946 bytes (arm-none-eabi-nm), the whole inference 4,123 -> 4,077 instructions).
MAXPOOL_QUADS_BYTES = 494
MAXPOOL_QUADS_SAVED_PER_WINDOW = 0.75
# Max pooling's rows of 3-wide stride-2 windows (ml_maxpool_dsp_s2w3 with its C set-up) against
# the window-by-window routine: 28 instructions less per window and 8 channels for this many bytes
# (Cortex-M4, -O2, bench/bench_pool.py's 3x3/2 SAME over 15x15x16, 128 such windows: 9,215 ->
# 5,545 instructions; .text with and without it, speed mode).
MAXPOOL_S2W3_BYTES = 1028
MAXPOOL_S2W3_SAVED_PER_WINDOW = 28
FC_ROWS_BYTES = 732
FC_ROWS_SAVED_PER_MAC = 2.0
COLD_SHARE = 0.01  # balanced: layers below this share of the model's MACs are "size" layers
# The depthwise 3x3 plane path on "size" layers, its data derived on each call (ML_DW_LAYOUT_DERIVE,
# no flash for it). Cortex-M4, size mode: KWS's four 25x5x64 layers 375.4 k -> 200.8 k
# instructions each, the path replacing the group path (108 B less text); VWW, beside the group
# path its stride-2 layers keep: 11.96 M -> 11.56 M instructions for 1,844 B more code, about 0.6
# instructions per MAC of its stride-1 layers. Where the group path stays, a model takes it when
# that saving is worth SIZE_MIN_GAIN per byte.
DW_PLANES_BYTES = 1844
DW_PLANES_SAVED_PER_MAC = 0.6

_META_KEY = "optimize_layers"
_DW_PLANES_KEY = "optimize_dw_planes"


def check_mode(mode: str | None) -> str:
    if mode is None:
        return DEFAULT
    if mode not in MODES:
        raise MicrolithError(f"--optimize '{mode}' is not a mode: use one of {', '.join(MODES)} "
                             f"(default {DEFAULT})")
    return mode


@dataclass
class Plan:
    """The resolved choice: the folder's mode, each layer's mode, and why."""
    mode: str
    layer_modes: list[str]                # what ctx.optimize answers, per layer
    inline_glue: set[int] = field(default_factory=set)  # in-place layers whose loop is inline
    no_fallback: list[str] = field(default_factory=list)  # kernels built without their portable path
    no_fallback_m0: list[str] = field(default_factory=list)  # the same on ARMv6-M (its assembly paths)
    kept_variants: list[str] = field(default_factory=list)  # size mode: variants kept all the same
    only_variants: list[str] = field(default_factory=list)  # size, balanced: the only variant a kernel keeps
    compact: list[str] = field(default_factory=list)  # balanced: kernels that only "size" layers use
    absent: list[str] = field(default_factory=list)   # size, balanced: paths no layer reaches (ML_<X>)
    unrolls_out: list[str] = field(default_factory=list)  # balanced: unrolled loops not worth their bytes
    choices: list[dict] = field(default_factory=list)  # per decided layer: what was chosen, why
    dw_planes: dict = field(default_factory=dict)  # "size" depthwise layers on the 3x3 plane path: why
    # compile --target BOARD whose flash data goes through a cache (targets/memmodel.py
    # filter_cache_bytes): (one way, the whole cache) in bytes, for the Cortex-M0/M3 convolution's
    # channel chunks; None: not chunked for a cache
    m0_filter_cache: tuple[int, int] | None = None
    activation_form: str | None = None   # every mode: ONLY_RELU, NO_RELU or None (activation_form)

    @property
    def size_kernels(self) -> bool:
        """Kernels built as one generic instance each, for size (ML_OPTIMIZE_SIZE)."""
        return self.mode == "size"

    def report(self) -> dict:
        return {"mode": self.mode, "kernel_variants": not self.size_kernels,
                "kernels_compiled_for_size": self.size_kernels,
                "kernels_without_portable_fallback": list(self.no_fallback),
                "kernels_without_portable_fallback_m0": list(self.no_fallback_m0),
                "variants_kept_in_size_mode": list(self.kept_variants),
                "only_variants": list(self.only_variants),
                "kernels_compact": list(self.compact),
                "m0_filter_cache_bytes": list(self.m0_filter_cache) if self.m0_filter_cache else None,
                "activation_form": self.activation_form,
                "paths_left_out": list(self.absent),
                "unrolls_left_out": list(self.unrolls_out),
                "layers_speed": sum(m == "speed" for m in self.layer_modes),
                "layers_size": sum(m == "size" for m in self.layer_modes),
                "depthwise_3x3_derived": self.dw_planes,
                "choices": self.choices}


def plan_layers(g: Graph, mode: str, streams: dict[int, RowStream],
                code_budget: int = CODE_BUDGET) -> Plan:
    """Each layer's mode and which in-place candidates (`streams`) keep their loop inline."""
    mode = check_mode(mode)
    if mode != "balanced":
        return _store(g, Plan(mode, [mode] * len(g.nodes), set(streams) if mode == "speed" else set()))
    per_layer = _macs_per_layer(g)
    total = sum(per_layer) or 1
    modes = ["size" if m < COLD_SHARE * total else "speed" for m in per_layer]
    inline, scored = set(), []
    for i, s in sorted(streams.items()):
        chunks = -(-s.out_h // s.rows)
        saved = CURSOR_INSTRUCTIONS_PER_CHUNK * chunks
        scored.append((saved / INLINE_GLUE_BYTES, saved, i))
    spent, choices = 0, []
    for gain, saved, i in sorted(scored, key=lambda x: (-x[0], x[2])):
        keep = gain >= BALANCED_MIN_GAIN and spent + INLINE_GLUE_BYTES <= code_budget
        if keep:
            spent += INLINE_GLUE_BYTES
            inline.add(i)
        choices.append({"layer": i, "what": "in-place row loop", "chosen": "inline" if keep else "shared cursor",
                        "instructions_saved_est": saved, "bytes_est": INLINE_GLUE_BYTES,
                        "instructions_per_byte_est": round(gain, 2)})
    return _store(g, Plan(mode, modes, inline, choices=sorted(choices, key=lambda c: c["layer"])))


def _macs_per_layer(g: Graph) -> list[int]:
    return [macs(types.SimpleNamespace(nodes=[n], t=g.t)) for n in g.nodes]


def _dw_planes(g: Graph, modes: list[str]) -> dict:
    """Whether "size" depthwise layers take the 3x3 plane path (their data derived on each call)
    where it applies, and why: free when the path is built anyway (a "speed" layer takes it) or
    when it replaces the group path (no layer needs that), else when its estimated saving pays
    SIZE_MIN_GAIN per byte. Whether a layer can take it is judged as if it ran whole (a tall
    narrow layer takes it along its columns only then)."""
    dw = impl_for(Op.DEPTHWISE_CONV_2D)
    paths = {i: dw.dsp_path(n, g) for i, n in enumerate(g.nodes) if n.op is Op.DEPTHWISE_CONV_2D}
    size = [i for i, path in paths.items() if path == "planes" and modes[i] == "size"]
    if not size:
        return {}
    per_layer = _macs_per_layer(g)
    saved = round(DW_PLANES_SAVED_PER_MAC * sum(per_layer[i] for i in size))
    if any(path == "planes" and modes[i] == "speed" for i, path in paths.items()):
        why, bytes_est = "the path is built for other layers", 0
    elif "groups" not in paths.values():
        why, bytes_est = "it replaces the group path", 0
    else:
        why, bytes_est = "beside the group path", DW_PLANES_BYTES
    take = saved >= SIZE_MIN_GAIN * bytes_est
    return {"layers": size, "taken": take, "why": why, "instructions_saved_est": saved, "bytes_est": bytes_est}


# Kernels whose DSP path covers a layer only under conditions the generator can see. Each test
# mirrors the kernel's own dispatch (its scratch, offsets and channel count); a mismatch cannot
# change a result, only make the kernel return ML_NO_IMPL, which every byte-exact test catches.
_FALLBACK_KERNELS = ("ml_conv2d_s8", "ml_depthwise_conv2d_s8", "ml_fully_connected_s8")
# Balanced drops the same portable paths (re-measured after the depthwise rewrite: VWW on Cortex-M4
# 10,908,111 -> 10,905,909 instructions, Cortex-M7 10,903,639 -> 10,901,655, 1.45 KB less code).
_BALANCED_FALLBACK_KERNELS = ("ml_conv2d_s8", "ml_depthwise_conv2d_s8", "ml_fully_connected_s8")


def _needs_fallback(node: Node, g: Graph, p: dict) -> str | None:
    """The kernel whose portable path this layer needs on a DSP core, or None."""
    if p.get("dtype", "int8") != "int8":
        return None
    if node.op is Op.CONV_2D:
        return "ml_conv2d_s8" if not impl_for(node.op).scratch_bytes(node, g, p) else None
    if node.op is Op.DEPTHWISE_CONV_2D:
        # the kernel's DSP dispatch (ml_depthwise_conv2d_s8.c): scratch, depth multiplier 1, a
        # proven accumulator bound, at most 64 taps; channels past the last group of four fall back
        impl = impl_for(node.op)
        out_c = g.t(node.outputs[0]).shape[-1]
        ok = impl.scratch_bytes(node, g, p) and impl._dsp_applies(node, g, p) and out_c % 4 == 0
        return None if ok else "ml_depthwise_conv2d_s8"
    if node.op is Op.FULLY_CONNECTED:
        return "ml_fully_connected_s8" if p.get("filter_offset", 1) != 0 else None
    return None


# Kernels whose ARMv6-M (Cortex-M0/M0+) path, which Cortex-M3 takes as well (ML_M0_PATHS), covers a
# layer under conditions the generator can see
# (the kernels' own dispatch, mirrored in _needs_fallback_m0). Cortex-M0, balanced: KWS 20,524 ->
# 17,476 B of code (both kernels), VWW 22,656 -> 21,084 (then the convolution's only: its stride-2
# layer 3 had too little scratch for whole M0 depthwise rows; since the row path goes in strips of
# columns, the depthwise kernel's too: VWW 18,776 B in all), ResNet-8 18,040 -> 16,468; with one
# activation form (below) KWS 16,052 and VWW 19,660.
_M0_FALLBACK_KERNELS = ("ml_conv2d_s8", "ml_depthwise_conv2d_s8")


def _needs_fallback_m0(node: Node, g: Graph, p: dict) -> str | None:
    """The kernel whose portable path this layer needs on ARMv6-M, or None."""
    if p.get("dtype", "int8") != "int8":
        return None
    impl = impl_for(node.op)
    if node.op is Op.CONV_2D:
        # ml_conv2d_s8_m0: a scratch (int8, no groups: scratch_bytes), which also folds the bias
        return "ml_conv2d_s8" if not impl.scratch_bytes(node, g, p) else None
    if node.op is Op.DEPTHWISE_CONV_2D:
        # ml_dw_m0: a scratch of at least three buffer rows of 3 words (its row path goes in
        # strips of columns when whole rows do not fit; in the smallest call: a chunk of one row
        # when the layer runs in place), depth multiplier 1, 3x3 without dilation, channels in
        # fours, every channel on the requantization it can do (ml_m0_rq_of: multiplier >= 0,
        # shift in [-22, -1])
        from ..ops.conv import _dw_3x3_scratch
        _, k_h, k_w, out_c = g.t(node.inputs[1]).shape
        out_w = g.t(node.outputs[0]).shape[2]
        scratch = impl.scratch_bytes(node, g, p)
        if scratch and p.get("dsp_lines"):
            scratch = _dw_3x3_scratch(p, 1, out_w)  # the macro's for one output row
        fast = all(-22 <= int(sh) <= -1 and int(m) >= 0 for m, sh in zip(p["multiplier"], p["shift"]))
        ok = (scratch and 3 * 3 * 4 <= scratch and p["depth_multiplier"] == 1 and (k_h, k_w) == (3, 3)
              and p["dilation_h"] == p["dilation_w"] == 1 and out_c % 4 == 0 and fast)
        return None if ok else "ml_depthwise_conv2d_s8"
    return None


def activation_form(g: Graph, params: list[dict]) -> str | None:
    """ONLY_RELU when every int8 convolution and depthwise layer clamps at its output zero point (a
    fused ReLU), NO_RELU when none does, else None (ml_config.h ML_ONLY_RELU / ML_NO_RELU), in
    every mode: it costs no instruction. The ARMv6-M routines come in a ReLU form and a general
    one, and a model that needs one leaves the other out (KWS on Cortex-M0: 1,424 B for the
    convolution's and the depthwise routine's together); a layer of the other kind would go
    through the C pairs or the row path, same bytes out. The DSP routines' requantization drops
    its rounding term for negative sums in the ReLU form (ml_nn_dsp.h ML_DSP_RELU_FORM): one
    instruction less per output of every convolution and depthwise layer on them."""
    relu = {params[i]["act_min"] == params[i]["output_offset"] for i, n in enumerate(g.nodes)
            if n.op in (Op.CONV_2D, Op.DEPTHWISE_CONV_2D) and params[i].get("dtype", "int8") == "int8"}
    return {frozenset({True}): "ONLY_RELU", frozenset({False}): "NO_RELU"}.get(frozenset(relu))


def drop_fallbacks(g: Graph, params: list[dict], plan: Plan, dsp_whole: frozenset = frozenset()) -> None:
    """Size and balanced: the kernels that no layer needs the portable path of (plan.no_fallback),
    which costs no instruction; size also keeps the variants worth their bytes (kept_variants).
    dsp_whole: the in-place layers DSP builds run in one call (codegen/c.py)."""
    plan.activation_form = activation_form(g, params)
    if plan.mode == "speed":
        return
    if plan.mode == "balanced":
        plan.compact = compact_kernels(g, params, plan)
        if _maxpool_quad_windows(g, params) * MAXPOOL_QUADS_SAVED_PER_WINDOW < \
                BALANCED_MIN_GAIN * MAXPOOL_QUADS_BYTES:
            plan.unrolls_out.append("MAXPOOL_S8_NO_QUADS")
        s2w3 = _maxpool_s2w3_windows(g, params)
        if s2w3 and s2w3 * MAXPOOL_S2W3_SAVED_PER_WINDOW < BALANCED_MIN_GAIN * MAXPOOL_S2W3_BYTES:
            plan.unrolls_out.append("MAXPOOL_S8_NO_S2W3")
    needed = {k for i, n in enumerate(g.nodes) if (k := _needs_fallback(n, g, params[i]))}
    kernels = _FALLBACK_KERNELS if plan.mode == "size" else _BALANCED_FALLBACK_KERNELS
    plan.no_fallback = [k for k in kernels if k not in needed]
    needed_m0 = {k for i, n in enumerate(g.nodes) if (k := _needs_fallback_m0(n, g, params[i]))}
    plan.no_fallback_m0 = [k for k in _M0_FALLBACK_KERNELS if k not in needed_m0]
    if not any(n.op is Op.DEPTHWISE_CONV_2D and params[i].get("dsp_lines")
               for i, n in enumerate(g.nodes)):
        plan.absent.append("NO_DW_3X3_PLANES")   # KWS, Cortex-M4: 1.6-1.7 KB that no layer reaches
    if not any(n.op is Op.DEPTHWISE_CONV_2D and params[i].get("dsp_lines") and params[i].get("dsp_channels") is None
               for i, n in enumerate(g.nodes)):
        plan.absent.append("NO_DW_3X3_DERIVE")   # the 3x3 path's data derived per call: about 0.2 KB
    if not any(n.op is Op.DEPTHWISE_CONV_2D and params[i].get("dsp_lines") and params[i].get("dsp_transposed")
               for i, n in enumerate(g.nodes)):
        plan.absent.append("NO_DW_3X3_COLUMNS")   # the planes filled along the columns: about 0.25 KB
    if not any(g.nodes[i].op is Op.CONV_2D for i in dsp_whole):
        plan.absent.append("CONV2D_S8_NO_IN_PLACE")   # about 0.7 KB on Cortex-M4 (VWW, ResNet-8)
    if not any(_takes_dw_groups(n, g, params[i]) for i, n in enumerate(g.nodes)):
        plan.absent.append("NO_DW_GROUPS")   # the four-channel group path: no DSP build runs it
    if not _maxpool_s2w3_windows(g, params):
        plan.absent.append("MAXPOOL_S8_NO_S2W3")   # 3-wide stride-2 max pooling: about 1 KB
    convs = [i for i, n in enumerate(g.nodes) if n.op is Op.CONV_2D and params[i].get("dtype", "int8") == "int8"]
    # the DSP routines' requantization paths no channel takes (KWS, ResNet-8: only fast channels;
    # about 0.2 KB per routine, and per channel the test that would send one there)
    from ..ops.conv import conv_record_kinds
    kinds = set().union(*(conv_record_kinds(g.nodes[i], g, params[i]) for i in convs))
    for kind in ("wide", "general"):
        if kind not in kinds:
            plan.absent.append(f"CONV2D_S8_NO_{kind.upper()}_RECORDS")
    asm = [i for i in convs if _takes_conv_asm(g.nodes[i], g, params[i])]
    if plan.mode == "size" and asm:
        plan.kept_variants.append("CONV_P4")
    # Every convolution takes the pixel-group assembly: the C groups (about 0.9 KB on Cortex-M4)
    # stay out, in balanced too (free: no layer runs them), unless the kernel is in its compact
    # form there, which has no assembly.
    if asm and len(asm) == len(convs) and "ml_conv2d_s8" in plan.no_fallback and \
            "ml_conv2d_s8" not in plan.compact:
        plan.only_variants.append("CONV2D_S8_ONLY_ASM")
    if plan.mode == "size":
        fcs = [n for i, n in enumerate(g.nodes)
               if n.op is Op.FULLY_CONNECTED and params[i].get("dtype", "int8") == "int8"]
        fc_macs = macs(types.SimpleNamespace(nodes=fcs, t=g.t))
        if fc_macs * FC_ROWS_SAVED_PER_MAC >= SIZE_MIN_GAIN * FC_ROWS_BYTES:
            plan.kept_variants.append("FC_ROWS")
    if plan.mode == "size" and any(_takes_dw_3x3(n, g, params[i]) for i, n in enumerate(g.nodes)):
        plan.kept_variants.append("DW_3X3")
    # Every layer on the group path takes its 3x3 pixel: the general pixel goes (about 0.6 KB on
    # Cortex-M4: VWW's stride-2 layers), and the clipped-window loop too when every such layer
    # also runs over padded rows.
    groups = [i for i, n in enumerate(g.nodes) if _takes_dw_groups(n, g, params[i])]
    if groups and "ml_depthwise_conv2d_s8" in plan.no_fallback and \
            all(_takes_dw_3x3(g.nodes[i], g, params[i]) for i in groups):
        padded = all(_takes_dw_3x3(g.nodes[i], g, params[i], padded=True) for i in groups)
        plan.only_variants.append("DW_ONLY_3X3_PADDED" if padded else "DW_ONLY_3X3")
    # --- conv2d columns (issue 11): the column builders of ml_conv2d_s8 that no CONV_2D layer
    # takes stay out (segments about 1.1 KB on Cortex-M4, 3x3x3 windows about 0.3 KB, rows of
    # whole blocks about 0.7 KB)
    used = {impl_for(n.op).column_builder(n, g, params[i]) for i, n in enumerate(g.nodes)
            if n.op is Op.CONV_2D}
    # (size mode leaves out the rows of whole blocks too: KWS's first layer saved about 60
    # instructions per byte of them in balanced mode, 43 k for 732 bytes, below SIZE_MIN_GAIN)
    plan.absent += [f"CONV2D_S8_NO_{b}" for b in ("SEGMENTS", "WINDOWS27", "BLOCK_ROWS")
                    if b not in used or (b == "BLOCK_ROWS" and plan.mode == "size")]


# Kernels with a compact form (ML_COMPACT_<KERNEL>: the variants ML_OPTIMIZE_SIZE drops for that
# kernel alone, the same bytes out; fully connected, pooling and softmax also compile it for size).
# Their fast forms cost up to kilobytes (Cortex-M4, -O2): the fully-connected six-row assembly about
# 0.8 KB, the convolution's pixel-group assembly about 3 KB, average pooling's 16-channel loop
# about 1.4 KB; softmax at -O2 about 0.9 KB more than at -Os (VWW's two classes, KWS's twelve).
COMPACT_KERNELS = ("ml_fully_connected_s8", "ml_conv2d_s8", "ml_avgpool_s8", "ml_softmax_s8")


def compact_kernels(g: Graph, params: list[dict], plan: Plan) -> list[str]:
    """Balanced: the kernels whose every layer is a "size" layer (a small share of the model's
    work, e.g. KWS's 12-output classifier or its one average pool), which keep their compact
    form: kilobytes of code for a fraction of a percent of the instructions."""
    users: dict[str, list[int]] = {}
    for i, n in enumerate(g.nodes):
        for k in impl_for(n.op).kernels_for(n, g, params[i]):
            users.setdefault(k, []).append(i)
    return [k for k in COMPACT_KERNELS if users.get(k) and all(plan.layer_modes[i] == "size" for i in users[k])]


def _takes_conv_asm(node: Node, g: Graph, p: dict) -> bool:
    """The convolution's pixel-group assembly (ml_conv2d_s8.c), which size mode keeps in its
    four-pixel form (KWS: 3.79 M -> 2.5 M instructions in the convolutions for about 0.7 KB, and
    the C groups' 0.85 KB go when every layer takes it): its dispatch conditions, im2col scratch
    and the clamp [-128, 127], and at least four output pixels in every call: in the whole image,
    and in every chunk of rows should the planner run the layer in place (codegen/inplace.py)."""
    from .inplace import row_stream
    if node.op is not Op.CONV_2D or p.get("dtype", "int8") != "int8":
        return False
    if not impl_for(node.op).scratch_bytes(node, g, p) or p["act_min"] > -128 or p["act_max"] < 127:
        return False
    _, out_h, out_w, _ = g.t(node.outputs[0]).shape
    s = row_stream(node, g, p)
    return (out_h * out_w if s is None else s.smallest_call) >= 4


def _maxpool_quad_windows(g: Graph, params: list[dict]) -> int:
    """The 2x2 windows per inference that max pooling's four-window loop would run: the tiled
    layers (ops/pool.py maxpool_tile) of 32 channels and two-row windows."""
    from ..ops.pool import maxpool_tile
    total = 0
    for i, n in enumerate(g.nodes):
        if n.op is Op.MAX_POOL_2D and params[i].get("dtype") == "int8":
            x, y = g.t(n.inputs[0]).shape, g.t(n.outputs[0]).shape
            t = maxpool_tile(params[i], x, y)
            if t and t["depth"] == 32 and t["rows"] == 2:
                total += x[0] * t["rows_out"] * t["n"]
    return total


def _maxpool_s2w3_windows(g: Graph, params: list[dict]) -> int:
    """The windows times groups of 8 channels per inference that ml_maxpool_dsp_s2w3 would pool:
    the int8 max pools it takes (ops/pool.py maxpool_s2w3)."""
    from ..ops.pool import maxpool_s2w3
    total = 0
    for i, n in enumerate(g.nodes):
        if n.op is Op.MAX_POOL_2D and params[i].get("dtype") == "int8":
            x, y = g.t(n.inputs[0]).shape, g.t(n.outputs[0]).shape
            if maxpool_s2w3(params[i], x, y):
                total += y[0] * y[1] * y[2] * (y[3] // 8)
    return total


def _takes_dw_groups(node: Node, g: Graph, p: dict) -> bool:
    """Whether a DSP build runs the depthwise kernel's four-channel group path on this layer: its
    dispatch conditions, unless the layer has the 3x3 layout (that path runs instead)."""
    if node.op is not Op.DEPTHWISE_CONV_2D or p.get("dtype", "int8") != "int8":
        return False
    impl = impl_for(node.op)
    return not p.get("dsp_lines") and impl._dsp_applies(node, g, p) and bool(impl.scratch_bytes(node, g, p))


def _takes_dw_3x3(node: Node, g: Graph, p: dict, padded: bool = False) -> bool:
    """The group path's 3x3 DSP pixel, which saved about 5 instructions per MAC on KWS when its
    layers took that path (1.54 M of 6.9 M instructions in size mode for 480 bytes): its
    dispatch conditions, on a layer not on the 3x3 plane path. With
    `padded`, also over padded rows (the params' dsp_padded_rows) and on every channel: then
    the kernel needs no other pixel loop (ML_DW_ONLY_3X3_PADDED, which checks the same at run
    time and refuses a layer that fails it)."""
    if node.op is not Op.DEPTHWISE_CONV_2D or p.get("dtype", "int8") != "int8" or p.get("dsp_lines"):
        return False  # (the 3x3 plane path runs instead of the group path's pixel)
    _, k_h, k_w, _ = g.t(node.inputs[1]).shape
    if (k_h, k_w) != (3, 3) or not impl_for(node.op).scratch_bytes(node, g, p):
        return False
    if p["act_min"] > -128 or p["act_max"] < 127:
        return False
    if padded and (g.t(node.outputs[0]).shape[-1] % 4 or not impl_for(node.op)._padded_row_cols(node, g, p)):
        return False
    return all(-22 <= int(s) <= -1 and int(m) >= 0 for m, s in zip(p["multiplier"], p["shift"]))


def forget(g: Graph) -> None:
    """Before a new plan: a graph prepared earlier in another mode must not lend its layer modes
    to the first prepare() pass (layer_mode answers "speed" until plan_layers stores the new ones)."""
    g.meta.pop(_META_KEY, None)
    g.meta.pop(_DW_PLANES_KEY, None)


def _store(g: Graph, plan: Plan) -> Plan:
    g.meta[_META_KEY] = list(plan.layer_modes)
    plan.dw_planes = _dw_planes(g, plan.layer_modes)
    g.meta[_DW_PLANES_KEY] = bool(plan.dw_planes.get("taken"))
    return plan


def dw_planes_derived(g: Graph) -> bool:
    """Whether "size" depthwise layers take the 3x3 plane path where it applies (_dw_planes)."""
    return bool(g.meta.get(_DW_PLANES_KEY))


def layer_mode(g: Graph, node: Node | int) -> str:
    """"speed" or "size" for one layer, once codegen.c.prepare has planned the graph ("speed"
    before, or for a graph compiled without it)."""
    modes = g.meta.get(_META_KEY)
    i = node if isinstance(node, int) else next((k for k, n in enumerate(g.nodes) if n is node), None)
    if not modes or i is None or i >= len(modes):
        return "speed"
    return modes[i]


def config_header(plan: Plan) -> str:
    """The folder's microlith_kernels/ml_config.h."""
    lines = ["/*",
             f" * Generated by `microlith compile --optimize {plan.mode}`: how this folder's kernels are built",
             " * (the macros are described in microlith's csrc/common/ml_config.h). Every macro only removes",
             " * code this model never runs or that a generic path computes identically.",
             " */",
             "#ifndef ML_CONFIG_H", "#define ML_CONFIG_H", "",
             "/* A build whose models were generated with different --optimize choices compiles its shared",
             " * kernels with ML_CONFIG_MIXED defined (the generated CMakeLists.txt does): then none of this",
             " * model's choices applies to them, and they serve every model. */",
             "#if !defined(ML_CONFIG_MIXED)", ""]
    if plan.size_kernels:
        lines += ["/* One generic instance per kernel family, compiled for size. */",
                  "#define ML_OPTIMIZE_SIZE 1", ""]
    if plan.no_fallback:
        lines += ["/* Every layer of this model that uses these kernels takes their DSP-extension path on a core",
                  " * that has it, so DSP builds leave their portable path out (a call that would need it",
                  " * returns ML_NO_IMPL). Cores without the extension keep it. */"]
        lines += [f"#define ML_NO_FALLBACK_{k[3:].upper()} 1" for k in plan.no_fallback] + [""]
    if plan.no_fallback_m0:
        lines += ["/* The same for the M0 assembly paths (Cortex-M0/M0+, and Cortex-M3, which runs them too):",
                  " * every layer of this model that uses these kernels takes them there, so those builds",
                  " * leave the portable path out. */"]
        lines += [f"#define ML_NO_FALLBACK_M0_{k[3:].upper()} 1" for k in plan.no_fallback_m0] + [""]
    if plan.compact:
        lines += ["/* Only small layers of this model use these kernels: they keep their compact form (the",
                  " * code size mode keeps; same results, fewer bytes, a few more instructions). */"]
        lines += [f"#define ML_COMPACT_{k[3:].upper()} 1" for k in plan.compact] + [""]
    if plan.m0_filter_cache:
        way, whole = plan.m0_filter_cache
        lines += ["/* Generated for a board that reads flash through a cache (compile --target BOARD): the",
                  " * Cortex-M0/M3 convolution takes the output channels of a filter larger than 3/4 of that",
                  " * cache (the second figure) in chunks of at most one way of it (the first), so that they",
                  " * stay cached across the pixels. */",
                  f"#define ML_CONV_M0_FILTER_CACHE {way}", f"#define ML_CONV_M0_FILTER_CACHE_ALL {whole}", ""]
    if plan.activation_form == "ONLY_RELU":
        lines += ["/* Every convolution and depthwise layer of this model clamps at its output zero point (a fused",
                  " * ReLU): the routines that come in a ReLU form and a general one are built in the ReLU form",
                  " * (ml_nn_m0.h, ml_nn_dsp.h); a layer of the other kind would take another path. */",
                  "#define ML_ONLY_RELU 1", ""]
    elif plan.activation_form == "NO_RELU":
        lines += ["/* No convolution or depthwise layer of this model clamps at its output zero point: the routines",
                  " * that come in a ReLU form and a general one are built in the general one (ml_nn_m0.h). */",
                  "#define ML_NO_RELU 1", ""]
    if plan.absent:
        lines += ["/* Paths no layer of this model reaches (their layouts are not in its data): left out. */"]
        lines += [f"#define ML_{v} 1" for v in plan.absent] + [""]
    if plan.unrolls_out:
        lines += ["/* Unrolled loops that would save this model fewer instructions than their bytes are worth",
                  " * (balanced: codegen/optimize.py BALANCED_MIN_GAIN): the shorter loop, same results. */"]
        lines += [f"#define ML_{v} 1" for v in plan.unrolls_out] + [""]
    if plan.kept_variants:
        lines += ["/* Variants kept although size mode drops the others: a layer takes them and they save",
                  " * many instructions per byte (codegen/optimize.py). */"]
        lines += [f"#define ML_SPECIALISE_{v} 1" for v in plan.kept_variants] + [""]
    if plan.only_variants:
        lines += ["/* Every layer of the kernel takes this variant: its other loops are left out, and a call",
                  " * that would need them returns ML_NO_IMPL. */"]
        lines += [f"#define ML_{v} 1" for v in plan.only_variants] + [""]
    lines += ["#endif /* ML_CONFIG_MIXED */", "", "#endif /* ML_CONFIG_H */", ""]
    return "\n".join(lines)


def readme_section(plan: Plan) -> str:
    """What the generated README says about the --optimize choice."""
    what = {"speed": "every kernel variant and an inline loop per in-place layer (the fastest code)",
            "size": "one generic kernel per family (plus the variants listed in "
                    "`src/microlith_kernels/ml_config.h`), compiled for size with GCC whatever your flags",
            "balanced": "kernel variants where they save many instructions per byte, shared code elsewhere"}
    text = f"""
## Code size (--optimize {plan.mode})

Generated with `--optimize {plan.mode}`: {what[plan.mode]}. `src/microlith_kernels/ml_config.h`
records the choice; the kernels read it, so your own compiler flags keep it. Its macros only
leave out code this model never runs or that a generic path computes identically. Models that
share one `microlith_kernels` library may differ in `--optimize`: the CMake build then defines
`ML_CONFIG_MIXED` for the kernels, which serve every model; without CMake, define it yourself
when compiling the kernels for models whose `ml_config.h` differ.
"""
    if plan.no_fallback:
        text += (f"\nOn cores with the DSP extension, {', '.join(plan.no_fallback)} are built without their "
                 "portable path, which no layer of this model takes there; a call that would need it returns "
                 "ML_NO_IMPL.\n")
    return text


def emit_row_cursor(call: str, s: RowStream, in_expr: str, out_expr: str, window_expr: str,
                    declarations: dict[str, str], em, unless: tuple[str, ...] = ()) -> list[str]:
    """The compact form of inplace.emit_row_stream: the same chunks, through the shared cursor.
    `em` declares the layer's const ml_row_stream_params (it names the params and dims), except
    in the builds of the layout families `unless`, which run the layer otherwise."""
    fn, args = _split_call(call)
    i_in, i_out = args.index(in_expr), len(args) - 1 - args[::-1].index(out_expr)
    params = args[0].lstrip("&")
    ctype = re.match(r"static const (\w+) ", declarations[params]).group(1)
    assert ".pad_h" in declarations[params], f"{fn}: params have no pad_h to move per chunk"
    stream = em.struct("ml_row_stream_params", "rows", {
        "params": f"&{params}",
        "in_dims": em.dims(s.in_shape), "out_dims": em.dims(s.out_shape),   # the stream's view
        "params_bytes": f"sizeof({ctype})", "pad_h_at": f"offsetof({ctype}, pad_h)",
        "pad_h": s.pad_h, "eff_kh": s.eff_kh, "rows": s.rows,
        "kept_at": f"offsetof({ctype}, scratch_kept)" if ctype in KEEPS_SCRATCH else -1}, unless=unless)
    assert s.stride_h == 1 and max(s.pad_h, s.eff_kh, s.rows) < 1 << 15, "ml_row_stream: stride 1, int16 rows"
    args[0], args[i_in - 1], args[i_in] = "&chunk_params", "&rows.in", "window"
    args[i_out - 1], args[i_out] = "&rows.out", "rows.dst"
    return [
        "    {",
        f"        /* in place: output at input {s.delta:+d} bytes; input rows stream through a",
        f"         * {s.window}-byte window (the shared ml_row_stream cursor) */",
        f"        {ctype} chunk_params;",
        f"        int8_t *const window = (int8_t *){window_expr};",
        "        ml_row_cursor rows;",
        f"        ml_row_stream_begin(&rows, {stream}, &chunk_params, {in_expr}, {out_expr}, window);",
        "        while (ml_row_stream_next(&rows)) {",
        f"            status = {fn}({', '.join(args)});",
        "            if (status != ML_OK) {",
        "                return (int)status;",
        "            }",
        "        }",
        "    }",
    ]
