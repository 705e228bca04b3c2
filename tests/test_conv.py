"""CONV_2D and DEPTHWISE_CONV_2D: byte-exact against TFLM on the edge cases of the geometry
(strides, SAME/VALID padding with odd and even kernels, dilation, clipped windows, grouping,
depth multipliers) and of the arithmetic (per-channel and per-tensor weights, zero points at
the int8 limits, saturation, fused activations, no bias)."""
import math

import numpy as np
import pytest

import microlith
from microlith.frontends.tflite import load_tflite
from microlith.ir import MicrolithError, Op
from microlith.ops import impl_for
from microlith.reference import run_reference
from microlith.verify import HostModel, Oracle, random_inputs
from opmodels import act, assert_exact, const, single_op, write


def out_size(n, k, stride, dilation, padding):
    eff = (k - 1) * dilation + 1
    return math.ceil(n / stride) if padding == "SAME" else math.ceil((n - eff + 1) / stride)


def conv_graph(x_shape, out_c, kernel, stride=(1, 1), padding="SAME", dilation=(1, 1),
               activation="NONE", in_zp=0, out_zp=0, per_channel=True, bias=True, groups=1,
               depth_multiplier=None, out_scale=None, seed=0):
    """One CONV_2D (or DEPTHWISE_CONV_2D when depth_multiplier is set) with random weights.

    bias=False writes an absent third input (index -1), bias="omit" a node with two inputs.
    The output scale defaults to one that spreads the outputs over most of the int8 range.
    """
    rng = np.random.default_rng(seed)
    n, h, w, c = x_shape
    k_h, k_w = kernel
    depthwise = depth_multiplier is not None
    if depthwise:
        out_c = c * depth_multiplier
        w_shape, axis, taps = (1, k_h, k_w, out_c), 3, k_h * k_w
    else:
        w_shape, axis, taps = (out_c, k_h, k_w, c // groups), 0, k_h * k_w * c // groups
    in_scale = 0.04
    w_scales = rng.uniform(0.002, 0.02, out_c) if per_channel else np.array([0.01])
    weights = const("w", rng.integers(-127, 128, w_shape), scale=list(w_scales), axis=axis, dtype="int8")
    acc_scale = in_scale * float(np.mean(w_scales))
    b = None
    if bias is True:
        b = const("b", rng.integers(-20 * taps * 64, 20 * taps * 64, out_c),
                  scale=list(in_scale * w_scales), axis=0, dtype="int32")
    if out_scale is None:
        out_scale = acc_scale * 75 * 73 * math.sqrt(taps) / 50
    oh = out_size(h, k_h, stride[0], dilation[0], padding)
    ow = out_size(w, k_w, stride[1], dilation[1], padding)
    x = act("x", x_shape, in_scale, in_zp)
    y = act("y", (n, oh, ow, out_c), out_scale, out_zp)
    attrs = dict(padding=padding, stride_h=stride[0], stride_w=stride[1], dilation_h=dilation[0],
                 dilation_w=dilation[1], activation=activation)
    if depthwise:
        attrs["depth_multiplier"] = depth_multiplier
    op = Op.DEPTHWISE_CONV_2D if depthwise else Op.CONV_2D
    inputs = [x, weights] if bias == "omit" else [x, weights, b]
    return single_op(op, inputs, [y], attrs)


CONV_CASES = {
    # name: (x_shape, out_c, kernel, keyword arguments)
    "3x3_same": ((1, 8, 8, 4), 6, (3, 3), {}),
    "3x3_same_stride2_odd": ((1, 9, 7, 3), 5, (3, 3), dict(stride=(2, 2))),
    "3x3_valid_stride2": ((1, 9, 8, 3), 4, (3, 3), dict(stride=(2, 2), padding="VALID")),
    "unequal_strides_valid": ((1, 9, 10, 2), 3, (3, 2), dict(stride=(1, 3), padding="VALID")),
    "unequal_strides_same": ((1, 7, 9, 3), 4, (3, 3), dict(stride=(3, 2))),
    "even_kernel_same": ((1, 6, 7, 3), 4, (2, 2), {}),
    "even_kernel_same_stride2": ((1, 9, 8, 2), 3, (4, 4), dict(stride=(2, 2))),
    "dilation2_same": ((1, 9, 9, 3), 4, (3, 3), dict(dilation=(2, 2))),
    "dilation_unequal_valid": ((1, 9, 9, 2), 3, (3, 2), dict(dilation=(2, 3), padding="VALID")),
    "dilation_stride_same": ((1, 10, 11, 3), 5, (3, 3), dict(dilation=(2, 2), stride=(2, 1))),
    "window_larger_than_image": ((1, 3, 2, 3), 4, (5, 5), {}),
    "dilated_taps_all_outside": ((1, 2, 2, 2), 3, (3, 3), dict(dilation=(4, 4))),
    "per_tensor": ((1, 6, 6, 5), 7, (3, 3), dict(per_channel=False)),
    "zp_min_max": ((1, 6, 5, 3), 4, (3, 3), dict(in_zp=-128, out_zp=127)),
    "zp_max_min": ((1, 6, 5, 3), 4, (3, 3), dict(in_zp=127, out_zp=-128)),
    "saturation": ((1, 6, 6, 8), 4, (3, 3), dict(out_scale=1e-4, out_zp=3)),
    "relu": ((1, 6, 6, 3), 5, (3, 3), dict(activation="RELU", out_zp=-20)),
    "relu6": ((1, 6, 6, 3), 5, (3, 3), dict(activation="RELU6", out_scale=0.03, out_zp=-128)),
    "relu_n1_to_1": ((1, 5, 5, 2), 3, (3, 3), dict(activation="RELU_N1_TO_1", out_scale=0.01)),
    "image_1x1": ((1, 1, 1, 5), 3, (3, 3), {}),
    "image_1x1_valid_1x1": ((1, 1, 1, 5), 3, (1, 1), dict(padding="VALID")),
    "one_channel_in_out": ((1, 7, 5, 1), 1, (3, 3), {}),
    "kh_ne_kw": ((1, 8, 6, 3), 4, (3, 1), {}),
    "kw_gt_kh": ((1, 5, 9, 2), 3, (1, 5), dict(padding="VALID")),
    "batch3": ((3, 5, 4, 3), 4, (3, 3), dict(stride=(2, 1))),
    "no_bias": ((1, 6, 6, 3), 4, (3, 3), dict(bias=False)),
    "no_bias_two_inputs": ((1, 6, 6, 3), 4, (3, 3), dict(bias="omit", stride=(2, 2))),
    "kws_first_layer": ((1, 49, 10, 1), 8, (10, 4), dict(stride=(2, 2), activation="RELU")),
    # 1x1 fast path: odd pixel and channel counts (the unpaired last row/column), batches.
    "pointwise": ((1, 5, 5, 16), 12, (1, 1), dict(activation="RELU6", out_scale=0.03)),
    "pointwise_odd": ((2, 3, 5, 7), 9, (1, 1), dict(padding="VALID")),
    "pointwise_one_pixel_odd_out": ((1, 1, 1, 6), 5, (1, 1), dict(bias=False)),
    "pointwise_stride2": ((1, 7, 6, 4), 6, (1, 1), dict(stride=(2, 2))),
    "deep_accumulation": ((1, 4, 4, 300), 3, (3, 3), dict(in_zp=-128)),
    # Grouped: C_IN = groups x filter C_IN; groups of 3 output channels (odd, so unpaired).
    "grouped_3": ((1, 6, 5, 6), 9, (3, 3), dict(groups=3)),
    "grouped_2_stride_dilation": ((1, 8, 8, 4), 4, (3, 3), dict(groups=2, stride=(2, 1), dilation=(1, 2))),
}


@pytest.mark.parametrize("name", list(CONV_CASES))
def test_conv2d_exact(tmp_path, name):
    x_shape, out_c, kernel, kw = CONV_CASES[name]
    g = conv_graph(x_shape, out_c, kernel, seed=len(name), **kw)
    assert_exact(g, tmp_path, samples=8)


DEPTHWISE_CASES = {
    # name: (x_shape, kernel, depth multiplier, keyword arguments)
    "3x3_same_c8": ((1, 7, 7, 8), (3, 3), 1, {}),          # the four-channel blocks
    "3x3_same_c11": ((1, 6, 5, 11), (3, 3), 1, {}),        # blocks plus three left over
    "stride2_same": ((1, 9, 8, 4), (3, 3), 1, dict(stride=(2, 2))),
    "stride2_valid_m2": ((1, 9, 9, 3), (3, 3), 2, dict(stride=(2, 2), padding="VALID")),
    "unequal_strides": ((1, 9, 10, 4), (3, 3), 1, dict(stride=(1, 2))),
    "even_kernel_same": ((1, 6, 7, 4), (2, 4), 1, dict(stride=(2, 2))),
    "m2": ((1, 6, 6, 4), (3, 3), 2, {}),
    "m3_odd_channels": ((1, 5, 6, 3), (3, 3), 3, {}),
    "m3_one_channel": ((1, 5, 6, 1), (3, 3), 3, dict(stride=(2, 2))),
    "dilation2": ((1, 9, 9, 4), (3, 3), 1, dict(dilation=(2, 2))),
    "dilation_unequal_valid": ((1, 10, 9, 5), (3, 3), 1, dict(dilation=(3, 2), padding="VALID")),
    "dilated_taps_all_outside": ((1, 2, 3, 4), (3, 3), 1, dict(dilation=(4, 4))),
    "per_tensor": ((1, 6, 6, 8), (3, 3), 1, dict(per_channel=False)),
    "per_tensor_m2": ((1, 6, 6, 3), (3, 3), 2, dict(per_channel=False)),
    "zp_min_max": ((1, 6, 5, 4), (3, 3), 1, dict(in_zp=-128, out_zp=127)),
    "zp_max_min": ((1, 6, 5, 4), (3, 3), 1, dict(in_zp=127, out_zp=-128)),
    "saturation": ((1, 6, 6, 8), (3, 3), 1, dict(out_scale=1e-4)),
    "relu": ((1, 6, 6, 8), (3, 3), 1, dict(activation="RELU", out_zp=-30)),
    "relu6": ((1, 6, 6, 5), (3, 3), 1, dict(activation="RELU6", out_scale=0.03, out_zp=-128)),
    "image_1x1": ((1, 1, 1, 6), (3, 3), 1, {}),
    "one_channel": ((1, 7, 5, 1), (3, 3), 1, {}),
    "kh_ne_kw": ((1, 8, 6, 4), (1, 3), 1, {}),
    "kws_like_10x4": ((1, 25, 5, 8), (10, 4), 1, dict(stride=(2, 2))),
    # TFLM's depthwise Prepare crashes on an absent (-1) bias input, so these omit it.
    "batch2_no_bias": ((2, 5, 4, 6), (3, 3), 1, dict(bias="omit")),
    "batch3_m2_no_bias": ((3, 4, 5, 3), (3, 2), 2, dict(bias="omit", padding="VALID")),
}


@pytest.mark.parametrize("name", list(DEPTHWISE_CASES))
def test_depthwise_conv2d_exact(tmp_path, name):
    x_shape, kernel, mult, kw = DEPTHWISE_CASES[name]
    g = conv_graph(x_shape, None, kernel, depth_multiplier=mult, seed=len(name) + 100, **kw)
    assert_exact(g, tmp_path, samples=8)


def test_filter_zero_point_is_ignored_like_tflm(tmp_path):
    # The int8 spec makes weights symmetric; TFLM's int8 kernels never read the filter zero
    # point, so neither do we.
    g = conv_graph((1, 5, 5, 3), 4, (3, 3), seed=7)
    w = g.tensors["w"]
    g.tensors["w"] = type(w)(w.name, w.shape, w.dtype,
                             type(w.quant)(w.quant.scale, (5,) * len(w.quant.scale), 0), w.data)
    assert_exact(g, tmp_path, samples=4)


def test_depthwise_absent_bias_matches_zero_bias(tmp_path):
    # TFLM cannot load a depthwise conv whose bias input is -1 (its Prepare crashes), but we
    # accept it: check reference and C against TFLM running the same layer with a zero bias.
    g = conv_graph((2, 5, 6, 3), None, (3, 3), depth_multiplier=2, bias=False, stride=(2, 1))
    twin = conv_graph((2, 5, 6, 3), None, (3, 3), depth_multiplier=2, stride=(2, 1))
    b = twin.tensors["b"]
    b.data = np.zeros_like(b.data)
    oracle_path = write(twin, tmp_path, "zero_bias")
    oracle = Oracle(oracle_path.read_bytes(), load_tflite(oracle_path))
    model = load_tflite(write(g, tmp_path, "absent_bias"))
    assert model.nodes[0].inputs[2] is None
    microlith.compile(model, tmp_path / "c", measure=False)
    host = HostModel(tmp_path / "c", model, model.name, tmp_path)
    rng = np.random.default_rng(3)
    for _ in range(4):
        xs = random_inputs(model, rng)
        want = oracle.run(xs)[0].reshape(-1)
        assert np.array_equal(run_reference(model, xs)["y"].reshape(-1), want)
        assert np.array_equal(host.run(xs)[0].reshape(-1), want)


def _prepare(g):
    return impl_for(g.nodes[0].op).prepare(g.nodes[0], g)


def test_rejects_channel_mismatch():
    g = conv_graph((1, 5, 5, 6), 4, (3, 3), groups=2)
    g.tensors["x"].shape = (1, 5, 5, 5)
    with pytest.raises(MicrolithError, match=r"CONV_2D.*input 'x' has 5 channels but filter 'w'"):
        _prepare(g)


def test_rejects_groups_not_dividing_output_channels():
    g = conv_graph((1, 5, 5, 6), 4, (3, 3), groups=3)
    with pytest.raises(MicrolithError, match="multiples of the group count"):
        _prepare(g)


def test_rejects_wrong_output_shape():
    g = conv_graph((1, 5, 5, 3), 4, (3, 3))
    g.tensors["y"].shape = (1, 5, 4, 4)
    with pytest.raises(MicrolithError, match=r"output 'y' has shape \[1, 5, 4, 4\].*\[1, 5, 5, 4\]"):
        _prepare(g)


def test_rejects_float_input():
    g = conv_graph((1, 5, 5, 3), 4, (3, 3))
    g.tensors["x"].dtype, g.tensors["x"].quant = "float32", None
    with pytest.raises(MicrolithError, match="tensor 'x' is float32 without quantization"):
        _prepare(g)


def test_rejects_depth_multiplier_mismatch():
    g = conv_graph((1, 5, 5, 3), None, (3, 3), depth_multiplier=2)
    g.nodes[0].attrs["depth_multiplier"] = 3
    with pytest.raises(MicrolithError, match="DEPTHWISE_CONV_2D.*6 output channels, expected input "
                                             "channels 3 x depth_multiplier 3"):
        _prepare(g)


def test_rejects_per_channel_scales_on_wrong_axis():
    g = conv_graph((1, 5, 5, 4), None, (3, 3), depth_multiplier=1)
    w = g.tensors["w"]
    g.tensors["w"] = type(w)(w.name, w.shape, w.dtype, type(w.quant)(w.quant.scale, w.quant.zero_point, 0),
                             w.data)
    with pytest.raises(MicrolithError, match="4 scales along axis 0; it needs 1 or 4 along axis 3"):
        _prepare(g)


def test_rejects_non_constant_filter():
    g = conv_graph((1, 5, 5, 3), 4, (3, 3))
    g.tensors["w"].data = None
    with pytest.raises(MicrolithError, match="filter 'w' must be constant 4-D int8 with quantization "
                                             r"\(got non-constant int8 \[4, 3, 3, 3\]\)"):
        _prepare(g)


@pytest.mark.parametrize("depthwise", [False, True])
def test_bias_quantized_dimension_is_ignored_like_tflm(tmp_path, depthwise):
    """Converters write a bias's per-channel scales with the weights' quantized_dimension (3 for
    depthwise, also seen on conv): a 1-D tensor has no axis 3, and TFLM ignores the field. Such a
    model runs in TFLM, so it must compile, and byte-exact (issue 9, item 6)."""
    g = conv_graph((1, 6, 6, 8), 8, (3, 3), depth_multiplier=1 if depthwise else None)
    b = g.tensors["b"]
    g.tensors["b"] = type(b)(b.name, b.shape, b.dtype, type(b.quant)(b.quant.scale, b.quant.zero_point, 3), b.data)
    res = assert_exact(g, tmp_path, samples=10)
    assert res["samples"] == 10
