"""The Cortex-M DSP assembly of CONV_2D and FULLY_CONNECTED (issue 11), byte-exact against TFLM
on the emulated Cortex-M4: what the assembly does that the older C paths did not.

CONV_2D runs every output channel over a group of 6, 4 or 2 pixels in one routine; the last
group of a call may recompute pixels of the previous one, and a call of one pixel goes to C.
Each channel's requantization is one of three records (ml_conv2d_s8.c): fast (SMMLAR with the
output offset folded in), wide (SMLAL, for a bias that may carry the sum past 2^30 and for
n > 22) or general (C, for left shifts). FULLY_CONNECTED runs six rows per input word in one
routine that requantizes in place and hands back a group whose sums reach 2^30.
"""
import numpy as np
import pytest

from microlith.api import compile as compile_model
from microlith.api import load
from microlith.ir import Graph, Node, Op
from microlith.targets.cortexm import FirmwareBuilder, outputs_match, run_firmware
from microlith.verify import HostModel, random_inputs
from opmodels import act, const, single_op, write
from test_conv import conv_graph
from test_fast_kernels import fc_graph, on_cortexm, params_of, verify_on


@on_cortexm
@pytest.mark.parametrize("width", [1, 3, 5, 7, 8, 13])
def test_pixel_groups_and_overlapping_last_group(tmp_path, width):
    # 1: the C path; 3: 2 + 2 overlapping; 5: 4 + 2; 7: 6 + 2; 8: 4 + 4; 13: 6 + 6 + 2.
    g = conv_graph((2, 1, width, 8), 7, (1, 1), in_zp=-128, out_zp=3, seed=width)
    verify_on(g, tmp_path, samples=3)


@on_cortexm
@pytest.mark.parametrize("x_shape,kernel", [((2, 2, 3, 64), (4, 5)), ((1, 3, 1, 16), (3, 7)),
                                            ((1, 4, 2, 8), (1, 5))], ids=["found", "w1", "w2"])
def test_window_wholly_before_the_image(tmp_path, x_shape, kernel):
    """A segment of output pixels shorter than the padding (C_IN % 8 == 0: the columns built by
    segments, ml_conv_dsp_taps): its first tap column lies wholly left of the image. The clipping
    said its first inside slot was past the segment's end, the routine counted the slots after it
    as negative, and wrote past the columns until the board faulted (a randomized campaign found
    the first shape: 4x5 SAME over 2x3x64)."""
    g = conv_graph(x_shape, 25, kernel, activation="RELU6", in_zp=-123, out_zp=-128,
                   out_scale=0.19, seed=22)
    verify_on(g, tmp_path, samples=3)


# Pointwise columns: C_IN a multiple of 16 (64 and up) takes the four-block LDRD loop for
# six-pixel groups, 68 the two-block loop; pixel counts with sixes, a final overlapping six and
# fours; batch 2 so that the second image's groups start past the first's bytes.
@on_cortexm
@pytest.mark.parametrize("x_shape,out_c,kw", [
    ((1, 5, 5, 64), 8, dict(in_zp=-128)), ((2, 3, 7, 80), 6, dict(in_zp=127, out_zp=-5)),
    ((1, 2, 7, 128), 4, {}), ((1, 3, 3, 68), 5, dict(in_zp=3))], ids=["c64", "c80_batch2", "c128", "c68"])
def test_pointwise_columns_of_deep_inputs(tmp_path, x_shape, out_c, kw):
    import microlith
    g = conv_graph(x_shape, out_c, (1, 1), seed=x_shape[3] + out_c, **kw)
    verify_on(g, tmp_path, samples=3)
    # the same columns feeding the two-channel routine over a filter widened in the arena
    res = microlith.verify(write(g, tmp_path, "staged"), target="cortex-m4", samples=2, seed=2,
                           stage_weights=1 << 20)
    assert res["bit_exact"], res
    assert res["staged_weights"]["widened"] == ([0] if out_c % 2 == 0 else []), res["staged_weights"]


