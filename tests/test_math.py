"""Elementwise math ops (ops/math_ops.py) against TFLM, byte for byte.

Where an op is a function of one or two int8 values, a test feeds every int8 value (or every
pair, through a [256, 1] x [1, 256] broadcast), so a rounding difference anywhere shows up.
"""

import numpy as np
import pytest

import microlith
from microlith.ir import Graph, MicrolithError, Node, Op, Tensor
from opmodels import act, assert_exact, const, single_op, write

EVERY_INT8 = np.arange(-128, 128, dtype=np.int8)


def boolean(name, shape):
    """A bool tensor: no quantization, as the converter writes them."""
    return Tensor(name, tuple(shape), "bool")


def every_pair(op, s1, z1, s2, z2, so, zo, attrs=None, out_dtype="int8"):
    """A model whose one sample covers all 65536 pairs of int8 inputs."""
    a, b = act("a", (256, 1), s1, z1), act("b", (1, 256), s2, z2)
    y = act("y", (256, 256), so, zo) if out_dtype == "int8" else boolean("y", (256, 256))
    g = single_op(op, [a, b], [y], attrs)
    return g, [[EVERY_INT8.reshape(256, 1), EVERY_INT8.reshape(1, 256)]]


BROADCASTS = [
    ((1, 4, 4, 3), (1, 4, 4, 3)),
    ((1, 4, 4, 3), (1, 1, 1, 3)),       # per-channel operand
    ((1, 1, 1, 3), (1, 4, 4, 3)),       # the broadcast operand first
    ((2, 3, 4), (4,)),                  # lower rank
    ((4, 1), (1, 5)),                   # both broadcast: outer product
    ((2, 3, 1, 4, 5), (1, 1, 6, 1, 1)), # 5-D
    ((1,), (3, 1)),                     # one element
]


def graph(name, inputs, nodes):
    """A model from (op, input names, output tensor, attrs) tuples; every output is a graph output."""
    tensors = {t.name: t for t in inputs}
    tensors.update({y.name: y for _, _, y, _ in nodes})
    return Graph(name, tensors, [Node(op, tuple(ins), (y.name,), attrs) for op, ins, y, attrs in nodes],
                 [t.name for t in inputs if not t.is_const], [y.name for _, _, y, _ in nodes])


COMPARISONS = [Op.EQUAL, Op.NOT_EQUAL, Op.LESS, Op.LESS_EQUAL, Op.GREATER, Op.GREATER_EQUAL]


def all_comparisons(a, b):
    """One model computing all six comparisons of a and b (six bool outputs)."""
    out = np.broadcast_shapes(a.shape, b.shape)
    return graph("comparisons", [a, b], [(op, ("a", "b"), boolean(f"y_{op.value.lower()}", out), {})
                                         for op in COMPARISONS])


def refuses(g, tmp_path, match):
    with pytest.raises(MicrolithError, match=match):
        microlith.compile(g, tmp_path / "c")


# -- every binary op at once: broadcasting -------------------------------------------------

@pytest.mark.parametrize("shape1,shape2", BROADCASTS)
def test_binary_ops_broadcast(tmp_path, shape1, shape2):
    # MAXIMUM, MINIMUM, PRELU, SQUARED_DIFFERENCE, DIV and the six comparisons of the same two
    # inputs, each with its own output quantization.
    out = np.broadcast_shapes(shape1, shape2)
    a, b = act("a", shape1, 0.06, -3), act("b", shape2, 0.04, 9)
    nodes = [(Op.MAXIMUM, "ab", act("max", out, 0.06, -3), {}),
             (Op.MINIMUM, "ab", act("min", out, 0.06, -3), {}),
             (Op.PRELU, "ab", act("prelu", out, 0.05, 2), {}),
             (Op.SQUARED_DIFFERENCE, "ab", act("sqdiff", out, 0.1, -120), {}),
             (Op.DIV, "ab", act("div", out, 0.08, 4), dict(activation="NONE"))]
    nodes += [(op, "ab", boolean(op.value.lower(), out), {}) for op in COMPARISONS]
    assert_exact(graph("binary", [a, b], nodes), tmp_path, samples=3)


