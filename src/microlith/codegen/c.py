"""IR + memory plan -> a folder of C99 a firmware engineer can drop into any build.

Output layout (also an Arduino library):
  DIR/library.properties, DIR/CMakeLists.txt, DIR/README.md
  DIR/src/NAME.h      public API: sizes, quantization of the I/O, NAME_invoke(), and
                      NAME_reset() when an op keeps state across invokes (EmitContext.state)
  DIR/src/NAME.c      weights as static const arrays, layer parameters, the layer calls
  DIR/src/ml_*.{c,h}  only the kernels this model uses
Identical input gives a byte-identical folder: nothing here depends on time, paths or
dict ordering.
"""
from __future__ import annotations

import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from ..csrc import kernel_file
from ..ir import Graph, MicrolithError, Node, Op, safe_text
from ..ops import dims4, impl_for
from ..passes.channels import prune_unused_channels
from ..planner import MemoryPlan, plan_memory, scratch_name, stage_name
from .inplace import RowStream, cheaper_streams, emit_row_stream, row_stream
from .optimize import (Plan, compact_kernels, config_header, drop_fallbacks, emit_row_cursor, forget,
                       plan_layers, readme_section)
from .outdir import write_folder
from .stage import (FREE, filter_reads, is_widened, resolve_stage_budget, stage_in_slack, stage_plan, widens,
                    widens_by_default)

CTYPES = {"int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "int32": "int32_t",
          "int64": "int64_t", "float32": "float", "bool": "uint8_t",
          # --- issue 10: signal ops
          "uint32": "uint32_t", "uint64": "uint64_t"}
_C_KEYWORDS = set("""auto break case char const continue default do double else enum extern float
for goto if inline int long register restrict return short signed sizeof static struct switch
typedef union unsigned void volatile while _Bool _Complex _Imaginary""".split())


PREFIX_MAX_CHARS = 48
# Names the generated code or its headers already use: a prefix must not start with these.
_RESERVED_PREFIXES = ("ml_", "microlith_", "_")


def check_identifier(name: str) -> str:
    """A user's --name, validated (never altered): it becomes every public symbol's prefix and,
    upper-cased, the header guard, so it must not collide with C keywords or the kernels' names."""
    if not isinstance(name, str) or not name:
        raise MicrolithError("--name is empty; give a C identifier such as kws_model, or leave --name out "
                             "to derive one from the file name")
    shown = safe_text(name, 60)
    if len(name) > PREFIX_MAX_CHARS:
        raise MicrolithError(f"--name '{shown}' is {len(name)} characters; use at most {PREFIX_MAX_CHARS}")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name) or name in _C_KEYWORDS or \
            name.lower().startswith(_RESERVED_PREFIXES) or name.lower() in _RESERVED_NAMES:
        raise MicrolithError(f"--name '{shown}' is not usable as a C prefix: use letters, digits and "
                             "underscores, starting with a letter, not starting with 'ml_' or 'microlith_' "
                             "(any case), and not a C keyword or standard type name")
    return name


_RESERVED_NAMES = {"int8_t", "uint8_t", "int16_t", "uint16_t", "int32_t", "uint32_t", "int64_t", "uint64_t",
                   "size_t", "stdint", "stddef", "string", "main"}


def default_prefix(graph_name: str) -> str:
    """The prefix when --name is not given: the graph's name (from the file name) made usable,
    so a file called int.tflite or ml_net.tflite still compiles."""
    ident = re.sub(r"[^A-Za-z0-9_]", "_", graph_name or "").strip("_") or "model"
    if not ident[0].isalpha():
        ident = "m_" + ident
    ident = ident[:PREFIX_MAX_CHARS - 6].rstrip("_")
    if ident in _C_KEYWORDS or ident.lower().startswith(_RESERVED_PREFIXES) or ident.lower() in _RESERVED_NAMES:
        ident = "model_" + ident.lstrip("_")
        ident = ident[:PREFIX_MAX_CHARS].rstrip("_")
    return check_identifier(ident)


@dataclass
class Prepared:
    """A graph with every node's parameters computed and its memory planned."""
    graph: Graph
    params: list[dict]
    plan: MemoryPlan
    streams: dict[int, RowStream]  # layers that run in place, with their chunk schedule
    kernel_scratch: dict[int, int]  # scratch the kernels ask for; an in-place window follows it
    optimize: Plan | None = None  # --- issue 11: --optimize, resolved per layer (codegen/optimize.py)
    staged: dict[int, int] = field(default_factory=dict)  # --- issue 11: layer -> arena bytes its filter is copied to
    widen: bool = True  # --- issue 11: the build has the two-channel routine that widened staged filters need
    dsp_whole: set[int] = field(default_factory=set)  # --- issue 11: in-place layers DSP builds run in one call
    stage_budget: int | str = 0  # --- issue 11: the --stage-weights budget the build used (resolved)
    m0_whole: set[int] = field(default_factory=set)  # --- issue 11: those Cortex-M0/M0+ and M3 builds run in one call
    widen_if_budget: bool = True  # --- issue 11: a byte budget would widen staged filters (a build that can have the routine)

    def whole_families(self, i: int) -> tuple[str, ...]:
        """The layout families (LAYOUT_FAMILIES) whose builds run in-place layer i in one call."""
        return tuple(f for f, layers in (("DSP", self.dsp_whole), ("M0", self.m0_whole)) if i in layers)


