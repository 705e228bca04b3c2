"""Reductions and normalizations (ops/reduce.py) byte-exact with TFLM: ARG_MAX, ARG_MIN,
REDUCE_MAX, REDUCE_MIN, SUM, LOG_SOFTMAX, L2_NORMALIZATION, CUMSUM."""
import shutil

import numpy as np
import pytest

import microlith
from microlith.frontends.tflite import parse_tflite
from microlith.frontends.tflite_writer import write_tflite
from microlith.ir import Graph, MicrolithError, Node, Op, Tensor
from microlith.ops import impl_for
from microlith.reference_float import run_float
from microlith.targets import cortexm
from microlith.verify import Oracle
import test_sanitizers as sanitizers
from opmodels import act, assert_exact, const, single_op, write


def raw(name, shape, dtype):
    """A tensor without quantization (index outputs, run-time axes)."""
    return Tensor(name, tuple(shape), dtype)


def exact_with(g, tmp_path, shape, extra=(), samples=8):
    """assert_exact on random inputs plus all -128, all 127 (ties everywhere) and `extra`."""
    cases = [np.full(shape, -128, np.int8), np.full(shape, 127, np.int8)] + [np.asarray(e, np.int8)
                                                                             for e in extra]
    return assert_exact(g, tmp_path, samples=samples, inputs=[[c.reshape(shape)] for c in cases])


def refuses(g, tmp_path, match, **limits):
    """Compiling the model stops with a MicrolithError (the CLI's one-line exit 2) matching `match`."""
    with pytest.raises(MicrolithError, match=match):
        microlith.compile(write(g, tmp_path), tmp_path / "out", measure=False, **limits)


# --- ARG_MAX / ARG_MIN

def arg_graph(op, shape, axis, zp=0, out_dtype="int32", axis_dtype=np.int32):
    rank = len(shape)
    a = axis % rank
    oshape = tuple(d for i, d in enumerate(shape) if i != a)
    return single_op(op, [act("x", shape, 0.1, zp), const("axis", np.array([axis], axis_dtype))],
                     [raw("y", oshape, out_dtype)], dict(output_type=out_dtype))


@pytest.mark.parametrize("op", [Op.ARG_MAX, Op.ARG_MIN])
@pytest.mark.parametrize("shape,axis,zp", [
    ((2, 5, 3), 1, 0),            # middle axis
    ((1, 4, 4, 7), -1, -128),     # negative axis, innermost
    ((3, 1, 6), 1, 127),          # axis of size 1: every index is 0
    ((9,), 0, 5),                 # rank 1: a scalar output
    ((4, 3, 2), 0, -3),           # outermost axis
])
def test_arg_min_max_exact(tmp_path, op, shape, axis, zp):
    rng = np.random.default_rng(1)
    few = rng.integers(-2, 2, size=shape)  # many ties between non-extreme values
    exact_with(arg_graph(op, shape, axis, zp), tmp_path, shape, extra=[few])


@pytest.mark.parametrize("op", [Op.ARG_MAX, Op.ARG_MIN])
def test_arg_min_max_refuses_int64_output(tmp_path, op):
    refuses(arg_graph(op, (2, 5), 1, out_dtype="int64"), tmp_path, "int32 indices only")


def test_arg_max_refuses_int64_axis(tmp_path):
    refuses(arg_graph(Op.ARG_MAX, (2, 5), 1, axis_dtype=np.int64), tmp_path, "int64; TFLM reads it as int32")


def test_arg_max_refuses_wrong_output_shape(tmp_path):
    g = single_op(Op.ARG_MAX, [act("x", (2, 5), 0.1, 0), const("axis", np.array([1], np.int32))],
                  [raw("y", (5,), "int32")], dict(output_type="int32"))
    refuses(g, tmp_path, "gives \\[2\\]")


# --- REDUCE_MAX / REDUCE_MIN / SUM

