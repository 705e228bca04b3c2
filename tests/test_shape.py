import numpy as np
import pytest

from microlith.codegen.c import prepare
from microlith.frontends.tflite import load_tflite
from microlith.ir import Graph, MicrolithError, Node, Op
from microlith.ops import impl_for
from opmodels import act, assert_exact, const, single_op, write

SLICE_ATTRS = dict(begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0,
                   shrink_axis_mask=0, offset=False)


def prepare_error(g, tmp_path):
    """The MicrolithError prepare() raises on the written-and-reloaded model."""
    model = load_tflite(write(g, tmp_path))
    with pytest.raises(MicrolithError) as err:
        impl_for(model.nodes[0].op).prepare(model.nodes[0], model)
    return str(err.value)


# -- RESHAPE / SQUEEZE ------------------------------------------------------------------

@pytest.mark.parametrize("with_shape", [True, False])
def test_reshape_as_graph_output_is_copied(tmp_path, with_shape):
    x = act("x", (1, 4, 6), 0.1, -128)
    y = act("y", (2, 12), 0.1, -128)
    shape = const("shape", np.array([2, 12], np.int32)) if with_shape else None
    g = single_op(Op.RESHAPE, [x, shape] if with_shape else [x], [y])
    assert_exact(g, tmp_path, samples=5)


def test_squeeze_as_graph_output_is_copied(tmp_path):
    g = single_op(Op.SQUEEZE, [act("x", (1, 1, 5, 3), 0.1, 127)], [act("y", (5, 3), 0.1, 127)])
    assert_exact(g, tmp_path, samples=5)


def two_node_graph(first: Node, second: Node, tensors, inputs, outputs) -> Graph:
    return Graph("two_ops", {t.name: t for t in tensors}, [first, second], inputs, outputs)


def test_reshape_then_pad_shares_memory(tmp_path):
    x = act("x", (1, 24), 0.1, -3)
    mid = act("mid", (1, 4, 6), 0.1, -3)
    y = act("y", (1, 5, 8), 0.1, -3)
    shape = const("shape", np.array([1, 4, 6], np.int32))
    pads = const("pads", np.array([[0, 0], [1, 0], [1, 1]], np.int32))
    g = two_node_graph(Node(Op.RESHAPE, ("x", "shape"), ("mid",)),
                       Node(Op.PAD, ("mid", "pads"), ("y",)),
                       [x, mid, y, shape, pads], ["x"], ["y"])
    assert_exact(g, tmp_path, samples=5)
    plan = prepare(load_tflite(write(g, tmp_path))).plan
    assert plan.alias == {"mid": "x"}


def test_pad_then_squeeze_shares_arena_memory(tmp_path):
    # The squeezed tensor lives in the arena (it is neither graph input nor output).
    x = act("x", (1, 1, 3, 4), 0.1, 5)
    mid = act("mid", (1, 1, 5, 4), 0.1, 5)
    sq = act("sq", (5, 4), 0.1, 5)
    y = act("y", (4, 5), 0.1, 5)
    pads = const("pads", np.array([[0, 0], [0, 0], [1, 1], [0, 0]], np.int32))
    perm = const("perm", np.array([1, 0], np.int32))
    g = Graph("three_ops", {t.name: t for t in (x, mid, sq, y, pads, perm)},
              [Node(Op.PAD, ("x", "pads"), ("mid",)), Node(Op.SQUEEZE, ("mid",), ("sq",)),
               Node(Op.TRANSPOSE, ("sq", "perm"), ("y",))], ["x"], ["y"])
    assert_exact(g, tmp_path, samples=5)
    assert prepare(load_tflite(write(g, tmp_path))).plan.alias == {"sq": "mid"}


def test_reshape_rejects_element_count_change(tmp_path):
    g = single_op(Op.RESHAPE, [act("x", (2, 3)), const("s", np.array([7], np.int32))], [act("y", (7,))])
    assert "elements" in prepare_error(g, tmp_path)


# -- PAD ---------------------------------------------------------------------------------

@pytest.mark.parametrize("shape,pads,in_q,out_q", [
    ((1, 4, 5, 3), [[0, 0], [1, 1], [2, 1], [0, 0]], (0.1, -128), (0.1, -128)),  # image style
    ((2, 3, 4, 5), [[1, 0], [0, 2], [0, 0], [3, 1]], (0.1, 127), (0.1, 127)),    # batch and depth
    ((1, 3, 3, 2), [[0, 0], [0, 0], [0, 0], [0, 0]], (0.1, 0), (0.1, 0)),        # all zero widths
    ((7,), [[2, 3]], (0.05, 4), (0.05, 4)),                                      # 1-D
    ((3, 1), [[0, 1], [2, 0]], (0.1, -7), (0.1, -7)),                            # 2-D, size-1 dim
    ((2, 3, 2, 2, 3), [[0, 1], [1, 0], [0, 0], [1, 1], [0, 0]], (0.1, 9), (0.1, 9)),  # 5-D
    ((1, 3, 4, 2), [[0, 0], [1, 2], [0, 1], [0, 0]], (0.1, 3), (0.2, -5)),       # out quant differs
])
def test_pad_exact(tmp_path, shape, pads, in_q, out_q):
    pads = np.array(pads, np.int32)
    oshape = tuple(d + a + b for d, (a, b) in zip(shape, pads))
    g = single_op(Op.PAD, [act("x", shape, *in_q), const("pads", pads)], [act("y", oshape, *out_q)])
    assert_exact(g, tmp_path, samples=5)


