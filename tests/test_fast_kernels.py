"""The Cortex-M DSP-extension paths of the conv, depthwise and fully connected kernels (and
the portable paths beside them), byte-exact against TFLM on emulated cores; and the int8
lookup-table kernel of the unary ops, on the host and on a core.

The DSP code only compiles for cores with __ARM_FEATURE_DSP, so each case is a single-op
model run on QEMU (microlith.verify with a Cortex-M target: one emulator run for all
samples). The cases aim at what the fast paths do differently from the portable C: im2col
blocks of four values (channel counts and depths not multiples of 4, one input channel),
groups of four output pixels (pixel counts leaving 1-3 over), four-channel depthwise groups
with a channel tail, windows the image clips (copied into a zero-point patch), the input
offset folded into the bias, the four-instruction requantization and its fallbacks (shifts
outside [-22, -1], accumulators that may exceed 2^30), the SSAT clamp and narrower ones.
"""
import shutil

import numpy as np
import pytest

import microlith
from microlith.ir import Graph, Node, Op
from microlith.ops import elementwise, impl_for
from microlith.ops.conv import DepthwiseConv2D
from microlith.targets import cortexm
from opmodels import act, assert_exact, const, single_op, write
from test_conv import conv_graph

_missing = [t for t in (cortexm.CC, cortexm.QEMU) if shutil.which(t) is None]


def on_cortexm(fn):
    """Needs arm-none-eabi-gcc and qemu-system-arm."""
    fn = pytest.mark.skipif(bool(_missing), reason=f"{' and '.join(_missing)} not installed")(fn)
    return pytest.mark.cortexm(fn)


def verify_on(g, tmp_path, target="cortex-m4", samples=6, name=None):
    path = write(g, tmp_path, name)
    res = microlith.verify(path, target=target, samples=samples, seed=1)
    assert res["bit_exact"], res
    return res


def params_of(g):
    node = g.nodes[0]
    return impl_for(node.op).prepare(node, g)


CONV_CASES = {
    # name: (x_shape, out_c, kernel, keyword arguments)
    "pw_c64": ((1, 5, 5, 64), 16, (1, 1), dict(in_zp=-128, out_zp=-128)),
    "pw_c7_odd_pixels": ((1, 3, 3, 7), 5, (1, 1), {}),                  # K % 4 = 3, 9 px
    "pw_c1": ((1, 2, 3, 1), 6, (1, 1), {}),                             # K = 1, 6 px
    "pw_c5_batch2": ((2, 3, 3, 5), 3, (1, 1), dict(in_zp=127, out_zp=127)),
    "pw_stride2": ((1, 7, 6, 8), 9, (1, 1), dict(stride=(2, 2))),
    "pw_one_pixel": ((1, 1, 1, 12), 5, (1, 1), {}),
    "kws_first_layer": ((1, 49, 10, 1), 8, (10, 4), dict(stride=(2, 2), in_zp=83)),
    "c3_same": ((1, 7, 6, 3), 8, (3, 3), dict(in_zp=-128)),            # K = 27, staged window
    "c4_same_stride2": ((1, 9, 7, 4), 6, (3, 3), dict(stride=(2, 2))),  # taps on block bounds
    "c16_valid": ((1, 6, 6, 16), 4, (3, 3), dict(padding="VALID", in_zp=-128, out_zp=5)),
    "c8_dilation": ((1, 9, 9, 8), 5, (3, 3), dict(dilation=(2, 2))),
    "c2_dilation_stride": ((1, 10, 11, 2), 3, (3, 3), dict(dilation=(2, 3), stride=(2, 1))),
    "c4_even_kernel": ((1, 6, 7, 4), 5, (2, 4), dict(stride=(2, 2))),
    "window_larger_than_image": ((1, 3, 2, 4), 4, (5, 5), {}),
    "per_tensor": ((1, 5, 5, 6), 7, (3, 3), dict(per_channel=False)),
    "zp_min_max": ((1, 6, 5, 3), 4, (3, 3), dict(in_zp=-128, out_zp=127)),
    "zp_max_min": ((1, 6, 5, 8), 4, (1, 1), dict(in_zp=127, out_zp=-128)),
    "saturation_left_shift": ((1, 6, 6, 8), 4, (3, 3), dict(out_scale=1e-4, out_zp=3)),
    "tiny_scale_shift_below_22": ((1, 5, 5, 8), 4, (1, 1), dict(out_scale=2e3)),
    "relu6_narrow_clamp": ((1, 6, 6, 8), 5, (3, 3), dict(activation="RELU6", out_scale=0.03)),
    "relu_zp": ((1, 5, 4, 12), 6, (1, 1), dict(activation="RELU", out_zp=-20)),
    "no_bias": ((1, 6, 6, 4), 4, (3, 3), dict(bias=False)),
    "no_bias_two_inputs": ((1, 6, 5, 8), 3, (1, 1), dict(bias="omit")),
    "batch3": ((3, 5, 4, 3), 4, (3, 3), dict(stride=(2, 1))),
    "deep_accumulation": ((1, 4, 4, 300), 3, (3, 3), dict(in_zp=-128)),
    "grouped_portable": ((1, 6, 5, 6), 9, (3, 3), dict(groups=3)),
}