# -- MAXIMUM / MINIMUM ----------------------------------------------------------------------

def test_max_min_every_pair(tmp_path):
    a, b = act("a", (256, 1), 0.05, -128), act("b", (1, 256), 0.05, -128)
    g = graph("max_min", [a, b], [(Op.MAXIMUM, "ab", act("max", (256, 256), 0.05, -128), {}),
                                  (Op.MINIMUM, "ab", act("min", (256, 256), 0.05, -128), {})])
    assert_exact(g, tmp_path, samples=0, inputs=[[EVERY_INT8.reshape(256, 1), EVERY_INT8.reshape(1, 256)]])


@pytest.mark.parametrize("dtype", ["int16", "int32"])
@pytest.mark.parametrize("shape1,shape2", [((2, 3, 4), (4,)), ((4, 1), (1, 5))])
def test_max_min_wider_ints(tmp_path, dtype, shape1, shape2):
    out = np.broadcast_shapes(shape1, shape2)
    a, b = Tensor("a", shape1, dtype), Tensor("b", shape2, dtype)
    g = graph("max_min", [a, b], [(Op.MAXIMUM, "ab", Tensor("max", out, dtype), {}),
                                  (Op.MINIMUM, "ab", Tensor("min", out, dtype), {})])
    assert_exact(g, tmp_path, samples=3)


def test_signal_front_end_tail(tmp_path):
    # The int32 tail of TFLM's micro_speech audio preprocessor: int16 log energies cast to
    # int32, divided by a constant (DIV int32), clamped by MINIMUM/MAXIMUM, cast to int8.
    x = Tensor("x", (1, 40), "int16")
    nodes = [(Op.CAST, ("x",), Tensor("wide", (1, 40), "int32"), {}),
             (Op.DIV, ("wide", "d"), Tensor("q", (1, 40), "int32"), dict(activation="NONE")),
             (Op.MINIMUM, ("q", "hi"), Tensor("lo_clamped", (1, 40), "int32"), {}),
             (Op.MAXIMUM, ("lo_clamped", "lo"), Tensor("clamped", (1, 40), "int32"), {}),
             (Op.CAST, ("clamped",), Tensor("y", (1, 40), "int8"), {})]
    consts = [const("d", np.int32(-25)), const("hi", np.int32(127)), const("lo", np.int32(-128))]
    g = graph("tail", [x] + consts, nodes)
    g.outputs = ["y"]
    assert_exact(g, tmp_path, samples=5)