def reduce_graph(op, shape, axes, keep, in_q, out_q):
    rank = len(shape)
    red = {a % rank for a in axes}
    oshape = tuple(1 if i in red else d for i, d in enumerate(shape)) if keep else \
        tuple(d for i, d in enumerate(shape) if i not in red)
    return single_op(op, [act("x", shape, *in_q), const("axis", np.array(axes, np.int32))],
                     [act("y", oshape, *out_q)], dict(keep_dims=keep))


REDUCE_CASES = [  # shape, axes, keep_dims, zero point
    ((1, 5, 7, 4), [1, 2], True, 3),          # the 4-D H,W case
    ((2, 6, 3, 5), [-1], False, -128),        # negative axis, zp at the bottom
    ((2, 6, 3, 5), [0, 3], True, 127),        # non-adjacent axes, zp at the top
    ((2, 9, 4), [1, -2], False, -7),          # duplicate axis counted once
    ((2, 5, 6, 3), [0, 1, 2], False, 0),      # three axes
    ((1, 1, 1, 6), [1, 2], True, 5),          # reduced dims of size 1 only: a copy
    ((3, 1, 4), [0, 1, 2], False, -1),        # everything to a scalar
]


@pytest.mark.parametrize("op", [Op.REDUCE_MAX, Op.REDUCE_MIN])
@pytest.mark.parametrize("shape,axes,keep,zp", REDUCE_CASES)
def test_reduce_min_max_exact(tmp_path, op, shape, axes, keep, zp):
    rng = np.random.default_rng(2)
    exact_with(reduce_graph(op, shape, axes, keep, (0.1, zp), (0.1, zp)), tmp_path, shape,
               extra=[rng.integers(-128, -126, size=shape), rng.integers(125, 128, size=shape)])


@pytest.mark.parametrize("op", [Op.REDUCE_MAX, Op.REDUCE_MIN])
def test_reduce_min_max_refuses_requantization(tmp_path, op):
    refuses(reduce_graph(op, (2, 5), [1], False, (0.1, 0), (0.2, 0)), tmp_path, "requires them equal")
    refuses(reduce_graph(op, (2, 5), [1], False, (0.1, 0), (0.1, 1)), tmp_path, "requires them equal")


@pytest.mark.parametrize("shape,axes,keep,in_q,out_q", [
    ((1, 5, 7, 4), [1, 2], True, (0.1, 3), (1.5, 3)),         # typical: output scale ~ count x input
    ((2, 6, 3, 5), [-1], False, (0.05, -128), (0.2, 127)),    # zp at both limits
    ((2, 6, 3, 5), [0, 3], True, (0.2, 127), (0.2, -128)),    # same scale: saturates
    ((2, 9, 4), [1, -2], False, (0.1, -7), (0.9, 9)),         # duplicate axis
    ((2, 5, 6, 3), [0, 1, 2], False, (0.1, 3), (3.0, -100)),  # three axes
    ((1, 1, 1, 6), [1, 2], True, (0.1, 3), (0.05, 2)),        # size-1 axes: a requantized copy
    ((1, 8, 8, 2), [1, 2], True, (1e-6, 0), (100.0, 1)),      # tiny ratio: everything rounds to zp
    ((1, 3, 3, 4), [1, 2], False, (0.5, 0), (0.01, 0)),       # ratio 50: left shift, saturation
])
def test_sum_exact(tmp_path, shape, axes, keep, in_q, out_q):
    rng = np.random.default_rng(3)
    exact_with(reduce_graph(Op.SUM, shape, axes, keep, in_q, out_q), tmp_path, shape,
               extra=[rng.integers(-3, 3, size=shape)])


def test_sum_refuses_runtime_axis(tmp_path):
    axis = raw("axis", (1,), "int32")
    g = single_op(Op.SUM, [act("x", (2, 5), 0.1, 0), axis], [act("y", (2,), 0.5, 0)],
                  dict(keep_dims=False), graph_inputs=["x", "axis"])
    with pytest.raises(MicrolithError, match="computed at run time"):
        impl_for(Op.SUM).prepare(g.nodes[0], g)


def test_sum_refuses_huge_ratio(tmp_path):
    refuses(reduce_graph(Op.SUM, (2, 5), [1], False, (100.0, 0), (1e-9, 0)), tmp_path, "left shift")


