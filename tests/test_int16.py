"""int16 activations (TFLite's 16x8 mode) against TFLM, byte for byte: TFLM's own int16x8
integration-test models (tests/data/tflm/seanet), the public header of int16 I/O, and the
refusals. Single-op edge cases are in test_int16_ops.py, the 16x8 quantizer in
test_int16_quantize.py (split to keep each file's run short); both use the helpers here.
"""
from pathlib import Path

import numpy as np
import pytest
from opmodels import act, assert_exact, const, single_op

import microlith
from microlith.ir import MicrolithError, Node, Op, Tensor
from microlith.ops import impl_for

SEANET = Path(__file__).parent / "data" / "tflm" / "seanet"
SEANET_OPS = ("conv", "add", "sub", "leaky_relu", "pad", "strided_slice", "quantize")
SEANET_MODELS = sorted(p for op in SEANET_OPS for p in (SEANET / op).glob("*.tflite"))
I16_MIN, I16_MAX = -32768, 32767


def a16(name, shape, scale=0.001, zp=0):
    return act(name, shape, scale, zp, "int16")


def extremes(shape, seed=0):
    """Random int16 values with both limits and zero among them."""
    x = np.random.default_rng(seed).integers(I16_MIN, I16_MAX + 1, shape).astype(np.int16)
    flat = x.reshape(-1)
    flat[:3] = (I16_MIN, I16_MAX, 0)[:flat.size]
    return x


def f32(name, shape):
    return Tensor(name, tuple(shape), "float32")


def _prepare(g):
    return impl_for(g.nodes[0].op).prepare(g.nodes[0], g)


# -- TFLM's int16x8 models -------------------------------------------------------------------

def test_every_seanet_op_folder_has_models():
    assert {p.parent.name for p in SEANET_MODELS} == set(SEANET_OPS)


@pytest.mark.parametrize("path", SEANET_MODELS, ids=lambda p: p.stem)
def test_seanet_model_bit_exact(path):
    res = microlith.verify(str(path), samples=2)
    assert res["bit_exact"], res


def test_header_declares_int16_io_and_arena_counts_two_bytes(tmp_path):
    # x -> LEAKY_RELU -> mid -> ADD(mid, mid) -> y: only `mid` (7 x 5 int16) lives in the arena.
    g = single_op(Op.LEAKY_RELU, [a16("x", (7, 5))], [a16("mid", (7, 5))], dict(alpha=0.2))
    g.tensors["y"] = a16("y", (7, 5), 0.002)
    g.nodes.append(Node(Op.ADD, ("mid", "mid"), ("y",), dict(activation="NONE")))
    g.outputs[:] = ["y"]
    assert_exact(g, tmp_path, samples=2, name="two_layers")
    gen = microlith.compile(str(tmp_path / "two_layers.tflite"), str(tmp_path / "out"), name="two")
    header = (tmp_path / "out" / "src" / "two.h").read_text()
    assert "int two_invoke(const int16_t *input, int16_t *output);" in header, header
    assert gen["arena_bytes"] == 7 * 5 * 2


# -- refusals ------------------------------------------------------------------------------

def _conv_graph(x_zp=0, bias_dtype="int64", depthwise=False):
    w = const("w", np.ones((1, 1, 1, 2), np.int8), scale=0.01, dtype="int8")
    b = const("b", np.zeros(2, np.int64), scale=1e-5, dtype=bias_dtype)
    attrs = dict(padding="VALID", stride_h=1, stride_w=1, dilation_h=1, dilation_w=1, activation="NONE")
    if depthwise:
        attrs["depth_multiplier"] = 1
    else:
        w = const("w", np.ones((2, 1, 1, 2), np.int8), scale=0.01, dtype="int8")
    op = Op.DEPTHWISE_CONV_2D if depthwise else Op.CONV_2D
    return single_op(op, [a16("x", (1, 2, 2, 2), 0.001, x_zp), w, b], [a16("y", (1, 2, 2, 2), 0.001)], attrs)


def test_refuses_int16_zero_point():
    with pytest.raises(MicrolithError, match="int16 tensor 'x' has zero point 3; TFLite's 16x8 mode needs 0"):
        _prepare(_conv_graph(x_zp=3))


