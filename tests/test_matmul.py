"""TRANSPOSE_CONV and BATCH_MATMUL (int8 and 16x8): byte-exact against TFLM on the edge cases of
the geometry (strides 1-3, SAME/VALID, odd and uneven output sizes, outputs no tap reaches,
batches; adjoints, broadcast batch dimensions and constant operands for BATCH_MATMUL) and of the
arithmetic (per-channel and per-tensor weights, zero points at the int8 limits, saturation,
int32 accumulators that wrap, fused activations, absent bias), TFLM's own int16 seanet
TRANSPOSE_CONV models, the float reference the quantizer calibrates with, and one test per
refusal."""
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import microlith
from microlith.frontends.tflite import load_tflite, parse_tflite
from microlith.frontends.tflite_writer import write_tflite
from microlith.ir import MicrolithError, Op, Tensor
from microlith.reference import run_reference
from microlith.reference_float import run_float
from microlith.verify import Oracle, random_inputs
from opmodels import act, assert_exact, const, single_op, write

SEANET = Path(__file__).parent / "data" / "tflm" / "seanet" / "transpose_conv"


def exact_and_spread(g, tmp_path, case):
    """assert_exact, and that the outputs are not mostly pinned at the type's limits (a test
    whose outputs all saturate could not see most arithmetic errors), but in saturation cases."""
    assert_exact(g, tmp_path, samples=4)
    model = load_tflite(write(g, tmp_path))
    rng = np.random.default_rng(1)
    out = np.concatenate([run_reference(model, random_inputs(model, rng))[model.outputs[0]].reshape(-1)
                          for _ in range(2)])
    info = np.iinfo(out.dtype)
    pinned = float(np.mean((out == info.min) | (out == info.max)))
    assert pinned > 0.9 if "saturation" in case else pinned < 0.7, pinned


# -- TRANSPOSE_CONV -------------------------------------------------------------------------

def tconv_out(n, k, stride, padding):
    """The output size TensorFlow gives conv2d_transpose (the input of the forward conv)."""
    return n * stride if padding == "SAME" else (n - 1) * stride + k


def tconv_graph(x_shape, out_c, kernel, stride=(1, 1), padding="SAME", activation="NONE", in_zp=0,
                out_zp=0, per_channel=True, bias=True, out_hw=None, out_scale=None, dtype="int8",
                bias_dtype=None, seed=0):
    """One TRANSPOSE_CONV with random weights. bias=False writes an absent fourth input (index -1),
    bias="omit" a node with three inputs. out_hw overrides the output height and width."""
    rng = np.random.default_rng(seed)
    n, h, w, c = x_shape
    k_h, k_w = kernel
    oh, ow = out_hw or (tconv_out(h, k_h, stride[0], padding), tconv_out(w, k_w, stride[1], padding))
    in_scale = 0.04 if dtype == "int8" else 0.0005
    w_scales = rng.uniform(0.002, 0.02, out_c) if per_channel else np.array([0.01])
    weights = const("w", rng.integers(-127, 128, (out_c, k_h, k_w, c)), scale=list(w_scales), axis=0,
                    dtype="int8")
    # Each output sums about ceil(K / stride) taps per dimension, products of an input (std 74,
    # or 18,900 for int16) and a weight (std 73).
    taps = math.ceil(k_h / stride[0]) * math.ceil(k_w / stride[1]) * c
    top = 128 if dtype == "int8" else 32768
    spread = (74 if dtype == "int8" else 18900) * 73 * math.sqrt(taps)
    b = None
    if bias is True:
        bias_dtype = bias_dtype or ("int32" if dtype == "int8" else "int64")
        limit = min(int(spread), 32767 if bias_dtype == "int16" else 1 << 40)
        b = const("b", rng.integers(-limit, limit, out_c), scale=list(in_scale * w_scales), axis=0,
                  dtype=bias_dtype)
    if out_scale is None:  # +-2.5 standard deviations of the sums (with the bias) fill the range
        out_scale = in_scale * float(np.mean(w_scales)) * 1.2 * spread * 2.5 / top
    shape = np.array([n, oh, ow, out_c], np.int32)
    s = const("out_shape", shape)
    x = act("x", x_shape, in_scale, in_zp, dtype)
    y = act("y", (n, oh, ow, out_c), out_scale, out_zp, dtype)
    attrs = dict(padding=padding, stride_h=stride[0], stride_w=stride[1], activation=activation)
    inputs = [s, weights, x] + ([] if bias == "omit" else [b])
    return single_op(Op.TRANSPOSE_CONV, inputs, [y], attrs)


