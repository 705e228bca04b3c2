"""SOFTMAX, LOGISTIC and TANH (int8): numpy reference and generated C against TFLM, byte for byte."""
import numpy as np
import pytest

import microlith
from microlith.codegen.c import generate, prepare
from microlith.frontends.tflite import load_tflite
from microlith.ir import MicrolithError, Op
from microlith.ops import impl_for
from microlith.reference import run_reference
from microlith.verify import HostModel
from opmodels import act, assert_exact, single_op, write

ALL_INT8 = np.arange(-128, 128, dtype=np.int8)


def softmax_model(shape, in_scale, in_zp, beta=1.0, out_dtype="int8"):
    x = act("x", shape, in_scale, in_zp)
    if out_dtype == "int8":
        y = act("y", shape, 1 / 256, -128)
    else:
        y = act("y", shape, 1 / 65536, -32768, dtype="int16")
    return single_op(Op.SOFTMAX, [x], [y], dict(beta=beta))


def assert_exact_all_int8(g, tmp_path):
    """Every int8 input value through the reference and the C, plus random samples."""
    assert_exact(g, tmp_path, samples=3, inputs=[[ALL_INT8]])
    npy = tmp_path / "all_int8.npy"
    np.save(npy, ALL_INT8.reshape(1, -1))
    res = microlith.verify(write(g, tmp_path), samples=0, inputs=str(npy))
    assert res["bit_exact"], res


# --- SOFTMAX ---------------------------------------------------------------------------------

@pytest.mark.parametrize("shape,in_scale,in_zp,beta", [
    ((1,), 0.1, 0, 1.0),              # a single entry: always probability 1
    ((2,), 0.25, -3, 1.0),
    ((10,), 0.1, 0, 1.0),
    ((12,), 0.5, 127, 1.0),           # input zero point at the int8 limits
    ((12,), 0.3, -128, 1.0),
    ((257,), 0.2, 0, 1.0),            # long row
    ((257,), 1e-5, 0, 1.0),           # tiny scale: all exp ~ 1, sum ~ 257 -> exponent 31
    ((10,), 1e-3, 4, 1.0),
    ((10,), 2.0, 0, 1.0),             # large scale: diff_min cuts most entries
    ((12,), 4.0, -20, 1.0),
    ((10,), 20.0, 0, 1.0),            # shift 31, diff_min 0: only the maxima count
    ((10,), 100.0, 0, 1.0),           # multiplier capped at 2^31 - 1
    ((10,), 0.1, 0, 0.5),             # beta != 1
    ((12,), 0.5, 1, 2.7),
    ((10,), 2.0, 0, 0.3),
    ((3, 10), 0.15, 7, 1.0),          # several rows, 2-D
    ((2, 3, 4, 5), 0.4, -60, 1.0),    # 4-D: softmax over the last axis of each of 24 rows
    ((1, 1, 1, 1001), 0.08, -10, 1.0),  # an ImageNet-sized row
])
def test_softmax_exact(tmp_path, shape, in_scale, in_zp, beta):
    assert_exact(softmax_model(shape, in_scale, in_zp, beta), tmp_path, samples=10)


def test_softmax_ties_and_limits(tmp_path):
    # Rows of equal values, a single maximum, and the int8 extremes side by side.
    g = softmax_model((4, 12), 0.5, 0)
    rows = np.array([[-128] * 12, [127] * 12, [-128] * 11 + [127], list(range(-128, 128, 22))],
                    dtype=np.int8)
    assert_exact(g, tmp_path, samples=2, inputs=[[rows]])


@pytest.mark.parametrize("shape,in_scale,in_zp,beta", [
    ((10,), 0.1, 0, 1.0),
    ((2, 12), 0.5, -128, 1.0),
    ((257,), 1e-4, 3, 1.0),
    ((3, 10), 3.0, 127, 0.7),
])
def test_softmax_int8_to_int16_exact(tmp_path, shape, in_scale, in_zp, beta):
    assert_exact(softmax_model(shape, in_scale, in_zp, beta, out_dtype="int16"), tmp_path, samples=10)


def test_softmax_sum_too_large_for_tflm(tmp_path):
    # 600 tied entries make the int8 output exponent 32: TFLM stops with TFLITE_CHECK, so it
    # cannot be the oracle here. The reference and the C agree on 0 probability (-128).
    g = softmax_model((600,), 0.1, 0)
    model = load_tflite(write(g, tmp_path))
    xs = [np.full(600, 5, dtype=np.int8)]
    ref = run_reference(model, xs)["y"]
    assert np.all(ref == -128)
    res = generate(prepare(model), tmp_path / "c", "sm600")
    host = HostModel(res.out_dir, model, "sm600", tmp_path)
    assert np.array_equal(host.run(xs)[0], ref)


# --- LOGISTIC and TANH -----------------------------------------------------------------------

