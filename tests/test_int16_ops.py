"""int16 (16x8) single-op models against TFLM, byte for byte: saturation at -32768/32767
(inputs that hold both limits, or every int16 value), per-channel and per-tensor weights,
int64, int32 and no bias, odd sizes, broadcasting, zero points where TFLM's int16 kernel takes
them."""
import numpy as np
import pytest
from opmodels import act, assert_exact, const, single_op
from test_int16 import I16_MAX, I16_MIN, a16, extremes, f32

from microlith.ir import Node, Op

EVERY_INT16 = np.arange(I16_MIN, I16_MAX + 1, dtype=np.int16).reshape(256, 256)


# -- FULLY_CONNECTED -------------------------------------------------------------------------

@pytest.mark.parametrize("batches,depth,units,per_channel,bias,act_fn", [
    (1, 16, 8, True, "int64", "NONE"),
    (3, 33, 7, False, "int64", "RELU"),     # per-tensor weights, odd sizes, batches
    (2, 9, 5, True, "int32", "RELU6"),      # int32 bias: TFLM sums in int32
    (1, 1, 3, False, None, "NONE"),         # depth 1, no bias
])
def test_fully_connected(tmp_path, batches, depth, units, per_channel, bias, act_fn):
    rng = np.random.default_rng(depth * 7 + units)
    scales = [0.004 * (k + 1) for k in range(units)] if per_channel else 0.01
    w = const("w", rng.integers(-127, 128, (units, depth)), scale=scales, dtype="int8")
    b = const("b", rng.integers(-200000, 200000, units), scale=[1e-6] * units, dtype=bias) if bias else None
    g = single_op(Op.FULLY_CONNECTED, [a16("x", (batches, depth), 0.0005), w, b],
                  [a16("y", (batches, units), 0.002)], dict(activation=act_fn, keep_num_dims=False))
    assert_exact(g, tmp_path, samples=4, inputs=[[extremes((batches, depth))]])


def test_fully_connected_applies_a_per_tensor_weight_zero_point(tmp_path):
    # TFLM's per-tensor FullyConnected adds the weights' offset (its per-channel one ignores it).
    rng = np.random.default_rng(4)
    w = const("w", rng.integers(-127, 128, (5, 7)), scale=0.01, zp=3, dtype="int8")
    b = const("b", rng.integers(-1000, 1000, (5,)), scale=1e-5, dtype="int64")
    g = single_op(Op.FULLY_CONNECTED, [a16("x", (2, 7), 0.002), w, b], [a16("y", (2, 5), 0.01)],
                  dict(activation="NONE", keep_num_dims=False))
    assert_exact(g, tmp_path, samples=3, inputs=[[extremes((2, 7))]])


def test_fully_connected_saturates(tmp_path):
    # A tiny output scale sends most outputs to -32768 or 32767.
    rng = np.random.default_rng(3)
    w = const("w", rng.integers(-127, 128, (6, 20)), scale=0.05, dtype="int8")
    g = single_op(Op.FULLY_CONNECTED, [a16("x", (1, 20), 0.01), w, None], [a16("y", (1, 6), 1e-5)],
                  dict(activation="NONE", keep_num_dims=False))
    assert_exact(g, tmp_path, samples=3, inputs=[[extremes((1, 20))]])


# -- CONV_2D / DEPTHWISE_CONV_2D -------------------------------------------------------------