# --- LOG_SOFTMAX

def log_softmax_graph(shape, scale, zp, out_q=(16.0 / 256, 127)):
    return single_op(Op.LOG_SOFTMAX, [act("x", shape, scale, zp)], [act("y", shape, *out_q)])


@pytest.mark.parametrize("shape,scale,zp", [
    ((1, 10), 0.1, 0),           # a classifier's logits
    ((2, 3, 7), 0.05, -128),     # several rows, zp at the bottom
    ((4, 1), 0.3, 127),          # rows of one value: log(1) = 0 everywhere
    ((1, 5, 33), 1.0, 3),        # coarse scale: most differences fall below diff_min
    ((3, 16), 0.004, -5),        # fine scale: every difference counts
    ((1, 2, 2, 9), 2.0 ** -20, 0),  # tiny scale: all exponentials near 1
    ((2, 300), 0.25, 0),         # long rows: large sums of exponentials
    ((1, 4000), 0.01, 0),        # near the 4095-value limit
])
def test_log_softmax_exact(tmp_path, shape, scale, zp):
    rng = np.random.default_rng(4)
    spikes = np.full(shape, -128)
    spikes[..., 0] = 127  # one maximum per row, everything else far below it
    exact_with(log_softmax_graph(shape, scale, zp), tmp_path, shape,
               extra=[spikes, rng.integers(-2, 2, size=shape)], samples=6)


def test_log_softmax_refuses_output_quantization(tmp_path):
    refuses(log_softmax_graph((1, 10), 0.1, 0, out_q=(1.0 / 256, -128)), tmp_path, "scale 16/256")


def test_log_softmax_refuses_long_rows(tmp_path):
    refuses(log_softmax_graph((1, 4096), 0.1, 0), tmp_path, "wraps past 4095")


def test_log_softmax_refuses_tiny_input_scale(tmp_path):
    refuses(log_softmax_graph((1, 10), 1e-9, 0), tmp_path, "too small")


# --- L2_NORMALIZATION

def l2norm_graph(shape, scale, zp, out_q=(1.0 / 128, 0), activation="NONE"):
    return single_op(Op.L2_NORMALIZATION, [act("x", shape, scale, zp)], [act("y", shape, *out_q)],
                     dict(activation=activation))


@pytest.mark.parametrize("shape,zp", [
    ((1, 16), 0),           # one embedding
    ((2, 3, 5), -128),      # rows, zp at the bottom: squares up to 255^2
    ((4, 1), 127),          # one value per row: +-1 (saturating at 127/128) or 0
    ((1, 2, 2, 7), 3),      # rank 4
    ((3,), -1),             # rank 1
    ((1, 9000), -128),      # all 127: a sum of squares >= 2^29 takes the divide-by-4 step
    ((600, 3), 0),          # many short rows: many different sums of squares
])
def test_l2_normalization_exact(tmp_path, shape, zp):
    rng = np.random.default_rng(5)
    one_hot = np.full(shape, zp)
    one_hot[..., 0] = zp + (1 if zp < 127 else -1)  # sums of squares of 1: the special case
    exact_with(l2norm_graph(shape, 0.05, zp), tmp_path, shape,
               extra=[np.full(shape, zp), one_hot, zp + rng.integers(-2, 3, size=shape).clip(-128 - zp, 127 - zp)])


def test_l2_normalization_refuses_output_quantization(tmp_path):
    refuses(l2norm_graph((1, 8), 0.05, 0, out_q=(1.0 / 256, -128)), tmp_path, "scale 1/128")


def test_l2_normalization_refuses_activation(tmp_path):
    refuses(l2norm_graph((1, 8), 0.05, 0, activation="RELU"), tmp_path, "supports none")


def test_l2_normalization_refuses_rank_5(tmp_path):
    refuses(l2norm_graph((1, 1, 2, 2, 8), 0.05, 0), tmp_path, "rank 1 to 4")


# --- CUMSUM