@on_cortexm
@pytest.mark.parametrize("name", list(CONV_CASES))
def test_conv2d_dsp_exact(tmp_path, name):
    x_shape, out_c, kernel, kw = CONV_CASES[name]
    verify_on(conv_graph(x_shape, out_c, kernel, seed=len(name), **kw), tmp_path)


def huge_bias(g, value=1 << 30):
    """Biases near 2^30: the generator can no longer bound the accumulators below 2^30."""
    b = g.tensors["b"]
    b.data = np.where(np.arange(b.size) % 2, value, -value).astype(np.int32)
    return g


@on_cortexm
def test_conv2d_unbounded_accumulators(tmp_path):
    # No proven bound: the DSP path checks every accumulator and falls back to the reference
    # requantization for those at or beyond 2^30.
    g = huge_bias(conv_graph((1, 5, 6, 8), 6, (3, 3), seed=3))
    assert params_of(g)["acc_bounded"] == 0
    verify_on(g, tmp_path)


DEPTHWISE_CASES = {
    # name: (x_shape, kernel, depth multiplier, keyword arguments)
    "kws_like": ((1, 25, 5, 64), (3, 3), 1, dict(in_zp=-128, out_zp=-128)),
    "c8_same": ((1, 7, 7, 8), (3, 3), 1, {}),
    "c11_tail": ((1, 6, 5, 11), (3, 3), 1, dict(in_zp=127)),          # 2 groups + 3 channels
    "c3_portable": ((1, 5, 6, 3), (3, 3), 1, {}),                     # no complete group
    "stride2_same": ((1, 9, 8, 12), (3, 3), 1, dict(stride=(2, 2))),
    "stride2_valid": ((1, 9, 9, 4), (3, 3), 1, dict(stride=(2, 2), padding="VALID")),
    "unequal_strides": ((1, 9, 10, 4), (3, 3), 1, dict(stride=(1, 2))),
    "dilation2": ((1, 9, 9, 8), (3, 3), 1, dict(dilation=(2, 2))),
    "dilated_taps_all_outside": ((1, 2, 3, 4), (3, 3), 1, dict(dilation=(4, 4))),
    "image_1x1": ((1, 1, 1, 8), (3, 3), 1, {}),
    "kernel_2x4_generic": ((1, 6, 7, 8), (2, 4), 1, dict(stride=(2, 2))),
    "kernel_5x5_generic": ((1, 7, 6, 4), (5, 5), 1, {}),
    "kernel_10x8_portable": ((1, 12, 9, 4), (10, 8), 1, {}),         # > 64 taps
    "multiplier2_portable": ((1, 6, 6, 4), (3, 3), 2, {}),
    "per_tensor": ((1, 6, 6, 8), (3, 3), 1, dict(per_channel=False)),
    "zp_min_max": ((1, 6, 5, 8), (3, 3), 1, dict(in_zp=-128, out_zp=127)),
    "zp_max_min": ((1, 6, 5, 4), (3, 3), 1, dict(in_zp=127, out_zp=-128)),
    "saturation_left_shift": ((1, 6, 6, 8), (3, 3), 1, dict(out_scale=1e-4)),
    "tiny_scale_shift_below_22": ((1, 5, 5, 8), (3, 3), 1, dict(out_scale=2e3)),
    "relu6_narrow_clamp": ((1, 6, 6, 8), (3, 3), 1, dict(activation="RELU6", out_scale=0.03)),
    "batch2_no_bias": ((2, 5, 4, 8), (3, 3), 1, dict(bias="omit")),
    # Wide images: only the windows the image clips are copied (the narrow ones above copy
    # each output row's input rows).
    "wide_patches": ((1, 16, 16, 8), (3, 3), 1, dict(in_zp=-128, out_zp=-128)),
    "wide_patches_c20_stride2": ((1, 20, 18, 20), (3, 3), 1, dict(stride=(2, 2), in_zp=127)),
    "wide_patches_dilation2": ((1, 40, 36, 4), (3, 3), 1, dict(dilation=(2, 2))),
    "wide_patches_5x5_tiny_scale": ((1, 36, 34, 8), (5, 5), 1, dict(out_scale=2e3)),
    "wide_patches_batch2_relu6": ((2, 16, 17, 12), (3, 3), 1, dict(activation="RELU6", out_scale=0.03)),
}


