"""ADD, SUB, MUL, RELU, RELU6, LEAKY_RELU, HARD_SWISH, QUANTIZE, DEQUANTIZE against TFLM.

Besides random inputs, several tests feed every int8 value (or every pair of int8 values,
through a [256, 1] x [1, 256] broadcast), so a rounding difference anywhere shows up.
"""

import numpy as np
import pytest

import microlith
from microlith.ir import Graph, MicrolithError, Node, Op, Quant, Tensor
from microlith.ops import impl_for
from opmodels import act, assert_exact, const, single_op, write

EVERY_INT8 = np.arange(-128, 128, dtype=np.int8)
BINARY = (Op.ADD, Op.SUB, Op.MUL)


def every_pair(op, s1, z1, s2, z2, so, zo, activation="NONE"):
    """A model whose one sample covers all 65536 pairs of int8 inputs."""
    a, b = act("a", (256, 1), s1, z1), act("b", (1, 256), s2, z2)
    g = single_op(op, [a, b], [act("y", (256, 256), so, zo)], dict(activation=activation))
    return g, [[EVERY_INT8.reshape(256, 1), EVERY_INT8.reshape(1, 256)]]


def float_tensor(name, shape):
    return Tensor(name, tuple(shape), "float32")


# -- ADD / SUB / MUL ------------------------------------------------------------------------

@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("s1,z1,s2,z2,so,zo,activation", [
    (0.05, 0, 0.05, 0, 0.1, 0, "NONE"),            # equal input scales
    (0.05, 3, 0.07, -5, 0.1, 2, "NONE"),           # different input scales
    (0.02, -128, 0.9, 127, 0.3, -128, "RELU"),     # zero points at the int8 limits
    (0.5, 127, 0.01, -128, 0.05, 127, "RELU6"),
    (0.04, 7, 0.03, -2, 0.02, 10, "RELU_N1_TO_1"),
    (0.3, -20, 0.4, 30, 0.001, 5, "NONE"),         # tiny output scale: most outputs saturate
])
def test_binary_every_pair(tmp_path, op, s1, z1, s2, z2, so, zo, activation):
    g, inputs = every_pair(op, s1, z1, s2, z2, so, zo, activation)
    assert_exact(g, tmp_path, samples=1, inputs=inputs)


def test_sub_multipliers_are_derived_in_double(tmp_path):
    # These scales give SUB different q31 multipliers in float and in double arithmetic;
    # the oracle's outputs follow the double ones (as for ADD).
    g, inputs = every_pair(Op.SUB, 0.05, 3, 0.07, -5, 0.1, 2)
    assert_exact(g, tmp_path, samples=1, inputs=inputs)


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("shape1,shape2", [
    ((1, 4, 4, 3), (1, 4, 4, 3)),
    ((1, 4, 4, 3), (1, 1, 1, 3)),       # per-channel operand
    ((1, 4, 4, 3), (1, 4, 1, 1)),       # per-row operand
    ((1, 1, 1, 3), (1, 4, 4, 3)),       # the broadcast operand first
    ((5, 6), (5, 1)),                   # 2-D
    ((2, 3, 4), (4,)),                  # lower rank
    ((4, 1), (1, 5)),                   # both broadcast: outer product
    ((2, 3, 1, 4, 5), (1, 1, 6, 1, 1)), # 5-D
])
def test_binary_broadcast(tmp_path, op, shape1, shape2):
    out = np.broadcast_shapes(shape1, shape2)
    g = single_op(op, [act("a", shape1, 0.06, -3), act("b", shape2, 0.04, 9)],
                  [act("y", out, 0.08, 4)], dict(activation="NONE"))
    assert_exact(g, tmp_path, samples=4)


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("const_shape,const_first", [((), False), ((1,), False), ((3,), False),
                                                     ((3,), True), ((1, 1, 1, 3), True)])
def test_binary_constant_operand(tmp_path, op, const_shape, const_first):
    rng = np.random.default_rng(len(const_shape) * 7 + const_first)
    c = const("c", rng.integers(-128, 128, const_shape), scale=0.03, zp=-7, dtype="int8")
    x = act("x", (1, 4, 4, 3), 0.05, 12)
    ins = [c, x] if const_first else [x, c]
    g = single_op(op, ins, [act("y", (1, 4, 4, 3), 0.07, -1)], dict(activation="RELU"))
    assert_exact(g, tmp_path, samples=5)