def cumsum_graph(shape, axis, in_q, out_q, exclusive=False, reverse=False):
    return single_op(Op.CUMSUM, [act("x", shape, *in_q), const("axis", np.array([axis], np.int32))],
                     [act("y", shape, *out_q)], dict(exclusive=exclusive, reverse=reverse))


@pytest.mark.parametrize("shape,axis,in_q,out_q,exclusive,reverse", [
    ((2, 5, 3), 1, (0.1, 0), (0.5, 0), False, False),           # middle axis
    ((2, 5, 3), 1, (0.1, 0), (0.5, 0), True, True),             # same, exclusive and reversed
    ((1, 4, 6), -1, (0.05, -128), (0.4, -128), True, False),    # negative axis, zp at the bottom: sums >= 0
    ((3, 1, 4), 1, (0.1, 127), (0.3, 127), False, True),        # axis of size 1, zp at the top: sums <= 0
    ((7,), 0, (0.02, 5), (0.02, -3), False, True),              # rank 1, same scale: saturates
    ((4, 3), 0, (0.2, -7), (0.07, 9), True, False),             # outermost axis
])
def test_cumsum_exact(tmp_path, shape, axis, in_q, out_q, exclusive, reverse):
    exact_with(cumsum_graph(shape, axis, in_q, out_q, exclusive, reverse), tmp_path, shape, samples=8)


@pytest.mark.parametrize("exclusive", [False, True])
def test_cumsum_long_axis_wraps_like_tflm(tmp_path, exclusive):
    # 255 * 2^19 per term: the int32 accumulator wraps after 16 extreme values, as TFLM's does.
    exact_with(cumsum_graph((1, 40), 1, (0.1, -128), (100.0, 0), exclusive), tmp_path, (1, 40), samples=3)


def test_cumsum_refuses_tiny_output_scale(tmp_path):
    refuses(cumsum_graph((2, 5), 1, (1.0, 0), (1e-7, 0)), tmp_path, "stops on it")


def test_cumsum_refuses_several_axes(tmp_path):
    g = single_op(Op.CUMSUM, [act("x", (2, 5), 0.1, 0), const("axis", np.array([0, 1], np.int32))],
                  [act("y", (2, 5), 0.5, 0)], dict(exclusive=False, reverse=False))
    refuses(g, tmp_path, "exactly one")


# --- int32 graph outputs through codegen

def test_arg_max_output_is_int32_in_the_public_api(tmp_path):
    res = microlith.compile(write(arg_graph(Op.ARG_MAX, (2, 5, 3), 1), tmp_path, "argmax"),
                            tmp_path / "out", measure=False)
    header = (tmp_path / "out" / "src" / f"{res['name']}.h").read_text()
    assert f"int {res['name']}_invoke(const int8_t *input, int32_t *output);" in header
    assert f"int32_t output[{res['name'].upper()}_OUTPUT_SIZE];" in (tmp_path / "out" / "README.md").read_text()


def test_classifier_tail_log_softmax_then_arg_max(tmp_path):
    """Two ops: an int8 intermediate in the arena, then an int32 graph output."""
    x, h = act("x", (3, 10), 0.1, -4), act("h", (3, 10), 16.0 / 256, 127)
    axis, y = const("axis", np.array([-1], np.int32)), raw("y", (3,), "int32")
    g = Graph("tail", {t.name: t for t in (x, h, axis, y)},
              [Node(Op.LOG_SOFTMAX, ("x",), ("h",), {}),
               Node(Op.ARG_MAX, ("h", "axis"), ("y",), dict(output_type="int32"))], ["x"], ["y"])
    exact_with(g, tmp_path, (3, 10))


# --- float references (reference_float_reduce.py) against TFLM's float kernels