@on_cortexm
@pytest.mark.parametrize("name", list(DEPTHWISE_CASES))
def test_depthwise_conv2d_dsp_exact(tmp_path, name):
    x_shape, kernel, mult, kw = DEPTHWISE_CASES[name]
    g = conv_graph(x_shape, None, kernel, depth_multiplier=mult, seed=len(name) + 100, **kw)
    if name.startswith("wide_patches"):
        node = g.nodes[0]
        assert DepthwiseConv2D._padded_row_cols(node, g, params_of(g)) == 0
    verify_on(g, tmp_path)


@on_cortexm
def test_depthwise_unbounded_accumulators(tmp_path):
    g = huge_bias(conv_graph((1, 5, 6, 8), None, (3, 3), depth_multiplier=1, seed=4))
    assert params_of(g)["acc_bounded"] == 0
    verify_on(g, tmp_path)


def fc_graph(batches, depth, units, in_zp=0, out_zp=0, activation="NONE", bias=True,
             per_channel=False, out_scale=0.11, seed=0, w_zp=0):
    rng = np.random.default_rng(seed)
    x = act("x", (batches, depth), 0.07, in_zp)
    scales = list(rng.uniform(0.01, 0.03, units)) if per_channel else 0.02
    w = const("w", rng.integers(-127, 128, (units, depth)), scale=scales, zp=w_zp, dtype="int8")
    b = const("b", rng.integers(-3000, 3000, units), scale=0.07 * 0.02, dtype="int32") if bias else None
    y = act("y", (batches, units), out_scale, out_zp)
    return single_op(Op.FULLY_CONNECTED, [x, w, b], [y], dict(activation=activation, keep_num_dims=False))


FC_CASES = {
    # name: keyword arguments of fc_graph
    "ad_like": dict(batches=1, depth=128, units=16, in_zp=-128, out_zp=-128),
    "depth_odd": dict(batches=1, depth=33, units=7, in_zp=-128, out_zp=127, activation="RELU"),
    "depth_2": dict(batches=1, depth=2, units=9),
    "depth_1": dict(batches=1, depth=1, units=5, in_zp=5, out_zp=-3),
    "depth_6_units_5": dict(batches=2, depth=6, units=5, in_zp=127),
    "batches3_relu6": dict(batches=3, depth=10, units=1, in_zp=127, out_zp=-128, activation="RELU6"),
    "no_offset_to_fold": dict(batches=1, depth=20, units=8, in_zp=0),
    "per_channel": dict(batches=2, depth=24, units=6, per_channel=True, in_zp=-7),
    "no_bias_saturation": dict(batches=1, depth=64, units=12, bias=False, out_scale=0.001, in_zp=3),
    "tiny_scale_shift_below_22": dict(batches=1, depth=16, units=8, out_scale=1e6),
}


@on_cortexm
@pytest.mark.parametrize("name", list(FC_CASES))
def test_fully_connected_dsp_exact(tmp_path, name):
    verify_on(fc_graph(seed=len(name), **FC_CASES[name]), tmp_path)