def prepare(graph: Graph, strategy: str = "greedy", optimize: str | None = None,
            stage_weights: int | str | None = None) -> Prepared:
    """Per-node parameters (TFLM's Prepare) and the memory plan. Strategies: "greedy" (with
    in-place layers), "greedy-noinplace", "linear" (no sharing, the baseline). `optimize`:
    speed, size or balanced (the default), see codegen/optimize.py. `stage_weights`: bytes up to
    which a convolution's filter is copied into the arena before it runs, or "free": those that fit
    where the arena is free anyway, or None: free for speed, else none (codegen/stage.py)."""
    graph.validate_for_codegen()  # issue 8: refuse what the kernels cannot compute exactly, first
    if strategy not in ("greedy", "greedy-noinplace", "linear"):
        raise MicrolithError(f"unknown memory strategy '{strategy}'")
    # --- issue 11: channels no later layer reads are not computed (passes/channels.py); the
    # outputs are the same bytes. Prepared.graph is the pruned graph the code is made from.
    graph = prune_unused_channels(graph)
    params, scratch, alias_ops, candidates, shared = [], {}, set(), {}, {}
    forget(graph)
    for node in graph.nodes:
        params.append(impl_for(node.op).prepare(node, graph))
    # --- issue 11: each layer's mode, before anything asks for scratch or a weight layout. The
    # in-place candidates depend on shapes and params only, so they are known here already.
    opt = plan_layers(graph, optimize, {i: st for i, node in enumerate(graph.nodes)
                                        if (st := row_stream(node, graph, params[i])) is not None})
    widen_staged = widens_by_default(stage_weights, opt.mode)
    stage_weights = resolve_stage_budget(stage_weights, opt.mode)
    for i, node in enumerate(graph.nodes):
        impl = impl_for(node.op)
        if impl.mode_dependent and opt.layer_modes[i] != "speed":
            params[i] = impl.prepare(node, graph)   # now that its mode is known
        p = params[i]
        if (s := _scratch_of(node, graph, p)):
            scratch[i] = s
        if impl.alias:
            alias_ops.add(i)
        if strategy == "greedy" and (positions := impl.inplace_inputs(node, graph, p)):
            shared[i] = positions
        stream = row_stream(node, graph, p)
        if stream is not None:
            candidates[i] = stream
    # the two-channel routine over widened filters is in the conv kernel's full form only
    widen_if_budget = opt.mode != "size" and "ml_conv2d_s8" not in compact_kernels(graph, params, opt)
    widen = widen_staged and widen_if_budget
    staged = stage_plan(graph, params, stage_weights, widen)
    plan = plan_memory(graph, scratch, alias_ops, strategy,
                       {i: (c.delta, c.window) for i, c in candidates.items()}, shared, staged)
    def replan(sc, cands):
        return plan_memory(graph, sc, alias_ops, strategy, {k: (c.delta, c.window) for k, c in cands.items()},
                           shared, staged)
    # --- issue 11: in place only where that saves arena (whole layers run faster)
    plan, candidates = _run_whole(graph, params, scratch, candidates, plan, replan)
    # --- issue 11: in-place layers whose DSP path can take the whole image over itself
    plan, dsp_whole, m0_whole = _dsp_in_place(graph, params, scratch, candidates, plan, replan)
    dsp_whole &= set(plan.inplace)
    m0_whole &= set(plan.inplace)
    # a depthwise layer now along its columns has no group data to stage: the stage plan again
    if (again := stage_plan(graph, params, stage_weights, widen)) != staged:
        staged = again
        plan = plan_memory(graph, scratch, alias_ops, strategy,
                           {i: (c.delta, c.window) for i, c in candidates.items()}, shared, staged)
    # --- issue 11: taller chunks for the in-place convolutions whose window the arena can afford
    for i in sorted(plan.inplace):
        options = cheaper_streams(graph.nodes[i], graph, params[i], candidates[i], p6=opt.mode != "size")
        if not options:
            continue

        def fits(stream, i=i):
            trial = {**candidates, i: stream}
            again = plan_memory(graph, scratch, alias_ops, strategy,
                                {k: (c.delta, c.window) for k, c in trial.items()}, shared, staged)
            ok = again.arena_size <= plan.arena_size and set(again.inplace) == set(plan.inplace)
            return (trial, again) if ok else None
        # the largest window that keeps the arena (a larger window never lowers the peak), found
        # in a few plans, then the cheapest option within it
        windows = sorted({o.window for o in options})
        lo, hi = 0, len(windows)
        while lo < hi:
            mid = (lo + hi) // 2
            probe = next(o for o in options if o.window == windows[mid])
            lo, hi = (mid + 1, hi) if fits(probe) else (lo, mid)
        for stream in [o for o in options if lo and o.window <= windows[lo - 1]][:4]:
            if (found := fits(stream)) is not None:
                candidates, plan = found
                break
    if stage_weights == FREE:  # what the arena has room for once the chunk windows are chosen
        plan, staged = stage_in_slack(graph, params, plan, lambda st: plan_memory(
            graph, scratch, alias_ops, strategy, {k: (c.delta, c.window) for k, c in candidates.items()},
            shared, st), widen)
    if opt.mode == "balanced":  # which chunk loops stay inline depends on the final chunk counts
        final = plan_layers(graph, optimize, {i: candidates[i] for i in plan.inplace})
        opt.inline_glue, opt.choices = final.inline_glue, final.choices
    opt.choices = [c for c in opt.choices if c["layer"] in plan.inplace]
    drop_fallbacks(graph, params, opt, frozenset(dsp_whole))
    if not any(is_widened(graph.nodes[i], graph, params[i], n) for i, n in staged.items()):
        opt.absent.append("CONV2D_S8_NO_PAIRS")  # the two-channel routine (about 1.4 KB): no widened filter
    if not _pair_filters(graph, params, opt, staged, widen):
        opt.absent.append("CONV2D_S8_NO_PAIRS8")  # nor over int8 pairs
    plan = _col_groups_in_slack(graph, params, scratch, plan, staged, opt, lambda sc: plan_memory(
        graph, sc, alias_ops, strategy, {k: (c.delta, c.window) for k, c in candidates.items()}, shared, staged))
    if not any(p.get("col_groups", 1) > 1 for p in params):
        opt.absent.append("CONV2D_S8_NO_COL_GROUPS")
    return Prepared(graph, params, plan, {i: candidates[i] for i in plan.inplace}, scratch, opt, staged, widen,
                    dsp_whole, stage_weights, m0_whole, widen_if_budget)


# --- issue 11: how many six-pixel groups' columns a convolution may build before its routine runs
COL_GROUPS = (8, 4, 2)


def _col_groups_in_slack(graph: Graph, params: list, scratch: dict, plan: MemoryPlan, staged: dict, opt,
                         replan) -> MemoryPlan:
    """p["col_groups"] for the convolutions the DSP six-pixel routine runs group by group: the
    most groups (COL_GROUPS) whose columns fit where the arena is free anyway (replan(scratch)
    keeps its size and in-place layers), largest layers first. The kernel then builds that many
    groups' columns before running the routine on each (ml_conv_params.col_groups): on the
    STM32L4R5 model's 1 KB instruction cache the builders' code and the routine's (about 1 KB
    alone) otherwise evict each other once per group of six pixels. Nothing changes in the sums.
    Measured with `microlith profile MODEL --target cortex-m4` (stm32l4r5 flash model) in the
    closing note of the change; size mode keeps one group (no extra loop)."""
    if opt.mode == "size":
        return plan
    eligible = []
    for i, node in enumerate(graph.nodes):
        p = params[i]
        if node.op != Op.CONV_2D or p.get("dtype") != "int8" or i in plan.inplace or p.get("pair_filter"):
            continue
        if i in staged and is_widened(node, graph, p, staged[i]):
            continue   # the two-channel routine over the widened copy, not the six-pixel one
        x, w, y = (graph.t(n) for n in (node.inputs[0], node.inputs[1], node.outputs[0]))
        if not w.is_const or x.shape[3] != w.shape[3] or p["act_min"] > -128 or p["act_max"] < 127:
            continue   # grouped, or a narrower clamp: the C groups, not the routine
        pixels = y.shape[1] * y.shape[2]
        sixes = (pixels - 9) // 6 + 1 if pixels >= 9 else 0   # ml_conv_dsp_group_size's run of sixes
        if sixes >= 2:
            eligible.append((i, sixes, y.shape[0] * pixels * w.size))
    for i, sixes, _macs in sorted(eligible, key=lambda e: (-e[2], e[0])):
        for groups in sorted({min(n, sixes) for n in COL_GROUPS}, reverse=True):
            trial_p = {**params[i], "col_groups": groups}
            trial = {**scratch, i: _scratch_of(graph.nodes[i], graph, trial_p)}
            again = replan(trial)
            if again.arena_size <= plan.arena_size and set(again.inplace) == set(plan.inplace):
                params[i]["col_groups"] = groups
                scratch[i] = trial[i]
                plan = again
                break
    return plan


def _pair_filters(graph: Graph, params: list, opt, staged: dict, widen: bool) -> list[int]:
    """--optimize speed: the convolutions whose filter DSP builds read laid out in channel pairs
    (ml_conv_dsp_pairs8: two output channels by three pixels, 28 cycles and 20 instructions per 24
    MACs on Cortex-M4 where the six-pixel routine takes 31 and 18), marked p["pair_filter"]: the
    layers the two-channel routine can run (stage.widens) whose filter is not staged (a staged
    one is widened, or copied as it is for the six-pixel routine). The other modes keep the
    six-pixel routine, the fewer instructions and no second routine's code (about 1.2 KB).

    The routine reads each filter twice per six pixels (once per three) where the six-pixel one
    reads it once; from flash behind wait states the second read stalls again unless a cache
    keeps the filter. Measured on ResNet-8, speed mode, without -> with the pairs (`microlith
    profile MODEL --target T --optimize speed`): Cortex-M4 at zero wait states 19.85 -> 18.82 M
    cycles (11.78 -> 12.88 M instructions); with the STM32L4R5 model's flash (5 wait states,
    256-byte data cache) 21.92 -> 21.98 M (+0.3%; KWS +0.4%, VWW -1.2%), the STM32F746's
    (Cortex-M7, 4 KB data cache) 17.44 -> 17.14 M, the STM32U575's (Cortex-M33, 8 KB cache)
    20.18 -> 19.33 M; with --weights-in-ram on the STM32L4R5 model 20.75 -> 19.71 M."""
    pairs = []
    for i, node in enumerate(graph.nodes):
        params[i].pop("pair_filter", None)
        if opt.mode == "speed" and widen and i not in staged and widens(node, graph, params[i]):
            params[i]["pair_filter"] = True
            pairs.append(i)
    return pairs


