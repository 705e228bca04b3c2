import numpy as np
import pytest

import microlith
from microlith.frontends.tflite import load_tflite
from microlith.ir import MicrolithError, Op
from microlith.ops import impl_for
from opmodels import act, assert_exact, const, single_op, write

POOLS = (Op.AVERAGE_POOL_2D, Op.MAX_POOL_2D)


def assert_exact_extremes(g, tmp_path, shape, samples=10):
    """assert_exact, plus inputs all -128 and all 127 (the accumulator extremes) through both
    the numpy reference and the generated C."""
    extremes = np.stack([np.full(shape, -128, np.int8), np.full(shape, 127, np.int8)])
    assert_exact(g, tmp_path, samples=samples, inputs=[[e] for e in extremes])
    np.save(tmp_path / "extremes.npy", extremes)
    res = microlith.verify(write(g, tmp_path), samples=0, inputs=str(tmp_path / "extremes.npy"))
    assert res["bit_exact"], res


def pool_attrs(fh, fw, sh, sw, padding, activation="NONE"):
    return dict(padding=padding, stride_h=sh, stride_w=sw, filter_h=fh, filter_w=fw,
                activation=activation)


def out_hw(h, w, fh, fw, sh, sw, padding):
    if padding == "SAME":
        return -(-h // sh), -(-w // sw)
    return (h - fh) // sh + 1, (w - fw) // sw + 1


@pytest.mark.parametrize("op", POOLS)
@pytest.mark.parametrize("shape,fh,fw,sh,sw,padding,act_fn,scale,zp", [
    ((1, 7, 9, 3), 3, 3, 2, 2, "SAME", "NONE", 0.1, -3),          # odd sizes, pads on both sides
    ((2, 8, 8, 5), 2, 2, 2, 2, "VALID", "RELU", 0.05, -128),      # batches, even window: halves
    ((1, 5, 5, 1), 3, 3, 1, 1, "SAME", "RELU6", 0.05, 127),       # one channel, zp at the top
    ((1, 6, 7, 4), 3, 2, 1, 2, "VALID", "RELU_N1_TO_1", 0.02, 0),  # filter larger than stride
    ((1, 1, 9, 3), 1, 4, 1, 3, "SAME", "NONE", 0.1, 5),            # 1-D pooling (height 1)
    ((1, 4, 4, 2), 4, 4, 1, 1, "VALID", "NONE", 0.1, -128),        # global pool to 1x1
    ((1, 3, 3, 2), 5, 5, 1, 1, "SAME", "RELU6", 0.05, -128),       # window larger than the input
    ((3, 5, 4, 7), 2, 3, 3, 1, "SAME", "RELU", 0.3, 127),          # strides > filter along H
    ((2, 7, 9, 8), 3, 3, 2, 2, "SAME", "RELU", 0.05, 3),           # whole words, clipped windows
])
def test_pool_exact(tmp_path, op, shape, fh, fw, sh, sw, padding, act_fn, scale, zp):
    n, h, w, c = shape
    oh, ow = out_hw(h, w, fh, fw, sh, sw, padding)
    x = act("x", shape, scale, zp)
    y = act("y", (n, oh, ow, c), scale, zp)
    g = single_op(op, [x], [y], pool_attrs(fh, fw, sh, sw, padding, act_fn))
    assert_exact_extremes(g, tmp_path, shape)


@pytest.mark.parametrize("op", POOLS)
def test_pool_rejects_requantization(tmp_path, op):
    x = act("x", (1, 4, 4, 2), 0.1, 0)
    y = act("y", (1, 2, 2, 2), 0.2, 0)
    g = load_tflite(write(single_op(op, [x], [y], pool_attrs(2, 2, 2, 2, "VALID")), tmp_path))
    with pytest.raises(MicrolithError, match="pooling requires them equal"):
        impl_for(op).prepare(g.nodes[0], g)


@pytest.mark.parametrize("op", POOLS)
def test_pool_rejects_wrong_output_shape(tmp_path, op):
    x = act("x", (1, 5, 5, 2), 0.1, 0)
    y = act("y", (1, 3, 3, 2), 0.1, 0)  # VALID 2x2 stride 2 gives 2x2
    g = load_tflite(write(single_op(op, [x], [y], pool_attrs(2, 2, 2, 2, "VALID")), tmp_path))
    with pytest.raises(MicrolithError, match="gives"):
        impl_for(op).prepare(g.nodes[0], g)


def mean_graph(shape, axes, keep, in_q, out_q):
    rank = len(shape)
    red = {a % rank for a in axes}
    oshape = tuple(1 if i in red else d for i, d in enumerate(shape)) if keep else \
        tuple(d for i, d in enumerate(shape) if i not in red)
    x = act("x", shape, *in_q)
    y = act("y", oshape, *out_q)
    return single_op(Op.MEAN, [x, const("axis", np.array(axes, np.int32))], [y], dict(keep_dims=keep))


@pytest.mark.parametrize("shape,axes,keep,in_q,out_q", [
    ((1, 5, 7, 4), [1, 2], True, (0.1, 3), (0.1, 3)),         # the 4-D H,W case, same quantization
    ((1, 5, 7, 4), [2, 1], False, (0.1, 3), (0.1, 3)),        # same, keep_dims false
    ((1, 5, 7, 4), [1, 2], True, (0.1, 3), (0.07, -5)),       # requantized
    ((2, 6, 3, 5), [-1], False, (0.05, -128), (0.02, 127)),   # negative axis, zp at both limits
    ((2, 6, 3, 5), [0, 3], True, (0.2, 127), (0.2, -128)),    # non-adjacent axes
    ((3, 10), [1], False, (0.1, 0), (0.1, 0)),                # 2-D
    ((2, 9, 4), [1, -2], True, (0.1, -7), (0.3, 9)),          # duplicate axis counted once
    ((2, 5, 6, 3), [0, 1, 2], False, (0.1, 3), (0.013, -100)),  # three axes
    ((1, 40, 40, 3), [1, 2], True, (0.02, -1), (0.01, 4)),    # large count
    ((1, 8, 8, 2), [1, 2], True, (1e-6, 0), (100.0, 1)),      # tiny ratio: clamped shift folding
    ((1, 3, 3, 4), [1, 2], False, (0.5, 0), (0.01, 0)),       # ratio > 1: left shift, saturation
    ((1, 1, 1, 6), [1, 2], True, (0.1, 3), (0.05, 2)),        # reduced dims of size 1
])
def test_mean_exact(tmp_path, shape, axes, keep, in_q, out_q):
    assert_exact_extremes(mean_graph(shape, axes, keep, in_q, out_q), tmp_path, shape)


def test_mean_rejects_runtime_axis(tmp_path):
    x = act("x", (1, 4, 4, 2), 0.1, 0)
    axis = act("axis", (2,), dtype="int32")
    axis.quant = None
    y = act("y", (1, 2), 0.1, 0)
    g = single_op(Op.MEAN, [x, axis], [y], dict(keep_dims=False), graph_inputs=["x", "axis"])
    with pytest.raises(MicrolithError, match="constant"):
        impl_for(Op.MEAN).prepare(g.nodes[0], g)


# The kernels' Cortex-M paths (DSP words of 8 and 4 channels with a scalar tail on M4, the
# portable groups of four elsewhere), on emulated cores: windows clipped by padding, the
# narrow clamp in bytes, whole-row windows walked as one run, and an average over more than
# 256 cells (beyond the DSP path's halfword sums).
CORTEXM_POOL_CASES = {
    "c15_same_relu6": ((1, 7, 9, 15), 3, 3, 2, 2, "SAME", "RELU6", 0.05, -128),
    "global_c64": ((1, 25, 5, 64), 25, 5, 1, 1, "VALID", "NONE", 0.1, 3),
    "global_289_cells": ((1, 17, 17, 12), 17, 17, 1, 1, "VALID", "RELU", 0.1, 127),
    # whole words of four channels without the DSP extension (max pooling's portable word path on
    # M0 and M3): a 2x2/2, a clipped 3x3/2 with the clamp in words, a 1-D 1x3/2 with RELU6
    "c16_2x2_valid": ((1, 6, 8, 16), 2, 2, 2, 2, "VALID", "NONE", 0.05, 0),
    "c32_3x3_same_relu": ((1, 7, 7, 32), 3, 3, 2, 2, "SAME", "RELU", 0.05, -5),
    "c8_1x3_same_relu6": ((2, 1, 11, 8), 1, 3, 1, 2, "SAME", "RELU6", 0.05, -128),
}


@pytest.mark.cortexm
@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m3", "cortex-m0"])
@pytest.mark.parametrize("op", POOLS)
@pytest.mark.parametrize("name", list(CORTEXM_POOL_CASES))
def test_pool_exact_on_cortexm(tmp_path, target, op, name):
    shape, fh, fw, sh, sw, padding, act_fn, scale, zp = CORTEXM_POOL_CASES[name]
    n, h, w, c = shape
    oh, ow = out_hw(h, w, fh, fw, sh, sw, padding)
    x = act("x", shape, scale, zp)
    y = act("y", (n, oh, ow, c), scale, zp)
    g = single_op(op, [x], [y], pool_attrs(fh, fw, sh, sw, padding, act_fn))
    extremes = np.stack([np.full(shape, -128, np.int8), np.full(shape, 127, np.int8)])
    np.save(tmp_path / "extremes.npy", extremes)
    path = write(g, tmp_path)
    for kw in (dict(samples=4, seed=1), dict(samples=0, inputs=str(tmp_path / "extremes.npy"))):
        res = microlith.verify(path, target=target, **kw)
        assert res["bit_exact"], res