FLOAT_CASES = {  # op, input shape, axis operand (or None), output shape, attrs
    "arg_max": (Op.ARG_MAX, (2, 5, 3), [1], (2, 3), dict(output_type="int32")),
    "arg_min": (Op.ARG_MIN, (2, 5, 3), [-1], (2, 5), dict(output_type="int32")),
    "reduce_max": (Op.REDUCE_MAX, (1, 4, 5, 3), [1, 2], (1, 1, 1, 3), dict(keep_dims=True)),
    "reduce_min": (Op.REDUCE_MIN, (2, 4, 3), [0, -1], (4,), dict(keep_dims=False)),
    "sum": (Op.SUM, (1, 4, 5, 3), [2], (1, 4, 3), dict(keep_dims=False)),
    "log_softmax": (Op.LOG_SOFTMAX, (3, 10), None, (3, 10), {}),
    "l2_normalization": (Op.L2_NORMALIZATION, (3, 10), None, (3, 10), dict(activation="NONE")),
    "cumsum_exclusive_reverse": (Op.CUMSUM, (2, 6, 3), [1], (2, 6, 3), dict(exclusive=True, reverse=True)),
}


@pytest.mark.parametrize("case", sorted(FLOAT_CASES))
def test_float_reference_matches_tflm(case):
    op, shape, axis, out_shape, attrs = FLOAT_CASES[case]
    ins = [raw("x", shape, "float32")] + ([const("axis", np.array(axis, np.int32))] if axis else [])
    out = raw("y", out_shape, "int32" if op in (Op.ARG_MAX, Op.ARG_MIN) else "float32")
    g = parse_tflite(write_tflite(single_op(op, ins, [out], attrs)))
    oracle = Oracle(write_tflite(g), g)
    rng = np.random.default_rng(6)
    for _ in range(3):
        x = rng.normal(0, 2, shape).astype(np.float32)
        want = np.asarray(oracle.run([x])[0], np.float64).reshape(-1)
        got = run_float(g, [x])["y"].astype(np.float64).reshape(-1)
        assert np.max(np.abs(want - got)) <= 1e-4 * max(np.max(np.abs(want)), 1.0), case


def test_float_reference_batches_reduction_over_axis_0():
    """A batch stacked on axis 0 must not be reduced with the samples' own axis 0."""
    g = single_op(Op.SUM, [raw("x", (1, 4), "float32"), const("axis", np.array([0, 1], np.int32))],
                  [raw("y", (1, 1), "float32")], dict(keep_dims=True))
    xs = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert run_float(g, [xs])["y"].reshape(-1).tolist() == [6.0, 22.0, 38.0]


# --- more refusals

def test_arg_max_refuses_int16_input(tmp_path):
    g = single_op(Op.ARG_MAX, [act("x", (2, 5), 0.1, 0, dtype="int16"), const("axis", np.array([1], np.int32))],
                  [raw("y", (2,), "int32")], dict(output_type="int32"))
    refuses(g, tmp_path, "reads int8 input")


def test_arg_min_refuses_axis_out_of_range(tmp_path):
    g = single_op(Op.ARG_MIN, [act("x", (2, 5), 0.1, 0), const("axis", np.array([2], np.int32))],
                  [raw("y", (2,), "int32")], dict(output_type="int32"))
    refuses(g, tmp_path, "out of range")


def test_reduce_max_refuses_axis_out_of_range(tmp_path):
    refuses(reduce_graph(Op.REDUCE_MAX, (2, 5), [-3], False, (0.1, 0), (0.1, 0)), tmp_path,
            "axis -3 is out of range")


def test_reduce_min_refuses_wrong_output_size(tmp_path):
    g = single_op(Op.REDUCE_MIN, [act("x", (2, 5), 0.1, 0), const("axis", np.array([1], np.int32))],
                  [act("y", (5,), 0.1, 0)], dict(keep_dims=False))
    refuses(g, tmp_path, "does not hold")


def test_sum_refuses_int32_overflowing_count(tmp_path):
    # 2^23 int8 values need more RAM than any target has; the limit is raised to reach SUM's check.
    refuses(reduce_graph(Op.SUM, (4096, 2048), [0, 1], False, (0.1, 0), (100.0, 0)), tmp_path,
            "overflows int32 sums", max_arena=1 << 25)


def test_l2_normalization_refuses_long_rows(tmp_path):
    refuses(l2norm_graph((1, 33026), 0.05, 0), tmp_path, "overflows past 33025")


def test_cumsum_refuses_axis_out_of_range(tmp_path):
    refuses(cumsum_graph((2, 5), 2, (0.1, 0), (0.5, 0)), tmp_path, "out of range")


