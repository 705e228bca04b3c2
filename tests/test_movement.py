"""Issue 10 data-movement ops (ops/movement.py), byte-exact with TFLM.

Multi-output ops (SPLIT, SPLIT_V, UNPACK) are written as real multi-output .tflite files (the
writer takes a node with several outputs) so TFLM runs its own kernel; our frontend lowers
them to one node per output."""
import numpy as np
import pytest

import microlith
from microlith.codegen.c import prepare
from microlith.frontends.tflite import load_tflite
from microlith.ir import Graph, MicrolithError, Node, Op, Tensor
from microlith.ops import impl_for
from microlith.reference import run_reference
from microlith.verify import HostModel
from opmodels import act, assert_exact, const, single_op, write


def prepare_error(g, tmp_path, node=0):
    """The MicrolithError prepare() raises on the written-and-reloaded model."""
    model = load_tflite(write(g, tmp_path))
    with pytest.raises(MicrolithError) as err:
        impl_for(model.nodes[node].op).prepare(model.nodes[node], model)
    return str(err.value)


def load_error(g, tmp_path):
    """The MicrolithError the frontend raises (lowering happens while loading)."""
    with pytest.raises(MicrolithError) as err:
        load_tflite(write(g, tmp_path))
    return str(err.value)


def i32(v):
    return np.array(v, np.int32)


def runtime_index_errors(g, tmp_path, good, bad):
    """Run-time indices out of range: the numpy reference raises and the generated C returns an
    error (TFLM reads out of bounds or fails), while the same C computes good indices."""
    model = load_tflite(write(g, tmp_path))
    microlith.compile(model, tmp_path / "c", measure=False)
    host = HostModel(tmp_path / "c", model, model.name, tmp_path)
    try:
        assert np.array_equal(host.run(good)[0], run_reference(model, good)[model.outputs[0]])
        for xs in bad:
            with pytest.raises(MicrolithError, match="outside"):
                run_reference(model, xs)
            with pytest.raises(MicrolithError, match="returned error"):
                host.run(xs)
    finally:
        host.close()


# -- SLICE -------------------------------------------------------------------------------

@pytest.mark.parametrize("shape,begin,size,zp", [
    ((2, 5, 4, 3), [1, 1, 0, 1], [1, -1, 4, 2], -128),     # -1: to the end
    ((1, 6, 7, 3), [0, 2, 3, 0], [1, 3, 4, 3], 127),       # inner dims taken whole merge
    ((9,), [4], [5], 0),                                   # 1-D, up to the end exactly
    ((9,), [0], [9], 5),                                   # whole tensor
    ((3, 1, 5), [2, 0, 4], [1, 1, 1], -7),                 # single element, size-1 dim
    ((2, 3, 2, 3, 4), [1, 0, 1, 1, 1], [1, 3, 1, -1, 2], 3),  # 5-D (TFLM's limit)
])
def test_slice_exact(tmp_path, shape, begin, size, zp):
    oshape = tuple(d - b if n == -1 else n for d, b, n in zip(shape, begin, size))
    g = single_op(Op.SLICE, [act("x", shape, 0.1, zp), const("begin", i32(begin)), const("size", i32(size))],
                  [act("y", oshape, 0.1, zp)])
    assert_exact(g, tmp_path, samples=3)


def test_slice_int64_operands_and_other_output_quantization(tmp_path):
    # TFLM copies bytes whatever the output's quantization; begin/size may be int64.
    g = single_op(Op.SLICE, [act("x", (4, 6), 0.1, -128), const("begin", np.array([1, 2], np.int64)),
                             const("size", np.array([2, -1], np.int64))], [act("y", (2, 4), 0.3, 127)])
    assert_exact(g, tmp_path, samples=3)


@pytest.mark.parametrize("begin,size,oshape,dtypes,match", [
    ([1, 4], [2, 3], (2, 3), ("int32", "int32"), "reach outside"),   # TFLM does not clamp
    ([-1, 0], [1, 6], (1, 6), ("int32", "int32"), "reach outside"),   # no negative begins
    ([0, 0], [2, -2], (2, 6), ("int32", "int32"), "reach outside"),   # only -1 means "to the end"
    ([0, 0], [2, 3], (3, 2), ("int32", "int32"), "gives"),            # wrong output shape
    ([0, 0], [2, 3], (2, 3), ("int32", "int64"), "both of one type"),
    ([0, 0], [2, 3], (2, 3), ("int16", "int16"), "int32 or int64"),
])
def test_slice_rejects(tmp_path, begin, size, oshape, dtypes, match):
    g = single_op(Op.SLICE, [act("x", (4, 6)), const("begin", np.array(begin, dtypes[0])),
                             const("size", np.array(size, dtypes[1]))], [act("y", oshape)])
    assert match in prepare_error(g, tmp_path)


def test_slice_rejects_rank6_and_runtime_begin(tmp_path):
    shape = (1, 2, 1, 2, 1, 2)
    g = single_op(Op.SLICE, [act("x", shape), const("b", i32([0] * 6)), const("s", i32(shape))], [act("y", shape)])
    assert "rank" in prepare_error(g, tmp_path)
    g = single_op(Op.SLICE, [act("x", (4,)), Tensor("b", (1,), "int32"), const("s", i32([2]))], [act("y", (2,))])
    assert "run time" in prepare_error(g, tmp_path)


# -- GATHER ------------------------------------------------------------------------------

