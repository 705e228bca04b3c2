"""--- issue 11: weights staged in the arena (`--stage-weights free|BYTES`).

A convolution reads its whole filter once per group of CONV2D_PIXELS output pixels (a depthwise
layer on a DSP core its laid-out group data once per output row). With the
weights in flash behind wait states and a small cache (the STM32L4+'s ART accelerator: 5 wait
states at 120 MHz, 256 bytes of data cache), every one of those reads after the first stalls
again: on ResNet-8 that is 1.4 M of its 22.7 M estimated board cycles. Copying the filter into
the arena before the layer runs leaves one flash read of each byte (the copy) and makes the rest
zero-wait SRAM reads.

On DSP builds a staged convolution filter is also widened to int16 as it is copied (twice its
bytes; widens()), for a routine that runs two output channels by three pixels on it: each
column word then serves two channels, 26 cycles and 16 instructions per 24 MACs where the
six-pixel routine over int8 weights takes 31 and 18. Read from flash, such weights would cost
four times the flash bytes per MAC, so only staged filters get it. (`--optimize speed` runs the
filters it does not stage through the same loop over int8 weights laid out in channel pairs:
28 cycles and 20 instructions; codegen/c.py _pair_filters.)

A budget can cost RAM, so it is opt-in; FREE cannot, and it is what `--optimize speed` and
`balanced` do by default (resolve_stage_budget; balanced without widening). BYTES stages every filter of up to BYTES; the staged bytes
live for their layer only, so the planner puts them where the arena is free at that layer and
grows it only beyond that (compile reports the arena without staging beside it). FREE stages,
largest saving first, only the filters that fit where the arena is free anyway: the arena stays
the size of the plan without staging. A copy as it is pays only on boards with flash wait states
(at zero wait states it is a small loss: the copy); a widened copy also saves cycles at zero wait
states (ResNet-8 at 36 KB: 18.81 M against 20.53 M, bench/bench_stage.py). Nothing changes in the arithmetic: the same sums of
the same products, byte-exact with TFLM either way.
"""
from __future__ import annotations

from ..ir import INDEX_LIMIT, Graph, MicrolithError, Op
from ..ops import impl_for
from ..ops.conv import CONV2D_PIXELS

# A filter read fewer times than this is not worth its copy: the copy reads it from flash once
# and writes it, about as much as one more stalled read costs.
MIN_READS = 3
# The DSP routines read a channel's weights in whole words, so a channel whose size is not a
# multiple of 4 runs into the next one's (multiplied by zero padding). The last channel goes
# through a copy of its own there (ml_conv2d_s8.c), but the staging buffer keeps 4 zeroed bytes
# after the filter anyway, so that no word read from it can meet bytes of another layer.
OVERRUN = 4