TCONV_CASES = {
    # name: (x_shape, out_c, kernel, keyword arguments)
    "3x3_same_stride1": ((1, 5, 6, 3), 4, (3, 3), {}),
    "3x3_valid_stride2_bias_absent": ((1, 4, 3, 2), 3, (3, 3), dict(stride=(2, 2), padding="VALID", bias=False)),
    "4x4_same_stride3_per_tensor": ((1, 3, 4, 2), 3, (4, 4), dict(stride=(3, 3), per_channel=False)),
    "2x5_valid_stride3_2": ((1, 3, 3, 3), 2, (2, 5), dict(stride=(3, 2), padding="VALID")),
    "kernel_smaller_than_stride": ((1, 3, 4, 2), 3, (2, 2), dict(stride=(3, 3), padding="VALID")),
    "1x1_stride2_bias_omitted": ((1, 3, 3, 4), 5, (1, 1), dict(stride=(2, 2), bias="omit", in_zp=-128)),
    "1d_height1": ((1, 1, 7, 3), 4, (1, 4), dict(stride=(1, 2))),
    # SAME with an odd output (ceil(out / stride) = in): the padding is uneven.
    "same_odd_output_relu": ((1, 4, 4, 3), 4, (3, 3), dict(stride=(2, 2), out_hw=(7, 7), activation="RELU",
                                                             out_zp=-20)),
    "same_odd_output_stride3": ((1, 3, 3, 2), 3, (5, 4), dict(stride=(3, 3), out_hw=(8, 7))),
    # VALID with extra rows/columns no tap reaches: they hold only bias.
    "valid_unreached_rows": ((1, 3, 3, 2), 3, (3, 3), dict(stride=(2, 2), padding="VALID", out_hw=(8, 8))),
    # Only the first input row/column lands inside the output; the rest scatter past it.
    "huge_stride": ((1, 10, 10, 2), 3, (3, 3), dict(stride=(30000, 30000), padding="VALID", out_hw=(5, 5))),
    "batch2_odd_channels": ((2, 3, 4, 5), 7, (3, 3), dict(stride=(2, 2))),
    "zp_min_max": ((1, 4, 3, 3), 4, (3, 3), dict(stride=(2, 2), in_zp=-128, out_zp=127)),
    "zp_max_min": ((1, 4, 3, 3), 4, (3, 3), dict(stride=(2, 2), in_zp=127, out_zp=-128)),
    "saturation": ((1, 4, 4, 4), 4, (3, 3), dict(stride=(2, 2), out_scale=0.0005)),
    "relu6": ((1, 4, 4, 3), 4, (3, 3), dict(activation="RELU6", out_scale=0.03, out_zp=-100)),
    "relu_n1_to_1": ((1, 4, 4, 3), 4, (3, 3), dict(activation="RELU_N1_TO_1", out_scale=0.01, out_zp=5)),
}


@pytest.mark.parametrize("case", sorted(TCONV_CASES))
def test_transpose_conv_exact(case, tmp_path):
    x_shape, out_c, kernel, kw = TCONV_CASES[case]
    exact_and_spread(tconv_graph(x_shape, out_c, kernel, **kw), tmp_path, case)