@pytest.mark.parametrize("shape,indices,axis,batch_dims,zp", [
    ((5, 3), [4, 0, 0, 2], 0, 0, -128),                     # rows, repeated index
    ((2, 5, 3), [[4, 0], [1, 1]], 1, 0, 127),               # 2-D indices
    ((2, 3, 7), [6, 0, 3], -1, 0, 0),                       # last axis: one byte per copy
    ((4, 3), 2, 0, 0, 5),                                   # scalar index drops the axis
    ((2, 5, 3), [[4, 0, 1], [2, 2, 3]], 1, 1, -3),          # batch_dims
    ((2, 3, 4, 2), [[1, 0], [3, 3]], 2, -1, 9),             # negative batch_dims, outer > 1
    ((1, 1), [0, 0, 0], 1, 0, -128),                        # size-1 params
])
def test_gather_constant_indices_exact(tmp_path, shape, indices, axis, batch_dims, zp):
    idx = i32(indices)
    a = axis % len(shape)
    bd = batch_dims + idx.ndim if batch_dims < 0 else batch_dims
    oshape = shape[:a] + idx.shape[bd:] + shape[a + 1:]
    g = single_op(Op.GATHER, [act("x", shape, 0.1, zp), const("idx", idx)], [act("y", oshape, 0.1, zp)],
                  dict(axis=axis, batch_dims=batch_dims))
    assert_exact(g, tmp_path, samples=3)


@pytest.mark.parametrize("shape,ishape,axis,batch_dims", [
    ((6, 4), (3,), 0, 0),
    ((2, 5, 3), (2, 4), 1, 1),
])
def test_gather_runtime_indices_exact(tmp_path, shape, ishape, axis, batch_dims):
    oshape = shape[:axis] + ishape[batch_dims:] + shape[axis + 1:]
    g = single_op(Op.GATHER, [act("x", shape, 0.1, -128), Tensor("idx", ishape, "int32")],
                  [act("y", oshape, 0.1, -128)], dict(axis=axis, batch_dims=batch_dims))
    rng = np.random.default_rng(1)
    hi = shape[axis]
    cases = [[rng.integers(-128, 128, shape).astype(np.int8), rng.integers(0, hi, ishape).astype(np.int32)]
             for _ in range(4)]
    cases.append([cases[0][0], np.full(ishape, hi - 1, np.int32)])  # the last valid index
    assert_exact(g, tmp_path, samples=0, inputs=cases)


def test_gather_runtime_index_out_of_range_is_an_error(tmp_path):
    # TFLM only DCHECKs the range; the numpy reference refuses and the C kernel returns an error.
    g = single_op(Op.GATHER, [act("x", (6, 4)), Tensor("idx", (2,), "int32")], [act("y", (2, 4))],
                  dict(axis=0, batch_dims=0))
    x = np.arange(24, dtype=np.int8).reshape(6, 4)
    runtime_index_errors(g, tmp_path, [x, i32([5, 0])], [[x, i32([0, 6])], [x, i32([-1, 0])]])


@pytest.mark.parametrize("indices,itype,axis,batch_dims,oshape,match", [
    ([0, 5], "int32", 0, 0, (2, 4), "outside"),       # constant index out of range
    ([0, -1], "int32", 0, 0, (2, 4), "outside"),
    ([0, 1], "int64", 0, 0, (2, 4), "int32"),         # TFLM: int32 positions only
    ([0, 1], "int32", 2, 0, (2, 4), "out of range"),  # axis
    ([[0], [1]], "int32", 0, 1, (5, 1, 4), "batch_dims"),  # batch_dims > axis
    ([0, 1], "int32", 0, 0, (4, 2), "gives"),
])
def test_gather_rejects(tmp_path, indices, itype, axis, batch_dims, oshape, match):
    g = single_op(Op.GATHER, [act("x", (5, 4)), const("idx", np.array(indices, itype))], [act("y", oshape)],
                  dict(axis=axis, batch_dims=batch_dims))
    assert match in prepare_error(g, tmp_path)


# -- SPLIT / SPLIT_V ---------------------------------------------------------------------

def outs(shapes, scale=0.1, zp=3):
    return [act(f"y{k}", s, scale, zp) for k, s in enumerate(shapes)]


