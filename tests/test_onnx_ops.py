"""ONNX ops lowered onto existing IR ops: Slice, Split, Gather (STRIDED_SLICE, RESHAPE,
CONCATENATION), GELU (exact and tanh, to MUL/ADD/LOGISTIC), Pow, MatMul by constant weights;
and the refusals (a bare Erf, LayerNormalization without an RSQRT op). Float IR in TFLM against
onnxruntime / onnx's reference evaluator; int8 C byte-exact against TFLM."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper
from test_onnx import assert_close, export, run_ort, run_tflm
from test_recurrent_onnx import check_node, one_node, quantize_verify

from microlith.frontends.onnx import load_onnx
from microlith.ir import MicrolithError, Op

nn = torch.nn
F = torch.nn.functional


# ---------------------------------------------------------------------------------------------
# Slice, Split, Gather


class Slicing(nn.Module):
    """Slices of a channels-last value (after a conv) and of a plain one, negative steps,
    scalar and scattered gathers, an uneven split, and a concat of 12 inputs (> TFLM's 10)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(3, 8, 3)

    def forward(self, x):
        c = torch.relu(self.conv(x))                           # [1, 8, 10], channels last inside
        a = c[:, 1:7:2, 2:]                                    # Slice on channels and length
        b = c.flip(-1)[:, :, ::3]                              # negative step
        p, q = torch.split(c, [3, 5], dim=1)                   # Split
        g = c[:, [0, 5, 2], -1]                                # Gather 1-D scattered, then scalar
        many = torch.cat([c[:, k:k + 1] for k in range(8)] + [p, q, p, q], dim=1)
        return a, b, p * 2, q, g, many


def test_slice_split_gather(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(1, 3, 12)
    path = export(Slicing(), x, tmp_path / "slice.onnx")
    want = run_ort(path, [x.numpy()])
    g = load_onnx(path)
    assert_close(want, run_tflm(g, [x.numpy()]))
    assert_close(want, run_tflm(load_onnx(path, optimize=False), [x.numpy()]))
    concats = [n for n in g.nodes if n.op is Op.CONCATENATION]
    assert concats and all(len(n.inputs) <= 10 for n in concats)


@pytest.mark.parametrize("attrs,consts,n_out", [
    ({"axis": 1}, [np.array([2, 3, 1], np.int64)], 3),
    ({"axis": -1}, [], 2),
])
def test_split_node(tmp_path, attrs, consts, n_out):
    path = one_node(tmp_path / "split.onnx", "Split", (1, 6, 4), consts, n_out, **attrs)
    check_node(path, (1, 6, 4))


def test_gather_contiguous_is_one_slice(tmp_path):
    path = one_node(tmp_path / "gather.onnx", "Gather", (1, 7, 4), [np.array([1, 3, 5], np.int64)], 1, axis=1)
    g = check_node(path, (1, 7, 4))
    assert [n.op for n in g.nodes] == [Op.STRIDED_SLICE]



def test_slicing_int8_exact(tmp_path):
    torch.manual_seed(0)
    path = export(Slicing(), torch.randn(1, 3, 12), tmp_path / "slice.onnx")
    quantize_verify(path, (1, 3, 12), tmp_path)



def test_gather_refusals(tmp_path):
    path = one_node(tmp_path / "g2.onnx", "Gather", (1, 5), [np.array([[0, 1]], np.int64)], 1, axis=1)
    with pytest.raises(MicrolithError, match="only a scalar or a 1-D list"):
        load_onnx(path)
    path = one_node(tmp_path / "g3.onnx", "Gather", (1, 5), [np.array([5], np.int64)], 1, axis=1)
    with pytest.raises(MicrolithError, match="out of range"):
        load_onnx(path)
    path = one_node(tmp_path / "g4.onnx", "Gather", (1, 5), [np.array([0, 2] * 513, np.int64)], 1, axis=1)
    with pytest.raises(MicrolithError, match="at most 1024"):
        load_onnx(path)
    node = helper.make_node("Gather", ["x", "x"], ["y"])  # indices computed from the input
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(tmp_path / "g5.onnx"))
    with pytest.raises(MicrolithError, match="indices computed at run time"):
        load_onnx(tmp_path / "g5.onnx")


class PiecesOfConcat(nn.Module):
    def forward(self, x):
        a, b = torch.tanh(x), torch.sigmoid(x)
        y = torch.cat([a, b], dim=1)         # [1, 8]
        return y[:, 4:] * 2, y[:, 3:5]       # exactly b: read b itself; across both: a slice


def test_slice_of_concat_reads_the_piece(tmp_path):
    x = torch.randn(1, 4)
    path = export(PiecesOfConcat(), x, tmp_path / "pieces.onnx")
    want = run_ort(path, [x.numpy()])
    g = load_onnx(path)
    assert_close(want, run_tflm(g, [x.numpy()]))
    slices = [n for n in g.nodes if n.op is Op.STRIDED_SLICE]
    assert len(slices) == 1 and g.t(slices[0].outputs[0]).shape == (1, 2)


# ---------------------------------------------------------------------------------------------
# GELU, Pow


class Gelus(nn.Module):
    """GELU after a conv (channels-last value) and after a dense layer."""

    def __init__(self, approximate: str):
        super().__init__()
        self.conv, self.fc, self.approximate = nn.Conv1d(3, 4, 3), nn.Linear(4, 4), approximate

    def forward(self, x):
        y = F.gelu(self.conv(x) * 2, approximate=self.approximate)
        return F.gelu(self.fc(y.mean(-1)), approximate=self.approximate)


@pytest.mark.parametrize("approximate,dynamo", [("none", False), ("none", True), ("tanh", True)])
def test_gelu(tmp_path, approximate, dynamo):
    """Exact GELU (Div, Erf, Add, Mul, Mul) becomes the tanh approximation: within 1e-3 of
    onnxruntime's erf; the tanh form exported by torch (Pow for dynamo) is computed as written."""
    torch.manual_seed(0)
    x = torch.randn(1, 3, 8)
    path = export(Gelus(approximate), x, tmp_path / "gelu.onnx", dynamo=dynamo)
    want = run_ort(path, [x.numpy()])
    g = load_onnx(path)
    assert_close(want, run_tflm(g, [x.numpy()]), tol=1e-3 if approximate == "none" else 1e-5)
    if approximate == "none":
        assert sum(n.op is Op.LOGISTIC for n in g.nodes) == 2


def test_gelu_node_opset20(tmp_path):
    node = helper.make_node("Gelu", ["x"], ["y"], approximate="tanh")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)]), str(tmp_path / "g.onnx"))
    check_node(tmp_path / "g.onnx", (1, 16))