def mixed_records_conv(in_c=3, kernel=(3, 3), out_c=9):
    """One channel of every requantization kind: shifts -2, -10 and -22 (fast), -23 and -30
    (wide), 0 and +1 (general, left shift), and biases near 2^30 (wide: the sum may pass 2^30;
    with shift -1 the C path)."""
    shifts = [-2, -10, -22, -23, -30, 0, 1, -1, -29, -12][:out_c]  # out_c 10: pairs of each
    big = {7: (1 << 30) - 5,          # shift -1 with a bias past the fast bound: C
           8: -(1 << 30) + 77,        # wide, and a sum that may cross -2^30
           4: (1 << 30) + 123456}     # wide with n = 30: a real output from a huge bias
    return records_conv(shifts, {i: b for i, b in big.items() if i < out_c}, in_c, kernel)


def records_conv(shifts, big_biases=None, in_c=3, kernel=(3, 3)):
    """A convolution whose channel i requantizes with shift shifts[i] (its kind: fast for -22 to
    -1, wide below, general for 0 and left shifts), with bias big_biases[i] where given."""
    rng = np.random.default_rng(4)
    k_h, k_w = kernel
    out_c = len(shifts)
    in_scale, out_scale = 0.5, 1.0
    # effective scale = in * w / out = 2^(shift - 1) * (1 + u) for u in [0, 1)
    w_scales = [2.0 ** (s - 1) * 1.3 / in_scale * out_scale for s in shifts]
    w = const("w", rng.integers(-127, 128, (out_c, k_h, k_w, in_c)), scale=w_scales, axis=0,
              dtype="int8")
    bias = rng.integers(-2000, 2000, out_c)
    for i, v in (big_biases or {}).items():
        bias[i] = v
    b = const("b", bias, scale=[in_scale * s for s in w_scales], axis=0, dtype="int32")
    x = act("x", (1, 5, 7, in_c), in_scale, -11)
    y = act("y", (1, 5, 7, out_c), out_scale, 4)
    attrs = dict(padding="SAME", stride_h=1, stride_w=1, dilation_h=1, dilation_w=1,
                 activation="NONE")
    return single_op(Op.CONV_2D, [x, w, b], [y], attrs)


@on_cortexm
@pytest.mark.parametrize("in_c,kernel", [(3, (3, 3)), (8, (1, 1))], ids=["k27", "pointwise"])
def test_every_record_kind_in_one_layer(tmp_path, in_c, kernel):
    g = mixed_records_conv(in_c, kernel)
    assert list(params_of(g)["shift"]) == [-2, -10, -22, -23, -30, 0, 1, -1, -29]
    assert params_of(g)["acc_bounded"] == 0
    verify_on(g, tmp_path, samples=4)


# kinds -> the ml_config.h macros that leave the others' code out of the routines
RECORD_SUBSETS = {"fast": ([-2, -10, -22, -5], {"fast"}),
                  # an effective scale below 2^-32 quantizes to multiplier 0 (shift 0): a dead
                  # channel, whose output is its offset, through the fast record (VWW has 20)
                  "fast_dead": ([-2, -40, -10, -45], {"fast"}),
                  "fast_wide": ([-2, -23, -30, -10], {"fast", "wide"}),
                  "fast_general": ([-2, 0, 1, -10], {"fast", "general"})}


@on_cortexm
@pytest.mark.parametrize("subset", list(RECORD_SUBSETS))
def test_record_kinds_no_channel_takes_are_left_out(tmp_path, subset):
    """The generator finds each channel's record kind as the kernel does (ops/conv.py
    conv_record_kinds) and leaves the others' code out of the routines (ml_config.h); the
    six-pixel routine, and the two-channel one over the staged widened copy, stay byte-exact."""
    from microlith.ops.conv import conv_record_kinds
    from test_stage_weights import _verify_widened
    shifts, kinds = RECORD_SUBSETS[subset]
    g = records_conv(shifts, in_c=8, kernel=(1, 1))
    p = params_of(g)
    assert conv_record_kinds(g.nodes[0], g, p) == kinds
    assert [int(m) == 0 for m in p["multiplier"]] == [s < -32 for s in shifts]
    path = write(g, tmp_path)
    compile_model(path, tmp_path / "c", measure=False)
    config = next((tmp_path / "c").rglob("ml_config.h")).read_text()
    for kind in ("wide", "general"):
        assert (f"ML_CONV2D_S8_NO_{kind.upper()}_RECORDS 1" in config) == (kind not in kinds), kind
    verify_on(g, tmp_path, samples=3)
    (tmp_path / "widened").mkdir()
    _verify_widened(g, tmp_path / "widened", samples=2)


