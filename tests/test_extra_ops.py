"""Issue 10 extra ops (ops/extra.py): EMBEDDING_LOOKUP, FILL, DYNAMIC_UPDATE_SLICE, byte-exact
with TFLM, and one test per refusal."""
import numpy as np
import pytest

import microlith
from microlith.frontends.tflite import load_tflite
from microlith.ir import Graph, MicrolithError, Node, Op, Tensor
from microlith.ops import impl_for
from microlith.reference import run_reference
from microlith.verify import HostModel
from opmodels import act, assert_exact, const, single_op, write


def i32(v):
    return np.array(v, np.int32)


def prepare_error(g, tmp_path, node=0):
    """The MicrolithError prepare() raises on the written-and-reloaded model."""
    model = load_tflite(write(g, tmp_path))
    with pytest.raises(MicrolithError) as err:
        impl_for(model.nodes[node].op).prepare(model.nodes[node], model)
    return str(err.value)


def runtime_errors(g, tmp_path, good, bad):
    """Run-time ids/indices TFLM fails on: the numpy reference raises and the generated C
    returns an error, while the same C computes good inputs."""
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


# -- EMBEDDING_LOOKUP --------------------------------------------------------------------------

def _table(shape, seed=0, scale=0.05, zp=0):
    rng = np.random.default_rng(seed)
    return const("table", rng.integers(-128, 128, shape).astype(np.int8), scale, zp)


@pytest.mark.parametrize("rows_shape,ids,zp", [
    ((5, 3), [4, 0, 0, 2], -128),       # repeated id, first and last rows
    ((7, 2, 3), [6, 1], 127),           # rank-3 table: rows of 6 bytes
    ((1, 1), [0, 0, 0], 0),             # one-element table
    ((4, 9), [3], 5),                   # one lookup, odd row
])
def test_embedding_lookup_int8(tmp_path, rows_shape, ids, zp):
    ids = i32(ids)
    g = single_op(Op.EMBEDDING_LOOKUP, [Tensor("ids", ids.shape, "int32"), _table(rows_shape, zp=zp)],
                  [act("y", (ids.size,) + rows_shape[1:], 0.05, zp)])
    # random int32 ids are almost all out of range: give valid ones only
    rng = np.random.default_rng(1)
    cases = [[ids]] + [[rng.integers(0, rows_shape[0], ids.shape).astype(np.int32)] for _ in range(3)]
    assert_exact(g, tmp_path, samples=0, inputs=cases)


def test_embedding_lookup_constant_ids_other_output_quantization(tmp_path):
    # constant ids; TFLM copies bytes whatever the output's quantization. A second op feeds the
    # model an input.
    tab = _table((6, 4), seed=3, scale=0.1, zp=-128)
    g = Graph("emb_const", {t.name: t for t in [
        const("ids", i32([5, 2, 2])), tab, act("e", (3, 4), 0.7, 127), act("x", (3, 4), 0.7, 127),
        act("y", (3, 4), 0.7, 127)]},
        [Node(Op.EMBEDDING_LOOKUP, ("ids", "table"), ("e",)),
         Node(Op.MAXIMUM, ("e", "x"), ("y",))], ["x"], ["y"])
    assert_exact(g, tmp_path, samples=3)


@pytest.mark.parametrize("scale", [0.37, 1e-3, 3.0e5])
def test_embedding_lookup_hybrid_float_output(tmp_path, scale):
    ids = i32([3, 0, 1, 3])
    g = single_op(Op.EMBEDDING_LOOKUP, [Tensor("ids", (4,), "int32"), _table((4, 2, 3), seed=2, scale=scale)],
                  [Tensor("y", (4, 2, 3), "float32")])
    assert_exact(g, tmp_path, samples=0, inputs=[[ids], [i32([2, 2, 1, 0])]])


def test_embedding_lookup_out_of_range_ids_fail_like_tflm(tmp_path):
    g = single_op(Op.EMBEDDING_LOOKUP, [Tensor("ids", (2,), "int32"), _table((4, 3))], [act("y", (2, 3))])
    runtime_errors(g, tmp_path, [i32([3, 0])], [[i32([4, 0])], [i32([0, -1])]])