@pytest.mark.parametrize("shape,axis,n,zp", [
    ((2, 6), -1, 3, -128),
    ((6, 2, 3), 0, 2, 127),
    ((1, 4, 5, 3), 1, 4, 0),    # size-1 pieces
    ((3, 5), 1, 1, 7),          # one output: a copy
])
def test_split_exact(tmp_path, shape, axis, n, zp):
    a = axis % len(shape)
    piece = tuple(d // n if k == a else d for k, d in enumerate(shape))
    g = single_op(Op.SPLIT, [const("axis", i32([axis])), act("x", shape, 0.1, zp)], outs([piece] * n, zp=zp),
                  dict(num_splits=n))
    assert_exact(g, tmp_path, samples=3)
    model = load_tflite(write(g, tmp_path))
    assert [(nd.op, nd.outputs) for nd in model.nodes] == [(Op.SLICE, (f"y{k}",)) for k in range(n)]


def test_split_ignores_num_splits_like_tflm(tmp_path):
    # TFLM splits by its outputs; a num_splits that disagrees changes nothing.
    g = single_op(Op.SPLIT, [const("axis", i32(0)), act("x", (4, 3), 0.1, 1)], outs([(2, 3)] * 2, zp=1),
                  dict(num_splits=5))
    assert_exact(g, tmp_path, samples=3)


@pytest.mark.parametrize("shape,axis,sizes,size_splits", [
    ((2, 7), 1, [3, 1, 3], [3, 1, -1]),     # -1 in size_splits: TFLM reads the outputs anyway
    ((5, 2, 2), 0, [1, 4], [1, 4]),
    ((2, 3, 6), -1, [2, 2, 1, 1], [2, 2, 1, 1]),
])
def test_split_v_exact(tmp_path, shape, axis, sizes, size_splits):
    a = axis % len(shape)
    shapes = [tuple(n if k == a else d for k, d in enumerate(shape)) for n in sizes]
    g = single_op(Op.SPLIT_V, [act("x", shape, 0.1, -128), const("sizes", i32(size_splits)),
                               const("axis", i32(axis))], outs(shapes, zp=-128), dict(num_splits=len(sizes)))
    assert_exact(g, tmp_path, samples=3)


def test_split_outputs_feed_later_ops(tmp_path):
    """Split pieces live in the arena and are read by a later op, in swapped order."""
    x = act("x", (1, 4, 6), 0.1, 2)
    a, b = act("a", (1, 4, 3), 0.1, 2), act("b", (1, 4, 3), 0.1, 2)
    y = act("y", (1, 4, 6), 0.1, 2)
    axis = const("axis", i32(2))
    g = Graph("split_concat", {t.name: t for t in (x, a, b, y, axis)},
              [Node(Op.SPLIT, ("axis", "x"), ("a", "b"), dict(num_splits=2)),
               Node(Op.CONCATENATION, ("b", "a"), ("y",), dict(axis=2, activation="NONE"))], ["x"], ["y"])
    assert_exact(g, tmp_path, samples=3)
    # Per-layer diagnosis finds each lowered piece under its TFLite name, and it matches.
    from microlith.verify import first_differing_layer
    path = write(g, tmp_path)
    model = load_tflite(path)
    assert [nd.outputs[0] for nd in model.nodes] == ["a", "b", "y"]
    microlith.compile(model, tmp_path / "c", measure=False)
    host = HostModel(tmp_path / "c", model, model.name, tmp_path)
    try:
        x = np.arange(-12, 12, dtype=np.int8).reshape(1, 4, 6)
        assert first_differing_layer(model, path.read_bytes(), host, [x]) is None
    finally:
        host.close()


@pytest.mark.parametrize("op,shapes,axis,match", [
    (Op.SPLIT, [(2, 2), (2, 4)], 1, "evenly"),        # TFLM sizes every piece by output 0
    (Op.SPLIT, [(2, 3), (2, 3)], 2, "out of range"),
    (Op.SPLIT, [(2, 3), (1, 3)], 1, "does not fit"),
    (Op.SPLIT_V, [(2, 2), (2, 3)], 1, "add up"),
])
def test_split_rejects(tmp_path, op, shapes, axis, match):
    x = act("x", (2, 6))
    ax = const("axis", i32([axis]))
    ins = [ax, x] if op is Op.SPLIT else [x, const("sizes", i32([s[1] for s in shapes])), ax]
    g = single_op(op, ins, outs(shapes, 0.05, 0), dict(num_splits=len(shapes)))
    assert match in load_error(g, tmp_path)


def test_split_rejects_rank6(tmp_path):
    g = single_op(Op.SPLIT, [const("axis", i32([0])), act("x", (2, 1, 1, 1, 1, 3))],
                  outs([(1, 1, 1, 1, 1, 3)] * 2, 0.05, 0), dict(num_splits=2))
    assert "rank 1 to 5" in load_error(g, tmp_path)


def test_split_rejects_runtime_axis(tmp_path):
    g = single_op(Op.SPLIT, [Tensor("axis", (1,), "int32"), act("x", (2, 6))], outs([(2, 3)] * 2, 0.05, 0),
                  dict(num_splits=2))
    assert "constant int32" in load_error(g, tmp_path)


# -- PACK / UNPACK -----------------------------------------------------------------------

@pytest.mark.parametrize("shape,n,axis,zp", [
    ((2, 3), 2, 0, -128),
    ((2, 3), 3, 1, 127),
    ((2, 3), 2, 2, 0),      # new innermost axis: interleave bytes
    ((2, 3), 2, -1, 4),     # -1 counts from the output's rank
    ((4,), 1, 0, -9),       # one input
    ((1, 1, 2), 4, -2, 1),
])
def test_pack_exact(tmp_path, shape, n, axis, zp):
    a = axis + len(shape) + 1 if axis < 0 else axis
    oshape = shape[:a] + (n,) + shape[a:]
    ins = [act(f"x{k}", shape, 0.1, zp) for k in range(n)]
    g = single_op(Op.PACK, ins, [act("y", oshape, 0.1, zp)], dict(values_count=n, axis=axis))
    assert_exact(g, tmp_path, samples=3)


def test_pack_with_constant_input_and_other_quantization(tmp_path):
    # TFLM's PACK copies bytes: inputs quantized differently are not rescaled.
    c = const("c", np.arange(-3, 3).reshape(2, 3), scale=0.5, zp=-1, dtype="int8")
    g = single_op(Op.PACK, [act("x", (2, 3), 0.1, 7), c], [act("y", (2, 2, 3), 0.2, 0)],
                  dict(values_count=2, axis=1))
    assert_exact(g, tmp_path, samples=3)


@pytest.mark.parametrize("shapes,count,oshape,match", [
    ([(2, 3), (2, 3)], 3, (2, 2, 3), "values_count"),
    ([(2, 3), (3, 2)], 2, (2, 2, 3), "differs"),
    ([(2, 3), (2, 3)], 2, (2, 3, 2), "gives"),
])
def test_pack_rejects(tmp_path, shapes, count, oshape, match):
    ins = [act(f"x{k}", s) for k, s in enumerate(shapes)]
    g = single_op(Op.PACK, ins, [act("y", oshape)], dict(values_count=count, axis=0))
    assert match in prepare_error(g, tmp_path)


@pytest.mark.parametrize("shape,axis,zp", [
    ((3, 4), 0, -128),
    ((2, 3, 4), 1, 127),
    ((2, 3, 4), -1, 0),     # last axis: strided bytes
    ((1, 5), 0, 6),         # one output
])
def test_unpack_exact(tmp_path, shape, axis, zp):
    a = axis % len(shape)
    piece = shape[:a] + shape[a + 1:]
    g = single_op(Op.UNPACK, [act("x", shape, 0.1, zp)], outs([piece] * shape[a], zp=zp),
                  dict(num=shape[a], axis=axis))
    assert_exact(g, tmp_path, samples=3)
    assert {nd.op for nd in load_tflite(write(g, tmp_path)).nodes} == {Op.GATHER}


@pytest.mark.parametrize("num,n_out,axis,match", [
    (2, 3, 0, "num is 2"),
    (3, 3, 2, "out of range"),
])
def test_unpack_rejects(tmp_path, num, n_out, axis, match):
    g = single_op(Op.UNPACK, [act("x", (3, 4))], outs([(4,)] * n_out), dict(num=num, axis=axis))
    assert match in load_error(g, tmp_path)


# -- EXPAND_DIMS -------------------------------------------------------------------------

@pytest.mark.parametrize("shape,axis", [
    ((3, 4), [0]), ((3, 4), 1), ((3, 4), -1), ((3, 4), [-3]), ((5,), 1),
])
def test_expand_dims_exact(tmp_path, shape, axis):
    v = int(np.asarray(axis).reshape(-1)[0])
    pos = v + len(shape) + 1 if v < 0 else v
    oshape = shape[:pos] + (1,) + shape[pos:]
    g = single_op(Op.EXPAND_DIMS, [act("x", shape, 0.1, -128), const("axis", i32(axis))],
                  [act("y", oshape, 0.1, -128)])
    assert_exact(g, tmp_path, samples=3)


def test_expand_dims_int16(tmp_path):
    g = single_op(Op.EXPAND_DIMS, [act("x", (3, 4), 0.001, 0, "int16"), const("axis", i32(1))],
                  [act("y", (3, 1, 4), 0.001, 0, "int16")])
    assert_exact(g, tmp_path, samples=3)


def test_expand_dims_shares_memory(tmp_path):
    x, mid, y = act("x", (4, 6), 0.1, 1), act("mid", (4, 1, 6), 0.1, 1), act("y", (4, 1, 3), 0.1, 1)
    tensors = [x, mid, y, const("axis", i32(1)), const("b", i32([0, 0, 2])), const("s", i32([4, 1, 3]))]
    g = Graph("expand_slice", {t.name: t for t in tensors},
              [Node(Op.EXPAND_DIMS, ("x", "axis"), ("mid",)), Node(Op.SLICE, ("mid", "b", "s"), ("y",))],
              ["x"], ["y"])
    assert_exact(g, tmp_path, samples=3)
    assert prepare(load_tflite(write(g, tmp_path))).plan.alias == {"mid": "x"}


@pytest.mark.parametrize("axis,oshape,match", [
    (3, (3, 4, 1), "out of range"),
    (1, (3, 4, 1), "gives"),
    ([[1]], (3, 1, 4), "one value"),
])
def test_expand_dims_rejects(tmp_path, axis, oshape, match):
    g = single_op(Op.EXPAND_DIMS, [act("x", (3, 4)), const("axis", i32(axis))], [act("y", oshape)])
    assert match in prepare_error(g, tmp_path)


def test_expand_dims_rejects_int32_like_tflm(tmp_path):
    g = single_op(Op.EXPAND_DIMS, [Tensor("x", (3,), "int32"), const("axis", i32(0))], [Tensor("y", (1, 3), "int32")])
    assert "copies int8, int16, float32 only" in prepare_error(g, tmp_path)


# -- BROADCAST_TO ------------------------------------------------------------------------

@pytest.mark.parametrize("shape,target,zp", [
    ((3,), (4, 3), -128),              # new leading dims: whole rows repeated
    ((4, 1), (4, 5), 127),             # innermost broadcast: one byte repeated
    ((1, 3, 1), (2, 3, 4), 0),         # both kinds, alternating
    ((2, 1, 1, 3), (2, 2, 5, 3), 5),   # neighbouring broadcast dims merge
    ((1,), (1, 1, 1), 9),              # nothing to repeat
    ((2, 1, 3, 1, 2), (2, 3, 3, 2, 2), -1),  # 5-D
])
def test_broadcast_to_exact(tmp_path, shape, target, zp):
    g = single_op(Op.BROADCAST_TO, [act("x", shape, 0.1, zp), const("shape", i32(target))],
                  [act("y", target, 0.1, zp)])
    assert_exact(g, tmp_path, samples=3)


def test_broadcast_to_int64_shape(tmp_path):
    g = single_op(Op.BROADCAST_TO, [act("x", (1, 2), 0.1, 3), const("shape", np.array([3, 2], np.int64))],
                  [act("y", (3, 2), 0.1, 3)])
    assert_exact(g, tmp_path, samples=3)


@pytest.mark.parametrize("shape,target,oshape,match", [
    ((2, 3), (4, 3), (4, 3), "does not broadcast"),     # 2 -> 4
    ((2, 3), (3,), (3,), "do not fit"),                 # output rank below the input's
    ((3,), (1, 1, 1, 1, 2, 3), (1, 1, 1, 1, 2, 3), "do not fit"),  # 6-D
    ((3,), (2, 3), (3, 3), "does not broadcast"),       # output differs from the shape operand
])
def test_broadcast_to_rejects(tmp_path, shape, target, oshape, match):
    g = single_op(Op.BROADCAST_TO, [act("x", shape), const("shape", i32(target))], [act("y", oshape)])
    assert match in prepare_error(g, tmp_path)


# -- DEPTH_TO_SPACE / SPACE_TO_DEPTH -----------------------------------------------------

@pytest.mark.parametrize("shape,b,zp", [
    ((1, 2, 3, 8), 2, -128),
    ((2, 3, 2, 18), 3, 127),
    ((1, 1, 1, 4), 2, 0),
    ((1, 2, 2, 5), 1, 4),      # block 1: a copy
])
def test_depth_to_space_exact(tmp_path, shape, b, zp):
    n, h, w, c = shape
    g = single_op(Op.DEPTH_TO_SPACE, [act("x", shape, 0.1, zp)], [act("y", (n, h * b, w * b, c // b // b), 0.1, zp)],
                  dict(block_size=b))
    assert_exact(g, tmp_path, samples=3)


@pytest.mark.parametrize("shape,b,zp", [
    ((1, 4, 6, 3), 2, -128),
    ((2, 3, 6, 1), 3, 127),
    ((1, 2, 2, 1), 2, 0),
    ((1, 3, 5, 2), 1, 6),
])
def test_space_to_depth_exact(tmp_path, shape, b, zp):
    n, h, w, c = shape
    g = single_op(Op.SPACE_TO_DEPTH, [act("x", shape, 0.1, zp)], [act("y", (n, h // b, w // b, c * b * b), 0.1, zp)],
                  dict(block_size=b))
    assert_exact(g, tmp_path, samples=3)


@pytest.mark.parametrize("op,shape,b,oshape,match", [
    (Op.DEPTH_TO_SPACE, (1, 2, 2, 6), 2, (1, 4, 4, 1), "divide"),
    (Op.SPACE_TO_DEPTH, (1, 3, 4, 1), 2, (1, 1, 2, 4), "divide"),
    (Op.SPACE_TO_DEPTH, (1, 2, 2, 1), 0, (1, 2, 2, 1), "block_size >= 1"),  # TFLM divides by 0
    (Op.DEPTH_TO_SPACE, (2, 2, 8), 2, (4, 4, 2), "4-D"),
    (Op.DEPTH_TO_SPACE, (1, 2, 2, 8), 2, (1, 4, 2, 4), "gives"),
])
def test_depth_space_rejects(tmp_path, op, shape, b, oshape, match):
    g = single_op(op, [act("x", shape)], [act("y", oshape)], dict(block_size=b))
    assert match in prepare_error(g, tmp_path)


# -- MIRROR_PAD / PADV2 ------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["REFLECT", "SYMMETRIC"])
@pytest.mark.parametrize("shape,pads,zp", [
    ((1, 4, 5, 3), [[0, 0], [1, 2], [2, 1], [0, 0]], -128),   # image style, channels as a block
    ((5,), [[3, 2]], 127),                                      # 1-D, up to REFLECT's limit (4)
    ((3, 2, 4), [[2, 0], [0, 0], [1, 3]], 0),                   # padded, unpadded, padded
    ((2, 3), [[0, 0], [0, 0]], 7),                              # no padding: one block
    ((2, 3, 2, 2, 3), [[1, 1], [0, 2], [0, 0], [1, 0], [0, 0]], -5),  # 5-D
])
def test_mirror_pad_exact(tmp_path, mode, shape, pads, zp):
    oshape = tuple(d + a + b for d, (a, b) in zip(shape, pads))
    g = single_op(Op.MIRROR_PAD, [act("x", shape, 0.1, zp), const("pads", i32(pads))], [act("y", oshape, 0.1, zp)],
                  dict(mode=mode))
    assert_exact(g, tmp_path, samples=3)


def test_mirror_pad_symmetric_full_width_int64(tmp_path):
    # SYMMETRIC may mirror the whole dimension (pad == dim); paddings may be int64.
    g = single_op(Op.MIRROR_PAD, [act("x", (2, 3), 0.1, 1), const("pads", np.array([[2, 2], [3, 0]], np.int64))],
                  [act("y", (6, 6), 0.1, 1)], dict(mode="SYMMETRIC"))
    assert_exact(g, tmp_path, samples=3)


@pytest.mark.parametrize("mode,pads,match", [
    ("REFLECT", [[0, 0], [3, 0]], "outside [0, 2]"),      # REFLECT: at most dim - 1
    ("SYMMETRIC", [[0, 0], [0, 4]], "outside [0, 3]"),    # SYMMETRIC: at most dim
    ("REFLECT", [[0, 0], [-1, 0]], "outside"),
    ("REFLECT", [[0, 0, 0, 0]], "need [2, 2]"),
])
def test_mirror_pad_rejects(tmp_path, mode, pads, match):
    p = i32(pads)
    oshape = (2, 3 + int(p.reshape(-1)[2]) + int(p.reshape(-1)[3])) if p.size == 4 else (2, 3)
    g = single_op(Op.MIRROR_PAD, [act("x", (2, 3)), const("pads", p)], [act("y", oshape)], dict(mode=mode))
    assert match in prepare_error(g, tmp_path)


@pytest.mark.parametrize("value,zp", [(-128, -128), (127, 127), (5, -3)])
def test_padv2_exact(tmp_path, value, zp):
    x = act("x", (1, 3, 3, 2), 0.1, zp)
    cv = const("value", np.array(value, np.int8), scale=0.1, zp=zp)
    g = single_op(Op.PADV2, [x, const("pads", i32([[0, 0], [1, 2], [0, 1], [1, 0]])), cv],
                  [act("y", (1, 6, 4, 3), 0.1, zp)])
    assert_exact(g, tmp_path, samples=3)


def test_padv2_rejects_constant_quantized_differently(tmp_path):
    cv = const("value", np.array(3, np.int8), scale=0.2, zp=0)
    g = single_op(Op.PADV2, [act("x", (2, 2), 0.1, 0), const("pads", i32([[1, 0], [0, 1]])), cv],
                  [act("y", (3, 3), 0.1, 0)])
    assert "quantized like the output" in prepare_error(g, tmp_path)


# -- RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR -------------------------------------------

RESIZE_FLAGS = [(False, False), (True, False), (False, True)]


def resize_graph(op, shape, size, flags, zp=0):
    n, h, w, c = shape
    return single_op(op, [act("x", shape, 0.1, zp), const("size", i32(size))],
                     [act("y", (n, size[0], size[1], c), 0.1, zp)],
                     dict(align_corners=flags[0], half_pixel_centers=flags[1]))


@pytest.mark.parametrize("flags", RESIZE_FLAGS + [(True, True)])   # nearest allows both
@pytest.mark.parametrize("shape,size,zp", [
    ((1, 2, 3, 2), (4, 6), -128),    # x2 up
    ((2, 5, 7, 1), (3, 4), 127),     # down, odd ratios
    ((1, 3, 3, 3), (7, 5), 3),       # odd up
    ((1, 1, 4, 2), (1, 1), 0),       # to a single pixel (align_corners with size 1)
])
def test_resize_nearest_exact(tmp_path, flags, shape, size, zp):
    assert_exact(resize_graph(Op.RESIZE_NEAREST_NEIGHBOR, shape, size, flags, zp), tmp_path, samples=3)


@pytest.mark.parametrize("flags", RESIZE_FLAGS)
@pytest.mark.parametrize("shape,size,zp", [
    ((1, 2, 3, 2), (4, 6), -128),    # x2 up: exact halves between neighbours (rounding)
    ((2, 5, 7, 3), (3, 4), 127),     # down, odd ratios
    ((1, 3, 3, 1), (7, 5), 3),
    ((1, 4, 1, 2), (9, 1), 0),       # one column in and out
])
def test_resize_bilinear_exact(tmp_path, flags, shape, size, zp):
    assert_exact(resize_graph(Op.RESIZE_BILINEAR, shape, size, flags, zp), tmp_path, samples=6)


def test_resize_bilinear_rounds_negative_halves_away_from_zero(tmp_path):
    """x2 upsampling puts outputs exactly halfway between two inputs; with inputs of both
    signs TFLM rounds -x.5 down (its default double rounding), not up."""
    g = resize_graph(Op.RESIZE_BILINEAR, (1, 1, 2, 1), (1, 4), (False, False))
    xs = [[np.array([a, b], np.int8).reshape(1, 1, 2, 1), ] for a, b in ((-3, -4), (-1, 0), (3, 4), (-128, 127))]
    res = assert_exact(g, tmp_path, samples=0, inputs=xs)
    model = load_tflite(write(g, tmp_path))
    got = run_reference(model, [xs[0][0]])["y"].reshape(-1)
    assert got.tolist() == [-3, -4, -4, -4]   # (-3 + -4) / 2 = -3.5 -> -4
    assert res["bit_exact"]


@pytest.mark.parametrize("op,size,flags,match", [
    (Op.RESIZE_BILINEAR, (4, 4), (True, True), "both set"),
    (Op.RESIZE_NEAREST_NEIGHBOR, (4, 4, 1), (False, False), "size of 2 values"),
])
def test_resize_rejects(tmp_path, op, size, flags, match):
    g = single_op(op, [act("x", (1, 2, 2, 1)), const("size", i32(size))], [act("y", (1, 4, 4, 1))],
                  dict(align_corners=flags[0], half_pixel_centers=flags[1]))
    assert match in prepare_error(g, tmp_path)


def test_resize_rejects_output_other_than_size(tmp_path):
    g = single_op(Op.RESIZE_BILINEAR, [act("x", (1, 2, 2, 1)), const("size", i32([4, 4]))],
                  [act("y", (1, 4, 3, 1))], dict(align_corners=False, half_pixel_centers=False))
    assert "gives" in prepare_error(g, tmp_path)


# -- BATCH_TO_SPACE_ND / SPACE_TO_BATCH_ND -----------------------------------------------

@pytest.mark.parametrize("shape,block,crops,zp", [
    ((4, 2, 3, 2), [2, 2], [[0, 0], [0, 0]], -128),
    ((8, 2, 2, 1), [2, 2], [[1, 0], [0, 1]], 127),     # crops on each side
    ((6, 3, 2, 3), [3, 1], [[2, 1], [0, 0]], 0),       # uneven block, both crops on height
    ((2, 3, 2), [2], [[1, 2]], 5),                     # 3-D [N, H, C]
    ((3, 1, 1, 2), [1, 3], [[0, 0], [1, 1]], -7),      # single pixels
])
def test_batch_to_space_nd_exact(tmp_path, shape, block, crops, zp):
    from microlith.ops.movement import batch_to_space
    oshape = batch_to_space(np.zeros(shape, np.int8), block, np.array(crops)).shape
    g = single_op(Op.BATCH_TO_SPACE_ND, [act("x", shape, 0.1, zp), const("block", i32(block)),
                                         const("crops", i32(crops))], [act("y", oshape, 0.1, zp)])
    assert_exact(g, tmp_path, samples=3)


@pytest.mark.parametrize("shape,block,pads,zp", [
    ((1, 4, 6, 2), [2, 2], [[0, 0], [0, 0]], -128),
    ((2, 2, 6, 1), [2, 3], [[0, 0], [0, 0]], 5),
    ((1, 2, 4, 3), [1, 2], [[0, 0], [0, 0]], -128),
    ((2, 6, 2), [3], [[0, 0]], 127),                   # 3-D [N, H, C]
    ((1, 1, 1, 1), [1, 1], [[0, 0], [0, 0]], 9),
])
def test_space_to_batch_nd_exact(tmp_path, shape, block, pads, zp):
    from microlith.ops.movement import space_to_batch
    oshape = space_to_batch(np.zeros(shape, np.int8), block, np.array(pads), 0).shape
    g = single_op(Op.SPACE_TO_BATCH_ND, [act("x", shape, 0.1, zp), const("block", i32(block)),
                                         const("pads", i32(pads))], [act("y", oshape, 0.1, zp)])
    assert_exact(g, tmp_path, samples=3)


def test_space_batch_round_trip_in_one_graph(tmp_path):
    """The dilated-convolution pattern: SPACE_TO_BATCH_ND then BATCH_TO_SPACE_ND restores the input."""
    x, mid, y = act("x", (1, 4, 4, 2), 0.1, 3), act("mid", (4, 2, 2, 2), 0.1, 3), act("y", (1, 4, 4, 2), 0.1, 3)
    tensors = [x, mid, y, const("block", i32([2, 2])), const("zero", i32([[0, 0], [0, 0]]))]
    g = Graph("s2b_b2s", {t.name: t for t in tensors},
              [Node(Op.SPACE_TO_BATCH_ND, ("x", "block", "zero"), ("mid",)),
               Node(Op.BATCH_TO_SPACE_ND, ("mid", "block", "zero"), ("y",))], ["x"], ["y"])
    assert_exact(g, tmp_path, samples=3)


@pytest.mark.parametrize("op,shape,block,amounts,oshape,match", [
    (Op.BATCH_TO_SPACE_ND, (3, 2, 2, 1), [2, 2], [[0, 0], [0, 0]], (1, 4, 4, 1), "no whole batch"),
    (Op.BATCH_TO_SPACE_ND, (4, 2, 2, 1), [2, 2], [[0, 0], [0, 0]], (1, 4, 3, 1), "gives"),
    (Op.BATCH_TO_SPACE_ND, (4, 2, 2, 1), [2, 0], [[0, 0], [0, 0]], (1, 4, 4, 1), ">= 1"),
    (Op.BATCH_TO_SPACE_ND, (4, 2, 2, 1), [2, 2], [[0, -1], [0, 0]], (1, 4, 4, 1), ">= 0"),
    (Op.SPACE_TO_BATCH_ND, (1, 3, 4, 1), [2, 2], [[0, 0], [0, 0]], (4, 1, 2, 1), "divide"),
    (Op.SPACE_TO_BATCH_ND, (1, 4, 4, 1), [2, 2], [[0, 0], [0, 0]], (4, 2, 1, 1), "gives"),
    (Op.SPACE_TO_BATCH_ND, (1, 4, 4, 1), [2], [[0, 0]], (4, 2, 2, 1), "do not fit"),
    (Op.SPACE_TO_BATCH_ND, (4, 4), [2], [[0, 0]], (8, 2), "3-D or 4-D"),
    # TFLM pads with SpaceToBatchParams.output_offset, which it never initializes: run after
    # other models the oracle's padding bytes changed from 0 to leftovers.
    (Op.SPACE_TO_BATCH_ND, (1, 2, 3, 1), [2, 2], [[1, 1], [0, 1]], (4, 2, 2, 1), "uninitialized"),
])
def test_space_batch_rejects(tmp_path, op, shape, block, amounts, oshape, match):
    g = single_op(op, [act("x", shape), const("block", i32(block)), const("amounts", i32(amounts))],
                  [act("y", oshape)])
    assert match in prepare_error(g, tmp_path)


# -- REVERSE_V2 / ZEROS_LIKE -------------------------------------------------------------

@pytest.mark.parametrize("shape,axes,zp", [
    ((5,), [0], -128),
    ((3, 4), [1], 127),              # innermost: byte by byte
    ((3, 4, 2), [0], 0),             # outermost: whole rows
    ((2, 3, 4, 2), [2, 1], 5),       # contiguous pair, unsorted
    ((2, 3, 4), [-1, 0, 1], -3),     # every axis: one reversed copy
    ((2, 1, 3), [1], 9),             # a size-1 axis: a copy
])
def test_reverse_v2_exact(tmp_path, shape, axes, zp):
    g = single_op(Op.REVERSE_V2, [act("x", shape, 0.1, zp), const("axis", i32(axes))], [act("y", shape, 0.1, zp)])
    assert_exact(g, tmp_path, samples=3)


@pytest.mark.parametrize("axes,match", [
    ([0, 2], "contiguous"),     # TFLM: "Non-contiguous `axes` not supported"
    ([1, 1], "contiguous"),
    ([3], "out of range"),
    ([[1]], "1 to rank"),       # TFLM: a vector of axes
])
def test_reverse_v2_rejects(tmp_path, axes, match):
    g = single_op(Op.REVERSE_V2, [act("x", (2, 3, 4)), const("axis", i32(axes))], [act("y", (2, 3, 4))])
    assert match in prepare_error(g, tmp_path)


@pytest.mark.parametrize("shape,zp", [((2, 3), 5), ((7,), -128), ((1, 2, 2, 3), 127)])
def test_zeros_like_writes_integer_zero(tmp_path, shape, zp):
    # TFLM writes the byte 0, not the zero point.
    g = single_op(Op.ZEROS_LIKE, [act("x", shape, 0.1, zp)], [act("y", shape, 0.1, zp)])
    assert_exact(g, tmp_path, samples=2)


def test_zeros_like_rejects_other_shape(tmp_path):
    g = single_op(Op.ZEROS_LIKE, [act("x", (2, 3))], [act("y", (3, 2))])
    assert "differs" in prepare_error(g, tmp_path)


# -- GATHER_ND ---------------------------------------------------------------------------

@pytest.mark.parametrize("shape,indices,zp", [
    ((4, 3), [[1], [3], [0]], -128),                 # whole rows
    ((4, 3), [[1, 2], [3, 0], [0, 0]], 127),         # single elements
    ((2, 3, 4), [[[1, 2]], [[0, 0]]], 0),            # batched index tuples
    ((2, 3, 4), [1, 2, 3], 5),                       # one tuple, rank-1 indices: a scalar out
    ((3, 4), [[0, 5]], -9),                          # index 5 >= 4: TFLM checks the flat position only
])
def test_gather_nd_constant_indices_exact(tmp_path, shape, indices, zp):
    idx = i32(indices)
    oshape = idx.shape[:-1] + shape[idx.shape[-1]:]
    g = single_op(Op.GATHER_ND, [act("x", shape, 0.1, zp), const("idx", idx)], [act("y", oshape, 0.1, zp)])
    assert_exact(g, tmp_path, samples=3)


def test_gather_nd_runtime_indices_exact(tmp_path):
    g = single_op(Op.GATHER_ND, [act("x", (3, 4, 2), 0.1, 3), Tensor("idx", (5, 2), "int32")],
                  [act("y", (5, 2), 0.1, 3)])
    rng = np.random.default_rng(2)
    cases = [[rng.integers(-128, 128, (3, 4, 2)).astype(np.int8),
              np.stack([rng.integers(0, 3, 5), rng.integers(0, 4, 5)], axis=1).astype(np.int32)] for _ in range(4)]
    assert_exact(g, tmp_path, samples=0, inputs=cases)


def test_gather_nd_runtime_out_of_range_is_an_error(tmp_path):
    g = single_op(Op.GATHER_ND, [act("x", (3, 4)), Tensor("idx", (1, 2), "int32")], [act("y", (1,))])
    x = np.arange(12, dtype=np.int8).reshape(3, 4)
    runtime_index_errors(g, tmp_path, [x, i32([[1, 5]])],             # flat 9: accepted, like TFLM
                         [[x, i32([[2, 4]])], [x, i32([[0, -1]])]])  # flat 12 of 12, flat -1


@pytest.mark.parametrize("shape,indices,itype,oshape,match", [
    ((3, 4), [[3, 0]], "int32", (1,), "outside params"),
    ((3, 4), [[-1, 2]], "int32", (1,), "outside params"),
    ((3, 4), [[0, 1]], "int64", (1,), "int32"),
    ((3, 4), [[0, 1, 0]], "int32", (1,), "at most the rank"),
    ((3, 4), [[0]], "int32", (1, 3), "gives"),
])
def test_gather_nd_rejects(tmp_path, shape, indices, itype, oshape, match):
    g = single_op(Op.GATHER_ND, [act("x", shape), const("idx", np.array(indices, itype))], [act("y", oshape)])
    assert match in prepare_error(g, tmp_path)


# -- float32 references (reference_float: calibration of float models) -------------------

def fact(name, shape):
    return Tensor(name, tuple(shape), "float32")


FLOAT_CASES = [
    (Op.SLICE, [fact("x", (1, 4, 5)), const("b", i32([0, 1, 2])), const("s", i32([1, 2, -1]))], (1, 2, 3), {}),
    (Op.GATHER, [fact("x", (1, 5, 3)), const("i", i32([4, 0, 4]))], (1, 3, 3), dict(axis=1, batch_dims=0)),
    (Op.PACK, [fact("x", (1, 3)), fact("z", (1, 3))], (1, 2, 3), dict(values_count=2, axis=1)),
    (Op.BROADCAST_TO, [fact("x", (1, 1, 3)), const("s", i32([1, 4, 3]))], (1, 4, 3), {}),
    (Op.DEPTH_TO_SPACE, [fact("x", (1, 2, 2, 8))], (1, 4, 4, 2), dict(block_size=2)),
    (Op.MIRROR_PAD, [fact("x", (1, 3, 4)), const("p", i32([[0, 0], [2, 1], [1, 3]]))], (1, 6, 8),
     dict(mode="REFLECT")),
    (Op.RESIZE_NEAREST_NEIGHBOR, [fact("x", (1, 3, 5, 2)), const("s", i32([7, 4]))], (1, 7, 4, 2),
     dict(align_corners=True, half_pixel_centers=False)),
    (Op.RESIZE_BILINEAR, [fact("x", (1, 3, 5, 2)), const("s", i32([7, 4]))], (1, 7, 4, 2),
     dict(align_corners=False, half_pixel_centers=True)),
    (Op.REVERSE_V2, [fact("x", (1, 3, 4)), const("a", i32([1, 2]))], (1, 3, 4), {}),
    (Op.GATHER_ND, [fact("x", (1, 3, 4)), const("i", i32([[0, 2], [0, 0]]))], (2, 4), {}),
]


@pytest.mark.parametrize("op,ins,oshape,attrs", FLOAT_CASES, ids=[c[0].value for c in FLOAT_CASES])
def test_float_reference_matches_tflm_float_kernels(tmp_path, op, ins, oshape, attrs):
    """What calibration computes for these ops equals TFLM's float kernels, one sample and a
    batch alike (a batch runs sample by sample: these ops may move data across axis 0)."""
    from microlith.reference_float import run_float
    from microlith.verify import Oracle
    g = single_op(op, ins, [fact("y", oshape)], attrs)
    path = write(g, tmp_path)
    model = load_tflite(path)
    oracle = Oracle(path.read_bytes(), model)
    rng = np.random.default_rng(4)
    xs = [rng.uniform(-4, 4, (3,) + model.t(n).shape[1:]).astype(np.float32) for n in model.inputs]
    batch = run_float(model, xs)["y"]
    for k in range(3):
        want = oracle.run([x[k:k + 1] for x in xs])[0].reshape(oshape)
        got = run_float(model, [x[k:k + 1] for x in xs])["y"].reshape(oshape)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
        if oshape[0] == 1:
            np.testing.assert_allclose(batch[k:k + 1].reshape(oshape), want, rtol=1e-6, atol=1e-6)


def i16(name, shape):
    return Tensor(name, tuple(shape), "int16", act(name, shape).quant)


@pytest.mark.parametrize("op,ins,oshape,attrs", [
    (Op.GATHER, [i16("x", (4,)), const("i", i32([1]))], (1,), dict(axis=0, batch_dims=0)),
    (Op.MIRROR_PAD, [i16("x", (4,)), const("p", i32([[1, 1]]))], (6,), dict(mode="REFLECT")),
    (Op.RESIZE_BILINEAR, [i16("x", (1, 2, 2, 1)), const("s", i32([4, 4]))], (1, 4, 4, 1),
     dict(align_corners=False, half_pixel_centers=False)),
    (Op.GATHER_ND, [i16("x", (4,)), const("i", i32([[1]]))], (1,), {}),
])
def test_int16_data_is_refused(tmp_path, op, ins, oshape, attrs):
    # The byte kernels move int8 only; TFLM's int16 variants (where it has them) are not compiled.
    # (SLICE, PACK, BROADCAST_TO and REVERSE_V2 take int16 since issue 10's extra ops: test_extra_ops.py)
    g = single_op(op, ins, [i16("y", oshape)], attrs)
    assert "moves int8 data only" in prepare_error(g, tmp_path)