@pytest.mark.parametrize("op", BINARY)
def test_binary_same_input_twice(tmp_path, op):
    x = act("x", (2, 8, 3), 0.05, -6)
    g = single_op(op, [x, x], [act("y", (2, 8, 3), 0.11, 3)], dict(activation="NONE"),
                  graph_inputs=["x"])
    assert_exact(g, tmp_path, samples=5, inputs=[[EVERY_INT8[:48].reshape(2, 8, 3)]])


def test_mul_multiplier_above_one(tmp_path):
    # input1 scale * input2 scale / output scale > 1: a left shift in the requantization.
    g, inputs = every_pair(Op.MUL, 0.5, 1, 0.25, -1, 0.01, 0)
    assert_exact(g, tmp_path, samples=1, inputs=inputs)


def test_collapse_broadcast():
    # Load every op family first: importing one ops module on its own fills the registry with
    # only that module's ops, and impl_for() would then never load the others.
    impl_for(Op.ADD)
    from microlith.ops.elementwise import collapse_broadcast
    assert collapse_broadcast((1, 4, 4, 3), (1, 1, 1, 3), (1, 4, 4, 3)) == ((16, 3), (1, 3), (16, 3))
    assert collapse_broadcast((1, 4, 4, 3), (1, 4, 4, 3), (1, 4, 4, 3)) == ((48,), (48,), (48,))
    assert collapse_broadcast((), (2, 3), (2, 3)) == ((1,), (6,), (6,))
    assert collapse_broadcast((1,), (), (1,)) == ((1,), (1,), (1,))
    assert collapse_broadcast((2, 3), (3, 2), (2, 3)) is None
    assert collapse_broadcast((2, 3), (1, 3), (4, 3)) is None


@pytest.mark.parametrize("shape1,shape2,out,match", [
    ((2, 3), (3, 2), (3, 3), "do not broadcast"),
    ((3, 1, 2, 1, 2, 1), (1, 2, 1, 2, 1, 2), (3, 2, 2, 2, 2, 2), "at most 4"),
])
def test_binary_rejects_shapes(tmp_path, shape1, shape2, out, match):
    g = single_op(Op.ADD, [act("a", shape1), act("b", shape2)], [act("y", out)],
                  dict(activation="NONE"))
    with pytest.raises(MicrolithError, match=match):
        microlith.compile(g, tmp_path / "c")


def test_binary_rejects_float(tmp_path):
    g = single_op(Op.MUL, [act("a", (4,)), float_tensor("b", (4,))], [act("y", (4,))],
                  dict(activation="NONE"))
    with pytest.raises(MicrolithError, match="'b'"):
        microlith.compile(g, tmp_path / "c")


# -- RELU / RELU6 / LEAKY_RELU / HARD_SWISH -------------------------------------------------

def unary(op, si, zi, so, zo, attrs=None, shape=(1, 256)):
    return single_op(op, [act("x", shape, si, zi)], [act("y", shape, so, zo)], attrs)


@pytest.mark.parametrize("si,zi,so,zo", [
    (0.05, 0, 0.05, 0),        # same quantization
    (0.05, -128, 0.03, -128),  # zero points at the limits; rescale up
    (0.02, 127, 0.07, 127),
    (0.1, 10, 0.02, -20),      # saturation at 127
])
@pytest.mark.parametrize("op", (Op.RELU, Op.RELU6))
def test_relu(tmp_path, op, si, zi, so, zo):
    assert_exact(unary(op, si, zi, so, zo), tmp_path, samples=2, inputs=[[EVERY_INT8.reshape(1, 256)]])


def test_relu6_clamps_in_input_quantization(tmp_path):
    # TFLM's RELU6 ignores the output quantization; 6 / 0.01 saturates "six" at 127.
    assert_exact(unary(Op.RELU6, 0.01, -3, 0.5, 40), tmp_path, samples=1,
                 inputs=[[EVERY_INT8.reshape(1, 256)]])


def test_relu_rank5(tmp_path):
    assert_exact(unary(Op.RELU, 0.05, 3, 0.04, -2, shape=(2, 1, 3, 2, 5)), tmp_path, samples=5)


@pytest.mark.parametrize("alpha", [0.1, 1.5, 0.0, -0.3])
@pytest.mark.parametrize("si,zi,so,zo", [(0.05, 0, 0.05, 0), (0.03, -128, 0.07, 127),
                                         (0.2, 127, 0.01, -128)])
