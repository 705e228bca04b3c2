"""Graph passes: IR -> IR rewrites, each a table of small rules (see rewrite.py).

optimize() is the float pipeline the frontends run, in order:
  fold constants            ops on constants become constants
  layout                    identity reshapes/transposes/pads go, chains of them merge,
                            transposes that move only size-1 axes become reshapes; a dense
                            layer after flatten(transpose(x)) reads x directly, with its
                            weight columns permuted; twins (same op, attributes and inputs)
                            become one
  fold batch norm           per-channel MUL/ADD after a conv or dense layer goes into its
                            weights and bias
  fuse activations          RELU/RELU6/RELU_N1_TO_1 into the op before
  prune                     nodes and tensors nothing uses
"""
from __future__ import annotations

from ..ir import Graph
from .cse import pm_cse
from .fold import pm_fold_batchnorm, pm_fold_constants
from .fuse import pm_fuse_activation
from .layout import pm_dense_layout, pm_noop_layout
from .rewrite import Const, Pat, PatternMatcher, Rewriter, graph_rewrite, prune

__all__ = ["optimize", "graph_rewrite", "prune", "Pat", "Const", "PatternMatcher", "Rewriter",
           "pm_fold_constants", "pm_cse", "pm_noop_layout", "pm_dense_layout", "pm_fold_batchnorm",
           "pm_fuse_activation"]


def optimize(g: Graph) -> Graph:
    g = graph_rewrite(g, pm_fold_constants, "fold constants")
    g = graph_rewrite(g, pm_noop_layout + pm_dense_layout + pm_cse, "layout")
    g = graph_rewrite(g, pm_fold_batchnorm, "fold batch norm")
    g = graph_rewrite(g, pm_fuse_activation, "fuse activations")
    g = prune(g)
    g.validate()
    return g