@on_cortexm
def test_channel_of_a_left_out_kind_is_refused(tmp_path):
    """Should a channel reach the kernel with a record kind the build left out (the generator's
    reading and the kernel's disagreeing), the layer returns ML_NO_IMPL instead of running code
    that is not there: here the generated shift of a fast-only model is edited to n = 25 (wide)."""
    g = records_conv([-2, -10, -22, -5], in_c=8, kernel=(1, 1))
    path = write(g, tmp_path)
    res = compile_model(path, tmp_path / "c", measure=False)
    src = tmp_path / "c" / "src" / f"{res['name']}.c"
    text = src.read_text()
    assert "ML_CONV2D_S8_NO_WIDE_RECORDS 1" in next((tmp_path / "c").rglob("ml_config.h")).read_text()
    edited = text.replace("_l0_shift[4] = {\n    -2,", "_l0_shift[4] = {\n    -25,", 1)
    assert edited != text, text[text.find("_l0_shift"):][:80]
    src.write_text(edited)
    sample = random_inputs(load(path), np.random.default_rng(0))
    fw = FirmwareBuilder(tmp_path / "c", res["name"], "cortex-m4", tmp_path / "fw").link([sample])
    assert run_firmware(fw.elf, "cortex-m4").samples[0].status == -2   # ML_NO_IMPL


@on_cortexm
def test_odd_depth_last_channel_reads_padded_copy(tmp_path):
    # K = 2 * 2 * 5 = 20 ... and 3 * 3 * 3 = 27: word reads overrun each channel; the last one
    # reads a zero-padded copy. 5 output channels, 11 x 3 pixels: groups of 6 and 4.
    verify_on(conv_graph((1, 11, 3, 3), 5, (3, 3), stride=(1, 1), in_zp=127, seed=9), tmp_path,
              samples=3)
    verify_on(conv_graph((1, 6, 9, 5), 3, (2, 3), stride=(2, 1), padding="VALID", seed=10),
              tmp_path, samples=3, name="k30")