def test_pad_with_constant_values(tmp_path):
    x = act("x", (1, 3, 3, 2), 0.1, -2)
    value = const("value", np.array(-100, np.int8), scale=0.1, zp=-2)
    g = single_op(Op.PAD, [x, const("pads", np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32)), value],
                  [act("y", (1, 5, 5, 2), 0.1, -2)])
    assert_exact(g, tmp_path, samples=5)


@pytest.mark.parametrize("shape,pads,dtype,match", [
    ((1, 3, 4, 2), [[0, 0], [1, 2], [0, 1], [0, 0]], np.int64, "int32"),   # TFLM reads int32 only
    ((1, 1, 1, 2, 2, 2), [[0, 0]] * 5 + [[1, 0]], np.int32, "rank"),       # TFLM pads up to 5-D
    ((2, 2), [[1, 1], [1, 1]], np.int32, "gives"),                          # wrong output shape
])
def test_pad_rejects(tmp_path, shape, pads, dtype, match):
    pads = np.array(pads, dtype)
    oshape = tuple(d + a + b for d, (a, b) in zip(shape, pads))
    if match == "gives":
        oshape = (5, 4)
    g = single_op(Op.PAD, [act("x", shape), const("pads", pads)], [act("y", oshape)])
    assert match in prepare_error(g, tmp_path)


# -- CONCATENATION -----------------------------------------------------------------------

@pytest.mark.parametrize("n_inputs", [2, 3])
@pytest.mark.parametrize("axis", [0, 1, 2, 3, -1, -3])
def test_concat_exact(tmp_path, n_inputs, axis):
    base = (2, 3, 4, 5)
    zp = -128 if n_inputs == 2 else 127
    ins = []
    for i in range(n_inputs):
        shape = list(base)
        shape[axis] = i + 1
        ins.append(act(f"x{i}", shape, 0.07, zp))
    oshape = list(base)
    oshape[axis] = sum(range(1, n_inputs + 1))
    g = single_op(Op.CONCATENATION, ins, [act("y", oshape, 0.07, zp)], dict(axis=axis, activation="NONE"))
    assert_exact(g, tmp_path, samples=3)


def test_concat_with_constant_input_and_2d(tmp_path):
    c = const("c", np.arange(-6, 6).reshape(2, 6), scale=0.1, zp=1, dtype="int8")
    g = single_op(Op.CONCATENATION, [act("x", (2, 3), 0.1, 1), c], [act("y", (2, 9), 0.1, 1)],
                  dict(axis=1, activation="NONE"))
    assert_exact(g, tmp_path, samples=3)


@pytest.mark.parametrize("q1,activation,match", [
    ((0.2, 0), "NONE", "does not rescale"),          # scale differs
    ((0.1, 3), "NONE", "does not rescale"),          # zero point differs
    ((0.1, 0), "RELU", "fused activation"),
])
def test_concat_rejects(tmp_path, q1, activation, match):
    g = single_op(Op.CONCATENATION, [act("a", (1, 2), 0.1, 0), act("b", (1, 2), *q1)],
                  [act("y", (1, 4), 0.1, 0)], dict(axis=1, activation=activation))
    assert match in prepare_error(g, tmp_path)


# -- STRIDED_SLICE -----------------------------------------------------------------------

def slice_graph(shape, begin, end, strides, oshape, **masks):
    attrs = dict(SLICE_ATTRS, **masks)
    ops = [const(n, np.array(v, np.int32)) for n, v in (("begin", begin), ("end", end), ("strides", strides))]
    return single_op(Op.STRIDED_SLICE, [act("x", shape, 0.1, -128)] + ops, [act("y", oshape, 0.1, -128)],
                     attrs)