# The same kernels on the other cores: M7 and M33 have the DSP extension too (other
# compilers' flags, other pipelines), M0 and M3 take the portable paths of the new API.
OTHER_CORES = [
    ("cortex-m7", "conv", ((1, 7, 6, 3), 8, (3, 3), dict(in_zp=-128))),
    ("cortex-m7", "depthwise", ((1, 6, 5, 11), (3, 3), 1, dict(stride=(2, 1)))),
    ("cortex-m7", "fc", dict(batches=2, depth=33, units=7, in_zp=-128)),
    ("cortex-m33", "conv", ((1, 5, 5, 12), 7, (1, 1), dict(in_zp=127))),
    ("cortex-m33", "depthwise", ((1, 25, 5, 16), (3, 3), 1, dict(in_zp=-128))),
    ("cortex-m33", "fc", dict(batches=1, depth=130, units=9, in_zp=-128)),
    ("cortex-m3", "conv", ((1, 6, 5, 3), 5, (3, 3), dict(stride=(2, 2)))),
    ("cortex-m3", "depthwise", ((1, 6, 5, 8), (3, 3), 1, dict(in_zp=-128))),
    ("cortex-m3", "fc", dict(batches=1, depth=19, units=6, in_zp=-128)),
    ("cortex-m0", "conv", ((1, 4, 4, 5), 3, (1, 1), {})),
    ("cortex-m0", "depthwise", ((1, 5, 4, 4), (3, 3), 1, dict(stride=(2, 2)))),
    ("cortex-m0", "fc", dict(batches=1, depth=9, units=5, in_zp=7)),
]


@on_cortexm
@pytest.mark.parametrize("target,kind,case", OTHER_CORES, ids=[f"{t}-{k}" for t, k, _ in OTHER_CORES])
def test_other_cores_exact(tmp_path, target, kind, case):
    if kind == "conv":
        x_shape, out_c, kernel, kw = case
        g = conv_graph(x_shape, out_c, kernel, seed=5, **kw)
    elif kind == "depthwise":
        x_shape, kernel, mult, kw = case
        g = conv_graph(x_shape, None, kernel, depth_multiplier=mult, seed=6, **kw)
    else:
        g = fc_graph(seed=7, **case)
    verify_on(g, tmp_path, target=target, samples=4)


def layer_chain(in_shape=(1, 24, 7, 8), seed=0):
    """PW conv -> DW 3x3 -> 3x3 conv -> PW conv, all stride 1: the planner runs layers in place
    (tall enough images that this saves arena: it streams no layer where it does not), so the
    kernels' scratch shares the layer's scratch with the row window."""
    rng = np.random.default_rng(seed)
    x = act("x", in_shape, 0.1, -128)
    tensors, nodes, cur = {"x": x}, [], x
    for k, (kind, cout, ksize) in enumerate([("conv", 16, 1), ("dw", 16, 3), ("conv", 12, 3),
                                             ("conv", 8, 1)]):
        n, h, w, cin = cur.shape
        if kind == "dw":
            wt = const(f"w{k}", rng.integers(-127, 128, (1, ksize, ksize, cout)),
                       scale=list(rng.uniform(0.005, 0.02, cout)), axis=3, dtype="int8")
            op, attrs = Op.DEPTHWISE_CONV_2D, dict(depth_multiplier=1)
        else:
            wt = const(f"w{k}", rng.integers(-127, 128, (cout, ksize, ksize, cin)),
                       scale=list(rng.uniform(0.005, 0.02, cout)), dtype="int8")
            op, attrs = Op.CONV_2D, {}
        b = const(f"b{k}", rng.integers(-2000, 2000, cout), dtype="int32")
        y = act(f"t{k}", (n, h, w, cout), 0.3 + 0.05 * k, -128)
        attrs.update(padding="SAME", stride_h=1, stride_w=1, dilation_h=1, dilation_w=1,
                     activation="RELU")
        nodes.append(Node(op, (cur.name, wt.name, b.name), (y.name,), attrs))
        tensors.update({t.name: t for t in (wt, b, y)})
        cur = y
    return Graph("chain", tensors, nodes, ["x"], [cur.name])