def test_gelu_int8_exact(tmp_path):
    torch.manual_seed(0)
    path = export(Gelus("none"), torch.randn(1, 3, 8), tmp_path / "gelu.onnx")
    quantize_verify(path, (1, 3, 8), tmp_path)


def test_bare_erf_refused(tmp_path):
    path = one_node(tmp_path / "erf.onnx", "Erf", (1, 4), [], 1)
    with pytest.raises(MicrolithError, match="TFLM has no Erf kernel.*GELU"):
        load_onnx(path)


@pytest.mark.parametrize("exponent", [2.0, 3.0])
def test_pow(tmp_path, exponent):
    path = one_node(tmp_path / "pow.onnx", "Pow", (2, 5), [np.float32(exponent)], 1)
    g = check_node(path, (2, 5))
    assert [n.op for n in g.nodes] == [Op.MUL] * (int(exponent) - 1)


def test_pow_refused(tmp_path):
    path = one_node(tmp_path / "pow.onnx", "Pow", (2, 5), [np.float32(0.5)], 1)
    with pytest.raises(MicrolithError, match="exponent 0.5 is not supported"):
        load_onnx(path)


# ---------------------------------------------------------------------------------------------
# MatMul by constant weights, LayerNormalization


@pytest.mark.parametrize("w_shape", [(4, 3), (4,), (1, 4, 3)])
def test_matmul_const(tmp_path, w_shape):
    w = np.random.default_rng(0).normal(size=w_shape).astype(np.float32)
    path = one_node(tmp_path / "mm.onnx", "MatMul", (2, 4), [w], 1)
    g = check_node(path, (2, 4))
    assert Op.FULLY_CONNECTED in [n.op for n in g.nodes]


def test_layer_norm(tmp_path):
    rng = np.random.default_rng(0)
    path = one_node(tmp_path / "ln.onnx", "LayerNormalization", (2, 3, 6),
                    [rng.normal(size=6).astype(np.float32), rng.normal(size=6).astype(np.float32)], 1, axis=-1)
    check_node(path, (2, 3, 6))


def test_layer_norm_int8_is_byte_exact(tmp_path):
    """MatMul then LayerNormalization from ONNX, quantized to int8 (RSQRT included): TFLM runs the
    file and the generated C equals it byte for byte."""
    import onnx
    from onnx import numpy_helper

    import microlith
    rng = np.random.default_rng(0)
    consts = [numpy_helper.from_array(rng.normal(size=(16, 16)).astype(np.float32), "w"),
              numpy_helper.from_array(rng.normal(size=16).astype(np.float32), "s"),
              numpy_helper.from_array(rng.normal(size=16).astype(np.float32), "b")]
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]),
             helper.make_node("LayerNormalization", ["h", "s", "b"], ["y"], axis=-1)]
    graph = helper.make_graph(nodes, "ln", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 16])], consts)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "ln.onnx")
    out = tmp_path / "ln_int8.tflite"
    microlith.quantize(microlith.load(tmp_path / "ln.onnx"), list(rng.normal(size=(64, 1, 8, 16)).astype(np.float32)),
                       str(out))
    g = microlith.load(out)
    assert Op.RSQRT in [n.op for n in g.nodes]
    res = microlith.verify(out, samples=10)
    assert res["bit_exact"], res