@pytest.mark.parametrize("shape,out_c,kernel,groups,padding,strides,dilations,bias", [
    ((1, 5, 6, 3), 4, (3, 3), 1, "SAME", (2, 1), (1, 2), "int64"),
    ((2, 4, 5, 4), 6, (2, 3), 2, "VALID", (1, 2), (1, 1), "int64"),   # grouped, 2 batches
    ((1, 1, 7, 5), 3, (1, 3), 1, "SAME", (1, 1), (1, 1), "int32"),    # 1-D, int32 bias
    ((1, 3, 3, 1), 1, (3, 3), 1, "VALID", (1, 1), (1, 1), None),      # one output, no bias
])
def test_conv2d(tmp_path, shape, out_c, kernel, groups, padding, strides, dilations, bias):
    rng = np.random.default_rng(out_c * 13 + groups)
    w = const("w", rng.integers(-127, 128, (out_c, *kernel, shape[3] // groups)),
              scale=[0.003 * (k + 1) for k in range(out_c)], dtype="int8")
    b = const("b", rng.integers(-10 ** 6, 10 ** 6, out_c), scale=[1e-6] * out_c, dtype=bias) if bias else None
    attrs = dict(padding=padding, stride_h=strides[0], stride_w=strides[1], dilation_h=dilations[0],
                 dilation_w=dilations[1], activation="RELU" if bias == "int32" else "NONE")
    out_hw = [(n + s - 1) // s if padding == "SAME" else (n - ((k - 1) * d + 1) + s) // s
              for n, k, s, d in zip(shape[1:3], kernel, strides, dilations)]
    g = single_op(Op.CONV_2D, [a16("x", shape, 0.0004), w, b], [a16("y", (shape[0], *out_hw, out_c), 0.003)],
                  attrs)
    assert_exact(g, tmp_path, samples=4, inputs=[[extremes(shape)]])


@pytest.mark.parametrize("shape,mult,kernel,padding,strides,per_channel,out_scale", [
    ((1, 5, 6, 3), 2, (3, 3), "SAME", (1, 2), True, 0.002),
    ((2, 4, 4, 5), 1, (2, 2), "VALID", (2, 1), False, 0.002),
    ((1, 3, 3, 2), 1, (3, 3), "SAME", (1, 1), True, 1e-6),   # saturates
])
def test_depthwise_conv2d(tmp_path, shape, mult, kernel, padding, strides, per_channel, out_scale):
    rng = np.random.default_rng(mult + shape[3])
    out_c = shape[3] * mult
    scales = [0.002 * (k + 1) for k in range(out_c)] if per_channel else 0.004
    w = const("w", rng.integers(-127, 128, (1, *kernel, out_c)), scale=scales, axis=3, dtype="int8")
    b = const("b", rng.integers(-10 ** 5, 10 ** 5, out_c), scale=[1e-6] * out_c, dtype="int64")
    out_hw = [(n + s - 1) // s if padding == "SAME" else (n - k + s) // s
              for n, k, s in zip(shape[1:3], kernel, strides)]
    attrs = dict(padding=padding, stride_h=strides[0], stride_w=strides[1], dilation_h=1, dilation_w=1,
                 activation="NONE", depth_multiplier=mult)
    g = single_op(Op.DEPTHWISE_CONV_2D, [a16("x", shape, 0.0005), w, b],
                  [a16("y", (shape[0], *out_hw, out_c), out_scale)], attrs)
    assert_exact(g, tmp_path, samples=4, inputs=[[extremes(shape)]])


# -- ADD / SUB / MUL -------------------------------------------------------------------------

BINARY_CASES = [
    ((1, 4, 4, 3), (1, 4, 4, 3), (0.0006, 0.0004, 0.0008), (0, 0, 0), "NONE"),
    ((2, 3, 5), (5,), (0.0003, 0.002, 0.0009), (0, 0, 0), "RELU6"),   # broadcast, lower rank
    ((4, 1), (1, 5), (0.001, 0.001, 0.00001), (0, 0, 0), "NONE"),     # saturates
]
# TFLM's int16 ADD and SUB take any zero points (its MUL requires 0).
ZERO_POINT_CASE = ((3, 3), (3, 3), (0.0005, 0.0007, 0.001), (100, -7, 5), "RELU")


@pytest.mark.parametrize("op,shape1,shape2,scales,zps,activation",
                         [(op, *c) for op in (Op.ADD, Op.SUB, Op.MUL) for c in BINARY_CASES] +
                         [(op, *ZERO_POINT_CASE) for op in (Op.ADD, Op.SUB)])
def test_binary(tmp_path, op, shape1, shape2, scales, zps, activation):
    out = np.broadcast_shapes(shape1, shape2)
    g = single_op(op, [a16("a", shape1, scales[0], zps[0]), a16("b", shape2, scales[1], zps[1])],
                  [a16("y", out, scales[2], zps[2])], dict(activation=activation))
    assert_exact(g, tmp_path, samples=3, inputs=[[extremes(shape1, 1), extremes(shape2, 2)]])


# -- LEAKY_RELU, QUANTIZE --------------------------------------------------------------------

@pytest.mark.parametrize("alpha,si,so", [
    (0.3, 0.005836874712258577, 0.0046422905288636684),  # seanet's scales: float vs double ratios differ
    (-0.5, 0.0006, 0.0004),
    (3.0, 0.001, 0.0005),
])
def test_leaky_relu_every_int16(tmp_path, alpha, si, so):
    g = single_op(Op.LEAKY_RELU, [a16("x", (256, 256), si)], [a16("y", (256, 256), so)], dict(alpha=alpha))
    assert_exact(g, tmp_path, samples=0, inputs=[[EVERY_INT16]])


@pytest.mark.parametrize("src,dst,si,zi,so,zo", [
    ("int16", "int8", 0.0005, 0, 0.03, -3),
    ("int8", "int16", 0.02, 5, 0.0001, 0),
    ("int16", "int16", 0.0005, 0, 0.0002, 0),   # scale up: saturates
    ("int16", "int32", 0.0005, 0, 1.5e-7, 0),
    ("int32", "int16", 1.5e-7, 0, 0.0009, 0),
    ("int32", "int8", 1e-6, 0, 0.05, 9),
])
def test_quantize_requantize(tmp_path, src, dst, si, zi, so, zo):
    g = single_op(Op.QUANTIZE, [act("x", (4, 9), si, zi, src)], [act("y", (4, 9), so, zo, dst)])
    assert_exact(g, tmp_path, samples=4)


def test_quantize_float_to_int16(tmp_path):
    g = single_op(Op.QUANTIZE, [f32("x", (3, 5))], [a16("y", (3, 5), 0.0001)])
    assert_exact(g, tmp_path, samples=4)


# -- PAD / STRIDED_SLICE ---------------------------------------------------------------------

@pytest.mark.parametrize("zp", [0, 17])
def test_pad_fills_int16_with_zero(tmp_path, zp):
    # TFLM fills int16 with 0, not with the output zero point (int8 takes the zero point).
    pads = const("p", np.array([[0, 1], [2, 0], [1, 3]], np.int32))
    g = single_op(Op.PAD, [a16("x", (2, 3, 3), 0.001, zp), pads], [a16("y", (3, 5, 7), 0.001, zp)])
    assert_exact(g, tmp_path, samples=2, inputs=[[extremes((2, 3, 3))]])


def test_strided_slice(tmp_path):
    begin, end, strides = (const(n, np.array(v, np.int32)) for n, v in
                           (("b", [0, 1, 4]), ("e", [2, 5, 0]), ("s", [1, 2, -2])))
    attrs = dict(begin_mask=1, end_mask=0, ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=0, offset=False)
    g = single_op(Op.STRIDED_SLICE, [a16("x", (2, 5, 7)), begin, end, strides], [a16("y", (2, 2, 2))], attrs)
    assert_exact(g, tmp_path, samples=2)


# -- CONCATENATION / TRANSPOSE / RESHAPE / DEQUANTIZE ----------------------------------------

def test_concatenation_copies_whatever_the_scales(tmp_path):
    # TFLM requires zero point 0 for int16 and copies without comparing scales (int8 must match).
    g = single_op(Op.CONCATENATION, [a16("a", (2, 3, 1), 0.001), a16("b", (2, 3, 4), 0.004)],
                  [a16("y", (2, 3, 5), 0.002)], dict(axis=-1, activation="NONE"))
    assert_exact(g, tmp_path, samples=2)


def test_transpose(tmp_path):
    perm = const("perm", np.array([2, 0, 1], np.int32))
    g = single_op(Op.TRANSPOSE, [a16("x", (3, 4, 5)), perm], [a16("y", (5, 3, 4))])
    assert_exact(g, tmp_path, samples=2)


def test_reshape_then_dequantize(tmp_path):
    g = single_op(Op.RESHAPE, [a16("x", (2, 6), 0.0007, 3)], [a16("mid", (3, 4), 0.0007, 3)])
    g.tensors["y"] = f32("y", (3, 4))
    g.nodes.append(Node(Op.DEQUANTIZE, ("mid",), ("y",), {}))
    g.outputs[:] = ["y"]
    assert_exact(g, tmp_path, samples=2, inputs=[[extremes((2, 6))]])


# -- AVERAGE_POOL_2D / MAX_POOL_2D -----------------------------------------------------------

@pytest.mark.parametrize("op", (Op.AVERAGE_POOL_2D, Op.MAX_POOL_2D))
@pytest.mark.parametrize("shape,filt,strides,padding,activation,zp", [
    ((1, 5, 7, 3), (3, 2), (2, 2), "SAME", "NONE", 0),
    ((2, 4, 4, 1), (2, 2), (1, 1), "VALID", "RELU6", 0),
    ((1, 3, 5, 2), (3, 3), (1, 2), "SAME", "RELU", -9),   # zero point: TFLM's int16 pools take any
])
def test_pool(tmp_path, op, shape, filt, strides, padding, activation, zp):
    out_hw = [(n + s - 1) // s if padding == "SAME" else (n - f + s) // s
              for n, f, s in zip(shape[1:3], filt, strides)]
    attrs = dict(padding=padding, stride_h=strides[0], stride_w=strides[1], filter_h=filt[0],
                 filter_w=filt[1], activation=activation)
    g = single_op(op, [a16("x", shape, 0.002, zp)], [a16("y", (shape[0], *out_hw, shape[3]), 0.002, zp)], attrs)
    assert_exact(g, tmp_path, samples=3, inputs=[[extremes(shape)]])


# -- LOGISTIC / TANH -------------------------------------------------------------------------

@pytest.mark.parametrize("op", (Op.LOGISTIC, Op.TANH))
@pytest.mark.parametrize("scale", [2.0 ** -12, 2.0 ** -11, 0.0003, 0.002, 1e-6])
def test_sigmoidal_every_int16(tmp_path, op, scale):
    # 2^-12 (and 2^-11 for TANH) take TFLM's power-of-two path, the others its multiplier.
    g = single_op(op, [a16("x", (256, 256), scale)], [a16("y", (256, 256), 1.0 / 32768)])
    assert_exact(g, tmp_path, samples=0, inputs=[[EVERY_INT16]])


def test_sigmoid_table_c_twin_matches():
    import re

    from microlith.arith.sigmoid16 import SIGMOID_TABLE_U16
    from microlith.csrc import kernel_file
    text = kernel_file("ml_sigmoid_table_u16.c").read_text()
    values = [int(v) for v in re.findall(r"(\d+)u", text.split("{", 1)[1])]
    assert values == SIGMOID_TABLE_U16.tolist()


# -- SOFTMAX ---------------------------------------------------------------------------------

@pytest.mark.parametrize("shape,scale,beta", [
    ((4, 10), 0.001, 1.0),
    ((2, 3, 7), 0.0003, 0.5),
    ((1, 1), 0.01, 1.0),          # one value per row: probability 1
    ((3, 300), 0.00005, 2.0),     # long rows, differences mostly inside the table
    ((2, 16), 1.0, 1.0),          # coarse scale: most exps round to the table's floor
])
def test_softmax(tmp_path, shape, scale, beta):
    g = single_op(Op.SOFTMAX, [a16("x", shape, scale)], [a16("y", shape, 1.0 / 32768)], dict(beta=beta))
    assert_exact(g, tmp_path, samples=4, inputs=[[extremes(shape)]])


def test_softmax_every_input_difference(tmp_path):
    # One row holding 32767 and every other value: each difference -65535..0 appears.
    x = EVERY_INT16.reshape(256, 256).copy()
    x[:, -1] = I16_MAX
    g = single_op(Op.SOFTMAX, [a16("x", (256, 256), 0.0002)], [a16("y", (256, 256), 1.0 / 32768)],
                  dict(beta=1.0))
    assert_exact(g, tmp_path, samples=0, inputs=[[x]])


# -- RELU / RELU6 ----------------------------------------------------------------------------

@pytest.mark.parametrize("op,si,so,zp", [
    (Op.RELU, 0.0005, 0.0003, 0),
    (Op.RELU, 0.0002, 0.0009, 0),
    (Op.RELU6, 0.0005, 0.0005, 0),     # six = 12000
    (Op.RELU6, 0.00001, 0.00001, 0),   # six beyond int16: clamped to 32767
    (Op.RELU6, 0.0004, 0.0004, -300),  # TFLM's int16 RELU6 takes a zero point
])
def test_relu_every_int16(tmp_path, op, si, so, zp):
    g = single_op(op, [a16("x", (256, 256), si, zp)], [a16("y", (256, 256), so, zp)])
    assert_exact(g, tmp_path, samples=0, inputs=[[EVERY_INT16]])


# -- MEAN ------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape,axes,out_shape,si,so,zi,zo", [
    ((1, 4, 5, 3), [1, 2], (1, 1, 1, 3), 0.001, 0.001, 0, 0),
    ((2, 3, 7), [-1], (2, 3), 0.0004, 0.0002, 0, 0),     # output scale smaller: saturates
    ((3, 5, 2), [0, 2], (5,), 0.002, 0.003, 11, -4),     # zero points: TFLM's int16 MEAN takes them
])
def test_mean(tmp_path, shape, axes, out_shape, si, so, zi, zo):
    axis = const("axis", np.array(axes, np.int32))
    g = single_op(Op.MEAN, [a16("x", shape, si, zi), axis], [a16("y", out_shape, so, zo)],
                  dict(keep_dims=len(out_shape) == len(shape)))
    assert_exact(g, tmp_path, samples=3, inputs=[[extremes(shape)]])