def filter_reads(node, g: Graph) -> int:
    """How often the kernel reads its whole filter: the int8 convolution once per pixel group;
    the depthwise DSP row loop its laid-out group data (ml_depthwise_conv2d_s8.h) once per output
    row."""
    n, h, w, _ = g.t(node.outputs[0]).shape
    if node.op == Op.DEPTHWISE_CONV_2D:
        return n * h
    return -(-(n * h * w) // CONV2D_PIXELS)


def widens(node, g: Graph, p: dict) -> bool:
    """Whether a staged convolution filter is staged widened to int16 (ml_conv2d_s8_stage with
    widen = 1) for the two-channel routine of DSP builds: int8, not grouped, the clamp
    [-128, 127], an even number of output channels and at least 3 output pixels in every call,
    also when the layer runs in place by chunks of rows (the conditions ml_conv2d_s8 checks; other
    builds copy the bytes as they are into the same buffer)."""
    from .inplace import row_stream
    if node.op != Op.CONV_2D or p.get("dtype") != "int8":
        return False
    x, w, y = (g.t(n) for n in (node.inputs[0], node.inputs[1], node.outputs[0]))
    _, out_h, out_w, out_c = y.shape
    if not (w.is_const and x.shape[3] == w.shape[3] and p["act_min"] <= -128 and p["act_max"] >= 127
            and out_c % 2 == 0):
        return False
    # chunk heights chosen later never make a call smaller than min(this, 4) (cheaper_streams)
    stream = row_stream(node, g, p)
    return (out_h * out_w if stream is None else stream.smallest_call) >= 3


def staged_bytes(node, g: Graph, p: dict, widen: bool = False) -> int | None:
    """The bytes of the staged copy of the filter array the layer's kernel reads on its fastest
    path, None when the layer has nothing to stage: an int8 convolution's weights (with `widen`,
    where widens() holds, widened to int16: twice the bytes, ML_CONV2D_S8_STAGE_BYTES); a depthwise
    layer's DSP group data (read on DSP cores only; the 3x3 planes path and the portable
    weights are not staged)."""
    if p.get("dtype") != "int8":
        return None
    if node.op == Op.CONV_2D:
        w = g.t(node.inputs[1])
        if not w.is_const:
            return None
        out_c, k = w.shape[0], w.size // w.shape[0]
        if widen and widens(node, g, p):
            return 8 * out_c * (-(-k // 4))
        # Cortex-M0/M3 builds copy the filter padded to an even K (Conv2D.m0_padded_filter)
        padded = impl_for(node.op).m0_padded_filter(node, g, p)
        return w.nbytes if padded is None else max(w.nbytes, padded.nbytes)
    if node.op == Op.DEPTHWISE_CONV_2D and p.get("dsp_groups") is not None:
        return int(p["dsp_groups"].nbytes)
    return None


FREE = "free"


def check_stage_budget(budget) -> int | str | None:
    """None (the default: resolve_stage_budget), FREE or a byte count >= 0."""
    if budget is None or budget == FREE:
        return budget
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 0:
        raise MicrolithError(f"--stage-weights takes '{FREE}' or a number of bytes >= 0 (0: off), not {budget!r}")
    return budget


def resolve_stage_budget(budget, mode: str) -> int | str:
    """The budget a build uses: the one given, else FREE for `--optimize speed` and `balanced` (the
    fastest code in the same arena: on DSP cores the widened copies' routine saves cycles at zero
    wait states too, ResNet-8 -1.5% on Cortex-M4; elsewhere the copies cost once per inference and
    save every flash wait state of the reads after them: ResNet-8's four, 7.6 KB, add 4.9 k cycles
    on Cortex-M3 and 11.5 k on Cortex-M0 at zero wait states, under 0.03%) and 0 for size. By
    default balanced copies filters as they are (widens_by_default): the two-channel routine's
    code (about 1.4 KB) is not worth it there."""
    check_stage_budget(budget)
    if budget is None:
        return 0 if mode == "size" else FREE
    return budget


def widens_by_default(budget, mode: str) -> bool:
    """Whether staged filters are widened for the two-channel routine (when the build has its
    full form): in speed mode, and wherever the user asked for a budget; balanced's default FREE
    copies them as they are. On the STM32L4R5 model that still takes most of the flash load stalls:
    VWW 16.09 -> 15.68 M cycles (-2.6%) for 0.23 KB more code, ResNet-8 22.19 -> 22.01 M, KWS
    nothing staged (no room), `microlith profile MODEL --target cortex-m4`; widened, VWW saves
    4.8% but its code passes 20 KB."""
    return mode == "speed" or budget is not None


def _arena_bytes(n: int) -> int:
    return -(-(n + OVERRUN) // 8) * 8


def is_widened(node, g: Graph, p: dict, arena_bytes: int) -> bool:
    """Whether the layer's staged copy of arena_bytes (a stage_plan value) is the widened one."""
    wide = staged_bytes(node, g, p, widen=True) if widens(node, g, p) else None
    return wide is not None and arena_bytes >= _arena_bytes(wide)


def stage_plan(graph: Graph, params: list[dict], budget: int | str, widen: bool = True) -> dict[int, int]:
    """Node index -> arena bytes to stage that layer's filter in, for every layer whose staged
    copy is at most `budget` bytes and whose filter is read at least MIN_READS times: the widened
    copy where it fits (staged_bytes) and `widen` (the build has the two-channel routine), else
    the filter as it is."""
    check_stage_budget(budget)
    staged = {}
    if budget in (0, FREE):  # FREE: stage_in_slack, once the rest of the plan is settled
        return staged
    for i, node in enumerate(graph.nodes):
        if staged_bytes(node, graph, params[i]) is None or filter_reads(node, graph) < MIN_READS:
            continue
        for wide in (True, False)[0 if widen else 1:]:
            n = staged_bytes(node, graph, params[i], wide)
            if n <= budget:
                staged[i] = _arena_bytes(n)
                break
    return staged


def stage_in_slack(graph: Graph, params: list[dict], plan, replan, widen: bool = True):
    """FREE: the filters worth staging, most flash reads saved first, each kept (widened where
    that fits, else as it is) only if the plan with it (replan(staged) -> MemoryPlan) keeps the
    arena size and the in-place layers of `plan`. Returns (plan, staged)."""
    offer = stage_plan(graph, params, INDEX_LIMIT, widen)
    saved = {i: (filter_reads(graph.nodes[i], graph) - 1) * staged_bytes(graph.nodes[i], graph, params[i])
             for i in offer}
    staged = {}
    for i in sorted(offer, key=lambda i: (-saved[i], i)):
        sizes = {offer[i], _arena_bytes(staged_bytes(graph.nodes[i], graph, params[i]))}
        for size in sorted(sizes, reverse=True):
            trial = {**staged, i: size}
            again = replan(trial)
            if again.arena_size <= plan.arena_size and set(again.inplace) == set(plan.inplace):
                staged, plan = trial, again
                break
    return plan, staged
