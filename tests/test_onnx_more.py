"""ONNX ConvTranspose, Resize and MatMul of two computed tensors, lowered onto TRANSPOSE_CONV,
RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR and BATCH_MATMUL: the float IR in TFLM against
onnxruntime; quantized, the generated C byte-exact with TFLM; and one test per refusal."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("torch")  # test_onnx (the shared helpers) needs it
from onnx import TensorProto, helper, numpy_helper
from test_onnx import assert_close, run_ort, run_tflm
from test_recurrent_onnx import one_node, quantize_verify

from microlith.frontends.onnx import load_onnx
from microlith.frontends.tflite import load_tflite
from microlith.ir import MicrolithError, Op


def against_ort(path, x_shape, op: Op, seed: int = 0):
    """The lowered float graph in TFLM equals onnxruntime, and holds `op`."""
    x = np.random.default_rng(seed).normal(size=x_shape).astype(np.float32)
    g = load_onnx(path)
    assert_close(run_ort(path, [x]), run_tflm(g, [x]))
    assert op in {n.op for n in g.nodes}
    return g


def refused(path, match: str):
    with pytest.raises(MicrolithError, match=match):
        load_onnx(path)


# ---------------------------------------------------------------------------------------------
# ConvTranspose -> TRANSPOSE_CONV

def deconv(tmp_path, x_shape, cout, kernel, bias=True, **attrs):
    rng = np.random.default_rng(1)
    w = rng.normal(0, 0.5, (x_shape[1], cout) + tuple(kernel)).astype(np.float32)
    consts = [w] + ([rng.normal(0, 0.3, cout).astype(np.float32)] if bias else [])
    return one_node(tmp_path / "deconv.onnx", "ConvTranspose", x_shape, consts, 1, **attrs)


DECONV_CASES = [  # (input shape, kernel, attributes): VALID and SAME, odd sizes, 1-D
    ((1, 3, 4, 5), (3, 3), dict(strides=[2, 2])),
    ((1, 2, 5, 3), (2, 3), dict(strides=[2, 1], output_padding=[1, 0])),
    ((1, 3, 4, 4), (3, 3), dict(strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1])),  # cropped
    ((1, 2, 4, 3), (3, 2), dict(strides=[2, 3], pads=[0, 2, 1, 0], output_padding=[1, 2])),
    ((1, 2, 3, 5), (4, 4), dict(strides=[2, 2], pads=[1, 1, 1, 1])),
    ((2, 3, 3, 3), (1, 1), dict()),
    ((1, 4, 7), (5,), dict(strides=[3], pads=[1, 1])),
]


@pytest.mark.parametrize("x_shape,kernel,attrs", DECONV_CASES)
def test_conv_transpose_float(tmp_path, x_shape, kernel, attrs):
    against_ort(deconv(tmp_path, x_shape, 4, kernel, bias=x_shape[0] == 1, **attrs), x_shape, Op.TRANSPOSE_CONV)


@pytest.mark.parametrize("x_shape,kernel,attrs", [DECONV_CASES[2], DECONV_CASES[5]])
def test_conv_transpose_int8_exact(tmp_path, x_shape, kernel, attrs):
    quantize_verify(deconv(tmp_path, x_shape, 5, kernel, **attrs), x_shape, tmp_path)


@pytest.mark.parametrize("attrs,match", [
    (dict(group=2), "no groups"),
    (dict(dilations=[2, 2]), "dilations"),
    (dict(strides=[2, 2], output_padding=[2, 0]), "smaller than the strides"),
    (dict(auto_pad="SAME_UPPER"), "auto_pad SAME_UPPER"),
    (dict(output_shape=[9, 9]), "output_shape"),
])
def test_conv_transpose_refused(tmp_path, attrs, match):
    x_shape = (1, 4, 4, 4)
    cin = 2 if "group" in attrs else 4
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, cin, 3, 3)).astype(np.float32)
    refused(one_node(tmp_path / "d.onnx", "ConvTranspose", x_shape, [w], 1, **attrs), match)


# ---------------------------------------------------------------------------------------------
# Resize -> RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR

def resize(tmp_path, x_shape, out_hw=None, scales=None, **attrs):
    consts = [None, np.array(scales, np.float32) if scales else None]
    if out_hw is not None:
        consts.append(np.array(list(x_shape[:2]) + list(out_hw), np.int64))
    return one_node(tmp_path / "resize.onnx", "Resize", x_shape, consts, 1, **attrs)


RESIZE_CASES = [  # (mode, coordinate mode, nearest mode, output size or scales)
    ("nearest", "asymmetric", "floor", dict(scales=[1, 1, 2, 3])),
    ("nearest", "half_pixel", "round_prefer_floor", dict(out_hw=(8, 10))),
    ("nearest", "half_pixel", "round_prefer_ceil", dict(out_hw=(2, 7))),
    ("nearest", "half_pixel", "round_prefer_floor", dict(out_hw=(2, 5))),  # ties: TFLite's no-flag tables
    ("nearest", "align_corners", "round_prefer_ceil", dict(out_hw=(7, 3))),
    ("nearest", "asymmetric", "floor", dict(out_hw=(3, 2))),
    ("linear", "asymmetric", None, dict(scales=[1, 1, 2, 2])),
    ("linear", "half_pixel", None, dict(out_hw=(7, 9))),
    ("linear", "pytorch_half_pixel", None, dict(out_hw=(3, 8))),
    ("linear", "align_corners", None, dict(out_hw=(6, 2))),
]


def resize_case(tmp_path, mode, ctm, nearest, size, x_shape=(1, 3, 4, 5)):
    attrs = dict(mode=mode, coordinate_transformation_mode=ctm) | ({"nearest_mode": nearest} if nearest else {})
    return resize(tmp_path, x_shape, **size, **attrs)


@pytest.mark.parametrize("mode,ctm,nearest,size", RESIZE_CASES)
def test_resize_float(tmp_path, mode, ctm, nearest, size):
    op = Op.RESIZE_NEAREST_NEIGHBOR if mode == "nearest" else Op.RESIZE_BILINEAR
    against_ort(resize_case(tmp_path, mode, ctm, nearest, size), (1, 3, 4, 5), op)


@pytest.mark.parametrize("case", [RESIZE_CASES[k] for k in (1, 3, 4, 7, 9)])
def test_resize_int8_exact(tmp_path, case):
    """Byte-exact, and the resize keeps its input's parameters: TFLM moves int8 values without
    rescaling, so any other output scale would misread them."""
    quantize_verify(resize_case(tmp_path, *case, x_shape=(1, 2, 4, 5)), (1, 2, 4, 5), tmp_path)
    g = load_tflite(str(tmp_path / "q.tflite"))
    (node,) = [n for n in g.nodes if n.op in (Op.RESIZE_NEAREST_NEIGHBOR, Op.RESIZE_BILINEAR)]
    assert g.t(node.inputs[0]).quant == g.t(node.outputs[0]).quant


@pytest.mark.parametrize("attrs,size,match", [
    (dict(mode="cubic"), dict(out_hw=(8, 10)), "mode cubic"),
    (dict(mode="linear", coordinate_transformation_mode="tf_crop_and_resize"), dict(out_hw=(8, 10)),
     "no TFLite RESIZE_BILINEAR"),
    (dict(mode="linear", coordinate_transformation_mode="half_pixel"), dict(scales=[1, 1, 1.7, 2]), "differ"),
    (dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="ceil"),
     dict(out_hw=(8, 10)), "no TFLite RESIZE_NEAREST_NEIGHBOR"),
    (dict(mode="nearest"), dict(scales=[1, 2, 2, 2]), "batch and channels"),
])
def test_resize_refused(tmp_path, attrs, size, match):
    refused(resize(tmp_path, (1, 3, 4, 5), **size, **attrs), match)


def test_resize_refuses_3d(tmp_path):
    refused(one_node(tmp_path / "r.onnx", "Resize", (1, 3, 5), [None, np.array([1, 1, 2], np.float32)], 1),
            "4-D NCHW")


# ---------------------------------------------------------------------------------------------
# MatMul of two computed tensors -> BATCH_MATMUL

def self_product(tmp_path, x_shape, perm, const_rhs=False):
    """MatMul(x, Transpose(x, perm)): both operands computed, batch dimensions broadcasting."""
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=list(perm)),
             helper.make_node("MatMul", ["x", "t"], ["y"])]
    graph = helper.make_graph(nodes, "mm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    path = tmp_path / "mm.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


@pytest.mark.parametrize("x_shape,perm", [((1, 4, 6), (0, 2, 1)), ((2, 1, 3, 4), (1, 0, 3, 2)), ((3, 5), (1, 0))])
def test_matmul_two_activations(tmp_path, x_shape, perm):
    g = against_ort(self_product(tmp_path, x_shape, perm), x_shape, Op.BATCH_MATMUL)
    assert Op.FULLY_CONNECTED not in {n.op for n in g.nodes}
    quantize_verify(self_product(tmp_path, x_shape, perm), x_shape, tmp_path)


def test_matmul_constant_weights_stays_fully_connected(tmp_path):
    w = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
    g = against_ort(one_node(tmp_path / "fc.onnx", "MatMul", (1, 4, 6), [w], 1), (1, 4, 6), Op.FULLY_CONNECTED)
    assert Op.BATCH_MATMUL not in {n.op for n in g.nodes}


def test_matmul_refuses_1d_activation(tmp_path):
    nodes = [helper.make_node("ReduceMean", ["x"], ["v"], axes=[0], keepdims=0),
             helper.make_node("MatMul", ["x", "v"], ["y"])]
    graph = helper.make_graph(nodes, "mm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    path = tmp_path / "mm1.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    refused(path, "ranks 2 to 5")
