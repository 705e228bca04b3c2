"""The int32/uint32 builtins of TFLM's audio preprocessor (tests/data/tflm/audio_preprocessor_
int8.tflite), one op at a time against TFLM, byte for byte: CAST to and from uint32, ADD and
MUL on int32 (both wrap modulo 2^32 in TFLM; ADD ignores the fused activation, MUL applies it),
STRIDED_SLICE and CONCATENATION of int32. The whole model is verified in test_signal.py.
"""

import numpy as np
import pytest

import microlith
from microlith.ir import Graph, MicrolithError, Node, Op, Tensor
from opmodels import act, assert_exact, const, single_op

I32_MIN, I32_MAX = -(1 << 31), (1 << 31) - 1
# int32 values whose sums and products overflow, plus small ones.
EDGE = [I32_MIN, I32_MAX, -1, 0, 1, I32_MIN + 1, 1 << 30, -(1 << 30), 46341, -46341, 65536, 7]


def samples(dtype, shape, seed, n=3):
    """n inputs of dtype: the type's limits and the EDGE values first, then random values."""
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    out = []
    for k in range(n):
        x = rng.integers(info.min, int(info.max) + 1, shape, dtype=np.int64)
        edge = np.roll(np.array(EDGE + [info.min, info.max], np.int64), k)
        m = min(x.size, edge.size)
        x.reshape(-1)[:m] = edge[:m]
        out.append(x.astype(dtype))  # uint32: negatives wrap to values >= 2^31
    return out


def refuses(g, tmp_path, match):
    with pytest.raises(MicrolithError, match=match):
        microlith.compile(g, tmp_path / "c")


def integer(name, shape, dtype):
    return act(name, shape, 0.1, 0, dtype) if dtype in ("int8", "int16") else Tensor(name, shape, dtype)


# -- CAST -----------------------------------------------------------------------------------

@pytest.mark.parametrize("src", ["int8", "int16", "int32", "uint32"])
def test_cast_uint32(tmp_path, src):
    # From each type to uint32 and (for uint32) back to each other type: values >= 2^31 become
    # negative int32, negative values wrap to large uint32, narrowing keeps the low bits.
    shape = (3, 7)
    dsts = ["int8", "int16", "int32"] if src == "uint32" else ["uint32"]
    nodes = [Node(Op.CAST, ("x",), (f"to_{d}",), {}) for d in dsts]
    tensors = {"x": integer("x", shape, src)}
    tensors.update({f"to_{d}": integer(f"to_{d}", shape, d) for d in dsts})
    g = Graph("cast_u32", tensors, nodes, ["x"], [f"to_{d}" for d in dsts])
    assert_exact(g, tmp_path, samples=0, inputs=[[x] for x in samples(src, shape, 1)])


# -- ADD / MUL int32 ------------------------------------------------------------------------