def test_refuses_int32_bias_for_int16_depthwise():
    # TFLM's int16 depthwise kernel reads the bias as int64 whatever its type.
    with pytest.raises(MicrolithError, match="bias 'b' must be constant int64 of 2 values for int16 .*"
                                             "read past its end: store it as int64"):
        _prepare(_conv_graph(bias_dtype="int32", depthwise=True))


def test_refuses_mixed_int8_int16():
    g = single_op(Op.ADD, [a16("a", (4,)), act("b", (4,), 0.01)], [a16("y", (4,))], dict(activation="NONE"))
    with pytest.raises(MicrolithError, match="mix \\['int16', 'int8'\\]"):
        _prepare(g)


def test_refuses_accumulator_beyond_2_to_47():
    # TFLM's 64-bit requantization asserts |acc| < 2^47; a bias that large leaves it undefined.
    w = const("w", np.ones((2, 3), np.int8), scale=0.01, dtype="int8")
    b = const("b", np.array([1 << 47, 0], np.int64), scale=1e-5, dtype="int64")
    g = single_op(Op.FULLY_CONNECTED, [a16("x", (1, 3)), w, b], [a16("y", (1, 2))],
                  dict(activation="NONE", keep_num_dims=False))
    with pytest.raises(MicrolithError, match="could reach 2\\^47"):
        _prepare(g)


def test_refuses_64bit_left_shift_beyond_7():
    # Scale ratio 2^8: the int64 requantization would need a left shift of 9 (TFLM: at most 7).
    w = const("w", np.ones((2, 3), np.int8), scale=1.0, dtype="int8")
    g = single_op(Op.FULLY_CONNECTED, [a16("x", (1, 3), 1.0), w, None], [a16("y", (1, 2), 1 / 256)],
                  dict(activation="NONE", keep_num_dims=False))
    with pytest.raises(MicrolithError, match="left shift of 9 bits"):
        _prepare(g)


def test_mul_refuses_zero_point():
    g = single_op(Op.MUL, [a16("a", (3,), 0.01, 4), a16("b", (3,))], [a16("y", (3,))], dict(activation="NONE"))
    with pytest.raises(MicrolithError, match="int16 tensor 'a' has zero point 4"):
        _prepare(g)


def test_hard_swish_refuses_int16():
    # TFLM's HARD_SWISH has no int16 kernel, so there is nothing to be exact with.
    g = single_op(Op.HARD_SWISH, [a16("x", (4,))], [a16("y", (4,))])
    with pytest.raises(MicrolithError, match="tensor 'x' is int16; this kernel needs int8"):
        _prepare(g)


def test_readme_example_uses_the_io_type(tmp_path):
    microlith.compile(str(SEANET / "pad" / "pad0.tflite"), str(tmp_path / "out"), name="pad0")
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "int16_t input[PAD0_INPUT_SIZE];" in readme and "int16_t output[PAD0_OUTPUT_SIZE];" in readme


@pytest.mark.parametrize("op", (Op.FULLY_CONNECTED, Op.CONV_2D))
def test_refuses_int32_accumulation_without_bias(tmp_path, monkeypatch, op):
    # quantized_bias_type INT32 and no bias: TFLM sums in int32, which the IR does not record.
    from microlith.frontends import tflite_writer
    from microlith.frontends.tflite import load_tflite
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb
    plain = tflite_writer._options

    def with_int32_bias_type(op_, a):
        kind, o = plain(op_, a)
        o.quantizedBiasType = fb.TensorType.INT32
        return kind, o

    monkeypatch.setattr(tflite_writer, "_options", with_int32_bias_type)
    if op is Op.FULLY_CONNECTED:
        w = const("w", np.ones((2, 3), np.int8), scale=0.01, dtype="int8")
        g = single_op(op, [a16("x", (1, 3)), w, None], [a16("y", (1, 2))],
                      dict(activation="NONE", keep_num_dims=False))
    else:
        g = _conv_graph()
        g.nodes[0] = g.nodes[0].replace(inputs=g.nodes[0].inputs[:2])
        del g.tensors["b"]
    path = tmp_path / "m.tflite"
    path.write_bytes(tflite_writer.write_tflite(g))
    with pytest.raises(MicrolithError, match="no bias and quantized_bias_type INT32"):
        load_tflite(path)