# The columns of C_IN % 8 == 0 layers by output-row segments (one assembly call per window row:
# the first stride_w tap columns widened, the rest copied one slot on), and the 3x3x3 windows
# widened straight from the input. Widths put groups of 6 and 4 across output rows (partial
# segments, segments of one pixel), and padding on every side of the segments.
SEGMENT_CASES = {
    # name: (x_shape, out_c, kernel, keyword arguments)
    "c8_s1_width7": ((1, 5, 7, 8), 5, (3, 3), dict(in_zp=-128)),          # groups across rows
    "c16_s1_width13": ((1, 4, 13, 16), 7, (3, 3), dict(in_zp=127, out_zp=-128)),
    "c8_s1_width3": ((1, 6, 3, 8), 3, (3, 3), {}),                         # segments of 1-3
    "c8_s1_valid": ((1, 6, 9, 8), 4, (3, 3), dict(padding="VALID")),
    "c8_s2_odd_same": ((1, 9, 11, 8), 6, (3, 3), dict(stride=(2, 2))),    # pad left and right
    "c8_s2_even_same": ((1, 8, 14, 8), 5, (3, 3), dict(stride=(2, 2), in_zp=-128)),
    "c16_s2_valid": ((1, 9, 13, 16), 4, (3, 3), dict(stride=(2, 2), padding="VALID")),
    "c8_k2_s2_tap1_outside": ((1, 7, 7, 8), 4, (2, 2), dict(stride=(2, 2))),
    "c8_k5_s2": ((1, 9, 15, 8), 3, (5, 5), dict(stride=(2, 1))),         # 4 copied columns
    "c8_k3x1": ((1, 7, 8, 8), 4, (3, 1), {}),                              # nothing copied
    "c8_1x1_s2": ((1, 7, 9, 8), 6, (1, 1), dict(stride=(2, 2))),
    "c8_dilation_h": ((1, 9, 8, 8), 4, (3, 3), dict(dilation=(2, 1))),
    "c24_relu_c_path": ((1, 5, 9, 24), 5, (3, 3), dict(activation="RELU", out_zp=-20)),
    "c3_s1_same": ((1, 7, 13, 3), 6, (3, 3), dict(in_zp=-128)),           # 3x3x3 windows
    "c3_s2_same_odd": ((1, 9, 11, 3), 5, (3, 3), dict(stride=(2, 2), in_zp=127)),
    "c3_s2_valid": ((1, 10, 10, 3), 8, (3, 3), dict(stride=(2, 2), padding="VALID")),
    "c3_dilation_h": ((1, 9, 7, 3), 4, (3, 3), dict(dilation=(2, 1), in_zp=5)),
    "c1_k10x4_s2": ((1, 19, 10, 1), 7, (10, 4), dict(stride=(2, 2), in_zp=83)),
    "c2_k3x2_edges": ((1, 6, 7, 2), 4, (3, 2), {}),                        # 4-byte rows, staged
    # window rows of whole blocks widened straight from the input (ml_conv_dsp_im2col), with the
    # taps outside the image horizontally filled in as the zero point when a row is one block
    "c1_k4_clipped_both_sides": ((1, 6, 3, 1), 5, (3, 4), dict(in_zp=-77)),
    "c2_k2_s2_clipped_right": ((1, 9, 9, 2), 5, (4, 2), dict(stride=(2, 2), in_zp=-128)),
    "c3_k4_rows_of_3_blocks": ((1, 7, 9, 3), 4, (3, 4), dict(padding="VALID", in_zp=9)),
    "c1_k8_dilation_h": ((1, 12, 10, 1), 4, (3, 8), dict(dilation=(2, 1), stride=(1, 2), in_zp=127)),
    "c1_k5x4_batch2": ((2, 10, 6, 1), 3, (5, 4), dict(in_zp=40)),
}


@on_cortexm
@pytest.mark.parametrize("name", list(SEGMENT_CASES))
def test_conv_columns_by_segments(tmp_path, name):
    x_shape, out_c, kernel, kw = SEGMENT_CASES[name]
    verify_on(conv_graph(x_shape, out_c, kernel, seed=len(name) + 40, **kw), tmp_path, samples=3)


@pytest.mark.parametrize("x_shape,kernel,stride,dropped", [
    ((1, 6, 7, 16), (3, 3), (1, 1), ["WINDOWS27"]),                 # segments only
    ((1, 9, 9, 3), (3, 3), (2, 2), ["SEGMENTS"]),                   # 3x3x3 windows only
    ((1, 5, 5, 16), (1, 1), (1, 1), ["SEGMENTS", "WINDOWS27"]),     # pointwise: neither
])
def test_unused_column_builders_left_out(tmp_path, x_shape, kernel, stride, dropped):
    # ml_config.h names the column builders no layer takes (the kernel leaves them out).
    path = write(conv_graph(x_shape, 4, kernel, stride=stride, seed=5), tmp_path)
    compile_model(path, tmp_path / "c", target="cortex-m4", measure=False)
    config = next((tmp_path / "c").rglob("ml_config.h")).read_text()
    for builder in ("SEGMENTS", "WINDOWS27"):
        assert (f"#define ML_CONV2D_S8_NO_{builder} 1" in config) == (builder in dropped)


FC_ROW_CASES = {
    # rows in groups of six, then four, then one by one; depth tails 0-3
    "units6_depth128": dict(batches=1, depth=128, units=6, in_zp=-128, out_zp=-128),
    "units13_depth33": dict(batches=2, depth=33, units=13, in_zp=5, out_zp=-7),
    "units19_depth4": dict(batches=1, depth=4, units=19, in_zp=-128),
    "units12_per_channel": dict(batches=1, depth=30, units=12, per_channel=True, in_zp=-3),
    "units7_relu": dict(batches=1, depth=64, units=7, activation="RELU", out_zp=-20),
    "units8_no_bias": dict(batches=1, depth=40, units=8, bias=False),
    "units14_per_channel_depth32": dict(batches=2, depth=32, units=14, per_channel=True, in_zp=9),
}

