"""ONNX ConvTranspose, Resize and MatMul of two computed tensors, lowered onto TRANSPOSE_CONV,
RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR and BATCH_MATMUL: the float IR in TFLM against
onnxruntime; quantized, the generated C byte-exact with TFLM; and one test per refusal."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")
from onnx import TensorProto, helper
from test_onnx import assert_close, export, run_ort, run_tflm
from test_recurrent_onnx import one_node, quantize_verify

import microlith
from microlith.frontends.onnx import load_onnx
from microlith.frontends.tflite import load_tflite
from microlith.ir import MicrolithError, Op

nn = torch.nn
F = torch.nn.functional


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
    ((1, 3, 4, 5), (3, 3), {"strides": [2, 2]}),
    ((1, 2, 5, 3), (2, 3), {"strides": [2, 1], "output_padding": [1, 0]}),
    ((1, 3, 4, 4), (3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]}),  # cropped
    ((1, 2, 4, 3), (3, 2), {"strides": [2, 3], "pads": [0, 2, 1, 0], "output_padding": [1, 2]}),
    ((1, 2, 3, 5), (4, 4), {"strides": [2, 2], "pads": [1, 1, 1, 1]}),
    ((2, 3, 3, 3), (1, 1), {}),
    ((1, 4, 7), (5,), {"strides": [3], "pads": [1, 1]}),
    ((1, 2, 3, 4), (4, 3), {"strides": [2, 2], "auto_pad": "SAME_UPPER"}),
    ((1, 2, 3, 4), (4, 3), {"strides": [2, 2], "auto_pad": "SAME_LOWER"}),
    ((1, 2, 3, 4), (3, 3), {"strides": [1, 2], "auto_pad": "VALID"}),
]


@pytest.mark.parametrize("x_shape,kernel,attrs", DECONV_CASES)
def test_conv_transpose_float(tmp_path, x_shape, kernel, attrs):
    against_ort(deconv(tmp_path, x_shape, 4, kernel, bias=x_shape[0] == 1, **attrs), x_shape, Op.TRANSPOSE_CONV)


@pytest.mark.parametrize("x_shape,kernel,attrs", [DECONV_CASES[k] for k in (2, 4, 5, 6)])
def test_conv_transpose_int8_exact(tmp_path, x_shape, kernel, attrs):
    quantize_verify(deconv(tmp_path, x_shape, 5, kernel, **attrs), x_shape, tmp_path)


@pytest.mark.parametrize("attrs,match", [
    ({"group": 2}, "no groups"),
    ({"dilations": [2, 2]}, "dilations"),
    ({"strides": [2, 2], "output_padding": [2, 0]}, "smaller than the strides"),
    ({"auto_pad": "SAME_UPPER", "strides": [4, 4]}, "needs negative pads"),
    ({"output_shape": [9, 9]}, "output_shape"),
    ({"pads": [3, 3, 3, 3]}, "empty output"),
    ({"kernel_shape": [2, 2]}, "does not match the weight shape"),
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
    ("nearest", "asymmetric", "floor", {"scales": [1, 1, 2, 3]}),
    ("nearest", "half_pixel", "round_prefer_floor", {"out_hw": (8, 10)}),
    ("nearest", "half_pixel", "round_prefer_ceil", {"out_hw": (2, 7)}),
    ("nearest", "half_pixel", "round_prefer_floor", {"out_hw": (2, 5)}),  # ties: TFLite's no-flag tables
    ("nearest", "align_corners", "round_prefer_ceil", {"out_hw": (7, 3)}),
    ("nearest", "asymmetric", "floor", {"out_hw": (3, 2)}),
    ("linear", "asymmetric", None, {"scales": [1, 1, 2, 2]}),
    ("linear", "half_pixel", None, {"out_hw": (7, 9)}),
    ("linear", "pytorch_half_pixel", None, {"out_hw": (3, 8)}),
    ("linear", "align_corners", None, {"out_hw": (6, 2)}),
]


def resize_case(tmp_path, mode, ctm, nearest, size, x_shape=(1, 3, 4, 5)):
    attrs = {"mode": mode, "coordinate_transformation_mode": ctm} | ({"nearest_mode": nearest} if nearest else {})
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
    ({"mode": "cubic"}, {"out_hw": (8, 10)}, "mode cubic"),
    ({"mode": "linear", "coordinate_transformation_mode": "tf_crop_and_resize"}, {"out_hw": (8, 10)},
     "no TFLite RESIZE_BILINEAR"),
    ({"mode": "linear", "coordinate_transformation_mode": "half_pixel"}, {"scales": [1, 1, 1.7, 2]}, "differ"),
    ({"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "ceil"},
     {"out_hw": (8, 10)}, "no TFLite RESIZE_NEAREST_NEIGHBOR"),
    ({"mode": "nearest"}, {"scales": [1, 2, 2, 2]}, "batch and channels"),
    ({"mode": "nearest"}, {"scales": [1, 1, 0.1, 1]}, "output size .* is empty"),
    ({"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"}, {"out_hw": (1, 8)},
     "no TFLite RESIZE_BILINEAR"),
    ({"mode": "nearest", "antialias": 1}, {"out_hw": (8, 10)}, "antialias"),
    ({"mode": "nearest"}, {"scales": [1, 1, 2, 2], "out_hw": (8, 10)}, "exactly one of scales and sizes"),
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


# ---------------------------------------------------------------------------------------------
# A torch decoder: what exporters write (empty roi, scales input, fused ReLU after the deconv)

class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.up = nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1)
        self.up1d = nn.ConvTranspose1d(4, 2, 4, stride=2)

    def forward(self, x):
        h = torch.relu(self.up(x))                                            # [1, 4, 8, 10]
        a = F.interpolate(h, scale_factor=2, mode="nearest")                  # [1, 4, 16, 20]
        b = F.interpolate(h, size=(5, 7), mode="bilinear", align_corners=False)
        c = F.interpolate(h, size=(3, 9), mode="bilinear", align_corners=True)
        s = h.flatten(2)                                                      # [1, 4, 80]
        att = s @ s.transpose(1, 2)                                           # [1, 4, 4]
        return a, b, c, att, self.up1d(s[:, :, :9])


def test_torch_decoder(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(1, 3, 4, 5)
    path = export(Decoder().eval(), x, tmp_path / "dec.onnx")
    g = against_ort(path, (1, 3, 4, 5), Op.TRANSPOSE_CONV)
    assert {Op.RESIZE_NEAREST_NEIGHBOR, Op.RESIZE_BILINEAR, Op.BATCH_MATMUL} <= {n.op for n in g.nodes}
    assert_close(run_ort(path, [x.numpy()]), run_tflm(load_onnx(path, optimize=False), [x.numpy()]))
    quantize_verify(path, (1, 3, 4, 5), tmp_path)


@pytest.mark.parametrize("which", ["deconv", "matmul", "nearest"])
def test_int16x8_exact(tmp_path, which):
    """The 16x8 quantizer takes the same lowerings (TRANSPOSE_CONV with an int64 bias)."""
    x_shape = {"deconv": DECONV_CASES[2][0], "matmul": (1, 4, 6), "nearest": (1, 2, 4, 5)}[which]
    path = {"deconv": lambda: deconv(tmp_path, x_shape, 4, DECONV_CASES[2][1], **DECONV_CASES[2][2]),
            "matmul": lambda: self_product(tmp_path, x_shape, (0, 2, 1)),
            "nearest": lambda: resize_case(tmp_path, *RESIZE_CASES[1], x_shape=x_shape)}[which]()
    cal = np.random.default_rng(3).normal(size=(16, *x_shape)).astype(np.float32)
    microlith.quantize(str(path), list(cal), str(tmp_path / "q16.tflite"), report=False, activations="int16")
    res = microlith.verify(str(tmp_path / "q16.tflite"), samples=4)
    assert res["bit_exact"], res["first_mismatch"]
