"""Issue 8, item 3: models whose C would be wrong, not build or overflow int32 are refused before
anything is generated (exit 2, one line naming the file, the op and the tensor), and models near
those limits that TFLM runs still compile to byte-exact C.

Each case is a model of the audit's defect classes, written as a .tflite and run through the CLI.
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import microlith
from microlith.ir import Graph, INDEX_LIMIT, MicrolithError, Node, Op, default_limits
from opmodels import act, assert_exact, const, single_op, write

RELU = {}
CONV = dict(padding="SAME", stride_h=1, stride_w=1, dilation_h=1, dilation_w=1, activation="NONE")
POOL = dict(padding="SAME", stride_h=1, stride_w=1, filter_h=2, filter_w=2, activation="NONE")


def _cli_refuses(g: Graph, tmp_path, *needles: str) -> str:
    """Compile through the CLI; demand exit 2 and one stderr line holding every needle."""
    path = write(g, tmp_path, "bad")
    r = subprocess.run([sys.executable, "-m", "microlith.cli", "compile", str(path), "-o", str(tmp_path / "out")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for needle in ("bad.tflite",) + needles:
        assert needle in lines[0], (needle, lines[0])
    assert not (tmp_path / "out" / "src").exists(), "nothing may be generated for a refused model"
    return lines[0]


def _conv(x_shape=(1, 4, 4, 2), k=3, out_scale=0.1, w_scale=0.02, attrs=None, out_hw=None):
    c_in, c_out = x_shape[3], 3
    rng = np.random.default_rng(1)
    w = const("w", rng.integers(-127, 128, (c_out, k, k, c_in)).astype(np.int8), [w_scale] * c_out)
    b = const("b", rng.integers(-500, 500, c_out).astype(np.int32), [0.05 * w_scale] * c_out)
    oh, ow = out_hw or x_shape[1:3]
    return single_op(Op.CONV_2D, [act("x", x_shape, 0.05, 3), w, b],
                     [act("y", (1, oh, ow, c_out), out_scale, -2)], dict(CONV, **(attrs or {})))


def _relu_chain(shape=(1, 8)):
    """x -RELU-> y -RELU-> z."""
    x, y, z = act("x", shape, 0.05, 0), act("y", shape, 0.05, 0), act("z", shape, 0.05, 0)
    nodes = [Node(Op.RELU, ("x",), ("y",), {}), Node(Op.RELU, ("y",), ("z",), {})]
    return Graph("chain", {t.name: t for t in (x, y, z)}, nodes, ["x"], ["z"])


# -- graph structure -------------------------------------------------------------------------

def test_constant_graph_output_is_refused(tmp_path):
    # The audit's case: the call passed the caller's output buffer as the weights pointer.
    g = _conv()
    g.outputs = ["y", "w"]
    _cli_refuses(g, tmp_path, "graph output #1 'w'", "constant")


def test_duplicate_graph_output_is_refused(tmp_path):
    g = _relu_chain()
    g.outputs = ["z", "z"]
    _cli_refuses(g, tmp_path, "'z'", "twice")


def test_output_that_is_an_input_is_refused(tmp_path):
    g = _relu_chain()
    g.outputs = ["z", "x"]
    _cli_refuses(g, tmp_path, "'x'", "both a graph input and graph output")


def test_op_writing_a_graph_input_is_refused(tmp_path):
    g = _relu_chain()
    g.nodes[1] = Node(Op.RELU, ("y",), ("x",), {})
    g.outputs = ["y"]
    _cli_refuses(g, tmp_path, "op #1 RELU", "graph input 'x'")


def test_op_writing_a_constant_is_refused(tmp_path):
    g = _relu_chain()
    g.tensors["c"] = const("c", np.zeros((1, 8), np.int8), 0.05, 0)
    g.nodes.append(Node(Op.RELU, ("y",), ("c",), {}))
    _cli_refuses(g, tmp_path, "op #2 RELU", "constant tensor 'c'")


def test_two_ops_writing_one_tensor_is_refused(tmp_path):
    g = _relu_chain()
    g.nodes[1] = Node(Op.RELU, ("x",), ("y",), {})
    g.outputs = ["y"]
    _cli_refuses(g, tmp_path, "op #1 RELU", "'y'", "op #0 RELU already writes")


# -- zero points and scales --------------------------------------------------------------------

@pytest.mark.parametrize("zp", [128, 255, -129, 1 << 40])
def test_int8_zero_point_out_of_range_is_refused(tmp_path, zp):
    g = _relu_chain()
    g.tensors["y"] = act("y", (1, 8), 0.05, zp)
    _cli_refuses(g, tmp_path, "op #0 RELU", "'y'", f"zero point {zp}", "[-128, 127]")


def test_bad_scales_are_refused_through_the_api(tmp_path):
    # The TFLite reader refuses them itself; an IR graph handed to the API meets the same check.
    for bad in (0.0, float("nan"), 1e-50, 1e39):
        g = _relu_chain()
        g.tensors["y"] = act("y", (1, 8), bad, 0)
        with pytest.raises(MicrolithError, match=r"op #0 RELU: tensor 'y' has quantization scale"):
            microlith.compile(g, tmp_path / "out", measure=False)


# -- requantization shifts ---------------------------------------------------------------------

@pytest.mark.parametrize("out_scale,w_scale,shift", [(1e-30, 0.02, 90), (0.1, 3e38, 127)])
def test_conv_requantization_shift_out_of_range_is_refused(tmp_path, out_scale, w_scale, shift):
    g = _conv(out_scale=out_scale, w_scale=w_scale)
    _cli_refuses(g, tmp_path, "op #0 CONV_2D", "'w'", f"left shift of {shift} bits", "at most 30")


def test_fully_connected_requantization_shift_out_of_range_is_refused(tmp_path):
    w = const("w", np.ones((4, 8), np.int8), 0.02)
    g = single_op(Op.FULLY_CONNECTED, [act("x", (1, 8), 0.05), w, None], [act("y", (1, 4), 1e-30)],
                  dict(activation="NONE", keep_num_dims=False))
    _cli_refuses(g, tmp_path, "op #0 FULLY_CONNECTED", "'w'", "left shift")


def test_mean_requantization_shift_out_of_range_is_refused(tmp_path):
    axis = const("axis", np.array([1, 2], np.int32))
    g = single_op(Op.MEAN, [act("x", (1, 4, 4, 2), 1.0), axis], [act("y", (1, 1, 1, 2), 1e-12)],
                  dict(keep_dims=True))
    _cli_refuses(g, tmp_path, "op #0 MEAN", "'x'", "left shift")


def test_leaky_relu_nan_alpha_is_refused(tmp_path):
    g = single_op(Op.LEAKY_RELU, [act("x", (1, 8), 0.05)], [act("y", (1, 8), 0.05)],
                  dict(alpha=float("nan")))
    _cli_refuses(g, tmp_path, "op #0 LEAKY_RELU", "'x'", "nan")


@pytest.mark.parametrize("activation", ["RELU6", "RELU_N1_TO_1"])
def test_fused_activation_bound_past_int32_is_refused(tmp_path, activation):
    # round(6 / 1e-9) leaves int32: TFLM's CalculateActivationRangeQuantized fails there (and
    # pooling, which ignores that failure, then runs with an unset bound).
    g = single_op(Op.MAX_POOL_2D, [act("x", (1, 4, 4, 2), 1e-10)], [act("y", (1, 4, 4, 2), 1e-10)],
                  dict(POOL, activation=activation))
    _cli_refuses(g, tmp_path, "op #0 MAX_POOL_2D", "output 'y'", f"fused {activation}", "int32")


# -- sizes, indices and windows ----------------------------------------------------------------

def test_huge_tensor_is_refused(tmp_path):
    # The audit's [1, 65536, 65536, 1]: "arena 4,294,967,296 B" and C that computed nothing.
    x = act("x", (1, 65536, 65536, 1), 0.05)
    g = single_op(Op.RELU, [x], [act("y", (1, 65536, 65536, 1), 0.05)])
    _cli_refuses(g, tmp_path, "op #0 RELU", "'x'", "needs 4294967296 bytes of RAM")
    # Raising the RAM limit cannot lift the kernels' int32 indexing.
    with pytest.raises(MicrolithError, match=f"more than the {INDEX_LIMIT} allowed"):
        microlith.compile(g, tmp_path / "api", measure=False, max_arena=INDEX_LIMIT)
    with pytest.raises(MicrolithError, match="max_arena="):
        microlith.compile(g, tmp_path / "api", measure=False, max_arena=INDEX_LIMIT + 1)


def test_dimensions_that_wrap_int64_are_refused(tmp_path):
    big = (1 << 31) - 1
    g = single_op(Op.RELU, [act("x", (big, big, big, big), 0.05)], [act("y", (big, big, big, big), 0.05)])
    with pytest.raises(MicrolithError, match=r"tensor 'x' of shape .* needs \d{30,} bytes"):
        microlith.compile(g, tmp_path / "out", measure=False)


def test_arena_limit_is_the_largest_target_and_overridable(tmp_path):
    lim = default_limits()
    assert lim.max_arena >= 786 * 1024 and lim.max_flash >= 2 << 20  # at least the largest board
    n = lim.max_arena + 1
    g = single_op(Op.RELU, [act("x", (1, n), 0.05)], [act("y", (1, n), 0.05)])
    g.nodes.append(Node(Op.RELU, ("y",), ("z",), {}))
    g.tensors["z"] = act("z", (1, n), 0.05)
    g.outputs = ["z"]  # y is an arena tensor now
    _cli_refuses(g, tmp_path, "op #0 RELU", "'x'", "max_arena")
    r = microlith.compile(g, tmp_path / "ok", measure=False, max_arena=2 * n)
    assert r["arena_bytes"] >= n
    # The plan itself is checked too: a and b (1000 bytes each) are both live at the ADD.
    t = {k: act(k, (1, 1000), 0.05) for k in ("x", "a", "b", "y")}
    two = Graph("two", t, [Node(Op.RELU, ("x",), ("a",), {}), Node(Op.RELU, ("x",), ("b",), {}),
                           Node(Op.ADD, ("a", "b"), ("y",), dict(activation="NONE"))], ["x"], ["y"])
    assert microlith.compile(two, tmp_path / "two", measure=False)["arena_bytes"] >= 2000
    with pytest.raises(MicrolithError, match="memory plan needs an arena of 2000 bytes"):
        microlith.compile(two, tmp_path / "small", measure=False, max_arena=1500)
    # Constants against the flash limit.
    with pytest.raises(MicrolithError, match="constants take"):
        microlith.compile(_conv(), tmp_path / "flash", measure=False, max_flash=16)


# TFLM keeps conv strides and dilations, and every padding, in int16_t (ConvParams,
# PaddingValues): past 32767 its own result wraps, so such models are refused, and everything
# up to that limit compiles byte-exact (the tests further down sit exactly on it).

@pytest.mark.parametrize("dilation", [1 << 15, 1 << 30])
def test_huge_dilation_is_refused(tmp_path, dilation):
    g = _conv(attrs=dict(dilation_h=dilation, dilation_w=1))
    _cli_refuses(g, tmp_path, "op #0 CONV_2D", f"dilation_h={dilation}", "int16")


def test_dilation_whose_padding_overflows_int16_is_refused(tmp_path):
    g = _conv(x_shape=(1, 5, 5, 2), attrs=dict(dilation_h=1 << 14, dilation_w=1), k=5)  # pad 32768
    _cli_refuses(g, tmp_path, "op #0 CONV_2D", "input 'x' height 5", "32768 positions of padding", "int16")


@pytest.mark.parametrize("window", [65537, 1 << 30])
def test_huge_pooling_window_is_refused(tmp_path, window):
    g = single_op(Op.AVERAGE_POOL_2D, [act("x", (1, 5, 4, 2), 0.05)], [act("y", (1, 5, 4, 2), 0.05)],
                  dict(POOL, filter_h=window, filter_w=2))
    _cli_refuses(g, tmp_path, "op #0 AVERAGE_POOL_2D", "input 'x' height 5", "padding", "int16")


def test_zero_stride_pool_is_refused(tmp_path):
    g = single_op(Op.MAX_POOL_2D, [act("x", (1, 4, 4, 2), 0.05)], [act("y", (1, 4, 4, 2), 0.05)],
                  dict(POOL, stride_h=0))
    _cli_refuses(g, tmp_path, "op #0 MAX_POOL_2D", "stride_h=0")


# -- what TFLM runs near those limits still compiles, byte-exact --------------------------------

def _exact_and_sanitized(g: Graph, tmp_path) -> None:
    """Byte-exact with TFLM (numpy reference and C), then the C again under ASan + UBSan on
    extreme inputs: an int32 overflow in the kernels' index arithmetic stops that run."""
    assert_exact(g, tmp_path, samples=5)
    import test_sanitizers as san
    if san._why_not is not None:
        pytest.skip(san._why_not)
    san.check_sanitized(write(g, tmp_path, "san"), tmp_path / "san", tmp_path / "objs", n_random=1)