# -- the Cortex-M DSP dot product (ml_nn_dot_s16_s8) -----------------------------------------

@pytest.mark.cortexm
@pytest.mark.parametrize("depth,zp", [(3, 0), (4, 0), (7, 0), (600, 0), (9, 2)])
def test_fully_connected_dsp_on_cortex_m4(tmp_path, depth, zp):
    # Four-product steps with a tail; 600 products of 127 x 32767 with one sign (about 2.5e9, past
    # int32) exercise the 256-product int32 blocks; a per-tensor weight zero point takes the
    # portable loop. On QEMU against TFLM.
    import shutil

    import microlith
    from microlith.targets import cortexm
    from opmodels import write
    if any(shutil.which(t) is None for t in (cortexm.CC, cortexm.QEMU)):
        pytest.skip("needs arm-none-eabi-gcc and qemu-system-arm")
    rng = np.random.default_rng(depth)
    wdata = rng.integers(-127, 128, (5, depth))
    wdata[0] = np.where(wdata[0] < 0, -127, 127)
    w = const("w", wdata, scale=0.004, zp=zp, dtype="int8")
    b = const("b", rng.integers(-10 ** 6, 10 ** 6, 5), scale=1e-6, dtype="int64")
    g = single_op(Op.FULLY_CONNECTED, [a16("x", (2, depth), 0.0004), w, b], [a16("y", (2, 5), 1.0)],
                  dict(activation="NONE", keep_num_dims=False))
    x = np.stack([np.where(wdata[0] < 0, I16_MIN, I16_MAX), np.where(wdata[0] < 0, I16_MAX, I16_MIN)])
    inputs = tmp_path / "x.npy"
    np.save(inputs, x.astype(np.int16)[None])
    for given in (str(inputs), None):
        res = microlith.verify(str(write(g, tmp_path)), target="cortex-m4", samples=3, inputs=given)
        assert res["bit_exact"], res