@pytest.mark.parametrize("case,match", [
    ("float_table", "float32 table is a float model"),
    ("ids_2d", "1-D int32"),
    ("ids_int64", "1-D int32"),
    ("table_1d", "rank 2 or more"),
    ("shape", "gives"),
    ("hybrid_zp", "zero point 3"),
    ("hybrid_per_axis", "3 scales"),
    ("const_id", "outside [0, 4)"),
    ("int16_out", "int8 or float32"),
])
def test_embedding_lookup_refusals(tmp_path, case, match):
    ids, tab, y = Tensor("ids", (2,), "int32"), _table((4, 3)), act("y", (2, 3))
    if case == "float_table":
        tab, y = const("table", np.zeros((4, 3), np.float32)), Tensor("y", (2, 3), "float32")
    elif case == "ids_2d":
        ids, y = Tensor("ids", (2, 1), "int32"), act("y", (2, 3))
    elif case == "ids_int64":
        ids = Tensor("ids", (2,), "int64")
    elif case == "table_1d":
        tab, y = _table((4,)), act("y", (2,))
    elif case == "shape":
        y = act("y", (3, 3))
    elif case == "hybrid_zp":
        tab, y = _table((4, 3), zp=3), Tensor("y", (2, 3), "float32")
    elif case == "hybrid_per_axis":
        tab = const("table", np.zeros((4, 3), np.int8), [0.1, 0.2, 0.3], [0, 0, 0], axis=1)
        y = Tensor("y", (2, 3), "float32")
    elif case == "const_id":
        ids = const("ids", i32([1, 4]))
        g = Graph("emb", {t.name: t for t in [ids, tab, act("y", (2, 3)), act("x", (2, 3)), act("z", (2, 3))]},
                  [Node(Op.EMBEDDING_LOOKUP, ("ids", "table"), ("y",)), Node(Op.MAXIMUM, ("y", "x"), ("z",))],
                  ["x"], ["z"])
        assert match in prepare_error(g, tmp_path)
        return
    elif case == "int16_out":
        y = act("y", (2, 3), dtype="int16")
    g = single_op(Op.EMBEDDING_LOOKUP, [ids, tab], [y])
    assert match in prepare_error(g, tmp_path)


# -- FILL ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype,shape,dims_dtype", [
    ("int8", (2, 3), "int32"),
    ("int8", (1, 5, 1, 3), "int64"),
    ("int8", (7,), "int8"),
    ("int32", (3, 2), "int32"),
    ("int32", (4,), "int16"),
])
def test_fill_runtime_value(tmp_path, dtype, shape, dims_dtype):
    value = act("v", (), 0.1, -128, dtype) if dtype == "int8" else Tensor("v", (), dtype)
    y = act("y", shape, 0.1, -128, dtype) if dtype == "int8" else Tensor("y", shape, dtype)
    g = single_op(Op.FILL, [const("dims", np.array(shape, dims_dtype)), value], [y])
    info = np.iinfo(dtype)
    assert_exact(g, tmp_path, samples=3, inputs=[[np.array(info.min, dtype)], [np.array(info.max, dtype)]])


def test_fill_constant_value_feeds_another_op(tmp_path):
    # FILL of a constant (a zero-point-127 tensor) as the operand of DYNAMIC_UPDATE_SLICE.
    g = Graph("fill_dus", {t.name: t for t in [
        const("dims", i32([3, 4])), const("v", np.array(127, np.int8), 0.1, 127), act("f", (3, 4), 0.1, 127),
        act("x", (2, 2), 0.1, 127), const("s", i32([1, 1])), act("y", (3, 4), 0.1, 127)]},
        [Node(Op.FILL, ("dims", "v"), ("f",)), Node(Op.DYNAMIC_UPDATE_SLICE, ("f", "x", "s"), ("y",))],
        ["x"], ["y"])
    assert_exact(g, tmp_path, samples=3)