@pytest.mark.parametrize("activation", ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"])
def test_div_int32(tmp_path, activation):
    # Divisors of both signs and the int32 extremes; TFLM truncates toward zero.
    a, b = Tensor("a", (3, 6), "int32"), const("b", np.int32([7, -7, 1, -1, 1000, -(1 << 31)]))
    g = single_op(Op.DIV, [a, b], [Tensor("y", (3, 6), "int32")], dict(activation=activation))
    edge = np.int32([[-(1 << 31), (1 << 31) - 1, -1, 0, 1, 13]] * 3)
    assert_exact(g, tmp_path, samples=3, inputs=[[edge]])


def test_max_ignores_quantization_like_tflm(tmp_path):
    # TFLM compares raw int8 values whatever the scales; so do we (the converter never writes this).
    g = single_op(Op.MAXIMUM, [act("a", (7,), 0.1, 3), const("c", np.int8(5), 0.5, -9, dtype="int8")],
                  [act("y", (7,), 0.02, 0)])
    assert_exact(g, tmp_path, samples=4)


# -- PRELU ----------------------------------------------------------------------------------

@pytest.mark.parametrize("si,zi,sa,za,so,zo", [
    (0.02, -128, 0.004, 127, 0.03, 127),   # zero points at the int8 limits, negative alphas
    (0.1, 127, 0.02, -128, 0.01, -128),    # output scale below the input's: saturation
    (0.5, 3, 0.9, -7, 0.001, 4),           # ratios above one: left shifts
])
def test_prelu_every_pair(tmp_path, si, zi, sa, za, so, zo):
    g, inputs = every_pair(Op.PRELU, si, zi, sa, za, so, zo)
    assert_exact(g, tmp_path, samples=0, inputs=inputs)


@pytest.mark.parametrize("alpha_shape", [(3,), (1, 5, 1, 1)])
def test_prelu_constant_alpha(tmp_path, alpha_shape):
    rng = np.random.default_rng(len(alpha_shape))
    alpha = const("alpha", rng.integers(-128, 128, alpha_shape), scale=0.004, zp=-20, dtype="int8")
    g = single_op(Op.PRELU, [act("x", (2, 5, 4, 3), 0.05, 7), alpha], [act("y", (2, 5, 4, 3), 0.04, -6)])
    assert_exact(g, tmp_path, samples=3)


@pytest.mark.parametrize("zi,zo,alpha_shape", [(0, 0, (1, 1, 3)), (-32768, 32767, (4, 1, 1)),
                                               (1000, -2000, (4, 5, 3))])
def test_prelu_int16(tmp_path, zi, zo, alpha_shape):
    # 16x8: int16 input and output, int8 alpha (TFLM does not require int16 zero points of 0 here).
    x = act("x", (4, 5, 3), 0.0005, zi, "int16")
    alpha = act("alpha", alpha_shape, 0.01, -3)
    g = single_op(Op.PRELU, [x, alpha], [act("y", (4, 5, 3), 0.0004, zo, "int16")])
    assert_exact(g, tmp_path, samples=4)


# -- SQUARED_DIFFERENCE ---------------------------------------------------------------------

@pytest.mark.parametrize("s1,z1,s2,z2,so,zo", [
    (0.05, 3, 0.07, -5, 0.2, -100),
    (0.02, -128, 0.9, 127, 30.0, -128),     # zero points at the int8 limits
    (0.05, 0, 0.05, 0, 0.00002, 127),       # output ratio far above one: left shift, saturation
])
def test_squared_difference_every_pair(tmp_path, s1, z1, s2, z2, so, zo):
    g, inputs = every_pair(Op.SQUARED_DIFFERENCE, s1, z1, s2, z2, so, zo)
    assert_exact(g, tmp_path, samples=0, inputs=inputs)


@pytest.mark.parametrize("s1,s2,so", [(0.0003, 0.002, 0.00001), (0.01, 0.0001, 5.0)])
def test_squared_difference_int16(tmp_path, s1, s2, so):
    a, b = act("a", (3, 1, 8), s1, 0, "int16"), act("b", (1, 5, 8), s2, 0, "int16")
    g = single_op(Op.SQUARED_DIFFERENCE, [a, b], [act("y", (3, 5, 8), so, 0, "int16")])
    edge_a = np.broadcast_to(np.int16([-32768, 32767, 0, 1, -1, 100, -100, 7]), (3, 1, 8))
    edge_b = np.broadcast_to(np.int16([32767, -32768, 0, -1, 1, -100, 100, 7]), (1, 5, 8))
    assert_exact(g, tmp_path, samples=3, inputs=[[edge_a.copy(), edge_b.copy()]])


# -- ELU, ABS, RSQRT: every int8 input ------------------------------------------------------

def every_value(op, si, zi, so, zo, shape=(256,)):
    g = single_op(op, [act("x", shape, si, zi)], [act("y", shape, so, zo)])
    return g, [[EVERY_INT8.reshape(shape)]]


@pytest.mark.parametrize("si,zi,elu_q,abs_q", [
    (0.05, 0, (0.05, 0), (0.05, 3)),                # ABS: same scale, no rescale
    (0.1, 127, (0.02, -128), (0.02, -128)),         # zero points at the limits: ELU's exp side
    (0.02, -128, (0.05, 127), (0.01, -128)),        # ELU's identity side; ABS saturating
    (0.5, 10, (0.0078125, 100), (0.25, 100)),       # exp(x) - 1 near -1; ABS ratio 2: left shift
    # ABS: these scales give different q31 multipliers from their float32 and double ratios
    # and one output differs; the oracle follows the double ratio.
    (0.39853477478027344, -128, (0.003, -3), (0.46631279587745667, -128)),
])
def test_elu_abs_every_value(tmp_path, si, zi, elu_q, abs_q):
    x = act("x", (256,), si, zi)
    g = graph("elu_abs", [x], [(Op.ELU, "x", act("elu", (256,), *elu_q), {}),
                               (Op.ABS, "x", act("abs", (256,), *abs_q), {})])
    assert_exact(g, tmp_path, samples=0, inputs=[[EVERY_INT8]])


def test_elu_abs_odd_shape(tmp_path):
    x = act("x", (1, 3, 5, 7), 0.07, 9)
    g = graph("elu_abs", [x], [(Op.ELU, "x", act("elu", x.shape, 0.04, -50), {}),
                               (Op.ABS, "x", act("abs", x.shape, 0.04, -128), {})])
    assert_exact(g, tmp_path, samples=3)


@pytest.mark.parametrize("si,so", [(None, None), (0.001, 0.001), (0.001, 0.0004)])
def test_abs_int16(tmp_path, si, so):
    # Unquantized (std::abs wraps |-32768|), same scale (|-32768| clamps), and rescaled.
    x = Tensor("x", (2, 40), "int16") if si is None else act("x", (2, 40), si, 0, "int16")
    y = Tensor("y", (2, 40), "int16") if so is None else act("y", (2, 40), so, 0, "int16")
    edge = np.int16([[-32768, 32767, -32767, 0, 1, -1, 16384, -16385] * 5] * 2)
    assert_exact(single_op(Op.ABS, [x], [y]), tmp_path, samples=2, inputs=[[edge]])


@pytest.mark.parametrize("si,so,zo", [
    (1.0, 1 / 16, -128),           # 1 / sqrt(x) for x = 1..255 across the whole output range
    (0.0001, 0.7, -60),            # tiny input scale: large outputs, saturating
    # 1 / (sqrtf(si) * so) in float32 gives a different multiplier and one output differs;
    # the oracle follows the double formula.
    (0.0014485048595815897, 0.03151150792837143, -70),
    (0.419444739818573, 0.17829270660877228, -36),
])
def test_rsqrt_every_valid_value(tmp_path, si, so, zo):
    g, inputs = every_value(Op.RSQRT, si, -128, so, zo)   # zero point -128: every input is >= 0
    assert_exact(g, tmp_path, samples=2, inputs=inputs)


@pytest.mark.parametrize("si,so", [(0.001, 0.001), (1.0, 1 / 1024), (0.02, 0.0005)])
def test_rsqrt_int16(tmp_path, si, so):
    rng = np.random.default_rng(int(si * 1000))
    edge = np.int16([0, 1, 2, 3, 4, 255, 256, 1023, 1024, 32767, 16384, 12345])
    cases = [[edge]] + [[rng.integers(0, 32768, 12).astype(np.int16)] for _ in range(3)]
    g = single_op(Op.RSQRT, [act("x", (12,), si, 0, "int16")], [act("y", (12,), so, 0, "int16")])
    assert_exact(g, tmp_path, samples=0, inputs=cases)


def test_rsqrt_nonnegative_inputs(tmp_path):
    x = np.arange(77, 128, dtype=np.int8)
    g = single_op(Op.RSQRT, [act("x", x.shape, 0.03, 77)], [act("y", x.shape, 0.02, -10)])
    assert_exact(g, tmp_path, samples=0, inputs=[[x]])


@pytest.mark.parametrize("dtype,zp", [("int8", 3), ("int16", 0)])
def test_rsqrt_fails_on_negative_input_like_tflm(tmp_path, dtype, zp):
    from microlith.verify import HostModel, Oracle
    g = single_op(Op.RSQRT, [act("x", (5,), 0.05, zp, dtype)], [act("y", (5,), 0.05, 0, dtype)])
    path = write(g, tmp_path)
    model = microlith.load(str(path))
    good = [np.array([3, 4, 5, 9, 9], dtype=dtype)]
    bad = [np.array([3, 4, zp - 1, 9, 9], dtype=dtype)]  # below the zero point: a negative number
    oracle = Oracle(path.read_bytes(), model)
    oracle.run(good)
    with pytest.raises(Exception, match="invocation failed"):
        oracle.run(bad)
    oracle.close()
    res = microlith.compile(model, tmp_path / "c")
    host = HostModel(tmp_path / "c", model, res["name"], tmp_path)
    try:
        host.run(good)
        with pytest.raises(MicrolithError, match="returned error -1"):
            host.run(bad)
    finally:
        host.close()


# -- comparisons ----------------------------------------------------------------------------

@pytest.mark.parametrize("s1,z1,s2,z2", [
    (0.05, 0, 0.05, 0),            # same quantization: equal values compare equal
    (0.02, -128, 0.9, 127),        # zero points at the limits
    (0.999, 0, 1e-5, 0),           # largest accepted scale against a tiny one
])
def test_comparisons_every_pair(tmp_path, s1, z1, s2, z2):
    g = all_comparisons(act("a", (256, 1), s1, z1), act("b", (1, 256), s2, z2))
    assert_exact(g, tmp_path, samples=0, inputs=[[EVERY_INT8.reshape(256, 1), EVERY_INT8.reshape(1, 256)]])


# -- SELECT_V2 ------------------------------------------------------------------------------

def test_collapse_broadcast_n_agrees_with_two_input_version():
    from microlith.ops import impl_for
    impl_for(Op.ADD)  # load every op family (see test_elementwise.test_collapse_broadcast)
    from microlith.ops.elementwise import collapse_broadcast
    from microlith.ops.math_ops import collapse_broadcast_n
    for a, b in BROADCASTS + [((2, 3), (3, 2)), ((5, 1, 3), (1, 4, 3))]:
        try:
            out = np.broadcast_shapes(a, b)
        except ValueError:
            out = (2, 3)
        assert collapse_broadcast_n([a, b], out) == collapse_broadcast(a, b, out)
    assert collapse_broadcast_n([(4, 1), (1, 5), (4, 5)], (4, 5)) == ((4, 1), (1, 5), (4, 5), (4, 5))
    assert collapse_broadcast_n([(), (2, 3), (1, 3)], (2, 3)) == ((1, 1), (2, 3), (1, 3), (2, 3))


def less_then_select(x_shape, y_shape, cond_shape, zx=0):
    """LESS(a, b) -> bool condition -> SELECT_V2(condition, x, y): the bool stays internal."""
    a, b = act("a", cond_shape, 0.05, zx), act("b", cond_shape, 0.05, -zx)
    x, y = act("x", x_shape, 0.1, 3), act("y", y_shape, 0.1, 3)
    out_shape = np.broadcast_shapes(cond_shape, x_shape, y_shape)
    c, out = boolean("c", cond_shape), act("out", out_shape, 0.1, 3)
    nodes = [Node(Op.LESS, ("a", "b"), ("c",), {}), Node(Op.SELECT_V2, ("c", "x", "y"), ("out",), {})]
    return Graph("select", {t.name: t for t in (a, b, x, y, c, out)}, nodes, ["a", "b", "x", "y"], ["out"])


@pytest.mark.parametrize("x_shape,y_shape,cond_shape", [
    ((2, 3, 4), (2, 3, 4), (1, 1, 4)),      # broadcast condition
    ((1, 1, 4), (2, 3, 1), (2, 1, 4)),      # all three broadcast
    ((5,), (1,), (3, 1)),                   # lower ranks
    ((1, 2, 3, 1, 1), (2, 2, 3, 4, 1), (1, 1, 1, 4, 5)),  # 5-D, four runs
])
def test_select_v2_broadcast(tmp_path, x_shape, y_shape, cond_shape):
    assert_exact(less_then_select(x_shape, y_shape, cond_shape), tmp_path, samples=4)


def test_select_v2_bool_graph_input(tmp_path):
    rng = np.random.default_rng(3)
    c, x, y = boolean("c", (3, 4)), act("x", (3, 4), 0.2, -128), act("y", (1, 4), 0.01, 127)
    g = single_op(Op.SELECT_V2, [c, x, y], [act("out", (3, 4), 0.3, 7)])
    cases = [[rng.integers(0, 2, (3, 4)).astype(bool), rng.integers(-128, 128, (3, 4)).astype(np.int8),
              rng.integers(-128, 128, (1, 4)).astype(np.int8)] for _ in range(4)]
    assert_exact(g, tmp_path, samples=0, inputs=cases)


def test_select_v2_int16(tmp_path):
    c = boolean("c", (2, 1, 4))
    x, y = act("x", (2, 3, 4), 0.001, 0, "int16"), act("y", (4,), 0.002, 0, "int16")
    g = single_op(Op.SELECT_V2, [c, x, y], [act("out", (2, 3, 4), 0.001, 0, "int16")])
    assert_exact(g, tmp_path, samples=4)


def test_select_v2_refuses_five_broadcast_runs(tmp_path):
    g = less_then_select((1, 2, 1, 3, 1), (2, 1, 3, 1, 2), (1, 1, 1, 1, 2))
    refuses(g, tmp_path, "at most 4")


def test_select_v2_refuses_non_bool_condition(tmp_path):
    g = single_op(Op.SELECT_V2, [act("c", (4,)), act("x", (4,)), act("y", (4,))], [act("out", (4,))])
    refuses(g, tmp_path, "takes bool")


# -- LOGICAL_AND / LOGICAL_OR / LOGICAL_NOT -------------------------------------------------

def random_bools(rng, *shapes):
    return [rng.integers(0, 2, s).astype(bool) for s in shapes]


@pytest.mark.parametrize("shape1,shape2", [BROADCASTS[0], BROADCASTS[4], BROADCASTS[5]])
def test_logical_and_or_not(tmp_path, shape1, shape2):
    # AND, OR and NOT of both inputs in one model with bool graph inputs and outputs.
    out = np.broadcast_shapes(shape1, shape2)
    a, b = boolean("a", shape1), boolean("b", shape2)
    ys = [boolean("and", out), boolean("or", out), boolean("not_a", shape1)]
    nodes = [Node(Op.LOGICAL_AND, ("a", "b"), ("and",), {}), Node(Op.LOGICAL_OR, ("a", "b"), ("or",), {}),
             Node(Op.LOGICAL_NOT, ("a",), ("not_a",), {})]
    g = Graph("logical", {t.name: t for t in [a, b] + ys}, nodes, ["a", "b"], [y.name for y in ys])
    rng = np.random.default_rng(len(shape1))
    assert_exact(g, tmp_path, samples=0, inputs=[random_bools(rng, shape1, shape2) for _ in range(4)])


def test_logical_refuses_int8(tmp_path):
    g = single_op(Op.LOGICAL_AND, [act("a", (4,)), act("b", (4,))], [boolean("y", (4,))])
    refuses(g, tmp_path, "takes bool")


# -- CAST -----------------------------------------------------------------------------------

def extremes(dtype, shape, rng):
    """Random values of dtype with the type's limits and small values mixed in."""
    if dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    info = np.iinfo(dtype)
    x = rng.integers(info.min, int(info.max) + 1, shape, dtype=np.int64)
    x.reshape(-1)[:6] = [info.min, info.max, -1, 0, 1, info.min + 1][:x.size]
    return x.astype(dtype)


def integer(name, shape, dtype):
    """int32 and bool tensors carry no quantization; int8 and int16 ones do."""
    return act(name, shape, 0.1, 0, dtype) if dtype in ("int8", "int16") else Tensor(name, shape, dtype)


@pytest.mark.parametrize("src", ["int8", "int16", "int32", "bool"])
def test_cast(tmp_path, src):
    # One model casts the input to each of the other types (narrowing keeps the low bits).
    shape = (3, 5)
    nodes = [(Op.CAST, ("x",), integer(f"to_{dst}", shape, dst), {})
             for dst in ("int8", "int16", "int32") if dst != src]
    g = graph("cast", [integer("x", shape, src)], nodes)
    rng = np.random.default_rng(7)
    assert_exact(g, tmp_path, samples=0, inputs=[[extremes(src, shape, rng)] for _ in range(3)])


def test_cast_refuses_uint8(tmp_path):
    g = single_op(Op.CAST, [act("x", (4,))], [Tensor("y", (4,), "uint8")])
    refuses(g, tmp_path, "is uint8; TFLM's CAST kernel here takes int8 or int16 or int32")


# -- ADD_N ----------------------------------------------------------------------------------

def add_n(n, shape, s, z, so, zo, const_first=False):
    ins = [act(f"x{k}", shape, s, z) for k in range(n)]
    if const_first:
        rng = np.random.default_rng(n)
        ins[0] = const("c", rng.integers(-128, 128, shape), scale=s, zp=z, dtype="int8")
    return single_op(Op.ADD_N, ins, [act("y", shape, so, zo)])


@pytest.mark.parametrize("n,s,z,so,zo", [
    (3, 0.05, -128, 0.1, 127),     # zero points at the limits: TFLM's extra offset term shows
    (3, 0.02, 127, 0.5, -128),
    (15, 0.1, -100, 0.05, 3),      # the most inputs accepted, saturating
    (4, 0.3, 60, 1e-6, -7),        # tiny output scale
])
def test_add_n(tmp_path, n, s, z, so, zo):
    assert_exact(add_n(n, (2, 3, 5), s, z, so, zo), tmp_path, samples=5)


def test_add_n_constant_input(tmp_path):
    assert_exact(add_n(3, (7,), 0.04, 9, 0.05, -2, const_first=True), tmp_path, samples=4)


@pytest.mark.parametrize("g,match", [
    (add_n(16, (3,), 0.05, 0, 0.1, 0), "can overflow"),
    (single_op(Op.ADD_N, [act("a", (3,), 0.05, 1), act("b", (3,), 0.05, 2)], [act("y", (3,))]),
     "in shape or quantization"),
    (add_n(2, (3,), 1.0, 0, 1e-7, 0), "output rescale factor 19.07"),
])
def test_add_n_refuses(tmp_path, g, match):
    refuses(g, tmp_path, match)


# -- DIV ------------------------------------------------------------------------------------

@pytest.mark.parametrize("s1,z1,s2,z2,so,zo,activation", [
    (0.05, 0, 0.05, 0, 0.05, 0, "NONE"),          # zero divisors and TFLM's shifts beyond 31 bits
    (0.02, -128, 0.3, 127, 0.01, 5, "RELU"),      # zero points at the limits
    (0.5, 127, 0.002, -128, 4.0, 127, "RELU6"),
    # 0.004 / (0.05 * 0.0005) is exactly 160 in float32 but 159.9999976 in double; the oracle
    # gives 1 / 64 -> 2 (the double), not 3 (the float32 ratio).
    (0.004, -9, 0.05, 20, 0.0005, -1, "RELU_N1_TO_1"),
])
def test_div_every_pair(tmp_path, s1, z1, s2, z2, so, zo, activation):
    g, inputs = every_pair(Op.DIV, s1, z1, s2, z2, so, zo, dict(activation=activation))
    assert_exact(g, tmp_path, samples=0, inputs=inputs)


# -- refusals -------------------------------------------------------------------------------

def _refusals():
    pair = lambda op, s1, s2, so, **kw: every_pair(op, s1, 0, s2, 0, so, 0, **kw)[0]  # noqa: E731
    one = lambda op, si, so: every_value(op, si, 0, so, 0)[0]  # noqa: E731
    return [
        (single_op(Op.MAXIMUM, [act("a", (4,), dtype="uint8"), act("b", (4,), dtype="uint8")],
                   [act("y", (4,), dtype="uint8")]), "takes int8 or int16 or int32"),
        (single_op(Op.MINIMUM, [act("a", (4,), dtype="int16"), act("b", (4,))], [act("y", (4,))]),
         "is int16; TFLM's MINIMUM kernel here takes int8"),
        (single_op(Op.DIV, [act("a", (4,), dtype="int32"), Tensor("b", (4,), "int32")],
                   [Tensor("y", (4,), "int32")], dict(activation="NONE")), "only divides unquantized"),
        (single_op(Op.MAXIMUM, [act("a", (2, 3)), act("b", (3, 2))], [act("y", (3, 3))]), "do not broadcast"),
        (single_op(Op.PRELU, [act("x", (4,), 100.0), act("alpha", (4,), 1e6)], [act("y", (4,), 1e-9)]),
         "left shift"),
        (pair(Op.SQUARED_DIFFERENCE, 10.0, 10.0, 1e-12), "left shift"),
        (single_op(Op.SQUARED_DIFFERENCE, [act("a", (4,), 0.01, 1, "int16"),
                                           act("b", (4,), 0.01, 0, "int16")],
                   [act("y", (4,), 0.01, 0, "int16")]), "needs 0"),
        (single_op(Op.PRELU, [act("x", (4,), dtype="int16"), act("a", (4,), dtype="int16")],
                   [act("y", (4,), dtype="int16")]), "tensor 'a' is int16; this kernel needs int8"),
        (one(Op.ELU, 1e3, 1e-9), "int32 range"),
        (one(Op.RSQRT, 1e4, 1e4), "more than its 31-bit arithmetic"),
        (one(Op.RSQRT, 1e-12, 1e-6), "left shift"),
        (one(Op.ABS, 1e3, 1e-7), "left shift"),
        (single_op(Op.ABS, [act("x", (4,), 0.01, 5, "int16")], [act("y", (4,), 0.01, 0, "int16")]),
         "int16 ABS needs 0"),
        (single_op(Op.RSQRT, [act("x", (4,), 0.01, 0, "int16")], [act("y", (4,), 0.01, 3, "int16")]),
         "int16 RSQRT needs 0"),
        (pair(Op.LESS, 1.0, 0.5, 1.0, out_dtype="bool"), "not in \\(0, 1\\)"),
        (pair(Op.DIV, 1.0, 1e-4, 1e-4, attrs=dict(activation="NONE")), "needs a shift of 27"),
        (pair(Op.DIV, 1e-6, 10.0, 10.0, attrs=dict(activation="NONE")), "needs a shift of -26"),
    ]


@pytest.mark.parametrize("k", range(len(_refusals())))
def test_refusals(tmp_path, k):
    g, match = _refusals()[k]
    refuses(g, tmp_path, match)


# -- float reference (reference_float.py, used by the quantizer's calibration) -------------

def test_float_reference_matches_tflm_float_kernels(tmp_path):
    from microlith.frontends.tflite import load_tflite
    from microlith.reference_float import run_float
    from microlith.verify import Oracle, random_inputs
    f = lambda name, shape=(3, 4): Tensor(name, shape, "float32")  # noqa: E731
    nodes = [(Op.MAXIMUM, "ab", f("max"), {}), (Op.MINIMUM, "ab", f("min"), {}),
             (Op.PRELU, "ab", f("prelu"), {}), (Op.SQUARED_DIFFERENCE, "ab", f("sqdiff"), {}),
             (Op.DIV, "ab", f("div"), dict(activation="RELU6")), (Op.ADD_N, "ab", f("sum"), {}),
             (Op.ABS, "a", f("abs"), {}), (Op.ELU, "a", f("elu"), {}),
             (Op.RSQRT, ("abs",), f("rsqrt"), {}), (Op.LESS, "ab", boolean("less", (3, 4)), {}),
             (Op.SELECT_V2, ("less", "a", "b"), f("select"), {})]
    g = graph("float_math", [f("a"), f("b")], nodes)
    model = load_tflite(write(g, tmp_path))
    oracle = Oracle((tmp_path / "float_math.tflite").read_bytes(), model)
    rng = np.random.default_rng(0)
    for _ in range(3):
        xs = random_inputs(model, rng)
        ours = run_float(model, xs)
        for name, want in zip(model.outputs, oracle.run(xs)):
            np.testing.assert_allclose(ours[name].astype(np.float64), np.asarray(want, np.float64).reshape(-1)
                                       .reshape(ours[name].shape), rtol=1e-5, atol=1e-6, err_msg=name)
    oracle.close()