SIGMOID_INPUTS = [
    (0.1, 0),          # radius 150: no input saturates
    (0.02, -128),      # zero point at the low limit
    (0.05, 127),       # zero point at the high limit
    (0.0625, 0),       # power-of-two scale
    (1e-4, 9),         # tiny scale: output barely moves
    (0.5, 0),          # radius 15: inputs beyond +-7.5 clip
    (1.0, 5),          # radius 7
    (3.0, -7),         # radius 2
    (20.0, 0),         # radius 0: every input saturates (TFLM sends 0 to the minimum)
]


@pytest.mark.parametrize("in_scale,in_zp", SIGMOID_INPUTS)
def test_logistic_all_int8_inputs(tmp_path, in_scale, in_zp):
    g = single_op(Op.LOGISTIC, [act("x", (256,), in_scale, in_zp)], [act("y", (256,), 1 / 256, -128)])
    assert_exact_all_int8(g, tmp_path)


@pytest.mark.parametrize("in_scale,in_zp", SIGMOID_INPUTS)
def test_tanh_all_int8_inputs(tmp_path, in_scale, in_zp):
    g = single_op(Op.TANH, [act("x", (256,), in_scale, in_zp)], [act("y", (256,), 1 / 128, 0)])
    assert_exact_all_int8(g, tmp_path)


@pytest.mark.parametrize("op,out_scale,out_zp", [(Op.LOGISTIC, 1 / 256, -128), (Op.TANH, 1 / 128, 0)])
def test_sigmoid_4d(tmp_path, op, out_scale, out_zp):
    g = single_op(op, [act("x", (2, 3, 5, 7), 0.07, -11)], [act("y", (2, 3, 5, 7), out_scale, out_zp)])
    assert_exact(g, tmp_path, samples=5)


# --- what the kernels refuse -----------------------------------------------------------------

def _prepare(g):
    return impl_for(g.nodes[0].op).prepare(g.nodes[0], g)


@pytest.mark.parametrize("y,match", [
    (act("y", (10,), 1 / 256, 0), "zero point -128"),
    (act("y", (10,), 1 / 255, -128), "scale 0.00390625"),
    (act("y", (10,), 1 / 65536, 0, dtype="int16"), "zero point -32768"),
    (act("y", (10,), 1 / 32768, -32768, dtype="int16"), "1/65536"),
    (act("y", (10,), 0.1, 0, dtype="int32"), "int32"),
])
def test_softmax_rejects_output_quantization(y, match):
    g = single_op(Op.SOFTMAX, [act("x", (10,), 0.1, 0)], [y], dict(beta=1.0))
    with pytest.raises(MicrolithError, match=match):
        _prepare(g)


def test_softmax_rejects_tiny_beta_times_scale_and_float():
    g = single_op(Op.SOFTMAX, [act("x", (10,), 1e-9, 0)], [act("y", (10,), 1 / 256, -128)], dict(beta=1.0))
    with pytest.raises(MicrolithError, match="too small"):
        _prepare(g)
    g = single_op(Op.SOFTMAX, [act("x", (10,), 0.1, 0, dtype="float32")],
                  [act("y", (10,), 1 / 256, -128)], dict(beta=1.0))
    with pytest.raises(MicrolithError, match="int8"):
        _prepare(g)


@pytest.mark.parametrize("op,y,match", [
    (Op.LOGISTIC, act("y", (8,), 1 / 256, 0), "zero point -128"),
    (Op.LOGISTIC, act("y", (8,), 1 / 128, -128), "1/256"),
    (Op.TANH, act("y", (8,), 1 / 128, -128), "zero point 0"),
    (Op.TANH, act("y", (8,), 1 / 256, 0), "1/128"),
    (Op.TANH, act("y", (8,), 1 / 128, 0, dtype="int16"), "int16"),
])
def test_sigmoid_rejects_output_quantization(op, y, match):
    g = single_op(op, [act("x", (8,), 0.1, 0)], [y])
    with pytest.raises(MicrolithError, match=match):
        _prepare(g)


def test_sigmoid_rejects_input_scale_out_of_range():
    g = single_op(Op.LOGISTIC, [act("x", (8,), 1e-10, 0)], [act("y", (8,), 1 / 256, -128)])
    with pytest.raises(MicrolithError, match="scale"):
        _prepare(g)


def test_softmax_rejects_int16_output_scale():
    # int16 -> int16 runs TFLM's LUT kernel (test_int16.py), whose output scale is fixed.
    g = single_op(Op.SOFTMAX, [act("x", (10,), 1 / 4096, 0, dtype="int16")],
                  [act("y", (10,), 1 / 65536, 0, dtype="int16")], dict(beta=1.0))
    with pytest.raises(MicrolithError, match="int16 SOFTMAX needs 1/32768"):
        _prepare(g)