def test_large_dilation_within_limits_is_exact(tmp_path):
    # Only the centre tap of each window lands in the 5x5 input; the rest is padding, 32767
    # rows of it above (TFLM's int16 limit).
    g = _conv(x_shape=(1, 5, 5, 2), attrs=dict(dilation_h=32767, dilation_w=3))
    _exact_and_sanitized(g, tmp_path)


def test_large_pooling_window_within_limits_is_exact(tmp_path):
    g = single_op(Op.AVERAGE_POOL_2D, [act("x", (1, 5, 6, 3), 0.05, -3)], [act("y", (1, 5, 6, 3), 0.05, -3)],
                  dict(POOL, filter_h=65536, filter_w=7))  # 32767 rows of padding above
    _exact_and_sanitized(g, tmp_path)


def test_strided_slice_with_a_huge_stride_is_exact(tmp_path):
    # A stride of 2^30 on an axis that keeps one element: the kernel's stride x row step must
    # not overflow int32.
    x = act("x", (4, 8, 3), 0.05, 1)
    g = single_op(Op.STRIDED_SLICE, [x, const("begin", np.array([1, 0, 0], np.int32)),
                                     const("end", np.array([4, 8, 3], np.int32)),
                                     const("strides", np.array([1 << 30, 3, 1], np.int32))],
                  [act("y", (1, 3, 3), 0.05, 1)],
                  dict(begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=0,
                       offset=False))
    _exact_and_sanitized(g, tmp_path)


def test_pool_with_a_huge_stride_is_exact(tmp_path):
    # One output per axis: TFLM never applies the stride of 2^30, and neither may the C.
    g = single_op(Op.MAX_POOL_2D, [act("x", (1, 4, 5, 2), 0.05)], [act("y", (1, 1, 1, 2), 0.05)],
                  dict(POOL, padding="VALID", filter_h=4, filter_w=5, stride_h=1 << 30, stride_w=1 << 30))
    _exact_and_sanitized(g, tmp_path)
