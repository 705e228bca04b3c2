"""A small pattern-rewrite engine over the IR, in the manner of tinygrad's PatternMatcher.

A rule is a pattern and a function. The pattern matches one node by op and, through `src`,
the nodes or constants feeding its inputs; what it captures is passed to the function by
name. The function edits the graph through the Rewriter and returns True if it changed
anything. Tables of rules (named pm_<what>) compose with `+`, and graph_rewrite applies one
table until nothing matches any more:

    pm_fuse = PatternMatcher([(Pat(RELU, name="act", src=(Pat(FUSABLE, name="op"),)), fuse)])
    g = graph_rewrite(g, pm_fuse, "fuse activations")
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Callable, Iterable

import numpy as np

from ..ir import Graph, Node, Op, Tensor


@dataclass(frozen=True)
class Const:
    """Matches a constant input tensor and captures it (a Tensor) under `name`."""
    name: str


@dataclass(frozen=True)
class Pat:
    """Matches a node.

    ops:      the ops it may have (None: any op).
    name:     capture the node under this name.
    src:      per input, in order: a Pat for the node producing it, a Const, or None (anything).
              Inputs past the end of `src` are not looked at.
    where:    an extra condition on the node.
    only_use: (for a Pat inside src) the parent is the only reader of this node's output, and
              it is no graph output, so the rule may fold the node away.
    """
    ops: frozenset | None = None
    name: str | None = None
    src: tuple | None = None
    where: Callable[[Node], bool] | None = None
    only_use: bool = True

    def __init__(self, ops: Op | Iterable[Op] | None = None, name: str | None = None, src: tuple | None = None,
                 where: Callable[[Node], bool] | None = None, only_use: bool = True):
        ops = frozenset([ops]) if isinstance(ops, Op) else (frozenset(ops) if ops is not None else None)
        object.__setattr__(self, "ops", ops)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "src", src)
        object.__setattr__(self, "where", where)
        object.__setattr__(self, "only_use", only_use)

    def match(self, rw: "Rewriter", node: Node) -> dict | None:
        if self.ops is not None and node.op not in self.ops:
            return None
        if self.where is not None and not self.where(node):
            return None
        caps = {self.name: node} if self.name else {}
        for sub, name in zip(self.src or (), node.inputs):
            if sub is None:
                continue
            if name is None:
                return None
            if isinstance(sub, Const):
                t = rw.g.tensors[name]
                if not t.is_const:
                    return None
                caps[sub.name] = t
                continue
            producer = rw.producer(name)
            if producer is None or (sub.only_use and not rw.only_read_by(name, node)):
                return None
            inner = sub.match(rw, producer)
            if inner is None:
                return None
            caps.update(inner)
        if len(self.src or ()) > len(node.inputs):
            return None
        return caps


Rule = tuple[Pat, Callable[..., bool]]


class PatternMatcher:
    def __init__(self, rules: list[Rule]):
        self.rules = list(rules)

    def __add__(self, other: "PatternMatcher") -> "PatternMatcher":
        return PatternMatcher(self.rules + other.rules)


class Rewriter:
    """The graph under rewrite, with the edits rules make on it."""

    def __init__(self, g: Graph):
        self.g = g
        self._producers: dict[str, Node] | None = None
        self._readers: dict[str, list[Node]] | None = None

    # -- queries
    def _index(self):
        if self._producers is None:
            self._producers = {o: n for n in self.g.nodes for o in n.outputs}
            self._readers = {}
            for n in self.g.nodes:
                for x in n.inputs:
                    if x is not None:
                        self._readers.setdefault(x, []).append(n)

    def producer(self, name: str) -> Node | None:
        self._index()
        return self._producers.get(name)

    def readers(self, name: str) -> list[Node]:
        self._index()
        return self._readers.get(name, [])

    def only_read_by(self, name: str, node: Node) -> bool:
        readers = self.readers(name)
        return name not in self.g.outputs and len(readers) == 1 and readers[0] is node

    def t(self, name: str) -> Tensor:
        return self.g.tensors[name]

    # -- edits
    def _changed(self):
        self._producers = self._readers = None

    def replace(self, old: Node, new: Node | None) -> None:
        """Put `new` where `old` was (None: remove `old`)."""
        k = next(i for i, n in enumerate(self.g.nodes) if n is old)
        self.g.nodes[k:k + 1] = [] if new is None else [new]
        self._changed()

    def const(self, hint: str, array: np.ndarray, like: Tensor | None = None) -> str:
        """A new constant tensor (dtype and quantization of `like`, if given)."""
        name, k = hint, 1
        while name in self.g.tensors:
            k += 1
            name = f"{hint}_{k}"
        dtype = like.dtype if like is not None else ("int32" if np.asarray(array).dtype.kind in "iub" else "float32")
        arr = np.asarray(array).astype(dtype)
        self.g.tensors[name] = Tensor(name, tuple(arr.shape), dtype, like.quant if like else None, arr)
        return name

    def rename(self, old: str, new: str) -> None:
        """Every use of tensor `old` becomes a use of `new` (producer and readers alike)."""
        self.g.nodes[:] = [n.replace(inputs=tuple(new if x == old else x for x in n.inputs),
                                     outputs=tuple(new if x == old else x for x in n.outputs))
                           for n in self.g.nodes]
        self.g.outputs = [new if x == old else x for x in self.g.outputs]
        self._changed()

    def drop_dead(self) -> None:
        """Remove nodes whose outputs nothing reads (and that are no graph outputs)."""
        live = set(self.g.outputs)
        keep = []
        for node in reversed(self.g.nodes):
            if any(o in live for o in node.outputs):
                keep.append(node)
                live.update(x for x in node.inputs if x is not None)
        if len(keep) != len(self.g.nodes):
            self.g.nodes[:] = keep[::-1]
            self._changed()

    def bypass(self, node: Node) -> bool:
        """Remove y = f(x) whose output equals its input (same shape, same values)."""
        x, y = node.inputs[0], node.outputs[0]
        if y in self.g.outputs:
            # Keep the graph's output name: x's producer writes y instead.
            if x in self.g.inputs or x in self.g.outputs or self.t(x).is_const or self.producer(x) is None:
                return False
            self.replace(node, None)
            self.rename(x, y)
            self.g.tensors.pop(x, None)
            return True
        self.replace(node, None)
        self.rename_reads(y, x)
        return True

    def rename_reads(self, old: str, new: str) -> None:
        """Every node that reads tensor `old` reads `new` instead."""
        self.g.nodes[:] = [n.replace(inputs=tuple(new if i == old else i for i in n.inputs)) for n in self.g.nodes]
        self._changed()


def graph_rewrite(g: Graph, pm: PatternMatcher, name: str = "", max_sweeps: int = 1000) -> Graph:
    """Apply `pm` to a copy of `g` until no rule changes anything. The count of rewrites adds
    up in graph.meta["rewrites"][name]."""
    g = copy_graph(g)
    rw = Rewriter(g)
    count = 0
    for _ in range(max_sweeps):
        changed = False
        for node in list(g.nodes):
            if not any(n is node for n in g.nodes):
                continue  # removed by an earlier rewrite in this sweep
            for pat, fn in pm.rules:
                caps = pat.match(rw, node)
                if caps is not None and fn(rw, **caps):
                    rw.drop_dead()  # so that only_use sees live readers only
                    changed = True
                    count += 1
                    break
        if not changed:
            break
    counts = g.meta.setdefault("rewrites", {})
    counts[name or "rewrite"] = counts.get(name or "rewrite", 0) + count
    return g


def copy_graph(g: Graph) -> Graph:
    """A copy whose node list, tensor table and meta can be edited (arrays are shared: rules
    never write into an array, they make new constants)."""
    return replace(g, tensors={k: copy.copy(t) for k, t in g.tensors.items()}, nodes=list(g.nodes),
                   inputs=list(g.inputs), outputs=list(g.outputs), meta=copy.deepcopy(g.meta))


def prune(g: Graph) -> Graph:
    """Drop nodes whose outputs nothing reads and tensors no node or graph edge uses."""
    g = copy_graph(g)
    needed = set(g.outputs)
    keep = []
    for node in reversed(g.nodes):
        if any(o in needed for o in node.outputs):
            keep.append(node)
            needed.update(x for x in node.inputs if x is not None)
            needed.update(node.outputs)
    g.nodes = keep[::-1]
    used = needed | set(g.inputs)
    g.tensors = {k: t for k, t in g.tensors.items() if k in used}
    return g