@on_cortexm
def test_in_place_layers_share_scratch_with_their_window(tmp_path):
    from microlith.codegen.c import prepare
    g = layer_chain()
    assert prepare(g).streams, "expected layers running in place"
    assert prepare(g).plan.arena_size < prepare(g, strategy="greedy-noinplace").plan.arena_size
    verify_on(g, tmp_path, samples=4)


# -- the int8 lookup table of the unary ops ----------------------------------------------------

def unary_graph(op, shape, si, zi, so, zo, attrs=None):
    return single_op(op, [act("x", shape, si, zi)], [act("y", shape, so, zo)], attrs)


UNARY_CASES = {
    # name: (op, input scale, input zero point, output scale, output zero point, attributes)
    "relu": (Op.RELU, 0.05, -3, 0.03, -128, None),
    "relu6": (Op.RELU6, 0.04, 10, 0.04, 10, None),
    "leaky_relu": (Op.LEAKY_RELU, 0.06, 5, 0.05, -7, dict(alpha=0.2)),
    "leaky_relu_negative_alpha": (Op.LEAKY_RELU, 0.06, -128, 0.08, 0, dict(alpha=-0.5)),
    "hard_swish": (Op.HARD_SWISH, 0.05, 2, 0.04, -90, None),
    "logistic": (Op.LOGISTIC, 0.09, -12, 1 / 256, -128, None),
    "tanh": (Op.TANH, 0.03, 127, 1 / 128, 0, None),
    "quantize_int8": (Op.QUANTIZE, 0.05, -128, 0.13, 127, None),
}


@pytest.mark.parametrize("name", list(UNARY_CASES))
def test_unary_lut_exact(tmp_path, name):
    op, si, zi, so, zo, attrs = UNARY_CASES[name]
    g = unary_graph(op, (2, 3, 7, 9), si, zi, so, zo, attrs)  # 378 values: a table
    node = g.nodes[0]
    impl = impl_for(op)
    assert impl.kernels_for(node, g, impl.prepare(node, g)) == ("ml_lut_s8",)
    every = np.arange(-128, 128).astype(np.int8)
    inputs = [[np.concatenate([every, every[::-1][:122]]).reshape(g.t("x").shape)]]
    assert_exact(g, tmp_path, samples=3, inputs=inputs)


@pytest.mark.parametrize("name", list(UNARY_CASES))
def test_unary_arithmetic_kernels_below_the_threshold(tmp_path, name, monkeypatch):
    # Tensors smaller than LUT_MIN_ELEMENTS keep the arithmetic kernels; force them here on
    # every int8 input so both paths stay covered.
    monkeypatch.setattr(elementwise, "LUT_MIN_ELEMENTS", 1 << 30)
    op, si, zi, so, zo, attrs = UNARY_CASES[name]
    g = unary_graph(op, (256,), si, zi, so, zo, attrs)
    node = g.nodes[0]
    impl = impl_for(op)
    assert "ml_lut_s8" not in impl.kernels_for(node, g, impl.prepare(node, g))
    assert_exact(g, tmp_path, samples=1, inputs=[[np.arange(-128, 128).astype(np.int8)]])


def test_small_unary_tensor_keeps_arithmetic_kernel():
    g = unary_graph(Op.TANH, (1, 10), 0.03, 0, 1 / 128, 0)
    node = g.nodes[0]
    impl = impl_for(Op.TANH)
    assert impl.kernels_for(node, g, impl.prepare(node, g)) == ("ml_tanh_s8",)


@on_cortexm
@pytest.mark.parametrize("name", ["hard_swish", "logistic"])
def test_unary_lut_on_cortex_m4(tmp_path, name):
    op, si, zi, so, zo, attrs = UNARY_CASES[name]
    verify_on(unary_graph(op, (1, 9, 9, 5), si, zi, so, zo, attrs), tmp_path)


