"""Memory planner: one arena, each activation at an offset, lifetimes decide who shares.

The interface follows TFLM's MicroMemoryPlanner: buffers go in as (size, first_use,
last_use) and come out as offsets. The algorithm is greedy by size (TFLM's
GreedyMemoryPlanner): the biggest buffer is placed first, each next one at the lowest offset
where it does not overlap any placed buffer whose lifetime intersects its own.

What is not in the arena: constants (flash), the graph inputs and outputs (the caller's
buffers are used directly, so they cost no arena), and outputs of alias ops (reshape,
squeeze), which share their input's memory.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .ir import Graph


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

    def offset_of(self, tensor: str) -> int | None:
        return self.offsets.get(self.alias.get(tensor, tensor))


def greedy_offsets(buffers: list[Buffer]) -> tuple[dict[str, int], int]:
    order = sorted(buffers, key=lambda b: (-b.size, b.first, b.name))
    placed: list[tuple[int, Buffer]] = []
    offsets: dict[str, int] = {}
    for buf in order:
        live = sorted(((off, b) for off, b in placed if b.first <= buf.last and buf.first <= b.last),
                      key=lambda ob: (ob[0], ob[1].size))
        candidate = 0
        for off, b in live:
            candidate = -(-candidate // buf.align) * buf.align
            if candidate + buf.size <= off:
                break
            candidate = max(candidate, off + b.size)
        candidate = -(-candidate // buf.align) * buf.align
        offsets[buf.name] = candidate
        placed.append((candidate, buf))
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


def scratch_name(node_index: int) -> str:
    return f"@scratch{node_index}"


def plan_memory(graph: Graph, scratch: dict[int, int] | None = None,
                alias_ops: set[int] | None = None, strategy: str = "greedy") -> MemoryPlan:
    """Plan the arena. `scratch` maps node index -> scratch bytes; `alias_ops` lists the nodes
    whose output may share their input's memory."""
    scratch = scratch or {}
    external = set(graph.inputs) | set(graph.outputs)
    alias: dict[str, str] = {}
    for i in sorted(alias_ops or ()):
        node = graph.nodes[i]
        src, dst = node.inputs[0], node.outputs[0]
        src = alias.get(src, src)
        # Sharing is only sound when the destination is not a caller buffer of its own.
        if dst not in external and not graph.t(src).is_const:
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

    buffers = []
    for name, f in first.items():
        t = graph.t(name)
        if name in external or t.is_const:
            continue
        buffers.append(Buffer(name, t.nbytes, f, last[name], max(4, t.np_dtype.itemsize)))
    for i, size in sorted(scratch.items()):
        if size > 0:
            buffers.append(Buffer(scratch_name(i), size, i, i, 8))
    place = greedy_offsets if strategy == "greedy" else linear_offsets
    offsets, end = place(buffers)
    return MemoryPlan(end, offsets, alias, buffers)


def overlapping(plan: MemoryPlan) -> list[tuple[str, str]]:
    """Pairs of buffers that share bytes while both are live: must always be empty."""
    bad = []
    bs = plan.buffers
    for i, a in enumerate(bs):
        for b in bs[i + 1:]:
            if a.first <= b.last and b.first <= a.last:
                oa, ob = plan.offsets[a.name], plan.offsets[b.name]
                if oa < ob + b.size and ob < oa + a.size:
                    bad.append((a.name, b.name))
    return bad