def test_leaky_relu(tmp_path, alpha, si, zi, so, zo):
    assert_exact(unary(Op.LEAKY_RELU, si, zi, so, zo, dict(alpha=alpha)), tmp_path, samples=1,
                 inputs=[[EVERY_INT8.reshape(1, 256)]])


@pytest.mark.parametrize("si,zi,so,zo", [
    (0.1, 0, 0.05, -60),        # wide input range (+-12.8)
    (0.5, -20, 0.3, -100),      # very wide: the relu-ish factor saturates
    (0.004, 3, 0.003, -90),     # narrow input range (+-0.5): right shifts
    (0.02, -128, 0.012, 127),   # zero points at the limits
    (0.05, 127, 0.02, -128),
    (3e-8, 0, 3e-8, 0),         # relu-ish exponent -18 and
    (0.001, 5, 0.8, -3),        # output exponent -16: the 16-bit rounding mask wraps around
])
def test_hard_swish(tmp_path, si, zi, so, zo):
    assert_exact(unary(Op.HARD_SWISH, si, zi, so, zo), tmp_path, samples=2,
                 inputs=[[EVERY_INT8.reshape(1, 256)]])


def test_hard_swish_rejects_tiny_output_scale(tmp_path):
    with pytest.raises(MicrolithError, match="HARD_SWISH"):
        microlith.compile(unary(Op.HARD_SWISH, 1.0, 0, 0.001, 0), tmp_path / "c")


def test_unary_rejects_size_mismatch(tmp_path):
    g = single_op(Op.RELU, [act("x", (4,))], [act("y", (5,))])
    with pytest.raises(MicrolithError, match="elements"):
        microlith.compile(g, tmp_path / "c")


# -- QUANTIZE / DEQUANTIZE ------------------------------------------------------------------

@pytest.mark.parametrize("scale,zp,dtype", [(0.03, 0, "int8"), (0.02, -128, "int8"),
                                            (0.05, 127, "int8"), (1e-4, 5, "int16"),
                                            (0.001, -32768, "int16")])
def test_quantize_float(tmp_path, scale, zp, dtype):
    g = single_op(Op.QUANTIZE, [float_tensor("x", (2, 3, 17))], [act("y", (2, 3, 17), scale, zp, dtype)])
    assert_exact(g, tmp_path, samples=5)


def test_quantize_float_rounds_halves_away_from_zero(tmp_path):
    # With a power-of-two scale x / scale is exact, so k + 0.5 hits the tie every time.
    halves = ((np.arange(-150, 150) + 0.5) * 0.25).astype(np.float32)
    specials = np.array([0.0, -0.0, 1e6, -1e6, 5e8, -5e8, 1e-30, 31.87, -31.87, 32.0], np.float32)
    x = np.concatenate([halves, specials, np.zeros(6, np.float32)]).reshape(4, 79)
    g = single_op(Op.QUANTIZE, [float_tensor("x", (4, 79))], [act("y", (4, 79), 0.25, -3)])
    assert_exact(g, tmp_path, samples=1, inputs=[[x]])


def test_quantize_float_out_of_int32_range_saturates(tmp_path):
    # TFLM casts round(x / scale) to int32 unchecked: undefined past 2^31 (the x86 oracle
    # yields INT32_MIN, an ARM core saturates). microlith saturates, and NaN gives the
    # zero point, in the reference and in C alike.
    from microlith.codegen.c import generate, prepare
    from microlith.reference import run_reference
    from microlith.verify import HostModel
    x = np.array([np.inf, -np.inf, 1e30, -1e30, np.nan, 3e9, -3e9, 0.3], np.float32)
    want = np.array([127, -128, 127, -128, -3, 127, -128, -2], np.int8)
    g = single_op(Op.QUANTIZE, [float_tensor("x", (8,))], [act("y", (8,), 0.25, -3)])
    assert np.array_equal(run_reference(g, [x])["y"], want)
    gen = generate(prepare(g), tmp_path / "c")
    assert np.array_equal(HostModel(tmp_path / "c", g, gen.name, tmp_path).run([x])[0], want)


@pytest.mark.parametrize("si,zi,so,zo", [(0.05, 3, 0.03, -7), (0.01, -128, 0.2, 127),
                                         (0.2, 127, 0.01, -128), (0.05, 10, 0.05, -10)])
