"""Memory planner: one arena, each activation at an offset, lifetimes decide who shares.

The interface follows TFLM's MicroMemoryPlanner: buffers go in as (size, first_use,
last_use) and come out as offsets. The algorithm is greedy by size (TFLM's
GreedyMemoryPlanner): the biggest buffer is placed first, each next one at the lowest offset
where it does not overlap any placed buffer whose lifetime intersects its own.

What is not in the arena: constants (flash; a copy of a layer's filter is, during that layer,
with --stage-weights: stage_name), the graph inputs and outputs (the caller's
buffers are used directly, so they cost no arena), outputs of alias ops (reshape,
squeeze), which share their input's memory, and state.

State (the variable tensors of recurrent ops, ir.Tensor.variable) must outlive the invoke, so
it never shares the arena, which the next invoke (or another model, or the caller) reuses: it
gets its own buffer, laid out one tensor after another (state_layout), that codegen makes a
static array or the caller's memory (NAME_invoke_with_state).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .ir import INDEX_LIMIT, Graph, MicrolithError


@dataclass(frozen=True)
class Buffer:
    name: str
    size: int
    first: int  # index of the op that writes it
    last: int   # index of the last op that reads it
    align: int = 4


@dataclass
class MemoryPlan:
    arena_size: int
    offsets: dict[str, int]                       # buffer name -> arena offset
    alias: dict[str, str] = field(default_factory=dict)   # tensor -> tensor whose memory it uses
    buffers: list[Buffer] = field(default_factory=list)
    # node -> (input buffer, output buffer) of the layers that run in place
    inplace: dict[int, tuple[str, str]] = field(default_factory=dict)
    # node -> (input buffer, output buffer) of elementwise layers writing over an input that
    # dies there (no streaming: element i is written after element i of every input is read)
    shared: dict[int, tuple[str, str]] = field(default_factory=dict)
    state_size: int = 0                                   # bytes of the state buffer
    state_offsets: dict[str, int] = field(default_factory=dict)  # state tensor -> offset in it

    def offset_of(self, tensor: str) -> int | None:
        return self.offsets.get(self.alias.get(tensor, tensor))


def greedy_offsets(buffers: list[Buffer], groups: list[list[tuple[str, int]]] | None = None
                   ) -> tuple[dict[str, int], int]:
    """Greedy by size. `groups` binds buffers at fixed distances (name, offset within group):
    an in-place layer's output sits at a fixed place relative to its input. A group is placed
    as a unit at the lowest offset where each member clears every placed buffer it lives with."""
    by_name = {b.name: b for b in buffers}
    grouped = {n for grp in groups or () for n, _ in grp}
    units = [list(grp) for grp in groups or ()] + [[(b.name, 0)] for b in buffers if b.name not in grouped]

    def extent(unit):
        return max(rel + by_name[n].size for n, rel in unit)

    units.sort(key=lambda u: (-extent(u), min(by_name[n].first for n, _ in u), u[0][0]))
    placed: list[tuple[int, Buffer]] = []
    offsets: dict[str, int] = {}
    for unit in units:
        members = [(by_name[n], rel) for n, rel in unit]
        align = max(m.align for m, _ in members)
        assert all(rel % align == 0 for _, rel in members), unit  # group distances keep alignment
        candidates = {0, max((off + b.size for off, b in placed), default=0)}
        for off, b in placed:
            for m, rel in members:
                if off + b.size - rel >= 0:
                    candidates.add(off + b.size - rel)
        for base in sorted({-(-c // align) * align for c in candidates}):
            if all(not (b.first <= m.last and m.first <= b.last and
                        off < base + rel + m.size and base + rel < off + b.size)
                   for m, rel in members for off, b in placed):
                break
        for m, rel in members:
            offsets[m.name] = base + rel
            placed.append((base + rel, m))
    end = max((offsets[b.name] + b.size for b in buffers), default=0)
    return offsets, end


def linear_offsets(buffers: list[Buffer]) -> tuple[dict[str, int], int]:
    """No sharing at all: the baseline the greedy plan is measured against."""
    offsets, end = {}, 0
    for b in buffers:
        end = -(-end // b.align) * b.align
        offsets[b.name] = end
        end += b.size
    return offsets, end


def state_layout(graph: Graph) -> tuple[dict[str, int], int]:
    """Offsets of the state tensors in the state buffer: in order of first use, each aligned to
    its element size (at least 4), as the arena's buffers are. Every state tensor lives for the
    whole program, so none can share."""
    offsets, end = {}, 0
    for name in graph.state_tensors():
        t = graph.t(name)
        align = max(4, t.np_dtype.itemsize)
        end = -(-end // align) * align
        offsets[name] = end
        end += t.nbytes
    return offsets, end


def scratch_name(node_index: int) -> str:
    return f"@scratch{node_index}"


def stage_name(node_index: int) -> str:
    """The arena bytes a layer copies its weights into before it runs (codegen/stage.py)."""
    return f"@stage{node_index}"


def plan_memory(graph: Graph, scratch: dict[int, int] | None = None,
                alias_ops: set[int] | None = None, strategy: str = "greedy",
                inplace: dict[int, tuple[int, int]] | None = None,
                elementwise: dict[int, tuple[int, ...]] | None = None,
                stage: dict[int, int] | None = None) -> MemoryPlan:
    """Plan the arena. `scratch` maps node index -> scratch bytes; `alias_ops` lists the nodes
    whose output may share their input's memory; `inplace` maps node index -> (delta, scratch
    bytes) for layers able to write their output at input offset + delta while they stream
    their input through that much scratch. In-place is taken where the input dies at that
    layer; the strategy "greedy-noinplace" turns it off. `elementwise` maps node index -> the
    input positions whose memory the output may take outright (same size; see
    OpImpl.inplace_inputs): the first such input that dies at that node gives its bytes.
    `stage` maps node index -> bytes of weights that layer copies into the arena (live during
    that layer only, like scratch, so they take free arena first and grow it only beyond that)."""
    scratch = dict(scratch or {})
    external = set(graph.inputs) | set(graph.outputs)
    alias: dict[str, str] = {}
    for i in sorted(alias_ops or ()):
        node = graph.nodes[i]
        src, dst = node.inputs[0], node.outputs[0]
        src = alias.get(src, src)
        # Sharing is only sound when the destination is not a caller buffer of its own, and
        # never with state, which the recurrent op overwrites at the next invoke.
        if dst not in external and not graph.t(src).is_const and not graph.t(src).variable:
            alias[dst] = src

    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for i, node in enumerate(graph.nodes):
        for name in node.outputs:
            root = alias.get(name, name)
            first.setdefault(root, i)
            last[root] = max(last.get(root, i), i)
        for name in node.inputs:
            if name is None:
                continue
            root = alias.get(name, name)
            if root in first:
                last[root] = max(last[root], i)

    # In-place layers: the output joins its input's group at a fixed distance.
    group_of: dict[str, list[tuple[str, int]]] = {}
    taken: dict[int, tuple[str, str]] = {}
    shared: dict[int, tuple[str, str]] = {}

    def lends(src: str, dst: str, i: int) -> bool:
        """Whether arena buffer src may hand its bytes to node i's output dst: src dies at node
        i and neither is a caller buffer, a constant, state or an alias (nor is dst placed yet)."""
        return not (src in external or dst in external or graph.t(src).is_const or graph.t(src).variable
                    or src not in first or last[src] != i or alias.get(dst, dst) != dst or dst in group_of)

    def join(src: str, dst: str, delta: int) -> None:
        grp = group_of.setdefault(src, [(src, 0)])
        grp.append((dst, dict(grp)[src] + delta))
        group_of[dst] = grp

    if strategy == "greedy":
        for i, (delta, extra) in sorted((inplace or {}).items()):
            node = graph.nodes[i]
            src, dst = alias.get(node.inputs[0], node.inputs[0]), node.outputs[0]
            if lends(src, dst, i):
                join(src, dst, delta)
                taken[i] = (src, dst)
                scratch[i] = scratch.get(i, 0) + extra
        for i, positions in sorted((elementwise or {}).items()):
            node, dst = graph.nodes[i], graph.nodes[i].outputs[0]
            for k in positions:
                src = alias.get(node.inputs[k], node.inputs[k])
                if lends(src, dst, i) and graph.t(src).nbytes == graph.t(dst).nbytes:
                    join(src, dst, 0)
                    shared[i] = (src, dst)
                    break

    buffers = []
    for name, f in first.items():
        t = graph.t(name)
        if name in external or t.is_const:
            continue
        buffers.append(Buffer(name, t.nbytes, f, last[name], max(4, t.np_dtype.itemsize)))
    for i, size in sorted(scratch.items()):
        if size > 0:
            buffers.append(Buffer(scratch_name(i), size, i, i, 8))
    for i, size in sorted((stage or {}).items()):
        if size > 0:
            buffers.append(Buffer(stage_name(i), size, i, i, 8))
    groups = []
    for grp in {id(g_): g_ for g_ in group_of.values()}.values():
        low = min(rel for _, rel in grp)
        groups.append([(n, rel - low) for n, rel in grp])
    if strategy == "linear":
        offsets, end = linear_offsets(buffers)
    else:
        offsets, end = greedy_offsets(buffers, groups)
    if end > INDEX_LIMIT:  # every buffer passed the limits; their sum still has to fit int32 offsets
        raise MicrolithError(f"{graph.source or graph.name}: the memory plan needs an arena of {end} bytes; "
                             f"the generated code addresses at most {INDEX_LIMIT}. Use a smaller model")
    state_offsets, state_size = state_layout(graph)
    if end + state_size > INDEX_LIMIT:
        raise MicrolithError(f"{graph.source or graph.name}: the arena ({end} bytes) and the state ({state_size} "
                             f"bytes) together exceed the {INDEX_LIMIT} bytes the generated code addresses")
    return MemoryPlan(end, offsets, alias, buffers, taken, shared, state_size, state_offsets)


def overlapping(plan: MemoryPlan) -> list[tuple[str, str]]:
    """Pairs of buffers that share bytes while both are live: must always be empty, except an
    in-place layer's own input and output at that layer (it streams through scratch, or, for
    an elementwise layer, reads each element before writing it)."""
    bad = []
    pairs = set(plan.inplace.values()) | set(plan.shared.values())
    bs = plan.buffers
    for i, a in enumerate(bs):
        for b in bs[i + 1:]:
            handover = (a.name, b.name) in pairs or (b.name, a.name) in pairs
            if a.first <= b.last and b.first <= a.last and not handover:
                oa, ob = plan.offsets[a.name], plan.offsets[b.name]
                if oa < ob + b.size and ob < oa + a.size:
                    bad.append((a.name, b.name))
    return bad