@pytest.mark.parametrize("case,match", [
    ("int16", "int8 or int32 only"),
    ("float", "int8 or int32 only"),
    ("runtime_dims", "computed at run time"),
    ("dims_differ", "differ from output"),
    ("vector_value", "needs a scalar"),
    ("types_differ", "needs one type"),
])
def test_fill_refusals(tmp_path, case, match):
    dims, v, y = const("dims", i32([2, 3])), act("v", ()), act("y", (2, 3))
    if case == "int16":  # TFLM's FillEval fails on int16
        v, y = act("v", (), dtype="int16"), act("y", (2, 3), dtype="int16")
    elif case == "float":
        v, y = Tensor("v", (), "float32"), Tensor("y", (2, 3), "float32")
    elif case == "runtime_dims":
        dims = Tensor("dims", (2,), "int32")
    elif case == "dims_differ":
        dims = const("dims", i32([3, 2]))
    elif case == "vector_value":
        v = act("v", (1,))
    elif case == "types_differ":
        v = Tensor("v", (), "int32")
    g = single_op(Op.FILL, [dims, v], [y])
    assert match in prepare_error(g, tmp_path)


# -- DYNAMIC_UPDATE_SLICE ------------------------------------------------------------------------

def _dus(dtype, shape, ushape, start=None, index_dtype="int32", zp=0):
    mk = (lambda n, s: act(n, s, 0.1, zp, dtype)) if dtype != "int32" else (lambda n, s: Tensor(n, s, dtype))
    s = Tensor("s", (len(shape),), index_dtype) if start is None else const("s", np.array(start, index_dtype))
    return single_op(Op.DYNAMIC_UPDATE_SLICE, [mk("x", shape), mk("u", ushape), s], [mk("y", shape)])


@pytest.mark.parametrize("dtype,shape,ushape,start,zp", [
    ("int8", (3, 4), (2, 2), [1, 1], -128),
    ("int8", (3, 4), (2, 2), [2, -5], 127),            # clamped: 2 -> 1, -5 -> 0
    ("int8", (2, 3, 5), (1, 3, 2), [9, 0, 4], 0),      # clamped to the end
    ("int8", (4, 5), (4, 5), [3, 3], 0),               # the whole operand: TFLM copies the update
    ("int8", (1, 2, 1, 3, 1, 2), (1, 1, 1, 2, 1, 1), [0, 1, 0, 1, 0, 1], 3),  # rank 6
    ("int16", (5, 3), (2, 3), [4, 0], 0),
    ("int16", (7,), (3,), [-2], 0),
    ("int32", (3, 3), (1, 2), [1, 2], 0),
])
def test_dynamic_update_slice_constant_start(tmp_path, dtype, shape, ushape, start, zp):
    assert_exact(_dus(dtype, shape, ushape, start, zp=zp), tmp_path, samples=3)


def test_dynamic_update_slice_int64_start(tmp_path):
    g = _dus("int8", (4, 6), (2, 3), [1 << 40, -(1 << 40)], index_dtype="int64")
    assert_exact(g, tmp_path, samples=2)


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32"])
def test_dynamic_update_slice_runtime_start(tmp_path, dtype):
    # start indices computed at run time: small ones, and the full int32 range (clamped)
    g = _dus(dtype, (3, 5), (2, 3))
    info = np.iinfo(dtype)
    rng = np.random.default_rng(2)
    cases = [[rng.integers(info.min, info.max + 1, (3, 5)).astype(dtype),
              rng.integers(info.min, info.max + 1, (2, 3)).astype(dtype), i32(s)]
             for s in ([0, 0], [1, 2], [2, 3], [-1, 7], [1, 1])]
    assert_exact(g, tmp_path, samples=3, inputs=cases)


@pytest.mark.parametrize("case,match", [
    ("float", "on int8 or int16 or int32 only"),
    ("types_differ", "needs one type"),
    ("update_larger", "larger than"),
    ("rank_differs", "one rank"),
    ("start_int16", "int32 or int64 of shape [2]"),
    ("start_short", "int32 or int64 of shape [2]"),
    ("output_shape", "differs from"),
])
def test_dynamic_update_slice_refusals(tmp_path, case, match):
    x, u, s, y = act("x", (3, 4)), act("u", (2, 2)), Tensor("s", (2,), "int32"), act("y", (3, 4))
    if case == "float":
        x, u, y = (Tensor(t.name, t.shape, "float32") for t in (x, u, y))
    elif case == "types_differ":
        u = act("u", (2, 2), dtype="int16")
    elif case == "update_larger":
        u = act("u", (4, 2))
    elif case == "rank_differs":
        u = act("u", (2,))
    elif case == "start_int16":
        s = Tensor("s", (2,), "int16")
    elif case == "start_short":
        s = Tensor("s", (1,), "int32")
    elif case == "output_shape":
        y = act("y", (4, 3))
    g = single_op(Op.DYNAMIC_UPDATE_SLICE, [x, u, s], [y])
    assert match in prepare_error(g, tmp_path)