def test_quantize_int8_to_int8(tmp_path, si, zi, so, zo):
    assert_exact(unary(Op.QUANTIZE, si, zi, so, zo), tmp_path, samples=1,
                 inputs=[[EVERY_INT8.reshape(1, 256)]])


@pytest.mark.parametrize("scale,zp,dtype", [(0.05, 0, "int8"), (0.013, -128, "int8"),
                                            (0.7, 127, "int8"), (3e-4, 0, "int16"),
                                            (0.01, -300, "int16")])
def test_dequantize(tmp_path, scale, zp, dtype):
    g = single_op(Op.DEQUANTIZE, [act("x", (3, 50), scale, zp, dtype)], [float_tensor("y", (3, 50))])
    assert_exact(g, tmp_path, samples=5)


def test_dequantize_every_int8(tmp_path):
    g = single_op(Op.DEQUANTIZE, [act("x", (1, 256), 0.0123, 17)], [float_tensor("y", (1, 256))])
    x = EVERY_INT8.reshape(1, 256)
    assert_exact(g, tmp_path, samples=1, inputs=[[x]])
    # assert_exact compares the C output bitwise; check the numpy reference bitwise too.
    from microlith.frontends.tflite import load_tflite
    from microlith.reference import run_reference
    from microlith.verify import Oracle
    path = write(g, tmp_path, "bits")
    model = load_tflite(path)
    want = np.asarray(Oracle(path.read_bytes(), model).run([x])[0], np.float32)
    assert want.tobytes() == run_reference(model, [x])["y"].tobytes()


def test_quantize_rejects_per_channel_output(tmp_path):
    y = Tensor("y", (2, 3), "int8", Quant((0.1, 0.2), (0, 0), 0))
    g = single_op(Op.QUANTIZE, [float_tensor("x", (2, 3))], [y])
    with pytest.raises(MicrolithError, match="per-tensor"):
        microlith.compile(g, tmp_path / "c")


def test_quantize_graph_writes_float_io(tmp_path):
    """A QUANTIZE -> DEQUANTIZE boundary model compiles with float I/O in its API."""
    g = single_op(Op.DEQUANTIZE, [act("x", (8,), 0.1, 0)], [float_tensor("y", (8,))])
    res = microlith.compile(write(g, tmp_path), tmp_path / "c")
    header = (tmp_path / "c" / "src" / f"{res['name']}.h").read_text()
    assert "int8_t *input" in header and "float *output" in header


# The same-shape ADD/SUB fast path of DSP cores (SMMLAR requantization, the larger-scale
# input's n = 0 rewritten as n = 1, blocks of 32 with a tail) against TFLM on an emulated M4,
# over all 65536 pairs of int8 values in two same-shape tensors; the last case's output shift
# is 0, which the fast path leaves to the portable code.
@pytest.mark.cortexm
@pytest.mark.parametrize("tables", (True, False), ids=("tables", "no-tables"))
@pytest.mark.parametrize("op", (Op.ADD, Op.SUB))
@pytest.mark.parametrize("s1,z1,s2,z2,so,zo,activation", [
    (0.05, 0, 0.05, 0, 0.1, 0, "NONE"),            # equal scales: both inputs have n = 0
    (0.02, -128, 0.9, 127, 0.3, -128, "RELU"),     # input2 has the larger scale
    (0.5, 127, 0.01, -128, 0.05, 127, "RELU6"),    # input1 has the larger scale, narrow clamp
    (0.3, -20, 0.4, 30, 0.001, 5, "NONE"),         # output shift 0: portable path
    (0.05, 3, 0.07, -5, 6.4, 100, "NONE"),         # output shift -25: portable path
    (0.05, 3, 0.07, -5, 0.7, -100, "NONE"),        # output shift -22: the fast path's limit
])
def test_binary_same_shape_on_cortex_m4(tmp_path, monkeypatch, tables, op, s1, z1, s2, z2, so, zo,
                                        activation):
    # tables: the layer gets scratch for the input tables (ml_add_s8_table_dsp); without, the
    # block path rescales every element
    if not tables:
        monkeypatch.setattr(type(impl_for(Op.ADD)), "TABLE_MIN_ELEMENTS", 1 << 30)
    shape = (1, 65541)  # every pair, plus a tail that is not a whole block (nor a whole pair)
    a, b = act("a", shape, s1, z1), act("b", shape, s2, z2)
    g = single_op(op, [a, b], [act("y", shape, so, zo)], dict(activation=activation))
    pairs = np.stack(np.meshgrid(EVERY_INT8, EVERY_INT8, indexing="ij")).reshape(2, -1)
    tail = np.array([[-128, 127, 0, -1, 1], [127, -128, 0, 1, -1]], np.int8)
    x = np.concatenate([pairs, tail], axis=1)
    np.savez(tmp_path / "pairs.npz", a=x[0][None, None], b=x[1][None, None])
    res = microlith.verify(write(g, tmp_path), target="cortex-m4", samples=1, seed=0,
                           inputs=str(tmp_path / "pairs.npz"))
    assert res["bit_exact"], res