def test_transpose_conv_accumulator_wraps_like_tflm(tmp_path):
    """Inputs and weights at their extremes with many channels: the centre output's int32 sum
    passes 2^31 and wraps, and TFLM requantizes the wrapped (negative) value."""
    c = 8000
    assert 9 * c * (127 + 128) * 127 > 2 ** 31  # 3x3 taps reach the centre of a 3x3 output
    weights = const("w", np.full((1, 3, 3, c), 127), scale=[0.01], axis=0, dtype="int8")
    g = single_op(Op.TRANSPOSE_CONV, [const("s", np.array([1, 3, 3, 1], np.int32)), weights,
                                      act("x", (1, 3, 3, c), 0.04, -128), None],
                  [act("y", (1, 3, 3, 1), 2.0, 0)], dict(padding="SAME", stride_h=1, stride_w=1,
                                                         activation="NONE"))
    high = [np.full((1, 3, 3, c), 127, np.int8)]
    assert_exact(g, tmp_path, samples=1, inputs=[high])
    model = load_tflite(write(g, tmp_path))
    out = run_reference(model, high)[model.outputs[0]].reshape(3, 3)
    assert out[1, 1] == -128 and out[0, 0] == 127  # wrapped centre, saturated corner


TCONV16_CASES = {
    "int64_bias_stride2": ((1, 3, 4, 3), 4, (3, 4), dict(stride=(1, 2), padding="VALID")),
    "int16_bias_same": ((1, 3, 3, 2), 3, (3, 3), dict(stride=(2, 2), bias_dtype="int16")),
    "no_bias_stride3": ((1, 2, 3, 3), 2, (4, 4), dict(stride=(3, 3), bias=False)),
    "per_tensor_relu": ((1, 3, 3, 2), 3, (3, 3), dict(per_channel=False, activation="RELU")),
    "saturation": ((1, 3, 3, 4), 3, (3, 3), dict(stride=(2, 2), out_scale=1e-6)),
}


@pytest.mark.parametrize("case", sorted(TCONV16_CASES))
def test_transpose_conv_16x8_exact(case, tmp_path):
    x_shape, out_c, kernel, kw = TCONV16_CASES[case]
    exact_and_spread(tconv_graph(x_shape, out_c, kernel, dtype="int16", **kw), tmp_path, case)


def _seanet_inputs(g, rng, n):
    """TFLM's seanet models take the output shape as a graph input (int32) that TFLM never reads."""
    cases = []
    for _ in range(n):
        xs = []
        for name in g.inputs:
            t = g.t(name)
            if t.dtype == "int32":
                xs.append(np.array(g.t(g.outputs[0]).shape, np.int32))
            else:
                xs.append(rng.integers(-32768, 32768, t.shape).astype(t.np_dtype))
        cases.append(xs)
    return cases


@pytest.mark.parametrize("k", range(5))
def test_seanet_transpose_conv_16x8(k, tmp_path):
    path = SEANET / f"transpose_conv{k}.tflite"
    g = load_tflite(path)
    cases = _seanet_inputs(g, np.random.default_rng(k), 3)
    oracle = Oracle(path.read_bytes(), g)
    try:
        for xs in cases:
            want = oracle.run(xs)[0]
            got = run_reference(g, xs)[g.outputs[0]]
            assert np.asarray(want).astype(np.int16).tobytes() == got.tobytes()
    finally:
        oracle.close()
    given = tmp_path / "inputs.npz"
    np.savez(given, **{name: np.stack([c[i] for c in cases]) for i, name in enumerate(g.inputs)})
    res = microlith.verify(path, samples=0, inputs=str(given))
    assert res["bit_exact"], res


# -- TRANSPOSE_CONV refusals ------------------------------------------------------------------

def _refused(g, tmp_path, match):
    with pytest.raises(MicrolithError, match=match):
        microlith.compile(write(g, tmp_path), tmp_path / "out")


