"""Channels nothing reads are not computed (passes/channels.py): the pruned layers give the same
bytes as TFLM on the whole model, and only channels every later reader ignores go."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import microlith
from microlith.ir import Graph, Node, Op, macs
from microlith.passes.channels import prune_unused_channels
from microlith.verify import HostModel, first_differing_layer, random_inputs
from opmodels import act, const, write
from test_fast_kernels import on_cortexm

MODELS = Path(__file__).resolve().parent.parent / "examples" / "models" / "mlperf_tiny"
CONV = dict(padding="SAME", stride_h=1, stride_w=1, dilation_h=1, dilation_w=1, activation="RELU")


def _conv(rng, name, x, out_c, kernel, zero_out=(), zero_in=(), depthwise=False):
    """(filter, bias) of a convolution over activation x: output channels zero_out have all-zero
    filters, input channels zero_in all-zero weights in every output channel."""
    in_c = x.shape[3]
    shape = (1, *kernel, out_c) if depthwise else (out_c, *kernel, in_c)
    w = rng.integers(-127, 128, shape)
    w[np.abs(w) < 3] = 5  # no channel zero by chance
    axis = 3 if depthwise else 0
    for c in zero_out:
        np.moveaxis(w, axis, 0)[c] = 0
    for c in zero_in:
        w[..., c] = 0
    scales = rng.uniform(0.002, 0.01, out_c)
    b = const(f"{name}_b", rng.integers(-3000, 3000, out_c),
              scale=[x.quant.scale[0] * s for s in scales], axis=0, dtype="int32")
    return const(f"{name}_w", w, scale=scales, axis=axis, dtype="int8"), b


def chain(zero_in, zero_out=(), mid=16, kernel=(3, 3), tail="conv", extra_reader=False, seed=0,
          depthwise=True, shared=False):
    """x -> conv A (mid channels, output channels zero_out dead) -> depthwise 3x3 (unless not
    `depthwise`) -> conv B or, with tail "dense", average pool -> reshape -> dense, whose weights
    ignore channels zero_in."""
    rng = np.random.default_rng(seed)
    x = act("x", (1, 7, 6, 8), 0.05, -3)
    a_out = act("a", (1, 7, 6, mid), 0.04, -128)
    d_out = act("d", (1, 7, 6, mid), 0.04, -128)
    wa, ba = _conv(rng, "A", x, mid, kernel, zero_out=zero_out)
    tensors = {t.name: t for t in (x, a_out, wa, ba)}
    nodes = [Node(Op.CONV_2D, ("x", wa.name, ba.name), ("a",), dict(CONV))]
    if depthwise:
        wd, bd = _conv(rng, "D", a_out, mid, (3, 3), depthwise=True)
        tensors.update({t.name: t for t in (d_out, wd, bd)})
        nodes.append(Node(Op.DEPTHWISE_CONV_2D, ("a", wd.name, bd.name), ("d",), dict(CONV, depth_multiplier=1)))
    src = "d" if depthwise else "a"
    outputs = []
    if tail == "conv":
        y = act("y", (1, 7, 6, 8), 0.08, 5)
        wb, bb = _conv(rng, "B", d_out, 8, (1, 1), zero_in=zero_in)
        tensors.update({t.name: t for t in (y, wb, bb)})
        nodes.append(Node(Op.CONV_2D, (src, wb.name, bb.name), ("y",), dict(CONV, activation="NONE")))
        if shared:   # a second reader of the same activation with the same weights and bias
            tensors["y2"] = act("y2", (1, 7, 6, 8), 0.08, 5)
            nodes.append(Node(Op.CONV_2D, (src, wb.name, bb.name), ("y2",), dict(CONV, activation="NONE")))
            outputs.append("y2")
    else:
        p = act("p", (1, 1, 1, mid), 0.04, -128)
        r = act("r", (1, mid), 0.04, -128)
        y = act("y", (1, 3), 0.1, 2)
        shape = const("shape", np.array([1, mid]), dtype="int32")
        w = rng.integers(-127, 128, (3, mid))
        w[:, list(zero_in)] = 0
        wf = const("F_w", w, scale=0.01, dtype="int8")
        bf = const("F_b", rng.integers(-500, 500, 3), scale=0.04 * 0.01, dtype="int32")
        tensors.update({t.name: t for t in (p, r, y, shape, wf, bf)})
        nodes += [Node(Op.AVERAGE_POOL_2D, (src,), ("p",), dict(padding="VALID", stride_h=7, stride_w=6,
                                                               filter_h=7, filter_w=6, activation="NONE")),
                  Node(Op.RESHAPE, ("p", "shape"), ("r",), {}),
                  Node(Op.FULLY_CONNECTED, ("r", "F_w", "F_b"), ("y",), dict(activation="NONE",
                                                                          keep_num_dims=False))]
    outputs.insert(0, "y")
    if extra_reader:   # the depthwise output is a graph output too: nothing may go
        outputs.append(src)
    g = Graph("chain", tensors, nodes, ["x"], outputs)
    g.validate()
    return g


CASES = {
    # name: (graph keyword arguments, channels kept by A, D and the consumer)
    "eight_unused": (dict(zero_in=(1, 3, 4, 6, 9, 10, 12, 15), zero_out=(1, 3, 4, 6)), 8),
    # 7 unused of 16: 9 would be left, so one unused channel stays (a multiple of 4: 12)
    "rounded_to_four": (dict(zero_in=(0, 2, 5, 7, 8, 11, 13)), 12),
    "dense_tail": (dict(zero_in=(2, 3, 6, 7, 10, 11, 14, 15), tail="dense"), 8),
    "two_used": (dict(zero_in=tuple(range(14))), 4),         # 2 would be left: 4 stay
    "one_unused": (dict(zero_in=(3,)), 16),                   # 15 would be left: nothing goes
    "graph_output_reads_it": (dict(zero_in=(1, 3, 4, 6), extra_reader=True), 16),
    # two readers share one weight tensor: rewriting it for one would reach the other, so nothing goes
    "shared_weights": (dict(zero_in=(1, 3, 4, 6, 9, 10, 12, 15), shared=True), 16),
    # dead channels of A reach the dense layer through pooling alone: constants, folded into its
    # bias (its weights for them are not zero), then unused
    "constants_folded": (dict(zero_in=(), zero_out=(0, 2, 5, 6, 9, 12, 13, 15), tail="dense",
                              depthwise=False), 8),
    # through a depthwise layer a dead channel is no constant (the borders): it stays
    "no_fold_through_depthwise": (dict(zero_in=(), zero_out=(0, 2, 5, 6, 9, 12, 13, 15), tail="dense"), 16),
}


@pytest.mark.parametrize("case", list(CASES))
def test_pruned_chain_is_byte_exact(tmp_path, case):
    kwargs, kept = CASES[case]
    g = chain(**kwargs)
    p = prune_unused_channels(g)
    assert p.t("a").shape[3] == (p.t("d").shape[3] if "d" in p.tensors else kept) == kept
    assert (macs(p) < macs(g)) == (kept < 16)
    if kept < 16:
        keep = p.meta["kept_channels"]["a"]
        removed = set(range(16)) - set(keep)   # only channels some later layer ignores, or constants
        assert len(keep) == kept and removed <= set(kwargs["zero_in"]) | set(kwargs.get("zero_out", ()))
        assert g.t("a").shape[3] == 16   # the model itself is untouched
    path = write(g, tmp_path)
    res = microlith.verify(path, samples=8, seed=3)
    assert res["bit_exact"], res


@on_cortexm
@pytest.mark.parametrize("case", ["eight_unused", "dense_tail", "constants_folded"])
def test_pruned_chain_on_the_emulated_cores(tmp_path, case):
    path = write(chain(**CASES[case][0]), tmp_path)
    for target in ("cortex-m4", "cortex-m0"):
        res = microlith.verify(path, target=target, samples=3, seed=4)
        assert res["bit_exact"], (target, res)


def test_vww_computes_half_its_macs_and_diagnosis_compares_what_it_keeps(tmp_path):
    """The MLPerf Tiny VWW model: its later pointwise layers' zero filters leave about half of
    the MACs to compute. A clean build shows no differing layer: the per-layer comparison with
    TFLM reads only the kept channels of a pruned activation."""
    path = MODELS / "vww_96_int8.tflite"
    g = microlith.load(path)
    p = prune_unused_channels(g)
    assert macs(g) == 7_489_664 and macs(p) < 0.52 * macs(g)
    assert all(len(k) % 4 == 0 for k in p.meta["kept_channels"].values())
    assert microlith.inspect(path)["macs_computed"] == macs(p)   # inspect says it before a compile
    assert microlith.inspect(MODELS / "vww_96_float.tflite")["macs_computed"] is None   # float: not pruned
    microlith.compile(g, tmp_path / "c", measure=False)
    host = HostModel(tmp_path / "c", g, g.name, tmp_path)
    try:
        xs = random_inputs(g, np.random.default_rng(2))
        assert first_differing_layer(g, path.read_bytes(), host, xs) is None
    finally:
        host.close()