# -- ADD writing over a dying input ---------------------------------------------------------

def add_chain(second_dies: bool = False, keep_y1: bool = False):
    """x1 + x2 -> y1; y2 = y1 + x3 (or x3 + y1); y3 = y2 + x4 [+ y1 again when keep_y1]."""
    shape = (1, 8, 8, 32)  # 2048 elements: the table path
    ts = {n: act(n, shape, 0.05 + 0.01 * k, k - 3) for k, n in enumerate(("x1", "x2", "x3", "x4", "y1", "y2"))}
    nodes = [Node(Op.ADD, ("x1", "x2"), ("y1",), dict(activation="NONE")),
             Node(Op.ADD, ("x3", "y1") if second_dies else ("y1", "x3"), ("y2",), dict(activation="RELU")),
             Node(Op.ADD, ("y2", "x4"), ("y3",), dict(activation="NONE"))]
    outs = ["y3"]
    ts["y3"] = act("y3", shape, 0.2, 4)
    if keep_y1:
        nodes.append(Node(Op.SUB, ("y3", "y1"), ("y4",), dict(activation="NONE")))
        ts["y4"] = act("y4", shape, 0.3, -7)
        outs = ["y4"]
    return Graph("add_chain", ts, nodes, ["x1", "x2", "x3", "x4"], outs)


@pytest.mark.parametrize("second_dies,keep_y1", [(False, False), (True, False), (False, True)])
def test_add_writes_over_the_input_that_dies(tmp_path, second_dies, keep_y1):
    from microlith.codegen.c import prepare
    from microlith.planner import overlapping
    g = add_chain(second_dies, keep_y1)
    plan = prepare(g).plan
    nbytes = g.t("y1").nbytes
    if keep_y1:  # y1 is read again later, so y2 gets bytes of its own; y3 (internal now) takes y2's
        assert plan.shared == {2: ("y2", "y3")}
    else:  # y2 takes y1's bytes (the caller's x1..x4 and y3 never lend theirs)
        assert plan.shared == {1: ("y1", "y2")}
        assert plan.offset_of("y1") == plan.offset_of("y2")
        assert plan.arena_size == nbytes + impl_for(Op.ADD).TABLE_BYTES
    assert overlapping(plan) == []
    assert prepare(g, strategy="greedy-noinplace").plan.shared == {}
    assert_exact(g, tmp_path, samples=5)


@pytest.mark.cortexm
def test_add_over_its_input_on_cortex_m4(tmp_path):
    g = add_chain(second_dies=True)
    res = microlith.verify(write(g, tmp_path), target="cortex-m4", samples=3, seed=0)
    assert res["bit_exact"], res


def test_table_ops_write_over_their_input(tmp_path):
    """int8 ops run as a table (ml_lut_s8) take their input's bytes when it dies there."""
    from microlith.codegen.c import prepare
    from microlith.planner import overlapping
    shape = (1, 16, 16, 4)
    ts = {n: act(n, shape, 0.05 * (k + 1), k - 2) for k, n in enumerate(("x", "y1", "y2", "y3"))}
    nodes = [Node(Op.RELU, ("x",), ("y1",), {}), Node(Op.RELU6, ("y1",), ("y2",), {}),
             Node(Op.LEAKY_RELU, ("y2",), ("y3",), dict(alpha=0.25))]
    g = Graph("lut_chain", ts, nodes, ["x"], ["y3"])
    plan = prepare(g).plan
    assert plan.shared == {1: ("y1", "y2")} and plan.arena_size == g.t("y1").nbytes
    assert overlapping(plan) == []
    assert_exact(g, tmp_path, samples=5)