# Which cases get the filter laid out for the six-row routine (dsp_rows6): depth a multiple of
# 4, six rows or more, a bias (the folded input offset makes one).
FC_ROWS6_LAYOUT = {"units6_depth128", "units19_depth4", "units7_relu", "units14_per_channel_depth32"}


@pytest.mark.parametrize("name", list(FC_ROW_CASES))
def test_fully_connected_rows6_layout_where_the_routine_takes_it(tmp_path, name):
    g = fc_graph(seed=len(name) + 20, **FC_ROW_CASES[name])
    res = compile_model(write(g, tmp_path), tmp_path / "c", measure=False)
    model = (tmp_path / "c" / "src" / f"{res['name']}.c").read_text()
    assert (".dsp_rows6 = 1" in model) == (name in FC_ROWS6_LAYOUT)
    assert ("ML_FC_DSP_WEIGHTS(" in model) == (name in FC_ROWS6_LAYOUT)


def test_fully_connected_rows6_layout_is_the_same_bytes_moved():
    from microlith.ops.fully_connected import rows6_layout
    w = np.arange(14 * 8, dtype=np.int64).reshape(14, 8).astype(np.int8)
    laid = rows6_layout(w)
    assert sorted(laid.tolist()) == sorted(w.reshape(-1).tolist())
    assert laid[:8].tolist() == [0, 1, 2, 3, 8, 9, 10, 11]  # row 0 then row 1, first block
    assert laid[24:28].tolist() == [4, 5, 6, 7]              # row 0, second block
    assert laid[-16:].tolist() == w[12:].reshape(-1).tolist()  # rows past the groups unchanged


@on_cortexm
@pytest.mark.parametrize("name", list(FC_ROW_CASES))
def test_fully_connected_six_rows(tmp_path, name):
    verify_on(fc_graph(seed=len(name) + 20, **FC_ROW_CASES[name]), tmp_path, samples=4)


@on_cortexm
def test_fully_connected_group_with_huge_sum_goes_to_c(tmp_path):
    # Row 8 (second group of six) has a bias near 2^30: that group's sums come back to C,
    # the groups after it continue in the routine.
    g = fc_graph(batches=1, depth=24, units=18, in_zp=-128, seed=3)
    b = g.tensors["b"]
    b.data = b.data.copy()
    b.data[8] = (1 << 30) - 100
    b.data[15] = -(1 << 30) - 5000
    verify_on(g, tmp_path, samples=4)


@on_cortexm
def test_wide_record_rounds_ties_away_from_zero(tmp_path):
    # Multiplier 2^30 and shift -23 (effective scale 2^-24): a wide record. Channels 0-3 have
    # zero weights, so their sum is the bias, chosen on exact ties of the final shift:
    # x = (bias + 1) / 2 = -2^22, 2^22, -3 * 2^22, 3 * 2^22 -> -1, 1, -2, 2 (half away from 0).
    rng = np.random.default_rng(8)
    data = rng.integers(-127, 128, (6, 1, 1, 4))
    data[:4] = 0
    w_scales = [2.0 ** -24] * 4 + [0.01, 0.02]
    w = const("w", data, scale=w_scales, axis=0, dtype="int8")
    bias = np.array([-(1 << 23) - 1, (1 << 23) - 1, -3 * (1 << 23) - 1, 3 * (1 << 23) - 1, 50, -70])
    b = const("b", bias, scale=w_scales, axis=0, dtype="int32")
    x = act("x", (1, 3, 5, 4), 1.0, 0)
    y = act("y", (1, 3, 5, 6), 1.0, 0)
    attrs = dict(padding="VALID", stride_h=1, stride_w=1, dilation_h=1, dilation_w=1,
                 activation="NONE")
    g = single_op(Op.CONV_2D, [x, w, b], [y], attrs)
    p = params_of(g)
    assert list(p["shift"][:4]) == [-23] * 4 and list(p["multiplier"][:4]) == [1 << 30] * 4
    verify_on(g, tmp_path, samples=2)


