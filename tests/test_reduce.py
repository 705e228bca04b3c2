"""Reductions and normalizations (ops/reduce.py) byte-exact with TFLM: ARG_MAX, ARG_MIN,
REDUCE_MAX, REDUCE_MIN, SUM, LOG_SOFTMAX, L2_NORMALIZATION, CUMSUM."""
import numpy as np
import pytest

from microlith.frontends.tflite import load_tflite
from microlith.ir import MicrolithError, Op, Tensor
from microlith.ops import impl_for
from opmodels import act, assert_exact, const, single_op, write


def raw(name, shape, dtype):
    """A tensor without quantization (index outputs, run-time axes)."""
    return Tensor(name, tuple(shape), dtype)


def exact_with(g, tmp_path, shape, extra=(), samples=8):
    """assert_exact on random inputs plus all -128, all 127 (ties everywhere) and `extra`."""
    cases = [np.full(shape, -128, np.int8), np.full(shape, 127, np.int8)] + [np.asarray(e, np.int8)
                                                                             for e in extra]
    return assert_exact(g, tmp_path, samples=samples, inputs=[[c.reshape(shape)] for c in cases])


def refuses(g, tmp_path, match):
    g = load_tflite(write(g, tmp_path))
    with pytest.raises(MicrolithError, match=match):
        impl_for(g.nodes[0].op).prepare(g.nodes[0], g)


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