# Cortex-M0 (ARMv6-M) and M3 (ARMv7-M, no DSP) have their own inner loops: M0 assembly for
# conv 1x2 / 2x2 and four-row FC with the sums in r8-r11, M3 two-step post-indexed loops for
# conv 2x2 and four-row FC, and on M0 a requantization from 16 x 16 multiplies instead of the
# libgcc 64-bit multiply. The cases aim at run lengths 1 and odd (the M3 two-step loops' tail),
# several window rows per call, pixels left unpaired, FC depths 1 and odd, row counts leaving
# 1-3 over, and the requantization's edges (left shifts, shifts past 22, sums near 2^31).
M0_M3_CASES = {
    "conv_pw_c1": ("conv", ((1, 3, 3, 1), 5, (1, 1), dict(in_zp=-128))),
    "conv_pw_c64_odd_pixels": ("conv", ((1, 3, 5, 64), 7, (1, 1), dict(in_zp=-128, out_zp=-128))),
    "conv_3x3_c3_same": ("conv", ((1, 7, 6, 3), 6, (3, 3), dict(in_zp=127))),
    "conv_kws_first_layer": ("conv", ((1, 49, 10, 1), 8, (10, 4), dict(stride=(2, 2), in_zp=83))),
    "conv_dilation_stride": ("conv", ((1, 10, 11, 2), 3, (3, 3), dict(dilation=(2, 3), stride=(2, 1)))),
    "conv_window_larger_than_image": ("conv", ((1, 3, 2, 4), 4, (5, 5), {})),
    "conv_left_shift": ("conv", ((1, 6, 6, 8), 4, (3, 3), dict(out_scale=1e-4, out_zp=3))),
    "conv_tiny_scale": ("conv", ((1, 5, 5, 8), 4, (1, 1), dict(out_scale=2e3))),
    "conv_relu6_no_bias_batch2": ("conv", ((2, 5, 4, 5), 3, (3, 3),
                                           dict(activation="RELU6", out_scale=0.03, bias="omit"))),
    "conv_grouped": ("conv", ((1, 6, 5, 6), 9, (3, 3), dict(groups=3))),
    "dw_kws_like": ("depthwise", ((1, 25, 5, 64), (3, 3), 1, dict(in_zp=-128, out_zp=-128))),
    "dw_multiplier2_tiny_scale": ("depthwise", ((1, 6, 6, 4), (3, 3), 2, dict(out_scale=2e3))),
    "dw_left_shift": ("depthwise", ((1, 6, 5, 7), (3, 3), 1, dict(out_scale=1e-4))),
    "fc_depth1": ("fc", dict(batches=1, depth=1, units=6)),
    "fc_odd_depth_units_tail": ("fc", dict(batches=2, depth=33, units=7, in_zp=-128)),
    "fc_per_channel_relu": ("fc", dict(batches=1, depth=64, units=9, per_channel=True,
                                       activation="RELU", out_zp=-100)),
    "fc_weight_zero_point_portable": ("fc", dict(batches=1, depth=10, units=5, w_zp=3, in_zp=7)),
    "fc_left_shift": ("fc", dict(batches=1, depth=20, units=8, out_scale=1e-4, out_zp=3)),
}


def m0_m3_graph(kind, case, seed):
    if kind == "conv":
        x_shape, out_c, kernel, kw = case
        return conv_graph(x_shape, out_c, kernel, seed=seed, **kw)
    if kind == "depthwise":
        x_shape, kernel, mult, kw = case
        return conv_graph(x_shape, None, kernel, depth_multiplier=mult, seed=seed, **kw)
    return fc_graph(seed=seed, **case)


@on_cortexm
@pytest.mark.parametrize("target", ["cortex-m0", "cortex-m3"])
@pytest.mark.parametrize("name", list(M0_M3_CASES))
def test_m0_m3_kernels_exact(tmp_path, target, name):
    kind, case = M0_M3_CASES[name]
    verify_on(m0_m3_graph(kind, case, seed=len(name) + 200), tmp_path, target=target, samples=4)


@on_cortexm
@pytest.mark.parametrize("target", ["cortex-m0", "cortex-m3"])
@pytest.mark.parametrize("kind", ["conv", "depthwise", "fc"])
def test_m0_m3_accumulators_near_2_31(tmp_path, target, kind):
    # Biases of +-2^30 put the requantization's products near 2^61 and its sums past 2^30.
    if kind == "fc":
        g = fc_graph(batches=1, depth=17, units=6, seed=9)
    else:
        g = conv_graph((1, 5, 6, 8), None if kind == "depthwise" else 6, (3, 3),
                       depth_multiplier=1 if kind == "depthwise" else None, seed=9)
    verify_on(huge_bias(g), tmp_path, target=target, samples=4)
