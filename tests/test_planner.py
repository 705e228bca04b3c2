"""Memory planner invariants: exact offsets on tiny cases, no live overlap on real models."""
from pathlib import Path

import pytest

import microlith
from microlith.codegen.c import prepare
from microlith.planner import Buffer, greedy_offsets, overlapping

MODELS = Path(__file__).resolve().parent.parent / "examples" / "models" / "mlperf_tiny"


def test_greedy_shares_memory_of_dead_buffers():
    # a (0..1) and c (2..3) never live together: c reuses a's bytes; b sits beside both.
    bufs = [Buffer("a", 100, 0, 1), Buffer("b", 60, 1, 2), Buffer("c", 100, 2, 3)]
    offsets, size = greedy_offsets(bufs)
    assert offsets == {"a": 0, "c": 0, "b": 100}
    assert size == 160


def test_greedy_fills_gaps_and_aligns():
    bufs = [Buffer("big", 64, 0, 4), Buffer("x", 10, 0, 1), Buffer("y", 10, 2, 3, align=8),
            Buffer("z", 3, 1, 2)]
    offsets, size = greedy_offsets(bufs)
    assert offsets["big"] == 0 and offsets["x"] == 64 and offsets["y"] == 64
    assert offsets["z"] == 76  # after x (64..74), 4-byte aligned; y is not live at step 1
    assert all(o % b.align == 0 for b in bufs for o in [offsets[b.name]])


@pytest.mark.parametrize("model", ["kws_ref_model.tflite", "vww_96_int8.tflite",
                                   "pretrainedResnet_quant.tflite", "ad01_int8.tflite"])
def test_no_live_buffers_overlap_and_greedy_beats_linear(model):
    g = microlith.load(MODELS / model)
    inplace = prepare(g).plan
    greedy = prepare(g, strategy="greedy-noinplace").plan
    linear = prepare(g, strategy="linear").plan
    assert overlapping(inplace) == [] and overlapping(greedy) == []
    assert inplace.arena_size <= greedy.arena_size <= linear.arena_size
    # Without in-place layers no plan can go below the bytes live at the busiest step;
    # greedy should be close to it.
    steps = range(len(g.nodes))
    floor = max(sum(b.size for b in greedy.buffers if b.first <= i <= b.last) for i in steps)
    assert floor <= greedy.arena_size <= floor * 1.15 + 16, (floor, greedy.arena_size)


@pytest.mark.parametrize("model,noinplace,most", [("kws_ref_model.tflite", 17792, 10176),
                                                  ("vww_96_int8.tflite", 55648, 46224)])
def test_inplace_convolutions_go_below_the_naive_floor(model, noinplace, most):
    """Stride-1 convolutions streaming over their own input: the arena drops below the largest
    input + output of any layer (the floor of planners that only share dead buffers).
    Both figures include the DSP kernels' scratch (im2col for 6 pixels and per-channel
    requantization records, padded rows)."""
    g = microlith.load(MODELS / model)
    assert prepare(g, strategy="greedy-noinplace").plan.arena_size == noinplace
    assert prepare(g).plan.arena_size <= most


def test_in_place_chunks_grow_where_the_arena_affords_them(monkeypatch):
    """--- issue 11: once the arena is planned, an in-place convolution whose window can grow
    without raising the peak takes the chunk height whose pixel groups cost least (ResNet-8's
    8x8 layer: two rows, 6 + 6 + 4 pixels, where one row made 4 + 4), and the arena stays."""
    from microlith.codegen import c as codegen
    from microlith.codegen.inplace import C_PATH_COST, P4_COST, _groups_cost, row_stream, stream_cost
    # the kernel's groups: sixes, a rest of 8 as two fours, a last four overlapping the one before
    assert _groups_cost(24) == 24 and _groups_cost(8) == 8 * P4_COST
    assert _groups_cost(16) == 12 + 4 * P4_COST and _groups_cost(5) == 8 * P4_COST
    assert _groups_cost(3) == 3 * C_PATH_COST
    g = microlith.load(MODELS / "pretrainedResnet_quant.tflite")
    prep = prepare(g)
    default = {i: row_stream(g.nodes[i], g, prep.params[i]) for i in prep.streams}
    grown = [i for i, s in prep.streams.items() if s.rows != default[i].rows]
    assert grown and all(stream_cost(g.nodes[i], g, prep.streams[i]) < stream_cost(g.nodes[i], g, default[i])
                         for i in grown)
    monkeypatch.setattr(codegen, "cheaper_streams", lambda *a, **k: [])
    fixed = prepare(g)
    assert {i: s.rows for i, s in fixed.streams.items()} == {i: s.rows for i, s in default.items()}
    assert prep.plan.arena_size == fixed.plan.arena_size and set(prep.plan.inplace) == set(fixed.plan.inplace)


def test_pointwise_layers_stream_by_pixels():
    """A pointwise layer in place streams through one pixel per row, so its chunks hold whole
    groups of six pixels wherever image rows end (KWS: 25 x 5 pixels, where rows of 5 made
    groups of 6, 6, 4, 4 and a last row of two overlapping fours), in less window."""
    from microlith.ir import Op
    g = microlith.load(MODELS / "kws_ref_model.tflite")
    prep = prepare(g)
    pw = [i for i in prep.streams if g.nodes[i].op is Op.CONV_2D]
    assert len(pw) == 4
    for i in pw:
        s = prep.streams[i]
        assert s.in_shape == (1, 125, 1, 64) and s.out_shape == (1, 125, 1, 64) and s.out_w == 1
        assert all(n % 6 == 0 for _, n, _, _ in list(s.chunks())[:-1])