def test_transpose_conv_refuses_disagreeing_output_shape(tmp_path):
    g = tconv_graph((1, 3, 3, 2), 3, (3, 3), stride=(2, 2))
    s = g.tensors["out_shape"]
    s.data = np.array([1, 5, 6, 3], np.int32)
    _refused(g, tmp_path, "output shape 'out_shape' holds .* but output 'y' has shape")


def test_refusal_exits_2_with_one_line(tmp_path):
    """What a user of the command line sees for a refused model: exit status 2, one line naming it."""
    g = tconv_graph((1, 3, 3, 2), 3, (3, 3), stride=(2, 2))
    g.tensors["out_shape"].data = np.array([1, 5, 6, 3], np.int32)
    res = subprocess.run([sys.executable, "-m", "microlith.cli", "compile", str(write(g, tmp_path)), "-o",
                          str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "op #0 TRANSPOSE_CONV" in lines[0] and "must agree" in lines[0], res.stderr


def test_transpose_conv_refuses_nonzero_int16_zero_point(tmp_path):
    _refused(tconv_graph((1, 3, 3, 2), 3, (3, 3), dtype="int16", in_zp=3), tmp_path,
             "zero point 3; TFLM.s 16x8 kernels need int16 activations")


def test_transpose_conv_refuses_int32_bias_with_int16(tmp_path):
    _refused(tconv_graph((1, 3, 3, 2), 3, (3, 3), dtype="int16", bias_dtype="int32"), tmp_path,
             "bias 'b' must be constant int64 or int16")


def test_transpose_conv_refuses_channel_mismatch(tmp_path):
    g = tconv_graph((1, 3, 3, 2), 3, (3, 3))
    w = g.tensors["w"]
    g.tensors["w"] = const("w", w.data[:, :, :, :1].copy(), scale=list(w.quant.scale), axis=0, dtype="int8")
    _refused(g, tmp_path, "do not fit together")


def test_transpose_conv_refuses_valid_output_below_filter(tmp_path):
    _refused(tconv_graph((1, 1, 1, 2), 3, (3, 3), padding="VALID", out_hw=(2, 3)), tmp_path,
             "output height 2 is smaller than the filter height 3")


def test_transpose_conv_refuses_huge_16x8_ratio(tmp_path):
    _refused(tconv_graph((1, 2, 2, 2), 2, (2, 2), dtype="int16", out_scale=1e-9), tmp_path,
             "left shift of .* at most 7")


def test_transpose_conv_refuses_stride_beyond_int16(tmp_path):
    g = tconv_graph((1, 2, 2, 2), 3, (3, 3))
    g.nodes[0].attrs["stride_w"] = 40000
    _refused(g, tmp_path, r"TRANSPOSE_CONV \(output 'y'\): stride_w=40000; it must be in \[1, 32767\]")


def test_transpose_conv_refuses_unquantized_input(tmp_path):
    g = tconv_graph((1, 2, 2, 2), 3, (3, 3))
    g.tensors["x"].quant = None
    _refused(g, tmp_path, "tensor 'x' is int8 without quantization")


def test_transpose_conv_refuses_non_constant_weights(tmp_path):
    g = tconv_graph((1, 2, 2, 2), 3, (3, 3))
    g.tensors["w"] = act("w", (3, 3, 3, 2), 0.01)
    g.inputs.append("w")
    _refused(g, tmp_path, r"weights 'w' must be constant 4-D int8 with quantization \(got non-constant")


def test_transpose_conv_refuses_scales_along_wrong_axis(tmp_path):
    g = tconv_graph((1, 2, 2, 2), 3, (3, 3))
    g.tensors["w"] = const("w", g.tensors["w"].data, scale=[0.01, 0.02], axis=3, dtype="int8")
    _refused(g, tmp_path, "2 scales along axis 3; they need 1 or 3 along axis 0")


def test_transpose_conv_refuses_bad_output_shape_operand(tmp_path):
    g = tconv_graph((1, 2, 2, 2), 3, (3, 3))
    g.tensors["out_shape"] = const("out_shape", np.array([2, 2, 3], np.int32))
    _refused(g, tmp_path, r"output shape 'out_shape' must be 4 int32 values \(got int32 \[3\]\)")


def test_transpose_conv_refuses_padding_beyond_int16(tmp_path):
    """SAME padding of a 65,600-wide filter is about 32,800 columns: TFLM's int16 padding wraps."""
    g = tconv_graph((1, 1, 1, 1), 1, (1, 65600), out_hw=(1, 1), bias=False)
    _refused(g, tmp_path, "width padding 32799 exceeds TFLM's int16 padding values")


def test_transpose_conv_refuses_16x8_accumulator_past_2_47(tmp_path):
    g = tconv_graph((1, 2, 2, 2), 3, (3, 3), dtype="int16")
    b = g.tensors["b"]
    g.tensors["b"] = const("b", np.array([1 << 47, 0, 0], np.int64), scale=list(b.quant.scale), dtype="int64")
    _refused(g, tmp_path, "can make an accumulator reach .*less than 2\\^47")


# -- BATCH_MATMUL ---------------------------------------------------------------------------

def _bmm_out_scale(depth, lhs_zp, rhs_zp, out_zp, lo, hi):
    """An output scale (in accumulator units) under which the sums of random operands, mean
    +- 2.5 standard deviations, fill what the output zero point leaves of the range."""
    var = ((hi - lo) ** 2 - 1) / 12  # uniform integers in [lo, hi)
    ma, mb = (lo + hi - 1) / 2 - lhs_zp, (lo + hi - 1) / 2 - rhs_zp
    mean = depth * ma * mb
    sd = math.sqrt(depth * ((var + ma * ma) * (var + mb * mb) - (ma * mb) ** 2))
    fits = [(mean + 2.5 * sd) / (hi - 1 - out_zp)] if out_zp < hi - 1 else []
    fits += [(mean - 2.5 * sd) / (lo - out_zp)] if out_zp > lo else []
    return max(f for f in fits if f > 0)


def bmm_graph(lhs_shape, rhs_shape, adj_x=False, adj_y=False, lhs_zp=0, rhs_zp=0, out_zp=0,
              rhs_const=False, lhs_const=False, out_scale=None, dtype="int8", seed=0):
    rng = np.random.default_rng(seed)
    ls, rs = tuple(lhs_shape), tuple(rhs_shape)
    rank = max(len(ls), len(rs))
    le, re_ = (1,) * (rank - len(ls)) + ls, (1,) * (rank - len(rs)) + rs
    batch = tuple(max(a, b) for a, b in zip(le[:-2], re_[:-2]))
    rows = le[-1] if adj_x else le[-2]
    depth = le[-2] if adj_x else le[-1]
    cols = re_[-2] if adj_y else re_[-1]
    l_scale, r_scale = 0.05, 0.02
    lo, hi = (-128, 128) if dtype == "int8" else (-32768, 32768)
    if out_scale is None:
        out_scale = _bmm_out_scale(depth, lhs_zp, rhs_zp, out_zp, lo, hi) * l_scale * r_scale
    lhs = const("lhs", rng.integers(lo, hi, ls), scale=l_scale, zp=lhs_zp, dtype=dtype) if lhs_const \
        else act("lhs", ls, l_scale, lhs_zp, dtype)
    rhs = const("rhs", rng.integers(lo, hi, rs), scale=r_scale, zp=rhs_zp, dtype=dtype) if rhs_const \
        else act("rhs", rs, r_scale, rhs_zp, dtype)
    y = act("y", batch + (rows, cols), out_scale, out_zp, dtype)
    return single_op(Op.BATCH_MATMUL, [lhs, rhs], [y], dict(adj_x=adj_x, adj_y=adj_y))


BMM_CASES = {
    "2d": ((3, 5), (5, 4), {}),
    "2d_adj_both": ((5, 3), (4, 5), dict(adj_x=True, adj_y=True)),
    "3d_batches": ((2, 3, 5), (2, 5, 3), {}),
    "broadcast_rhs_rank2": ((3, 2, 4), (4, 5), {}),
    "broadcast_lhs_rank2_adj_y": ((2, 4), (3, 5, 4), dict(adj_y=True)),
    # rhs batch 1 under a longer lhs batch: TFLM folds the lhs batch into the rows.
    "broadcast_rhs_batch1": ((2, 3, 2, 4), (2, 1, 4, 3), {}),
    "broadcast_both_ways": ((2, 1, 3, 4), (1, 3, 4, 2), {}),
    "rank5_mixed": ((2, 1, 2, 3, 4), (1, 3, 1, 2, 4), dict(adj_y=True)),
    "size1_dims": ((1, 1, 5), (1, 5, 1), {}),
    "zp_min_max": ((2, 3, 4), (2, 4, 3), dict(lhs_zp=-128, rhs_zp=127, out_zp=127)),
    "zp_max_max_out_min_adj_x": ((2, 4, 3), (2, 4, 3), dict(lhs_zp=127, rhs_zp=127, out_zp=-128, adj_x=True)),
    "saturation": ((3, 6), (6, 3), dict(out_scale=0.001, lhs_zp=10)),
    "rhs_const": ((2, 3, 5), (5, 4), dict(rhs_const=True, rhs_zp=-7)),
    "rhs_const_adj_y": ((2, 3, 5), (2, 4, 5), dict(rhs_const=True, adj_y=True)),
    "lhs_const_adj_x": ((5, 3), (2, 5, 4), dict(lhs_const=True, adj_x=True, lhs_zp=3)),
}


@pytest.mark.parametrize("case", sorted(BMM_CASES))
def test_batch_matmul_exact(case, tmp_path):
    ls, rs, kw = BMM_CASES[case]
    exact_and_spread(bmm_graph(ls, rs, **kw), tmp_path, case)


def test_batch_matmul_accumulator_wraps_like_tflm(tmp_path):
    """34,000 products of 255 x 255 pass 2^31: TFLM requantizes the wrapped int32 sum."""
    k = 34000
    assert k * 255 * 255 > 2 ** 31
    g = bmm_graph((1, k), (k, 2), lhs_zp=-128, rhs_zp=-128, out_scale=1.0)
    full = [np.full((1, k), 127, np.int8), np.full((k, 2), 127, np.int8)]
    assert_exact(g, tmp_path, samples=1, inputs=[full])
    model = load_tflite(write(g, tmp_path))
    assert (run_reference(model, full)[model.outputs[0]] == -128).all()  # wrapped negative


BMM16_CASES = {
    "2d": ((3, 5), (5, 4), {}),
    "adj_both_broadcast": ((2, 1, 5, 3), (3, 4, 5), dict(adj_x=True, adj_y=True)),
    "rank5_rhs_const": ((2, 1, 2, 3, 4), (1, 3, 1, 4, 2), dict(rhs_const=True)),
    "saturation": ((3, 6), (6, 3), dict(out_scale=1e-4)),
}


@pytest.mark.parametrize("case", sorted(BMM16_CASES))
def test_batch_matmul_16x8_exact(case, tmp_path):
    ls, rs, kw = BMM16_CASES[case]
    exact_and_spread(bmm_graph(ls, rs, dtype="int16", **kw), tmp_path, case)


def test_batch_matmul_refuses_mismatched_depth(tmp_path):
    g = bmm_graph((3, 5), (5, 4))
    g.tensors["rhs"] = act("rhs", (6, 4), 0.02, 0)
    _refused(g, tmp_path, "do not multiply: 5 vs 6")


def test_batch_matmul_refuses_unbroadcastable_batches(tmp_path):
    g = bmm_graph((2, 3, 5), (2, 5, 4))
    g.tensors["rhs"] = act("rhs", (3, 5, 4), 0.02, 0)
    _refused(g, tmp_path, "do not broadcast")


def test_batch_matmul_refuses_wrong_output_shape(tmp_path):
    g = bmm_graph((2, 3, 5), (2, 5, 4))
    g.tensors["y"] = act("y", (6, 4), 0.1, 0)
    _refused(g, tmp_path, r"output 'y' has shape \[6, 4\]; the product is \[2, 3, 4\]")


def test_batch_matmul_refuses_nonzero_int16_zero_point(tmp_path):
    _refused(bmm_graph((3, 5), (5, 4), dtype="int16", rhs_zp=2), tmp_path,
             "tensor 'rhs' is int16 with zero point 2; TFLM's 16x8 kernels need")


def test_batch_matmul_refuses_mixed_int16_int8(tmp_path):
    g = bmm_graph((3, 5), (5, 4), dtype="int16")
    g.tensors["rhs"] = act("rhs", (5, 4), 0.02, 0)
    _refused(g, tmp_path, "tensor 'rhs' is int8 with zero point 0; TFLM's 16x8 kernels need")


def test_batch_matmul_refuses_16x8_depth_past_2_47(tmp_path):
    """131,072 products of 2^30 reach 2^47, past what TFLM's int64 requantization assumes."""
    _refused(bmm_graph((1, 1 << 17), (1 << 17, 1), dtype="int16"), tmp_path,
             "131072 int16 products can sum past 2\\^47")


def test_batch_matmul_refuses_rank_6(tmp_path):
    _refused(bmm_graph((1, 1, 1, 2, 3, 5), (5, 4)), tmp_path, "has rank 6; TFLM's BATCH_MATMUL takes ranks 2 to 5")


def test_macs_count_both_ops(tmp_path):
    """inspect's MACs: every input pixel meets every weight (transposed conv); rows x cols x depth."""
    tconv = microlith.inspect(write(tconv_graph((1, 3, 4, 5), 7, (3, 2), stride=(2, 2)), tmp_path, "t"))
    assert tconv["macs"] == 3 * 4 * 7 * 3 * 2 * 5
    bmm = microlith.inspect(write(bmm_graph((2, 5, 3), (4, 5), adj_x=True, adj_y=True), tmp_path, "b"))
    assert bmm["macs"] == 2 * 3 * 4 * 5


# -- float reference (calibration) ------------------------------------------------------------

def _float_graph(op, inputs, out_shape, attrs):
    y = Tensor("y", tuple(out_shape), "float32")
    return parse_tflite(write_tflite(single_op(op, inputs, [y], attrs)))


FLOAT_CASES = {
    "tconv_same_odd_output": (Op.TRANSPOSE_CONV, (1, 7, 9, 4), (4, 3), dict(padding="SAME", stride_h=2, stride_w=3,
                                                                             activation="NONE")),
    "tconv_valid_relu6": (Op.TRANSPOSE_CONV, (1, 9, 11, 4), (3, 3), dict(padding="VALID", stride_h=3, stride_w=3,
                                                                          activation="RELU6")),
    "bmm_adj_broadcast": (Op.BATCH_MATMUL, None, None, dict(adj_x=True, adj_y=True)),
}


@pytest.mark.parametrize("case", sorted(FLOAT_CASES))
def test_float_reference_matches_tflm(case, tmp_path):
    """The quantizer calibrates with reference_float: it must compute what TFLM's float kernels do."""
    op, out_shape, kernel, attrs = FLOAT_CASES[case]
    rng = np.random.default_rng(len(case))
    if op is Op.TRANSPOSE_CONV:
        w = const("w", rng.normal(0, 1, (out_shape[3], *kernel, 3)).astype(np.float32))
        b = const("b", rng.normal(0, 1, out_shape[3]).astype(np.float32))
        h = -(-out_shape[1] // attrs["stride_h"]) if attrs["padding"] == "SAME" else \
            (out_shape[1] - kernel[0]) // attrs["stride_h"] + 1
        wd = -(-out_shape[2] // attrs["stride_w"]) if attrs["padding"] == "SAME" else \
            (out_shape[2] - kernel[1]) // attrs["stride_w"] + 1
        inputs = [const("s", np.array(out_shape, np.int32)), w, Tensor("x", (1, h, wd, 3), "float32"), b]
    else:
        inputs = [Tensor("x", (2, 1, 5, 3), "float32"), Tensor("z", (3, 4, 5), "float32")]
        out_shape = (2, 3, 3, 4)
    g = _float_graph(op, inputs, out_shape, attrs)
    oracle = Oracle(write(g, tmp_path).read_bytes(), g)
    try:
        for _ in range(2):
            xs = [rng.normal(0, 2, g.t(n).shape).astype(np.float32) for n in g.inputs]
            want = np.asarray(oracle.run(xs)[0]).reshape(-1)
            got = run_float(g, xs)["y"].reshape(-1)
            assert np.allclose(want, got, rtol=1e-4, atol=1e-4), np.max(np.abs(want - got))
    finally:
        oracle.close()
    if op is Op.TRANSPOSE_CONV:  # calibration runs samples stacked along axis 0
        xs = rng.normal(0, 2, (3,) + g.t("x").shape[1:]).astype(np.float32)
        batch = run_float(g, [xs])["y"]
        for k in range(3):
            assert np.allclose(batch[k:k + 1], run_float(g, [xs[k:k + 1]])["y"], rtol=1e-6, atol=1e-6)


# -- on an emulated core ------------------------------------------------------------------------

_NO_ARM = [t for t in ("arm-none-eabi-gcc", "qemu-system-arm") if shutil.which(t) is None]


EMULATED = {
    # The 16x8 kernels multiply and shift int64 values, which a Cortex-M0 does in library calls.
    "m0_tconv16": ("cortex-m0", lambda: tconv_graph((1, 3, 4, 5), 7, (3, 3), stride=(2, 2), dtype="int16")),
    "m0_bmm16": ("cortex-m0", lambda: bmm_graph((2, 3, 5), (2, 4, 5), dtype="int16", adj_y=True)),
    # The DSP paths take four channels a step: 7 and 6 channels also run the scalar tail.
    "m4_tconv8_dsp": ("cortex-m4", lambda: tconv_graph((2, 3, 4, 7), 5, (3, 2), stride=(3, 2), in_zp=-128,
                                                       padding="VALID")),
    "m4_tconv8_dsp_zp127": ("cortex-m4", lambda: tconv_graph((1, 3, 3, 8), 3, (3, 3), stride=(2, 2), in_zp=127)),
    "m4_tconv16_dsp": ("cortex-m4", lambda: tconv_graph((1, 3, 4, 6), 7, (3, 3), stride=(2, 2), dtype="int16")),
    # An activation rhs (copied transposed into scratch, broadcast) and a constant one.
    "m4_bmm8_dsp": ("cortex-m4", lambda: bmm_graph((2, 1, 3, 7), (3, 7, 5), lhs_zp=-128, rhs_zp=127)),
    "m4_bmm8_dsp_const_rhs": ("cortex-m4", lambda: bmm_graph((2, 3, 9), (9, 4), rhs_const=True, lhs_zp=127,
                                                             rhs_zp=-128)),
}


@pytest.mark.skipif(bool(_NO_ARM), reason=f"{' and '.join(_NO_ARM)} not installed")
@pytest.mark.parametrize("case", sorted(EMULATED))
def test_kernels_exact_on_emulated_cores(case, tmp_path):
    target, make = EMULATED[case]
    res = microlith.verify(write(make(), tmp_path, case), target=target, samples=2)
    assert res["bit_exact"], res