# -- SHAPE and BROADCAST_ARGS (computed while compiling) -----------------------------------------

@pytest.mark.parametrize("dtype,shape", [("int8", (1, 5, 3)), ("int16", (7,)), ("int8", (2, 1, 3, 1, 4, 2))])
def test_shape(tmp_path, dtype, shape):
    g = single_op(Op.SHAPE, [act("x", shape, dtype=dtype)], [Tensor("y", (len(shape),), "int32")],
                  dict(out_type="int32"))
    assert_exact(g, tmp_path, samples=2)


@pytest.mark.parametrize("a,b,n,dtype", [
    ([2, 1, 3], [4, 1], 3, "int32"),
    ([5], [3, 1, 1], 3, "int32"),
    ([1, 6], [7, 1], 2, "int64"),
    ([2, 3], [3], 4, "int32"),       # an output longer than both: TFLM pads with 1
])
def test_broadcast_args_of_shape_and_constant(tmp_path, a, b, n, dtype):
    # SHAPE(x) then BROADCAST_ARGS(shape, constant): both known while compiling
    x = act("x", tuple(a))
    if dtype == "int64":  # SHAPE writes int32 only: use two constants
        ins = [const("a", np.array(a, dtype)), const("b", np.array(b, dtype))]
        g = Graph("bargs", {t.name: t for t in ins + [x, Tensor("y", (n,), dtype), act("z", tuple(a))]},
                  [Node(Op.BROADCAST_ARGS, ("a", "b"), ("y",)), Node(Op.RELU, ("x",), ("z",))],
                  ["x"], ["y", "z"])
    else:
        g = Graph("bargs", {t.name: t for t in [x, Tensor("s", (len(a),), "int32"), const("b", i32(b)),
                                                Tensor("y", (n,), dtype)]},
                  [Node(Op.SHAPE, ("x",), ("s",), dict(out_type="int32")),
                   Node(Op.BROADCAST_ARGS, ("s", "b"), ("y",))], ["x"], ["y"])
    assert_exact(g, tmp_path, samples=2)


@pytest.mark.parametrize("case,match", [
    ("runtime", "computed at run time"),
    ("incompatible", "do not broadcast"),
    ("types_differ", "needs one type"),
    ("shape_int64", "int32 only"),
])
def test_shape_and_broadcast_args_refusals(tmp_path, case, match):
    if case == "shape_int64":
        g = single_op(Op.SHAPE, [act("x", (2, 3))], [Tensor("y", (2,), "int64")], dict(out_type="int64"))
    else:
        a = Tensor("a", (2,), "int32") if case == "runtime" else const("a", i32([2, 3]))
        b = const("b", i32([4, 3] if case == "incompatible" else [1, 3]))
        y = Tensor("y", (2,), "int64" if case == "types_differ" else "int32")
        g = single_op(Op.BROADCAST_ARGS, [a, b], [y], graph_inputs=["a"] if case == "runtime" else None)
        if case != "runtime":
            x = act("x", (2,))
            g.tensors["x"] = x
            g.tensors["z"] = act("z", (2,))
            g.nodes.append(Node(Op.RELU, ("x",), ("z",)))
            g.inputs, g.outputs = ["x"], ["y", "z"]
    assert match in prepare_error(g, tmp_path)


# -- int16 through the existing *_s16 copy kernels (ops/movement.py) ------------------------------

def a16(name, shape):
    return act(name, shape, 0.001, 0, "int16")


def extremes16(shape):
    """Both int16 limits in every input (a byte-order or width slip shows up)."""
    x = np.random.default_rng(5).integers(-32768, 32768, shape).astype(np.int16)
    x.reshape(-1)[0], x.reshape(-1)[-1] = -32768, 32767
    return x