@pytest.mark.parametrize("op", [Op.ADD, Op.MUL])
@pytest.mark.parametrize("activation", ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"])
def test_add_mul_int32_wrap(tmp_path, op, activation):
    # Every pair of EDGE values ([12, 1] x [1, 12] broadcast): sums and products that overflow
    # wrap; TFLM clamps MUL to the fused activation and ignores it on ADD.
    n = len(EDGE)
    a, b = Tensor("a", (n, 1), "int32"), Tensor("b", (1, n), "int32")
    g = single_op(op, [a, b], [Tensor("y", (n, n), "int32")], dict(activation=activation))
    e = np.int32(EDGE)
    assert_exact(g, tmp_path, samples=2, inputs=[[e.reshape(n, 1), e.reshape(1, n)]])


@pytest.mark.parametrize("op", [Op.ADD, Op.MUL])
@pytest.mark.parametrize("shape1,shape2", [((2, 3, 5), (2, 3, 5)), ((2, 3, 5), ()), ((1, 5), (3, 1))])
def test_add_mul_int32_broadcast(tmp_path, op, shape1, shape2):
    out = np.broadcast_shapes(shape1, shape2)
    g = single_op(op, [Tensor("a", shape1, "int32"), Tensor("b", shape2, "int32")],
                  [Tensor("y", out, "int32")], dict(activation="NONE"))
    xs = list(zip(samples("int32", shape1, 2), samples("int32", shape2, 3)))
    assert_exact(g, tmp_path, samples=2, inputs=[list(x) for x in xs])


def test_preprocessor_scaling(tmp_path):
    # The preprocessor's own sequence: int16 log energy -> int32, x 256 (MUL), + 333 (ADD).
    x = act("x", (1, 40), 0.1, 0, "int16")
    tensors = {t.name: t for t in [x, Tensor("wide", (1, 40), "int32"), const("k", np.int32(256)),
                                   Tensor("m", (1, 40), "int32"), const("c", np.int32(333)),
                                   Tensor("y", (1, 40), "int32")]}
    nodes = [Node(Op.CAST, ("x",), ("wide",), {}),
             Node(Op.MUL, ("wide", "k"), ("m",), dict(activation="NONE")),
             Node(Op.ADD, ("m", "c"), ("y",), dict(activation="NONE"))]
    g = Graph("scaling", tensors, nodes, ["x"], ["y"])
    assert_exact(g, tmp_path, samples=4)


def test_mul_int32_refuses_tanh(tmp_path):
    g = single_op(Op.MUL, [Tensor("a", (4,), "int32"), Tensor("b", (4,), "int32")],
                  [Tensor("y", (4,), "int32")], dict(activation="TANH"))
    refuses(g, tmp_path, "fused activation TANH is not supported by TFLM on int32")


def test_sub_int32_still_refused(tmp_path):
    # Only ADD and MUL got an int32 path; SUB int32 keeps the quantized kernel's refusal.
    g = single_op(Op.SUB, [Tensor("a", (4,), "int32"), Tensor("b", (4,), "int32")],
                  [Tensor("y", (4,), "int32")], dict(activation="NONE"))
    refuses(g, tmp_path, "needs int8 with per-tensor quantization")


# -- STRIDED_SLICE / CONCATENATION int32 ----------------------------------------------------

@pytest.mark.parametrize("begin,end,strides,out", [
    ([5], [241], [1], (236,)),         # the preprocessor's slice
    ([-2], [0], [-3], (5,)),           # negative start and stride
    ([1], [17], [4], (4,)),
])
def test_strided_slice_int32(tmp_path, begin, end, strides, out):
    x = Tensor("x", (257,) if begin == [5] else (17,), "int32")
    g = single_op(Op.STRIDED_SLICE, [x, const("b", np.int32(begin)), const("e", np.int32(end)),
                                      const("s", np.int32(strides))], [Tensor("y", out, "int32")],
                  dict(begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0,
                       shrink_axis_mask=0, offset=False))
    assert_exact(g, tmp_path, samples=0, inputs=[[v] for v in samples("int32", x.shape, 4)])


def test_strided_slice_int32_2d_masks(tmp_path):
    x = Tensor("x", (3, 6), "int32")
    g = single_op(Op.STRIDED_SLICE, [x, const("b", np.int32([1, 0])), const("e", np.int32([0, 5])),
                                      const("s", np.int32([1, 2]))], [Tensor("y", (2, 3), "int32")],
                  dict(begin_mask=0, end_mask=1, ellipsis_mask=0, new_axis_mask=0,
                       shrink_axis_mask=0, offset=False))
    assert_exact(g, tmp_path, samples=0, inputs=[[v] for v in samples("int32", x.shape, 5)])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concatenation_int32(tmp_path, axis):
    # Constant zero blocks around a computed one, as the preprocessor pads its energies.
    ax = axis % 2
    shapes = [(2, 3), (2, 3), (2, 3)]
    shapes = [tuple(s if k != ax else w for k, s in enumerate(sh)) for sh, w in zip(shapes, (1, 4, 2))]
    out = tuple(sum(sh[k] for sh in shapes) if k == ax else shapes[0][k] for k in range(2))
    ins = [const("z0", np.zeros(shapes[0], np.int32)), Tensor("x", shapes[1], "int32"),
           const("z1", np.full(shapes[2], I32_MIN, np.int32))]
    g = single_op(Op.CONCATENATION, ins, [Tensor("y", out, "int32")], dict(axis=axis, activation="NONE"))
    assert_exact(g, tmp_path, samples=0, inputs=[[v] for v in samples("int32", shapes[1], 6)])
