"""--- issue 11: weights staged in the arena (`--stage-weights free|BYTES`).

A convolution reads its whole filter once per group of CONV2D_PIXELS output pixels (a depthwise
layer on a DSP core its laid-out group data once per output row). With the
weights in flash behind wait states and a small cache (the STM32L4+'s ART accelerator: 5 wait
states at 120 MHz, 256 bytes of data cache), every one of those reads after the first stalls
again: on ResNet-8 that is 1.4 M of its 22.7 M estimated board cycles. Copying the filter into
the arena before the layer runs leaves one flash read of each byte (the copy) and makes the rest
zero-wait SRAM reads.

It can cost RAM, so it is opt-in. BYTES stages every filter of up to BYTES; the staged bytes
live for their layer only, so the planner puts them where the arena is free at that layer and
grows it only beyond that (compile reports the arena without staging beside it). FREE stages,
largest saving first, only the filters that fit where the arena is free anyway: the arena stays
the size of the plan without staging. It pays only on boards with flash wait states; at zero wait
states it is a small loss (the copy). Nothing changes in the arithmetic: the kernel reads the same
bytes from another address.
"""
from __future__ import annotations

from ..ir import INDEX_LIMIT, Graph, MicrolithError, Op
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


def staged_bytes(node, g: Graph, p: dict) -> int | None:
    """The bytes of the filter array the layer's kernel reads on its fastest path, None when the
    layer has nothing to stage: an int8 convolution's weights; a depthwise layer's DSP group
    data (read on DSP cores only; the 3x3 planes path and the portable weights are not staged)."""
    if p.get("dtype") != "int8":
        return None
    if node.op == Op.CONV_2D:
        w = g.t(node.inputs[1])
        return w.nbytes if w.is_const else None
    if node.op == Op.DEPTHWISE_CONV_2D and p.get("dsp_groups") is not None:
        return int(p["dsp_groups"].nbytes)
    return None


FREE = "free"


def check_stage_budget(budget) -> int | str:
    if budget == FREE:
        return budget
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 0:
        raise MicrolithError(f"--stage-weights takes '{FREE}' or a number of bytes >= 0 (0: off), not {budget!r}")
    return budget


def stage_plan(graph: Graph, params: list[dict], budget: int | str) -> dict[int, int]:
    """Node index -> arena bytes to stage that layer's filter in, for every layer whose filter
    (staged_bytes) is at most `budget` bytes and is read at least MIN_READS times."""
    check_stage_budget(budget)
    staged = {}
    if budget in (0, FREE):  # FREE: stage_in_slack, once the rest of the plan is settled
        return staged
    for i, node in enumerate(graph.nodes):
        n = staged_bytes(node, graph, params[i])
        if n is None or n > budget or filter_reads(node, graph) < MIN_READS:
            continue
        staged[i] = -(-(n + OVERRUN) // 8) * 8
    return staged


def stage_in_slack(graph: Graph, params: list[dict], plan, replan):
    """FREE: the filters worth staging, most flash reads saved first, each kept only if the plan
    with it (replan(staged) -> MemoryPlan) keeps the arena size and the in-place layers of `plan`.
    Returns (plan, staged)."""
    offer = stage_plan(graph, params, INDEX_LIMIT)
    saved = {i: (filter_reads(graph.nodes[i], graph) - 1) * staged_bytes(graph.nodes[i], graph, params[i])
             for i in offer}
    staged = {}
    for i in sorted(offer, key=lambda i: (-saved[i], i)):
        trial = {**staged, i: offer[i]}
        again = replan(trial)
        if again.arena_size <= plan.arena_size and set(again.inplace) == set(plan.inplace):
            staged, plan = trial, again
    return plan, staged