def _scratch_of(node: Node, graph: Graph, p: dict) -> int:
    s = impl_for(node.op).scratch_bytes(node, graph, p)
    return -(-s // 8) * 8 if s else 0  # keeps an in-place window after it aligned


def _run_whole(graph: Graph, params: list, scratch: dict, candidates: dict, plan: MemoryPlan, replan):
    """The plan with each in-place layer run whole instead (one call over the whole image) where
    that does not grow the arena: no window copies, no per-chunk calls. A layer run whole takes
    its op's whole-image params (OpImpl.prepare_whole: a tall narrow depthwise layer takes the 3x3
    path along its columns, with its own scratch), as does every layer that was never in place.
    Updates params and scratch; returns the plan and the in-place candidates left.
    replan(scratch, candidates)."""
    def whole(i):
        node = graph.nodes[i]
        return impl_for(node.op).prepare_whole(node, graph, params[i])

    def with_scratch(sc, i, p):
        sc = {k: v for k, v in sc.items() if k != i}
        if (n := _scratch_of(graph.nodes[i], graph, p)):
            sc[i] = n
        return sc

    for i in sorted(plan.inplace):
        p_whole = whole(i)
        trial_scratch = with_scratch(scratch, i, p_whole)
        trial = {k: c for k, c in candidates.items() if k != i}
        again = replan(trial_scratch, trial)
        if again.arena_size <= plan.arena_size and set(again.inplace) == set(plan.inplace) - {i}:
            params[i], candidates, plan = p_whole, trial, again
            scratch.pop(i, None)
            scratch.update(trial_scratch)
    new_scratch = dict(scratch)
    for i in range(len(graph.nodes)):
        if i not in plan.inplace and (p_whole := whole(i)) is not params[i]:
            params[i] = p_whole
            new_scratch = with_scratch(new_scratch, i, p_whole)
    if new_scratch == scratch:
        return plan, candidates
    scratch.clear()
    scratch.update(new_scratch)
    return replan(scratch, candidates), candidates


def _dsp_in_place(graph: Graph, params: list, scratch: dict, candidates: dict, plan: MemoryPlan, replan):
    """The in-place layers that DSP builds (OpImpl.prepare_dsp_in_place), and those that Cortex-M0/M0+
    and M3 builds (OpImpl.m0_in_place_scratch), run in one call over the whole image, their output
    over their input, where the arena stays as it is; other builds run the same layer's chunks of
    rows, with the same params. The layer's kernel scratch then holds either: the chunks' scratch
    with the window after it, or a whole call's scratch across both. Updates params and scratch;
    returns the plan and the two sets of layers. replan(scratch, candidates)."""
    dsp, m0 = set(), set()
    for i in sorted(plan.inplace):
        node, s = graph.nodes[i], candidates[i]
        impl = impl_for(node.op)
        pw = impl.prepare_dsp_in_place(node, graph, params[i], s)
        # the forms to try, most layers whole first: (params, chunk scratch, whole scratch, families)
        forms = []
        if pw is not None:
            m0_need = impl.m0_in_place_scratch(node, graph, pw, s)
            if m0_need is not None:
                forms.append((pw, pw["chunk_scratch"], max(pw["whole_scratch"], m0_need), ("DSP", "M0")))
            forms.append((pw, pw["chunk_scratch"], pw["whole_scratch"], ("DSP",)))
        if (m0_need := impl.m0_in_place_scratch(node, graph, params[i], s)) is not None:
            forms.append((params[i], scratch.get(i, 0), m0_need, ("M0",)))
        for p, chunk, whole, families in forms:
            trial_scratch = {**scratch, i: -(-max(chunk, whole - s.window, 0) // 8) * 8}
            again = replan(trial_scratch, candidates)
            if again.arena_size <= plan.arena_size and set(again.inplace) == set(plan.inplace):
                params[i], plan = p, again
                scratch.clear()
                scratch.update(trial_scratch)
                if "DSP" in families:
                    dsp.add(i)
                if "M0" in families:
                    m0.add(i)
                break
    return plan, dsp, m0


def _stage_filter(em: _Emitter, node: Node, g: Graph, p: dict, i: int, size: int) -> list[str]:
    """The copy of layer i's filter into its `size` arena bytes (codegen/stage.py); the layer's call
    then reads the copy."""
    off = em.plan.offsets[stage_name(i)]
    widen = is_widened(node, g, p, size)  # the copy's last argument
    how = " (widened to int16 on DSP cores)" if widen else ""
    why = (f"    /* --stage-weights: the kernel reads this filter {filter_reads(node, g)} times; "
           f"copied to the arena{how}, flash is read once */")
    if node.op == Op.DEPTHWISE_CONV_2D:  # the DSP group data, which only DSP builds declare and read
        flash = em.const("dsp_groups", p["dsp_groups"], layout="DSP")
        ram = f"((int32_t *)(arena + {off}))"
        em.staged = {flash: ram}
        return [why, "#if ML_DSP_LAYOUTS", f"    memcpy({ram}, {flash}, {p['dsp_groups'].nbytes});", "#endif"]
    w = g.t(node.inputs[1])
    flash = em.tensor(w.name)
    ram = f"((int8_t *)(arena + {off}))"
    out_c = w.shape[0]
    k = f"{w.size // out_c}"
    if (padded := impl_for(node.op).m0_padded_filter(node, g, p)) is not None:
        # Cortex-M0/M3 builds copy the filter padded to an even K (ML_CONV_M0_FILTER): one more byte
        # a channel there, none elsewhere
        flash = f"ML_CONV_M0_FILTER({flash}, {em.const('m0_filter', padded, layout='M0')})"
        k = f"{k} + ML_CONV_M0_PAD_BYTES"
    # the kernel's own copy: widened for its two-channel routine on DSP builds (stage.widens),
    # else the bytes and a zeroed word after them (stage.OVERRUN)
    lines = [why, f"    ml_conv2d_s8_stage({ram}, {flash}, {out_c}, {k}, {int(widen)});"]
    em.staged = {w.name: ram}
    em.staged_widened = {w.name} if widen else set()
    return lines


# --- issue 11: the kinds of build a generated folder compiles differently: the layout families'
# (ml_common.h; ML_DSP_LAYOUTS and ML_M0_LAYOUTS are never both 1) and the portable rest
_BUILD_KINDS = frozenset(("DSP", "M0", "portable"))


def _kinds_of(condition: str) -> frozenset | None:
    """The kinds of build (_BUILD_KINDS) that compile the code under `#if condition`, for the
    conditions the generator writes (ML_X_LAYOUTS joined by ||, or !ML_X_LAYOUTS joined by &&);
    None for any other condition."""
    if re.fullmatch(r"ML_(DSP|M0)_LAYOUTS( \|\| ML_(DSP|M0)_LAYOUTS)*", condition):
        return frozenset(re.findall(r"ML_(DSP|M0)_LAYOUTS", condition))
    if re.fullmatch(r"!ML_(DSP|M0)_LAYOUTS( && !ML_(DSP|M0)_LAYOUTS)*", condition):
        return _BUILD_KINDS - frozenset(re.findall(r"ML_(DSP|M0)_LAYOUTS", condition))
    return None


def build_condition(kinds) -> str:
    """The `#if` condition that holds in exactly the builds of `kinds` (a strict, non-empty subset
    of _BUILD_KINDS): the inverse of _kinds_of."""
    kinds = frozenset(kinds)
    assert kinds and kinds < _BUILD_KINDS, kinds
    if "portable" in kinds:
        return " && ".join(f"!ML_{f}_LAYOUTS" for f in LAYOUT_FAMILIES if f not in kinds)
    return " || ".join(f"ML_{f}_LAYOUTS" for f in LAYOUT_FAMILIES if f in kinds)


def _used_decls(decls: list[str], body: list[str]) -> list[str]:
    """The declarations less any ml_dims nothing refers to (a layer streamed in place through its
    pixel view passes the stream's dims, not the ones its kernel call was emitted with), which
    -Werror=unused-const-variable would refuse; one that only some kinds of build refer to (a layer
    that DSP or Cortex-M0 builds run in one call and others in chunks: `#if ML_DSP_LAYOUTS` ...
    `#else` in the body) is declared in those builds only. References live in the body and the
    small declarations (params and stream structs), never in the constant arrays."""
    dims = {m.group(1): k for k, d in enumerate(decls) if (m := re.match(r"static const ml_dims (\w+) = ", d))}
    if not dims:
        return decls
    seen = {kind: set() for kind in _BUILD_KINDS}   # the words each kind of build compiles

    def note(text, kinds):
        for w in re.findall(r"\w+_dims_\w+", text):
            for kind in kinds:
                seen[kind].add(w)
    stack = [(_BUILD_KINDS, None, _BUILD_KINDS)]   # (kinds compiling the #if, its condition's, now)
    for line in body:
        head = line.strip()
        if head.startswith("#if"):
            cond = _kinds_of(head.split(None, 1)[1]) if head.startswith("#if ") else None
            outer = stack[-1][2]
            stack.append((outer, cond, outer & cond if cond is not None else outer))
        elif head == "#else" and len(stack) > 1:
            outer, cond, _ = stack[-1]
            stack[-1] = (outer, cond, outer - cond if cond is not None else outer)
        elif head.startswith("#endif") and len(stack) > 1:
            stack.pop()
        else:
            note(line, stack[-1][2])
    for d in decls:
        if len(d) < 4096 and not d.startswith("static const ml_dims "):
            first = d.split("\n", 1)[0]
            cond = _kinds_of(first[4:]) if first.startswith("#if ") else None
            note(d, cond if cond is not None else _BUILD_KINDS)
    out = []
    for k, d in enumerate(decls):
        ident = next((i for i, j in dims.items() if j == k), None)
        users = frozenset(kind for kind in _BUILD_KINDS if ident in seen[kind])
        if ident is None or users == _BUILD_KINDS:
            out.append(d)
        elif users:
            out.append(f"#if {build_condition(users)}\n{d}#endif\n")
    return out


def _c_literal(v) -> str:
    if isinstance(v, (float, np.floating)):
        text = f"{float(np.float32(v)):.9g}"
        if not any(ch in text for ch in ".en"):
            text += ".0"
        return text + "f"
    if isinstance(v, (bool, np.bool_)):
        return "1" if v else "0"
    if isinstance(v, (int, np.integer)):
        v = int(v)
        if v == -(1 << 31):
            return "INT32_MIN"
        return str(v)
    return str(v)  # an identifier or expression already


def _array_body(arr: np.ndarray) -> str:
    flat = arr.reshape(-1)
    items = [_c_literal(x) for x in flat.tolist()] if flat.dtype.kind == "f" else \
        [str(int(x)) if int(x) != -(1 << 31) else "INT32_MIN" for x in flat.tolist()]
    lines, line = [], "   "
    for it in items:
        if len(line) + len(it) + 2 > 96:
            lines.append(line)
            line = "   "
        line += " " + it + ","
    lines.append(line)
    return "\n".join(lines)


# Core families with constants laid out for their kernels: the builds of family F compile those
# arrays (#if ML_F_LAYOUTS, microlith_kernels/ml_common.h) and link them in place of the portable ones.
LAYOUT_FAMILIES = ("DSP", "M0")


@dataclass
class _Emitter:
    """The EmitContext that op implementations write through."""
    prefix: str
    graph: Graph
    plan: MemoryPlan
    io_names: dict[str, str]
    decls: list[str] = field(default_factory=list)
    const_bytes: int = 0
    layout_bytes: int = 0   # copies laid out for one core family's kernels (const(layout=...)), which
    layouts: dict = field(default_factory=dict)  # those builds link in place of others: ident -> family
    layer: int = 0
    constants: list[tuple[str, bytes]] = field(default_factory=list)  # (ident, bytes) for the CRC
    _seen: dict[str, str] = field(default_factory=dict)
    _const_ident: dict[str, str] = field(default_factory=dict)
    io_read: set[str] = field(default_factory=set)  # graph inputs/outputs some call refers to
    states: list[str] = field(default_factory=list)  # --- issue 10: op state arrays, for NAME_reset
    layer_modes: list[str] = field(default_factory=list)  # --- issue 11: --optimize, per layer
    staged: dict[str, str] = field(default_factory=dict)  # --- issue 11: const tensor or array -> its arena copy, this layer
    staged_widened: set = field(default_factory=set)  # the filters among them staged widened (ml_conv2d_s8_stage)
    in_ram: bool = False  # --- issue 11: --weights-in-ram, the constant arrays placed in .data

    def _array_decl(self, ctype: str, ident: str, n: int, body: str) -> str:
        """A constant array's definition; with --weights-in-ram it goes to a .data section of its
        own (RAM, given its initial value by the start-up code's copy from flash)."""
        place = f" {self.prefix.upper()}_IN_RAM({ident})" if self.in_ram else ""
        return f"static const {ctype} {ident}[{n}]{place} = {{\n{body}\n}};\n"

    @property
    def optimize(self) -> str:
        """"speed" or "size" for the layer being emitted (codegen/optimize.py): the one switch an
        op's emit() reads to keep or drop code or data that only buy instructions."""
        return self.layer_modes[self.layer] if self.layer < len(self.layer_modes) else "speed"

    def state(self, hint: str, ctype: str, count: int) -> str:
        """A static array this layer keeps from one invoke to the next: the persistent buffer in
        which a TFLM kernel keeps state of its own (e.g. a noise estimate). C zero-initialises
        it at program start and NAME_reset() zeroes it again (TFLM's MicroInterpreter::Reset)."""
        ident = f"{self.prefix}_l{self.layer}_{hint}"
        self._declare(ident, f"/* layer {self.layer}'s state, kept across invokes; {self.prefix}_reset() "
                             f"zeroes it */\nstatic {ctype} {ident}[{max(int(count), 1)}];\n")
        if ident not in self.states:
            self.states.append(ident)
        return ident

    def _declare(self, ident: str, text: str) -> str:
        if ident in self._seen:
            if self._seen[ident] != text:
                raise AssertionError(f"two different declarations named {ident}")
            return ident
        self._seen[ident] = text
        self.decls.append(text)
        return ident

    def const(self, hint: str, array: np.ndarray, layout: str | None = None) -> str:
        """A static const array. layout ("DSP" or "M0", LAYOUT_FAMILIES): a copy of constants laid
        out for that core family's kernels, which its builds reference instead of the portable
        arrays (ML_DW_DSP_DATA, ML_FC_DSP_WEIGHTS, ML_CONV_M0_BIAS) and only they compile
        (#if ML_<family>_LAYOUTS, ml_common.h): counted apart, so const_bytes stays what one build
        links."""
        if layout is not None and layout not in LAYOUT_FAMILIES:
            raise AssertionError(f"unknown layout family {layout}")
        array = np.asarray(array)
        ctype = CTYPES[str(array.dtype) if array.dtype != np.float64 else "float32"]
        if array.dtype == np.float64:
            array = array.astype(np.float32)
        ident = f"{self.prefix}_l{self.layer}_{hint}"
        n = max(array.size, 1)
        body = _array_body(array) if array.size else "    0,"
        if ident not in self._seen:
            if layout:
                self.layout_bytes += n * array.dtype.itemsize
                self.layouts[ident] = layout
            else:
                self.const_bytes += n * array.dtype.itemsize
            self.constants.append((ident, _le_bytes(array, ctype)))
        decl = self._array_decl(ctype, ident, n, body)
        if layout:  # only that family's builds compile it (ml_common.h)
            decl = f"#if ML_{layout}_LAYOUTS\n{decl}#endif\n"
        self._declare(ident, decl)
        return self.staged.get(ident, ident)  # --- issue 11: a staged copy, once _stage_filter made one

    def struct(self, ctype: str, hint: str, fields: dict, unless: tuple[str, ...] = ()) -> str:
        """A static const struct; `unless` (layout families, LAYOUT_FAMILIES): not declared in those
        families' builds, which never refer to it (-Wunused-const-variable)."""
        ident = f"{self.prefix}_l{self.layer}_{hint}"
        body = ",\n".join(f"    .{k} = {_c_literal(v)}" for k, v in fields.items())
        decl = f"static const {ctype} {ident} = {{\n{body}\n}};\n"
        if unless:
            decl = f"#if {build_condition(_BUILD_KINDS - set(unless))}\n{decl}#endif\n"
        self._declare(ident, decl)
        return "&" + ident

    def dims(self, shape) -> str:
        d = dims4(shape)
        ident = f"{self.prefix}_dims_" + "x".join(str(x) for x in d)
        self._declare(ident, f"static const ml_dims {ident} = {{ {d[0]}, {d[1]}, {d[2]}, {d[3]} }};\n")
        return "&" + ident

    def tensor(self, name: str) -> str:
        t = self.graph.t(name)
        ctype = CTYPES[t.dtype]
        if name in self.staged:
            return self.staged[name]
        root = self.plan.alias.get(name, name)
        if root in self.io_names:  # the caller's buffers, typed as the API declares them
            self.io_read.add(root)
            return self.io_names[root]
        if t.is_const:
            if name not in self._const_ident:
                node = self.graph.nodes[self.layer]
                k = node.inputs.index(name) if name in node.inputs else -1
                role = _CONST_ROLES.get((node.op, k), f"input{k}" if k >= 0 else "const")
                ident = f"{self.prefix}_l{self.layer}_{role}"
                self._const_ident[name] = ident
                if ident not in self._seen:
                    self.const_bytes += max(t.size, 1) * t.np_dtype.itemsize
                    self.constants.append((ident, _le_bytes(t.data, ctype)))
                self._declare(ident, f"/* '{safe_text(name)}' {list(t.shape)} {t.dtype} */\n" +
                              self._array_decl(ctype, ident, max(t.size, 1), _array_body(t.data)))
            return self._const_ident[name]
        if t.variable:  # state: its own buffer, which outlives the invoke (planner.state_layout)
            return f"(({ctype} *)(state + {self.plan.state_offsets[name]}))"
        off = self.plan.offset_of(name)
        if off is None:
            raise AssertionError(f"tensor {name} has no memory")
        return f"(({ctype} *)(arena + {off}))"

    def scratch(self, skip: int = 0) -> str:
        """This layer's scratch: the kernel's part first, then (skip=kernel bytes) the in-place window."""
        off = self.plan.offsets.get(scratch_name(self.layer))
        if off is None:
            raise AssertionError(f"layer {self.layer} asked for scratch it did not reserve")
        return f"((void *)(arena + {off + skip}))"


_NP_OF_CTYPE = {"int8_t": "<i1", "uint8_t": "<u1", "int16_t": "<i2", "int32_t": "<i4", "int64_t": "<i8",
                "float": "<f4",
                # --- issue 10: signal ops
                "uint16_t": "<u2", "uint32_t": "<u4", "uint64_t": "<u8"}


def _le_bytes(array, ctype: str) -> bytes:
    """The bytes a const array occupies in (little-endian) memory, as the C literal lays them out."""
    flat = np.asarray(array).reshape(-1)
    if flat.size == 0:
        flat = np.zeros(1, flat.dtype)
    return flat.astype(_NP_OF_CTYPE[ctype]).tobytes()


_CONST_ROLES = {(op, k): role for op in (Op.CONV_2D, Op.DEPTHWISE_CONV_2D, Op.FULLY_CONNECTED)
                for k, role in ((1, "weights"), (2, "bias"))}
# --- issue 10: recurrent layers (TFLite's input order, lstm_shared.h for the LSTM)
_CONST_ROLES.update({(Op.SVDF, 1): "weights_feature", (Op.SVDF, 2): "weights_time", (Op.SVDF, 3): "bias"})
_CONST_ROLES.update({(Op.UNIDIRECTIONAL_SEQUENCE_LSTM, k): f"{kind}_{gate}"
                     for base, kind in ((1, "input_weights"), (5, "recurrent_weights"), (12, "bias"))
                     for k, gate in enumerate(("input_gate", "forget_gate", "cell_gate", "output_gate"), base)})


@dataclass
class GeneratedC:
    out_dir: Path
    name: str
    arena_bytes: int
    weight_bytes: int
    kernels: list[str]
    files: list[str]
    constants_crc32: int = 0
    state_bytes: int = 0  # recurrent layers' state, kept apart from the arena
    optimize: dict | None = None  # --- issue 11: the --optimize choice (optimize.Plan.report)
    layout_bytes: int = 0  # constants laid out again for a core family's kernels (Emitter.const(layout=))


def _io_params(graph: Graph) -> tuple[dict[str, str], list[str]]:
    names, decl = {}, []
    for kind, lst, const in (("input", graph.inputs, "const "), ("output", graph.outputs, "")):
        for k, tname in enumerate(lst):
            ident = kind if len(lst) == 1 else f"{kind}{k}"
            names.setdefault(tname, ident)
            decl.append(f"{const}{CTYPES[graph.t(tname).dtype]} *{ident}")
    return names, decl


def _describe(node: Node, g: Graph) -> str:
    ins = [g.t(n) for n in node.inputs if n is not None and not g.t(n).is_const]
    shp = lambda t: "x".join(str(d) for d in t.shape) or "scalar"  # noqa: E731
    src = ", ".join(shp(t) for t in ins)
    return f"{node.op.value} {src} -> {shp(g.t(node.outputs[0]))}"


# --- issue 11: --weights-in-ram. On a part whose flash has wait states (STM32L4R5: 5 at 120 MHz)
# behind a cache too small for a layer's weights, every weight load stalls; a layer that reads its
# weights once (a fully connected layer: AD is almost nothing else) gains nothing from staging them
# in the arena (codegen/stage.py), since the copy reads the flash as often. In RAM they stall never,
# for RAM of their size. Each array keeps a section of its own, as -fdata-sections gives the flash
# ones, so a linker map still tells the weights apart from the code.
_IN_RAM_NOTE = """\
/* Generated with --weights-in-ram: every constant array below (weights, biases, tables) is placed
 * in a .data section of its own, so it lives in RAM, where loads take no flash wait states, and the
 * start-up code copies it there from flash once, as it does for any initialised data. RAM grows by
 * the constants' size; flash keeps the same bytes. Another placement (e.g. a core-coupled RAM's
 * section of your linker script): define {up}_IN_RAM(id) before this file is compiled. On a
 * toolchain without ELF sections the arrays stay ordinary const data. */
#ifndef {up}_IN_RAM
#if defined(__GNUC__) && defined(__ELF__)
#define {up}_IN_RAM(id) __attribute__((section(".data." #id)))
#else
#define {up}_IN_RAM(id)
#endif
#endif"""


def generate(prep: Prepared, out_dir: str | os.PathLike, name: str | None = None,
             force: bool = False, weights_in_ram: bool = False) -> GeneratedC:
    """Write the C folder for `prep` (see outdir.write_folder for how an existing folder is treated)."""
    gen, files = render(prep, name, weights_in_ram)
    write_folder(out_dir, files, kind="model", force=force)
    gen.out_dir = Path(out_dir)
    return gen


def render(prep: Prepared, name: str | None = None,
           weights_in_ram: bool = False) -> tuple[GeneratedC, dict[str, str]]:
    """The generated folder's files (relative path -> text), nothing written. weights_in_ram
    (--weights-in-ram): every constant array in RAM instead of flash (_IN_RAM_NOTE)."""
    g, plan = prep.graph, prep.plan
    prefix = check_identifier(name) if name is not None else default_prefix(g.name)
    up = prefix.upper()
    io_names, io_decl = _io_params(g)
    em = _Emitter(prefix, g, plan, io_names, in_ram=weights_in_ram)
    opt = prep.optimize if prep.optimize is not None else plan_layers(g, "speed", prep.streams)
    em.layer_modes = list(opt.layer_modes)
    em.m0_filter_cache = opt.m0_filter_cache  # compile --target BOARD with a flash cache (ops/conv.py)

    body, kernels = [], set()
    for i, node in enumerate(g.nodes):
        em.layer = i
        impl = impl_for(node.op)
        kernels.update(impl.kernels_for(node, g, prep.params[i]))
        out = node.outputs[0]
        out_t = g.t(out)
        body.append(f"    /* layer {i}: {_describe(node, g)} */")
        body.append(f"    ML_LAYER_BEGIN({i});")
        em.staged, em.staged_widened = {}, set()
        if i in prep.staged:
            body += _stage_filter(em, node, g, prep.params[i], i, prep.staged[i])
        if i in plan.shared:
            body.append(f"    /* writes its output over '{safe_text(plan.shared[i][0])}', which dies here */")
        if impl.alias and plan.alias.get(out) is not None:
            body.append(f"    /* shares the memory of '{safe_text(node.inputs[0])}' */")
        elif impl.alias:
            src = em.tensor(node.inputs[0])
            body.append(f"    memcpy({em.tensor(out)}, {src}, {out_t.nbytes});")
        elif i in prep.streams:
            call = impl.emit(node, g, prep.params[i], em)
            st = prep.streams[i]
            window = em.scratch(prep.kernel_scratch.get(i, 0))
            whole = prep.whole_families(i)   # the builds that run it in one call leave the chunks out
            if i in opt.inline_glue:
                chunks = emit_row_stream(call, st, em.tensor(node.inputs[0]), em.tensor(out), window, em._seen,
                                         (em.dims(st.in_shape), em.dims(st.out_shape)))
            else:  # --- issue 11: the compact form, through one shared cursor
                kernels.add("ml_row_stream")
                chunks = emit_row_cursor(call, st, em.tensor(node.inputs[0]), em.tensor(out), window, em._seen,
                                         em, unless=whole)
            if whole:  # --- issue 11: those builds run it whole, its output over its input
                body += [f"#if {build_condition(whole)}",
                         "    /* in place in one call: the path these cores take reads what each output covers",
                         "     * before it writes it (the kernel's header) */",
                         f"    status = {call};",
                         "    if (status != ML_OK) {\n        return (int)status;\n    }",
                         "#else", *chunks, "#endif"]
            else:
                body += chunks
        else:
            call = impl.emit(node, g, prep.params[i], em)
            body.append(f"    status = {call};")
            body.append("    if (status != ML_OK) {\n        return (int)status;\n    }")
        body.append(f"    ML_LAYER_END({i}, {em.tensor(out)}, {out_t.nbytes});")

    kernels = sorted(kernels)
    # CRCs: of the constants every build compiles, and per layout family of those and its layouts
    const_data = b"".join(data for ident, data in em.constants if ident not in em.layouts)
    crc, const_total = zlib.crc32(const_data), len(const_data)
    families = [f for f in LAYOUT_FAMILIES if f in em.layouts.values()]
    crc_of = {f: zlib.crc32(b"".join(data for ident, data in em.constants if em.layouts.get(ident, f) == f))
              for f in families}
    origin = safe_text(os.path.basename(g.source) if g.source else g.name)
    banner = (f"/* Generated by microlith {__version__} from {origin}. Do not edit.\n"
              f" * {len(g.nodes)} layers, arena {plan.arena_size} bytes, constants {em.const_bytes} bytes"
              f"{f' (+{em.layout_bytes} bytes laid out for {chr(47).join(families)} kernels, linked in place of some)' if em.layout_bytes else ''}"
              f"{f', state {plan.state_size} bytes' if g.state_tensors() else ''}. */\n")

    # -- header
    h = [banner, f"#ifndef {up}_H", f"#define {up}_H", "", "#include <stdint.h>", "",
         "#ifdef __cplusplus", 'extern "C" {', "#endif", "",
         f"/* Bytes of working memory one inference needs ({prefix}_invoke_with_arena). */",
         f"#define {up}_ARENA_SIZE {plan.arena_size}", ""]
    for kind, lst in (("INPUT", g.inputs), ("OUTPUT", g.outputs)):
        for k, tname in enumerate(lst):
            t = g.t(tname)
            tag = kind if len(lst) == 1 else f"{kind}{k}"
            h.append(f"/* {kind.lower()} '{safe_text(tname)}': {t.dtype} {list(t.shape)} */")
            h.append(f"#define {up}_{tag}_SIZE {t.size}")
            if t.quant is not None and not t.quant.per_axis:
                h.append(f"#define {up}_{tag}_SCALE {_c_literal(t.quant.scale[0])}")
                h.append(f"#define {up}_{tag}_ZERO_POINT {t.quant.zero_point[0]}")
            h.append("")
    sig = ", ".join(io_decl)
    stateful = bool(g.state_tensors())
    if stateful:
        h += _state_header(prefix, g, plan)
    reentrant = f"{prefix}_invoke_with_state" if stateful else f"{prefix}_invoke_with_arena"
    h += ["/* Runs one inference on a static arena. Returns 0, or a negative ml_status code.",
          f" * Not re-entrant: use {reentrant} from several threads. */",
          f"int {prefix}_invoke({sig});", "",
          f"/* Same, on caller memory of {up}_ARENA_SIZE bytes, aligned to 8 bytes. */",
          f"int {prefix}_invoke_with_arena({sig}, void *arena);", ""]
    if stateful:
        h += [f"/* Same, on caller memory for the arena and for the state ({up}_STATE_SIZE bytes, aligned to",
              f" * 8 bytes, set up by {prefix}_reset_state before the first call): one state per stream,",
              " * e.g. one per audio channel, with the same constants. */",
              f"int {prefix}_invoke_with_state({sig}, void *arena, void *state);", ""]
    h += [
          "/* CRC-32 (IEEE 802.3, as zlib's crc32) of every constant array (weights, biases, tables) in",
          " * declaration order, as laid out in little-endian memory"
          + (";" if families else ". */"),
          *([f" * _{'/_'.join(families)}: with the copies laid out for that core family's kernels, which only",
             " * its builds compile (ML_<family>_LAYOUTS in microlith_kernels/ml_common.h). */"] if families else []),
          f"#define {up}_CONSTANTS_CRC32 0x{crc:08X}u",
          *[f"#define {up}_CONSTANTS_CRC32_{f} 0x{crc_of[f]:08X}u" for f in families], "",
          f"/* Recomputes that CRC over the constants {'in RAM' if weights_in_ram else 'in flash'}: 0 when intact, "
          "else ML_CHECKSUM_ERROR (-3).",
          f" * Takes about 10 instructions per constant byte ({const_total} bytes); call it at boot. */",
          f"int {prefix}_self_test(void);", ""]
    if em.states and not stateful:  # --- issue 10: ops that keep state across invokes
        h += ["/* Some layers keep state from one invoke to the next (in static memory, not in the arena,",
              " * so invokes of this model must not overlap, even with separate arenas). This puts every",
              " * layer back in its initial state, as TFLM's MicroInterpreter::Reset does. */",
              f"void {prefix}_reset(void);", ""]
    h += ["#ifdef __cplusplus", "}", "#endif", f"#endif /* {up}_H */", ""]

    # -- source
    arg_names = ", ".join(d.split("*")[-1] for d in io_decl)
    c = [banner, f'#include "{prefix}.h"', "", f'#include "{KERNEL_DIR}/ml_common.h"',
         f'#include "{KERNEL_DIR}/{VERSION_HEADER}"']
    c += [f'#include "{KERNEL_DIR}/{k}.h"' for k in kernels if kernel_file(f"{k}.h")]
    c += ["", f"#if !defined(ML_KERNELS_VERSION_{_version_tag()})",
          f'#error "{prefix}.c needs the microlith_kernels of microlith {__version__}: regenerate every model '
          'with one microlith version"', "#endif"]
    if opt.mode != "speed":  # --- issue 11: the layer calls are not where the time goes
        c += ["", f"/* --optimize {opt.mode}: this file only calls the kernels, so GCC compiles it for size. */",
              "#if defined(__GNUC__) && !defined(__clang__)", '#pragma GCC optimize("Os")', "#endif"]
    c += ["",
          "/* Per-layer hooks for tracing and profiling; empty unless the build defines them. */",
          "#ifndef ML_LAYER_BEGIN", "#define ML_LAYER_BEGIN(layer)", "#endif",
          "#ifndef ML_LAYER_END", "#define ML_LAYER_END(layer, data, bytes)", "#endif", ""]
    if weights_in_ram:  # --- issue 11
        c += [*_IN_RAM_NOTE.format(up=up).splitlines(), ""]
    c += _used_decls(em.decls, body)
    if stateful:
        c += [f"int {prefix}_invoke_with_state({sig}, void *arena_memory, void *state_memory)", "{",
              "    uint8_t *const arena = (uint8_t *)arena_memory;",
              "    uint8_t *const state = (uint8_t *)state_memory;",
              "    ml_status status = ML_OK;",
              "    (void)arena;", "    (void)state;", "    (void)status;"]
    else:
        c += [f"int {prefix}_invoke_with_arena({sig}, void *arena_memory)", "{",
              "    uint8_t *const arena = (uint8_t *)arena_memory;",
              "    ml_status status = ML_OK;",
              "    (void)arena;", "    (void)status;"]
    # A graph input no kernel reads (TFLM's TRANSPOSE_CONV ignores its output-shape operand,
    # which some models feed as a graph input) stays in the signature, marked used.
    c += [f"    (void){io_names[n]};" for n in g.inputs if n not in em.io_read] + [""]
    c += body
    c += ["    return 0;", "}", ""]
    if stateful:
        c += _state_source(prefix, g, plan, sig, arg_names, em.states)
    c += [f"static union {{ uint8_t bytes[{max(plan.arena_size, 1)}]; int64_t align; }} {prefix}_arena;", "",
          f"int {prefix}_invoke({sig})", "{",
          f"    return {prefix}_invoke_with_arena({arg_names}, {prefix}_arena.bytes);", "}", ""]
    if em.states and not stateful:  # --- issue 10: ops that keep state across invokes
        c += [f"void {prefix}_reset(void)", "{"] + \
             [f"    memset({ident}, 0, sizeof({ident}));" for ident in em.states] + ["}", ""]
    c += _self_test(prefix, em.constants, em.layouts)

    files = {f"src/{prefix}.h": "\n".join(h), f"src/{prefix}.c": "\n".join(c)}
    copied = ["ml_common.h"] + [f"{k}{ext}" for k in kernels for ext in (".h", ".c")
                                if kernel_file(f"{k}{ext}")]
    for extra in _kernel_includes(copied):
        if extra not in copied:
            copied.append(extra)
    for fname in copied:
        files[f"src/{KERNEL_DIR}/{fname}"] = kernel_file(fname).read_text()
    files[f"src/{KERNEL_DIR}/{VERSION_HEADER}"] = _version_header()
    files[f"src/{KERNEL_DIR}/ml_config.h"] = config_header(opt)  # --- issue 11: --optimize
    files[f"src/{KERNEL_DIR}/{VERSION_SOURCE}"] = _version_source()
    files["CMakeLists.txt"] = _cmake(prefix, sorted(f for f in files if f.endswith(".c")))
    files["library.properties"] = _arduino(prefix)
    files["README.md"] = _readme(prefix, g, plan, em.const_bytes, kernels, origin, weights_in_ram) + readme_section(opt)
    if stateful:
        files["README.md"] += _state_readme(prefix, g, plan)
    if em.states and not stateful:  # --- issue 10: ops that keep state across invokes
        files["README.md"] += f"""
## State

Some layers keep state from one invoke to the next (e.g. a running noise estimate), in static
memory beside the arena: consecutive invokes see one stream of frames, as in TFLM. Call
`{prefix}_reset()` to start a new stream (TFLM's `MicroInterpreter::Reset`). Invokes of this
model must not overlap, even with separate arenas.
"""
    gen = GeneratedC(None, prefix, plan.arena_size, em.const_bytes, kernels, sorted(files), crc, plan.state_size,
                     opt.report(), em.layout_bytes)
    return gen, files


def _state_header(prefix: str, g: Graph, plan: MemoryPlan) -> list[str]:
    """The state API's declarations (models with recurrent layers only)."""
    up = prefix.upper()
    lines = ["/* Bytes of state the recurrent layers keep from one invoke to the next: not part of the",
             f" * arena, which the next invoke reuses. {prefix}_invoke and {prefix}_invoke_with_arena keep it",
             " * in a static buffer. It holds:"]
    for name in g.state_tensors():
        t = g.t(name)
        lines.append(f" *   '{safe_text(name)}': {t.dtype} {list(t.shape)}, reset to {t.reset_value}")
    lines[-1] += " */"
    lines += [f"#define {up}_STATE_SIZE {plan.state_size}", "",
              "/* Restarts the static state, as TFLM's interpreter does when it allocates tensors or is",
              " * reset (MicroInterpreter::Reset): call it between independent streams (recordings). The",
              " * state starts this way; each invoke continues from where the previous one left it. */",
              f"void {prefix}_reset(void);", "",
              f"/* Same for a caller's state buffer of {up}_STATE_SIZE bytes ({prefix}_invoke_with_state). */",
              f"void {prefix}_reset_state(void *state);", ""]
    return lines


def _state_source(prefix: str, g: Graph, plan: MemoryPlan, sig: str, arg_names: str,
                  op_states: list[str] = ()) -> list[str]:
    """The static state buffer, the reset functions and the stateful invoke_with_arena.
    op_states: static arrays in which layers keep state of their own (EmitContext.state): one
    NAME_reset() restarts those too; they are static even for a caller-owned state buffer."""
    reset = [f"void {prefix}_reset_state(void *state_memory)", "{",
             "    uint8_t *const state = (uint8_t *)state_memory;"]
    for name in g.state_tensors():
        t = g.t(name)
        fill = t.reset_value & 0xFF  # memset writes the byte: an int8 zero point's two's complement
        reset.append(f"    memset(state + {plan.state_offsets[name]}, {fill}, {t.nbytes});  "
                     f"/* '{safe_text(name)}' */")
    reset += ["}", ""]
    # The static state starts reset without a constructor: a flag, cleared in .bss, makes the first
    # invoke reset it (int8 state resets to its zero point, which .bss zeros are not).
    return reset + [
        f"static union {{ uint8_t bytes[{max(plan.state_size, 1)}]; int64_t align; }} {prefix}_state;",
        f"static uint8_t {prefix}_state_ready;", "",
        f"void {prefix}_reset(void)", "{",
        f"    {prefix}_reset_state({prefix}_state.bytes);",
        *[f"    memset({ident}, 0, sizeof({ident}));" for ident in op_states],
        f"    {prefix}_state_ready = 1u;", "}", "",
        f"int {prefix}_invoke_with_arena({sig}, void *arena)", "{",
        f"    if (!{prefix}_state_ready) {{", f"        {prefix}_reset();", "    }",
        f"    return {prefix}_invoke_with_state({arg_names}, arena, {prefix}_state.bytes);", "}", ""]


def _self_test(prefix: str, constants: list[tuple[str, bytes]], layouts: dict | None = None) -> list[str]:
    """NAME_self_test(): a table-driven (16-entry, nibble-wise) CRC-32 over the constant arrays
    (a family's layouts only where the build compiles them, against that family's CRC there)."""
    layouts = layouts or {}
    table = [0] * 16
    for n in range(16):
        v = n
        for _ in range(4):
            v = (v >> 1) ^ (0xEDB88320 if v & 1 else 0)
        table[n] = v
    rows = []
    for ident, _ in constants:
        row = f"    {{ {ident}, sizeof({ident}) }},"
        rows += [f"#if ML_{layouts[ident]}_LAYOUTS", row, "#endif"] if ident in layouts else [row]
    rows = rows or ["    { 0, 0 },"]
    want = f"{prefix.upper()}_CONSTANTS_CRC32"
    for fam in reversed([f for f in LAYOUT_FAMILIES if f in layouts.values()]):
        want = f"(ML_{fam}_LAYOUTS ? {prefix.upper()}_CONSTANTS_CRC32_{fam} : {want})"
    return [f"static const struct {{ const void *data; uint32_t bytes; }} {prefix}_constants[] = {{", *rows, "};", "",
            f"static const uint32_t {prefix}_crc_nibble[16] = {{",
            "    " + ", ".join(f"0x{v:08X}u" for v in table[:8]) + ",",
            "    " + ", ".join(f"0x{v:08X}u" for v in table[8:]) + ",", "};", "",
            f"int {prefix}_self_test(void)", "{",
            "    uint32_t crc = 0xFFFFFFFFu;",
            f"    for (size_t i = 0; i < sizeof({prefix}_constants) / sizeof({prefix}_constants[0]); ++i) {{",
            f"        const uint8_t *p = (const uint8_t *){prefix}_constants[i].data;",
            f"        for (uint32_t k = 0; k < {prefix}_constants[i].bytes; ++k) {{",
            "            crc ^= p[k];",
            f"            crc = (crc >> 4) ^ {prefix}_crc_nibble[crc & 15u];",
            f"            crc = (crc >> 4) ^ {prefix}_crc_nibble[crc & 15u];",
            "        }", "    }",
            f"    if (ml_kernels_version_{_version_tag()}[0] != 'm') {{  /* links only with the same kernels */",
            "        return (int)ML_CHECKSUM_ERROR;", "    }",
            f"    return (~crc == {want}) ? 0 : (int)ML_CHECKSUM_ERROR;", "}", ""]


def _kernel_includes(files: list[str]) -> list[str]:
    """Headers the copied kernels include themselves (e.g. shared fixed-point helpers)."""
    todo, seen = list(files), []
    while todo:
        f = todo.pop()
        for inc in re.findall(r'#include "([^"]+)"', kernel_file(f).read_text()):
            if inc not in seen and inc not in files and kernel_file(inc):
                seen.append(inc)
                todo.append(inc)
                base = inc[:-2]
                if kernel_file(f"{base}.c") and f"{base}.c" not in seen and f"{base}.c" not in files:
                    seen.append(f"{base}.c")
                    todo.append(f"{base}.c")  # its own includes are needed too
    return sorted(seen)


KERNEL_DIR = "microlith_kernels"
VERSION_HEADER = "ml_kernels_version.h"
VERSION_SOURCE = "ml_kernels_version.c"


def _version_tag() -> str:
    return re.sub(r"[^0-9A-Za-z]", "_", __version__)


def _version_header() -> str:
    tag = _version_tag()
    return f"""/* The microlith kernel library's version. Models generated by one microlith version share one
 * copy of the kernels; a model refuses to compile, and NAME_self_test refuses to link, against
 * kernels of another version. */
#ifndef ML_KERNELS_VERSION_H
#define ML_KERNELS_VERSION_H

#define ML_KERNELS_VERSION "{__version__}"
#define ML_KERNELS_VERSION_{tag} 1

extern const char ml_kernels_version_{tag}[];

#endif /* ML_KERNELS_VERSION_H */
"""


def _version_source() -> str:
    tag = _version_tag()
    return f"""#include "{VERSION_HEADER}"

const char ml_kernels_version_{tag}[] = "microlith kernels " ML_KERNELS_VERSION;
"""


def _cmake(prefix: str, sources: list[str]) -> str:
    """The model's library plus its share of one `microlith_kernels` library: each kernel source
    joins it once however many model folders a build adds, and folders of another microlith
    version stop the configure step. Sources are listed, never globbed."""
    model = [s for s in sources if f"/{KERNEL_DIR}/" not in s]
    kernels = [Path(s).stem for s in sources if f"/{KERNEL_DIR}/" in s and not s.endswith(VERSION_SOURCE)]
    model_lines = "\n".join(f"  ${{CMAKE_CURRENT_LIST_DIR}}/{s}" for s in model)
    return f"""# Generated by microlith {__version__}. Use from your project with:
#   add_subdirectory(path/to/this/folder)
#   target_link_libraries(your_firmware PRIVATE {prefix})
# Several models: add_subdirectory() each folder; they share one microlith_kernels library.
cmake_minimum_required(VERSION 3.13)
project({prefix} C)

set(_ml_version "{__version__}")
set(_ml_kernels "${{CMAKE_CURRENT_LIST_DIR}}/src/{KERNEL_DIR}")
if(NOT TARGET microlith_kernels)
  add_library(microlith_kernels STATIC "${{_ml_kernels}}/{VERSION_SOURCE}")
  target_include_directories(microlith_kernels PUBLIC "${{_ml_kernels}}")
  set_target_properties(microlith_kernels PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON)
  set_property(GLOBAL PROPERTY MICROLITH_KERNELS_VERSION "${{_ml_version}}")
else()
  get_property(_ml_have GLOBAL PROPERTY MICROLITH_KERNELS_VERSION)
  if(NOT _ml_have STREQUAL _ml_version)
    message(FATAL_ERROR "{prefix} was generated by microlith ${{_ml_version}}, but this build already has "
                        "microlith_kernels ${{_ml_have}}: regenerate every model with one microlith version")
  endif()
endif()
# --- issue 11: models generated with different --optimize share kernels built for all of them
file(SHA256 "${{_ml_kernels}}/ml_config.h" _ml_config)
get_property(_ml_config_have GLOBAL PROPERTY MICROLITH_KERNELS_CONFIG)
if(NOT DEFINED _ml_config_have OR _ml_config_have STREQUAL "")
  set_property(GLOBAL PROPERTY MICROLITH_KERNELS_CONFIG "${{_ml_config}}")
elseif(NOT _ml_config_have STREQUAL _ml_config)
  target_compile_definitions(microlith_kernels PRIVATE ML_CONFIG_MIXED=1)
endif()
foreach(_ml_k {' '.join(kernels)})
  get_property(_ml_done GLOBAL PROPERTY "MICROLITH_KERNEL_${{_ml_k}}")
  if(NOT _ml_done)
    target_sources(microlith_kernels PRIVATE "${{_ml_kernels}}/${{_ml_k}}.c")
    set_property(GLOBAL PROPERTY "MICROLITH_KERNEL_${{_ml_k}}" TRUE)
  endif()
endforeach()

add_library({prefix} STATIC
{model_lines})
target_include_directories({prefix} PUBLIC ${{CMAKE_CURRENT_LIST_DIR}}/src)
target_link_libraries({prefix} PUBLIC microlith_kernels)
set_target_properties({prefix} PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON)
"""


def _arduino(prefix: str) -> str:
    return f"""name={prefix}
version=1.0.0
author=microlith
maintainer=microlith
sentence=Neural network {prefix} compiled to C by microlith.
paragraph=No interpreter and no dynamic memory; weights in flash.
category=Data Processing
url=https://example.invalid/microlith
architectures=*
"""


def _state_readme(prefix: str, g: Graph, plan: MemoryPlan) -> str:
    up = prefix.upper()
    layers = sorted({g.nodes[i].op.value for i, n in enumerate(g.nodes)
                     for x in n.inputs if x is not None and g.t(x).variable})
    return f"""
## State (recurrent layers)

This model has {', '.join(layers)} layers, which remember earlier inputs: {up}_STATE_SIZE
({plan.state_size}) bytes of state, kept apart from the arena. Each call continues from the state
the previous call left, as TFLite Micro's interpreter does between `Invoke()` calls, so feed the
inputs of one stream in order.

- `{prefix}_reset()` restarts the state (as `MicroInterpreter::Reset()`: zeros, int8 state its zero
  point). The state starts reset; call it between independent streams, e.g. recordings.
- `{prefix}_invoke()` and `{prefix}_invoke_with_arena()` use one static state buffer.
- `{prefix}_invoke_with_state(input, output, arena, state)` runs on a state buffer of yours
  ({up}_STATE_SIZE bytes, 8-byte aligned; prepare it with `{prefix}_reset_state(state)`): one
  buffer per stream lets several streams share the model's constants.

RAM for this model is the arena plus the state.
"""


def _readme(prefix: str, g: Graph, plan: MemoryPlan, const_bytes: int, kernels, origin,
            in_ram: bool = False) -> str:
    up = prefix.upper()
    where = (f"placed in RAM: generated with `--weights-in-ram`, each array sits in a `.data` section of\n"
             f"its own, copied from flash by the start-up code; define `{up}_IN_RAM(id)` to place them\n"
             f"elsewhere);\none" if in_ram else "placed in\nflash by the linker); one")
    ins = ", ".join(f"{g.t(n).dtype} {list(g.t(n).shape)}" for n in g.inputs)
    outs = ", ".join(f"{g.t(n).dtype} {list(g.t(n).shape)}" for n in g.outputs)
    # The example declares the first input/output with its own C type (ARG_MAX writes int32).
    in_c, out_c = CTYPES[g.t(g.inputs[0]).dtype], CTYPES[g.t(g.outputs[0]).dtype]
    return f"""# {prefix}

Generated by microlith {__version__} from `{origin}`: {len(g.nodes)} layers, C99, no dynamic
memory, no interpreter. Weights and layer parameters are `const` ({const_bytes} bytes, {where} inference needs {plan.arena_size} bytes of working memory.

- input: {ins}
- output: {outs}
- kernels: {', '.join(kernels)}

## Use

```c
#include "{prefix}.h"

{in_c} input[{up}_INPUT_SIZE];   /* quantized with {up}_INPUT_SCALE / {up}_INPUT_ZERO_POINT */
{out_c} output[{up}_OUTPUT_SIZE];
int status = {prefix}_invoke(input, output);   /* 0 on success */
```

`{prefix}_invoke_with_arena(input, output, arena)` runs on your own `{up}_ARENA_SIZE`-byte buffer
(8-byte aligned), e.g. to place it in a chosen RAM bank.

`{prefix}_self_test()` recomputes the CRC-32 of the constants (weights, biases, tables) and
compares it with `{up}_CONSTANTS_CRC32` (`{up}_CONSTANTS_CRC32_DSP` in builds for cores with the
DSP extension, when the model has constants laid out for those kernels): 0 when intact,
`ML_CHECKSUM_ERROR` (-3) when flash was corrupted or the wrong image was flashed. Call it once at
boot; it reads every constant array, so a build that links it keeps them all.

## Build

- CMake: `add_subdirectory(this_folder)` and link the `{prefix}` target.
- Arduino: copy this folder into your `libraries/` folder.
- Anything else: compile `src/{prefix}.c` and the `src/microlith_kernels/*.c` files with `src/`
  on the include path.

## Several models in one program

Every public symbol of this model starts with `{prefix}_`; the kernels live in
`src/microlith_kernels/` and form one `microlith_kernels` library shared by all models:

```cmake
add_subdirectory(models/{prefix})      # this folder
add_subdirectory(models/other_model)   # another folder from microlith compile --name other_model
target_link_libraries(firmware PRIVATE {prefix} other_model)
```

Each folder adds the kernels it needs to `microlith_kernels` once; folders generated by
different microlith versions stop CMake's configure step with a message. Without CMake, compile
each `src/microlith_kernels/*.c` file name once (same-named files of one microlith version are
identical) plus each model's `src/NAME.c`; kernels of another version fail to link
(`ml_kernels_version_...`) as soon as `NAME_self_test` is linked in.

Define `ML_LAYER_BEGIN(layer)` and `ML_LAYER_END(layer, data, bytes)` when compiling
`{prefix}.c` to trace or time individual layers.
"""