# --- the quantizer gives these ops the quantization TFLM requires

@pytest.mark.parametrize("op,axis,out_shape,attrs", [
    (Op.LOG_SOFTMAX, None, (1, 4, 6), {}),                       # fixed output 16/256, zp 127
    (Op.L2_NORMALIZATION, None, (1, 4, 6), dict(activation="NONE")),  # fixed output 1/128, zp 0
    (Op.REDUCE_MAX, [1], (1, 6), dict(keep_dims=False)),         # output quantized like the input
    (Op.SUM, [2], (1, 4), dict(keep_dims=False)),                # own output range
    (Op.CUMSUM, [1], (1, 4, 6), dict(exclusive=False, reverse=True)),
])
def test_quantized_float_model_runs_exact(tmp_path, op, axis, out_shape, attrs):
    ins = [raw("x", (1, 4, 6), "float32")] + ([const("axis", np.array(axis, np.int32))] if axis else [])
    src = write(single_op(op, ins, [raw("y", out_shape, "float32")], attrs), tmp_path, "float")
    calibration = np.random.default_rng(7).normal(0, 2, (32, 1, 4, 6)).astype(np.float32)
    microlith.quantize(str(src), calibration, str(tmp_path / "int8.tflite"), report=False)
    assert microlith.verify(str(tmp_path / "int8.tflite"), samples=5)["bit_exact"]


# --- generated C under ASan + UBSan (test_sanitizers.check_sanitized) on the arithmetic extremes

SANITIZED = {
    "arg_max_ties": lambda: arg_graph(Op.ARG_MAX, (2, 5, 3), 1, -128),
    "reduce_min_three_axes": lambda: reduce_graph(Op.REDUCE_MIN, (2, 5, 6, 3), [0, 1, 2], False, (0.1, 3), (0.1, 3)),
    "sum_left_shift": lambda: reduce_graph(Op.SUM, (1, 3, 3, 4), [1, 2], False, (0.5, 0), (0.01, 0)),
    "log_softmax_long_rows": lambda: log_softmax_graph((2, 300), 0.25, 0),
    "l2_normalization_long_row": lambda: l2norm_graph((1, 9000), 0.05, -128),
    "cumsum_wrapping": lambda: cumsum_graph((1, 40), 1, (0.1, -128), (100.0, 0), True, True),
}


@pytest.mark.skipif(sanitizers._why_not is not None, reason=str(sanitizers._why_not))
@pytest.mark.parametrize("name", sorted(SANITIZED))
def test_sanitized(tmp_path, name):
    sanitizers.check_sanitized(write(SANITIZED[name](), tmp_path, name), tmp_path, tmp_path / "objects",
                               n_random=2, seed=len(name))


def test_arg_max_refuses_scalar_input(tmp_path):
    g = single_op(Op.ARG_MAX, [act("x", (), 0.1, 0), const("axis", np.array([0], np.int32))],
                  [raw("y", (), "int32")], dict(output_type="int32"))
    refuses(g, tmp_path, "rank >= 1")


@pytest.mark.skipif(any(shutil.which(t) is None for t in (cortexm.CC, cortexm.QEMU)),
                    reason="arm-none-eabi-gcc or qemu-system-arm not installed")
def test_classifier_tail_on_cortex_m0(tmp_path):
    """The fixed-point log (64-bit products through libgcc on M0) and an int32 output, emulated."""
    x, h = act("x", (3, 10), 0.1, -4), act("h", (3, 10), 16.0 / 256, 127)
    axis, y = const("axis", np.array([-1], np.int32)), raw("y", (3,), "int32")
    g = Graph("tail", {t.name: t for t in (x, h, axis, y)},
              [Node(Op.LOG_SOFTMAX, ("x",), ("h",), {}),
               Node(Op.ARG_MAX, ("h", "axis"), ("y",), dict(output_type="int32"))], ["x"], ["y"])
    assert microlith.verify(write(g, tmp_path), target="cortex-m0", samples=3)["bit_exact"]