@pytest.mark.parametrize("shape,begin,end,strides,oshape,masks", [
    ((1, 8, 9, 4), [0, 1, 0, 0], [1, 8, 9, 4], [1, 2, 3, 1], (1, 4, 3, 4), {}),       # strides
    ((6, 7), [-4, -6], [-1, 7], [1, 2], (3, 3), {}),                                  # negative begin/end
    ((6, 7), [-1, 5], [0, 0], [-1, -2], (6, 3), dict(end_mask=1)),                   # negative strides
    ((6, 7), [-1, -1], [0, 0], [-2, -3], (3, 3), dict(end_mask=3)),                  # end_mask reverse
    ((5, 6, 3), [2, 1, 0], [4, 5, 2], [1, 1, 1], (5, 4, 3), dict(begin_mask=1, end_mask=5)),
    ((5, 6, 3), [2, 1, 0], [3, 5, 3], [1, 2, 1], (2, 3), dict(shrink_axis_mask=1)),  # shrink axis
    ((5, 6, 3), [-1, 0, -2], [0, 6, 0], [1, 1, 1], (6,), dict(shrink_axis_mask=5)),  # shrink, negative
    ((9,), [-100], [100], [2], (5,), {}),                                             # clamped indices
    ((1, 3, 4, 5), [0, 0, 0, 1], [1, 3, 4, 4], [1, 1, 1, 1], (1, 3, 4, 3), {}),       # inner slice
])
def test_strided_slice_exact(tmp_path, shape, begin, end, strides, oshape, masks):
    assert_exact(slice_graph(shape, begin, end, strides, oshape, **masks), tmp_path, samples=3)


@pytest.mark.parametrize("masks,match", [
    (dict(ellipsis_mask=1), "ellipsis_mask"),
    (dict(new_axis_mask=2), "new_axis_mask"),
    (dict(offset=True), "offset"),
])
def test_strided_slice_rejects_masks_tflm_ignores(tmp_path, masks, match):
    g = slice_graph((4, 6), [1, 1], [2, 3], [1, 1], (1, 2), **masks)
    assert match in prepare_error(g, tmp_path)


def test_strided_slice_rejects_zero_stride_and_rank5(tmp_path):
    assert "contain 0" in prepare_error(slice_graph((4, 6), [0, 0], [4, 6], [1, 0], (4, 6)), tmp_path)
    g = slice_graph((1, 2, 2, 2, 2), [0] * 5, [1, 2, 2, 2, 2], [1] * 5, (1, 2, 2, 2, 2))
    assert "rank" in prepare_error(g, tmp_path)


# -- TRANSPOSE ---------------------------------------------------------------------------

@pytest.mark.parametrize("shape,perm", [
    ((3, 5), [1, 0]),
    ((2, 3, 4), [2, 0, 1]),
    ((1, 4, 5, 3), [0, 3, 1, 2]),     # NHWC -> NCHW
    ((2, 3, 4, 5), [3, 2, 1, 0]),
    ((2, 3, 1, 5), [0, 1, 2, 3]),     # identity
    ((2, 1, 4, 1), [3, 2, 0, 1]),     # size-1 dimensions
    ((2, 3, 4, 5, 2), [4, 0, 2, 1, 3]),  # 5-D
    ((1, 6, 100), [0, 2, 1]),         # a 1-D CNN's NCL -> NLC input: the 100 run innermost
    ((3, 7, 2, 9), [1, 3, 0, 2]),     # the input's last dimension longest, not first nor last out
])
def test_transpose_exact(tmp_path, shape, perm):
    oshape = tuple(shape[p] for p in perm)
    g = single_op(Op.TRANSPOSE, [act("x", shape, 0.1, 127), const("perm", np.array(perm, np.int32))],
                  [act("y", oshape, 0.1, 127)])
    assert_exact(g, tmp_path, samples=3)


def test_transpose_rejects_6d_and_bad_perm(tmp_path):
    shape = (2, 1, 2, 2, 1, 2)
    g = single_op(Op.TRANSPOSE, [act("x", shape), const("perm", np.arange(6, dtype=np.int32))],
                  [act("y", shape)])
    assert "rank" in prepare_error(g, tmp_path)
    g = single_op(Op.TRANSPOSE, [act("x", (2, 2)), const("perm", np.array([0, 0], np.int32))],
                  [act("y", (2, 2))])
    assert "permutation" in prepare_error(g, tmp_path)


@pytest.mark.parametrize("shape,perm,want", [
    ((1, 4, 5, 3), [0, 3, 1, 2], ([20, 3], [1, 0])),   # H and W move together
    ((2, 3, 4), [0, 1, 2], ([24], [0])),                # identity collapses to a copy
    ((1, 1), [1, 0], ([1], [0])),
])
def test_canonical_transpose(shape, perm, want):
    # Imported here: importing an op module at collection time would fill the op registry
    # before impl_for() loads every family, hiding the other families' ops.
    impl_for(Op.TRANSPOSE)
    from microlith.ops.shape import canonical_transpose
    assert canonical_transpose(shape, perm) == want


def test_squeeze_that_keeps_some_unit_axes_round_trips(tmp_path):
    """(1,1,5,3) -> (1,5,3): the writer must name the squeezed axis or TFLM rejects the model."""
    x = act("x", (1, 1, 5, 3), 0.1, 3)
    y = act("y", (1, 5, 3), 0.1, 3)
    g = single_op(Op.SQUEEZE, [x], [y])
    assert_exact(g, tmp_path, samples=5)