@pytest.mark.parametrize("shape,begin,size", [((2, 5, 3), [1, 1, 0], [1, -1, 3]), ((9,), [3], [5])])
def test_slice_int16(tmp_path, shape, begin, size):
    oshape = tuple(d - b if n == -1 else n for d, b, n in zip(shape, begin, size))
    g = single_op(Op.SLICE, [a16("x", shape), const("b", i32(begin)), const("s", i32(size))], [a16("y", oshape)])
    assert_exact(g, tmp_path, samples=2, inputs=[[extremes16(shape)]])


def test_split_int16_lowers_to_int16_slices(tmp_path):
    g = Graph("split16", {t.name: t for t in [const("axis", i32(1)), a16("x", (2, 6)), a16("y0", (2, 3)),
                                               a16("y1", (2, 3))]},
              [Node(Op.SPLIT, ("axis", "x"), ("y0", "y1"), dict(num_splits=2))], ["x"], ["y0", "y1"])
    assert_exact(g, tmp_path, samples=2, inputs=[[extremes16((2, 6))]])


def test_pack_int16(tmp_path):
    g = single_op(Op.PACK, [a16("a", (3, 2)), a16("b", (3, 2))], [a16("y", (3, 2, 2))],
                  dict(values_count=2, axis=2))
    assert_exact(g, tmp_path, samples=2, inputs=[[extremes16((3, 2)), extremes16((3, 2))[::-1].copy()]])


def test_broadcast_to_int16(tmp_path):
    g = single_op(Op.BROADCAST_TO, [a16("x", (3, 1)), const("shape", i32([2, 3, 4]))], [a16("y", (2, 3, 4))])
    assert_exact(g, tmp_path, samples=2, inputs=[[extremes16((3, 1))]])


def test_reverse_int16(tmp_path):
    g = single_op(Op.REVERSE_V2, [a16("x", (2, 3, 5)), const("axis", i32([1, 2]))], [a16("y", (2, 3, 5))])
    assert_exact(g, tmp_path, samples=2, inputs=[[extremes16((2, 3, 5))]])


@pytest.mark.parametrize("shape,axes,keep,in_q,out_q", [
    ((2, 5, 3), [1], False, (0.001, 0), (0.002, 0)),
    ((4, 7), [0, 1], True, (0.0005, 5), (0.02, -3)),   # TFLM's int16 SUM takes zero points
    ((3, 1, 4), [-1], False, (0.01, 0), (0.001, 0)),   # saturates at the int16 limits
])
def test_sum_int16(tmp_path, shape, axes, keep, in_q, out_q):
    out_shape = tuple(1 if d in [a % len(shape) for a in axes] else n for d, n in enumerate(shape)) if keep \
        else tuple(n for d, n in enumerate(shape) if d not in [a % len(shape) for a in axes])
    g = single_op(Op.SUM, [act("x", shape, in_q[0], in_q[1], "int16"), const("axes", i32(axes))],
                  [act("y", out_shape, out_q[0], out_q[1], "int16")], dict(keep_dims=keep))
    assert_exact(g, tmp_path, samples=3, inputs=[[extremes16(shape)]])


def test_sum_int16_refuses_int32_overflow(tmp_path):
    g = single_op(Op.SUM, [act("x", (1 << 15,), 0.001, 0, "int16"), const("axes", i32([0]))],
                  [act("y", (), 0.1, 0, "int16")], dict(keep_dims=False))
    assert "overflows int32" in prepare_error(g, tmp_path)


@pytest.mark.parametrize("size,align,half", [((5, 3), False, False), ((4, 6), True, False), ((3, 7), False, True)])
def test_resize_nearest_int16(tmp_path, size, align, half):
    g = single_op(Op.RESIZE_NEAREST_NEIGHBOR, [a16("x", (1, 2, 3, 3)), const("size", i32(size))],
                  [a16("y", (1, *size, 3))], dict(align_corners=align, half_pixel_centers=half))
    assert_exact(g, tmp_path, samples=2, inputs=[[extremes16((1, 2, 3, 3))]])