@on_cortexm
@pytest.mark.parametrize("kind", ["conv", "fc"])
def test_optimize_size_build_gives_the_same_bytes(tmp_path, kind):
    # ML_OPTIMIZE_SIZE drops the assembly routines (smaller code, C groups of four pixels and
    # rows of four), or keeps only the four-pixel one (ML_SPECIALISE_CONV_P4, also for every
    # group of a row of 9 and the last channel's padded copy, K = 54): the same outputs as the
    # default DSP build and the host build.
    if kind == "conv":
        g = conv_graph((1, 7, 9, 6), 11, (3, 3), in_zp=-128, out_zp=-5, seed=12)
    else:
        g = fc_graph(batches=1, depth=52, units=14, in_zp=-128, seed=13)
    path = write(g, tmp_path)
    res = compile_model(path, tmp_path / "c", measure=False)
    name = res["name"]
    model = load(path)
    samples = [random_inputs(model, np.random.default_rng(s)) for s in range(3)]
    (tmp_path / "host").mkdir()
    host = HostModel(tmp_path / "c", model, name, tmp_path / "host")
    try:
        want = [host.run(xs) for xs in samples]
    finally:
        host.close()
    for flags, sub in (((), "dsp"), (("-DML_OPTIMIZE_SIZE",), "size"),
                       (("-DML_OPTIMIZE_SIZE", "-DML_SPECIALISE_CONV_P4"), "size-p4")):
        fw = FirmwareBuilder(tmp_path / "c", name, "cortex-m4", tmp_path / sub,
                             extra_cflags=flags).link(samples)
        run = run_firmware(fw.elf, "cortex-m4")
        assert all(outputs_match(w, s.outputs) for w, s in zip(want, run.samples)), sub


def convs_with_slack(cin, kernel, seed):
    """A convolution (13 x 7 pixels: sixes, then a six and a four that overlap the pixels before)
    into a 1x1 one with a wider output and another back to 4 channels, so that the arena's peak
    is the second layer and the first has room for the columns of several groups
    (ml_conv_params.col_groups)."""
    rng = np.random.default_rng(seed)
    x = act("x", (1, 13, 7, cin), 0.04, -3)
    tensors, nodes, cur = {"x": x}, [], x
    for k, (cout, ksize) in enumerate([(12, kernel), (40, 1), (4, 1)]):
        n, h, w, c = cur.shape
        wt = const(f"w{k}", rng.integers(-127, 128, (cout, ksize, ksize, c)),
                   scale=list(rng.uniform(0.002, 0.02, cout)), dtype="int8")
        b = const(f"b{k}", rng.integers(-3000, 3000, cout), dtype="int32")
        y = act(f"t{k}", (n, h, w, cout), 0.2 + 0.1 * k, 5 - 9 * k)  # full clamp: the routine
        nodes.append(Node(Op.CONV_2D, (cur.name, wt.name, b.name), (y.name,),
                          dict(padding="SAME", stride_h=1, stride_w=1, dilation_h=1, dilation_w=1,
                               activation="NONE")))
        tensors.update({t.name: t for t in (wt, b, y)})
        cur = y
    return Graph("convs_with_slack", tensors, nodes, ["x"], [cur.name])


@on_cortexm
@pytest.mark.parametrize("cin,kernel", [(8, 1), (3, 3), (8, 3), (5, 3)],
                         ids=["pointwise", "k27", "segments", "k45_padded_last"])
def test_columns_of_several_groups_before_the_routine(tmp_path, cin, kernel):
    # The first layer takes col_groups > 1 from the arena's slack (codegen/c.py
    # _col_groups_in_slack): its columns of up to that many sixes are built first, then the
    # routine runs on each; the outputs must not change, whatever the column builder.
    from microlith.codegen.c import prepare
    g = convs_with_slack(cin, kernel, seed=cin * 10 + kernel)
    prep = prepare(g)
    groups = prep.params[0].get("col_groups", 1)
    assert groups > 1, "expected the first layer to take several groups' columns"
    assert prep.plan.arena_size == prepare(g, optimize="size").plan.arena_size, \
        "the groups' columns must fit where the arena is free anyway"
    verify_on(g, tmp_path, samples=3)