@pytest.mark.cortexm
@pytest.mark.parametrize("groups,dilation_w", [(1, 1), (2, 2)])
def test_conv2d_dsp_on_cortex_m4(tmp_path, groups, dilation_w):
    # One dot product per kernel row (no groups, dilation 1), or per tap (grouped, dilated).
    import shutil

    import microlith
    from microlith.targets import cortexm
    from opmodels import write
    if any(shutil.which(t) is None for t in (cortexm.CC, cortexm.QEMU)):
        pytest.skip("needs arm-none-eabi-gcc and qemu-system-arm")
    rng = np.random.default_rng(5)
    w = const("w", rng.integers(-127, 128, (6, 3, 3, 10 // groups)), scale=[0.003] * 6, dtype="int8")
    b = const("b", rng.integers(-10 ** 5, 10 ** 5, 6), scale=[1e-6] * 6, dtype="int64")
    attrs = dict(padding="SAME", stride_h=1, stride_w=2, dilation_h=1, dilation_w=dilation_w, activation="NONE")
    g = single_op(Op.CONV_2D, [a16("x", (1, 5, 6, 10), 0.0004), w, b], [a16("y", (1, 5, 3, 6), 0.01)], attrs)
    res = microlith.verify(str(write(g, tmp_path)), target="cortex-m4", samples=4)
    assert res["bit_exact"], res
