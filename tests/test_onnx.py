"""ONNX and PyTorch frontends: small torch models, exported, read by microlith, and run as float
.tflite models in TFLM; their outputs must equal onnxruntime's."""
from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402

import microlith  # noqa: E402
from microlith.frontends.onnx import load_onnx  # noqa: E402
from microlith.frontends.torch import from_torch  # noqa: E402
from microlith.frontends.tflite_writer import write_tflite  # noqa: E402
from microlith.ir import MicrolithError, Op  # noqa: E402
from microlith.verify import Oracle  # noqa: E402

nn = torch.nn
F = torch.nn.functional


def export(model, x, path, opset=17, dynamo=False, **kw):
    model.eval()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), str(path), opset_version=opset, dynamo=dynamo, **kw)
    return path


def run_tflm(g, xs):
    """The IR graph as a float .tflite in the TFLM interpreter."""
    return Oracle(write_tflite(g), g).run(xs)


def run_ort(path, xs):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {i.name: x for i, x in zip(sess.get_inputs(), xs)})


def assert_close(want, got, tol=1e-4):
    for w, g_ in zip(want, got):
        w, g_ = np.asarray(w), np.asarray(g_)
        assert w.shape == g_.shape, (w.shape, g_.shape)
        err = float(np.max(np.abs(w - g_))) if w.size else 0.0
        assert err <= tol * max(1.0, float(np.max(np.abs(w)))), f"max |diff| {err}"


def check(model, shape, tmp_path, opset=17, dynamo=False, name="m", **load_kw):
    """Export, load (optimized and not), run both in TFLM, compare with onnxruntime."""
    for m in model.modules():  # non-trivial batch-norm statistics
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    x = torch.randn(*shape)
    path = export(model, x, tmp_path / f"{name}.onnx", opset=opset, dynamo=dynamo)
    xs = [x.numpy()]
    want = run_ort(path, xs)
    raw = load_onnx(path, optimize=False, **load_kw)
    opt = load_onnx(path, **load_kw)
    assert_close(want, run_tflm(raw, xs))
    assert_close(want, run_tflm(opt, xs))
    assert len(opt.nodes) <= len(raw.nodes)
    assert [opt.t(n).shape for n in opt.outputs] == [tuple(w.shape) for w in want]
    return opt


def ops(g):
    return [n.op for n in g.nodes]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)  # the modules' weights


# ---------------------------------------------------------------------------------------------
# Models


class TimeSeries(nn.Module):
    """Conv1d net as for sensor data: the 1-D rule lowers it to height-1 2-D ops."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(3, 8, 5, padding=2)
        self.bn1 = nn.BatchNorm1d(8)
        self.c2 = nn.Conv1d(8, 12, 3, stride=2, padding=1)
        self.bn2 = nn.BatchNorm1d(12)
        self.c3 = nn.Conv1d(12, 12, 3, dilation=2, groups=12)
        self.fc = nn.Linear(12, 4)

    def forward(self, x):
        x = F.max_pool1d(F.relu(self.bn1(self.c1(x))), 2)
        x = F.relu6(self.bn2(self.c2(x)))
        x = F.avg_pool1d(self.c3(x), 2)
        x = F.adaptive_avg_pool1d(x, 1).flatten(1)
        return self.fc(x)


def test_conv1d_time_series(tmp_path):
    g = check(TimeSeries(), (1, 3, 64), tmp_path)
    convs = [n for n in g.nodes if n.op in (Op.CONV_2D, Op.DEPTHWISE_CONV_2D)]
    assert len(convs) == 3
    for n in convs:  # height 1, as the TFLite converter lowers Conv1D
        assert g.t(n.inputs[0]).shape[1] == 1 and g.t(n.inputs[1]).shape[1] == 1
    assert Op.MUL not in ops(g) and Op.RELU not in ops(g)  # batch norm folded, ReLU fused
    assert [n.attrs["activation"] for n in convs[:2]] == ["RELU", "RELU6"]


def test_conv1d_flatten_dense_and_batch(tmp_path):
    model = nn.Sequential(nn.Conv1d(2, 6, 3), nn.ReLU(), nn.MaxPool1d(2), nn.Flatten(), nn.Linear(6 * 7, 5),
                          nn.Softmax(-1))
    g = check(model, (3, 2, 16), tmp_path)
    # flatten(NCL) after a channels-last conv: the dense weights are permuted, no TRANSPOSE left
    # but the one bringing the input to channels last.
    assert ops(g).count(Op.TRANSPOSE) == 1


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, stride=2, padding=1)  # pads (1,1): explicit PAD + VALID
        self.bn1 = nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(8, 16, 3, padding=1, bias=False)  # SAME
        self.bn2 = nn.BatchNorm2d(16)
        self.c3 = nn.Conv2d(16, 16, (1, 3), padding=(0, 1), dilation=1)
        self.fc = nn.Linear(16 * 2 * 2, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.c1(x)))
        x = F.max_pool2d(x, 3, stride=2, padding=1)  # zero padding is exact after ReLU
        x = F.relu(self.bn2(self.c2(x)))
        x = F.avg_pool2d(self.c3(x), 2)
        return self.fc(torch.flatten(x, 1))


def test_cnn_conv_bn_relu_pool(tmp_path):
    g = check(SmallCNN(), (1, 3, 16, 16), tmp_path)
    assert ops(g).count(Op.CONV_2D) == 3 and Op.MUL not in ops(g) and Op.ADD not in ops(g)
    assert ops(g).count(Op.PAD) == 2  # stride-2 conv and the padded max pool


class DSBlock(nn.Module):
    """Depthwise-separable blocks as in MobileNet / DS-CNN, with a depth multiplier of 2."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 8, (5, 3), stride=(2, 1), padding=(2, 1))
        self.dw1 = nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.pw1 = nn.Conv2d(8, 12, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(12)
        self.dw2 = nn.Conv2d(12, 24, 3, stride=2, padding=1, groups=12)
        self.pw2 = nn.Conv2d(24, 16, 1)

    def forward(self, x):
        x = F.relu(self.stem(x))
        x = F.relu6(self.bn1(self.dw1(x)))
        x = F.relu6(self.bn2(self.pw1(x)))
        x = F.relu(self.dw2(x))
        x = self.pw2(x)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)


def test_depthwise_separable(tmp_path):
    g = check(DSBlock(), (1, 1, 20, 10), tmp_path)
    dws = [n for n in g.nodes if n.op is Op.DEPTHWISE_CONV_2D]
    assert [n.attrs["depth_multiplier"] for n in dws] == [1, 2]
    assert g.t(dws[1].inputs[1]).shape == (1, 3, 3, 24)
    assert Op.MUL not in ops(g)


class Activations(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1, self.l2, self.l3 = nn.Linear(20, 32), nn.Linear(32, 32), nn.Linear(32, 6)
        self.bn = nn.BatchNorm1d(32)

    def forward(self, x):
        x = torch.flatten(x, 1)
        a = F.hardswish(self.l1(x))
        b = torch.sigmoid(a) + torch.tanh(a) * F.leaky_relu(a, 0.1)
        c = F.hardsigmoid(self.bn(self.l2(b))) - 0.25
        d = F.hardtanh(c * 3.0) / 2.0   # Clip(-1, 1): RELU_N1_TO_1
        return self.l3(d)


def test_mlp_activations(tmp_path):
    g = check(Activations(), (2, 4, 5), tmp_path)
    assert {Op.HARD_SWISH, Op.LOGISTIC, Op.TANH, Op.LEAKY_RELU} <= set(ops(g))


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(4, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.b = nn.Conv2d(4, 6, 1)
        self.c = nn.Conv2d(4, 2, 3, padding=1)

    def forward(self, x):
        y = F.relu(self.bn(self.a(x)) + x)              # residual add
        z = torch.cat([self.b(y), self.c(y), y], dim=1)  # concat on channels
        s = torch.softmax(z, dim=1)                      # softmax over channels
        t = torch.softmax(z.mean(dim=(2, 3), keepdim=True) * 2, dim=-1)
        return s, t.squeeze(-1).squeeze(-1)


def test_residual_concat_softmax(tmp_path):
    g = check(Residual(), (1, 4, 6, 6), tmp_path)
    concat = next(n for n in g.nodes if n.op is Op.CONCATENATION)
    assert concat.attrs["axis"] == 3  # ONNX channel axis 1 -> NHWC axis 3


class LayoutOps(nn.Module):
    """Ops that see the memory order get the value back in ONNX (NCHW) order."""

    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(2, 3, 3, padding=1)

    def forward(self, x):
        y = self.c(x)                                          # [1,3,5,4] channels last inside
        p = F.pad(y, (1, 0, 2, 1))                             # Pad on W and H
        q = F.avg_pool2d(p, 2, stride=1, padding=1, count_include_pad=True)
        r = q.permute(0, 2, 3, 1).reshape(1, -1, 3)            # Transpose, Reshape
        u = r.unsqueeze(1).mean(dim=2) / 4.0 - 1.0             # Unsqueeze, ReduceMean, Div, Sub
        v = torch.softmax(y, dim=2)                            # Softmax on a middle axis
        return u, v.view(1, 3, -1)


def test_layout_sensitive_ops(tmp_path):
    check(LayoutOps(), (1, 2, 5, 4), tmp_path)


class Conv1dMixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv1d(4, 4, 3, padding=1)

    def forward(self, x):
        y = F.relu(self.c(x))
        y = torch.cat([y, F.pad(x, (0, 0))], dim=1)     # concat of a conv output with the input
        y = F.max_pool1d(F.pad(y, (1, 2)), 2, ceil_mode=True)
        return torch.softmax(y, dim=1), y.mean(-1)


def test_conv1d_layouts(tmp_path):
    check(Conv1dMixed(), (2, 4, 9), tmp_path)


class Sequence(nn.Module):
    """[N, T, F] features: Linear over the last axis (MatMul + Add), then Conv1d over time."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(6, 8)
        self.conv = nn.Conv1d(8, 8, 3, padding=1)
        self.head = nn.Linear(8, 3)
        self.w = nn.Parameter(torch.randn(5, 3))

    def forward(self, x):
        h = torch.sigmoid(self.proj(x))
        y = self.conv(h.transpose(1, 2))                  # [N, 8, T]
        y = F.adaptive_max_pool1d(F.silu(y), 1).squeeze(-1)
        return torch.addmm(self.w, y, self.head.weight.t())  # Gemm with a [M, N] C


def test_sequence_matmul_and_gemm(tmp_path):
    g = check(Sequence(), (5, 7, 6), tmp_path)
    fc = [n for n in g.nodes if n.op is Op.FULLY_CONNECTED]
    assert fc[0].attrs["keep_num_dims"] and g.t(fc[0].outputs[0]).shape == (5, 7, 8)
    assert Op.ADD in ops(g)  # the [5, 3] C of the Gemm stays an ADD


def test_torchscript_opset13(tmp_path):
    check(SmallCNN(), (1, 3, 16, 16), tmp_path, opset=13)
    # Before opset 14 torch writes hardswish as x * HardSigmoid(x): it becomes one HARD_SWISH.
    model = nn.Sequential(nn.Conv2d(2, 4, 1), nn.Hardswish(), nn.Conv2d(4, 4, 1), nn.Hardsigmoid())
    g = check(model, (1, 2, 3, 3), tmp_path, opset=13)
    assert ops(g).count(Op.HARD_SWISH) == 1 and Op.RELU6 not in ops(g)


def test_dynamo_export(tmp_path):
    g = check(DSBlock(), (1, 1, 20, 10), tmp_path, opset=18, dynamo=True)
    assert Op.DEPTHWISE_CONV_2D in ops(g)
    model, x = Sequence().eval(), torch.randn(5, 7, 6)
    g = from_torch(model, x, dynamo=True)
    assert_close([model(x).detach().numpy()], run_tflm(g, [x.numpy()]))


def test_from_torch_and_api_load(tmp_path):
    model = TimeSeries().eval()
    x = torch.randn(1, 3, 64)
    g = from_torch(model, x, name="ts")
    assert g.name == "ts" and model.training is False
    want = model(x).detach().numpy()
    assert_close([want], run_tflm(g, [x.numpy()]))
    model.train()
    from_torch(model, x)
    assert model.training  # mode restored
    with pytest.raises(MicrolithError, match="from_torch: torch.onnx.export failed for Sequence: .*broadcast"):
        from_torch(Sequence(), torch.randn(2, 7, 6), dynamo=True)  # the addmm needs a batch of 5
    path = export(TimeSeries(), x, tmp_path / "ts.onnx")
    g2 = microlith.load(path)
    assert g2.meta["format"] == "onnx" and g2.name == "ts"


def test_dynamic_batch_needs_input_shape(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 2))
    path = export(model, torch.randn(1, 3, 6, 6), tmp_path / "dyn.onnx",
                  input_names=["x"], dynamic_axes={"x": {0: "batch"}})
    with pytest.raises(MicrolithError, match="dynamic shape.*--input-shape"):
        load_onnx(path)
    with pytest.raises(MicrolithError, match="does not fit"):
        load_onnx(path, input_shape=[1, 3, 7, 6])
    g = load_onnx(path, input_shape=[2, 3, 6, 6])
    assert g.t(g.inputs[0]).shape == (2, 3, 6, 6)
    xs = [np.random.default_rng(0).normal(size=(2, 3, 6, 6)).astype(np.float32)]
    assert_close(run_ort(path, xs), run_tflm(g, xs))


# ---------------------------------------------------------------------------------------------
# Errors


def _onnx_model(nodes, inputs, outputs, inits=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def test_unsupported_ops_listed_together(tmp_path):
    nodes = [helper.make_node("Erf", ["x"], ["a"], name="erf_0"),
             helper.make_node("Relu", ["a"], ["b"]),
             helper.make_node("Erf", ["b"], ["c"], name="erf_1"),
             helper.make_node("Sin", ["c"], ["d"], name="sin"),   # (was Gelu, now supported)
             helper.make_node("Shape", ["d"], ["s"]),            # folds: not listed
             helper.make_node("Reshape", ["d", "s"], ["y"])]
    path = tmp_path / "bad.onnx"
    onnx.save(_onnx_model(nodes, [_vi("x", [1, 4])], [_vi("y", [1, 4])], opset=20), path)
    with pytest.raises(MicrolithError) as e:
        load_onnx(path)
    msg = str(e.value)
    assert "Erf (x2, first node 'erf_0')" in msg and "Sin (x1, first node 'sin')" in msg
    assert "Relu" not in msg.split("Supported")[0] and "Shape" not in msg.split("Supported")[0]


def test_grouped_conv_rejected(tmp_path):
    path = export(nn.Conv2d(4, 8, 3, groups=2), torch.randn(1, 4, 6, 6), tmp_path / "g.onnx")
    with pytest.raises(MicrolithError, match="grouped convolution.*group=2"):
        load_onnx(path)


def test_clip_bounds_and_matmul_rejected(tmp_path):
    path = export(nn.Hardtanh(-2.0, 2.0), torch.randn(1, 4), tmp_path / "clip.onnx")
    with pytest.raises(MicrolithError, match=r"Clip to \[-2.0, 2.0\] is not supported"):
        load_onnx(path)

    class MM(nn.Module):
        def forward(self, x):
            return x @ x.transpose(0, 1)
    path = export(MM(), torch.randn(3, 4), tmp_path / "mm.onnx")
    # issue 10: a product of two computed tensors is now BATCH_MATMUL (tests/test_onnx_more.py)
    assert Op.BATCH_MATMUL in {n.op for n in load_onnx(path).nodes}


def test_bad_files(tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x08\x07garbage that is not a protobuf \xff\xff\xff")
    with pytest.raises(MicrolithError, match="not an ONNX model"):
        load_onnx(junk)
    with pytest.raises(MicrolithError, match="no such file"):
        microlith.load(tmp_path / "missing.onnx")

    # A node reading a tensor nobody provides.
    path = tmp_path / "missing_input.onnx"
    onnx.save(_onnx_model([helper.make_node("Add", ["x", "nowhere"], ["y"], name="add")],
                          [_vi("x", [1, 4])], [_vi("y", [1, 4])]), path)
    with pytest.raises(MicrolithError, match="'add'.*'nowhere'.*missing input"):
        load_onnx(path)

    # An initializer whose bytes do not fill its shape.
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 3], np.zeros(12, np.float32).tobytes(), raw=True)
    w.raw_data = w.raw_data[:40]
    path = tmp_path / "short.onnx"
    onnx.save(_onnx_model([helper.make_node("MatMul", ["x", "w"], ["y"])], [_vi("x", [1, 4])],
                          [_vi("y", [1, 3])], [w]), path)
    with pytest.raises(MicrolithError, match="initializer 'w'.*needs 48 bytes but holds 40"):
        load_onnx(path)

    # Non-float input.
    path = tmp_path / "int_input.onnx"
    x = helper.make_tensor_value_info("x", TensorProto.INT8, [1, 4])
    onnx.save(_onnx_model([helper.make_node("Relu", ["x"], ["y"])], [x], [_vi("y", [1, 4])]), path)
    with pytest.raises(MicrolithError, match="input 'x' is INT8"):
        load_onnx(path)


def test_constant_folding_of_shape_chains(tmp_path):
    class ViewByShape(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(2, 3, 3)

        def forward(self, x):
            y = self.c(x)
            return y.view(y.size(0), -1) * torch.ones(1, y.shape[1] * y.shape[2] * y.shape[3])
    g = check(ViewByShape(), (1, 2, 5, 5), tmp_path, opset=13)
    assert Op.CONV_2D in ops(g)


# ---------------------------------------------------------------------------------------------
# Hand-written ONNX graphs: attribute forms and ops torch does not emit in the models above


def _init(name, arr):
    return onnx.numpy_helper.from_array(np.asarray(arr), name)


def check_onnx(tmp_path, nodes, inputs, outputs, inits=(), opset=17, name="h"):
    path = tmp_path / f"{name}.onnx"
    model = _onnx_model(nodes, inputs, outputs, inits, opset)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=[d.dim_value for d in i.type.tensor_type.shape.dim]).astype(np.float32) for i in inputs]
    want = run_ort(path, xs)
    g = load_onnx(path)
    assert_close(want, run_tflm(g, xs))
    assert_close(want, run_tflm(load_onnx(path, optimize=False), xs))
    return g


def test_opset11_attribute_forms(tmp_path):
    w = np.random.default_rng(2).normal(size=(3, 2, 3, 3)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], auto_pad="SAME_UPPER", strides=[2, 2]),
             helper.make_node("Conv", ["x", "w"], ["c2"], auto_pad="SAME_LOWER", strides=[2, 2]),
             helper.make_node("Add", ["c", "c2"], ["s"]),
             helper.make_node("GlobalMaxPool", ["s"], ["gm"]),
             helper.make_node("Squeeze", ["gm"], ["sq"], axes=[2, 3]),
             helper.make_node("Unsqueeze", ["sq"], ["us"], axes=[1]),
             helper.make_node("Constant", [], ["shape"], value=_init("v", np.array([0, -1], np.int64))),
             helper.make_node("Reshape", ["us", "shape"], ["r"]),
             helper.make_node("Gemm", ["r", "b"], ["gemm"], transA=1, alpha=0.5, beta=2.0),
             helper.make_node("Softmax", ["gemm"], ["y"], axis=1),
             helper.make_node("ReduceMean", ["s"], ["m"], axes=[1], keepdims=0),
             helper.make_node("Pad", ["m", "pads"], ["z"], mode="constant"),
             helper.make_node("Softmax", ["s"], ["joint"], axis=1),     # over C, H and W as one
             helper.make_node("Softmax", ["gm"], ["channels"], axis=1)]  # H = W = 1: over C
    inits = [_init("w", w), _init("b", np.random.default_rng(3).normal(size=(1, 4)).astype(np.float32)),
             _init("pads", np.array([0, 1, 0, 0, 2, 1], np.int64))]
    check_onnx(tmp_path, nodes, [_vi("x", [1, 2, 7, 6])],
               [_vi("y", [3, 4]), _vi("z", [1, 6, 4]), _vi("joint", [1, 3, 4, 3]), _vi("channels", [1, 3, 1, 1])],
               inits, opset=11)


def test_opset18_inputs_and_shared_outputs(tmp_path):
    nodes = [helper.make_node("ReduceMean", ["x", "axes"], ["m"], keepdims=1),
             helper.make_node("Sub", ["x", "m"], ["d"]),
             helper.make_node("Identity", ["d"], ["y1"]),
             helper.make_node("Identity", ["d"], ["y2"]),
             helper.make_node("Pad", ["d", "pads", "", "pad_axes"], ["p"]),
             helper.make_node("AveragePool", ["p"], ["y3"], kernel_shape=[3], pads=[1, 1],
                              count_include_pad=1)]
    inits = [_init("axes", np.array([2], np.int64)), _init("pads", np.array([2, 1], np.int64)),
             _init("pad_axes", np.array([-1], np.int64))]
    g = check_onnx(tmp_path, nodes, [_vi("x", [2, 3, 8])],
                   [_vi("y1", [2, 3, 8]), _vi("y2", [2, 3, 8]), _vi("y3", [2, 3, 11])], inits, opset=18)
    assert g.outputs == ["y1", "y2", "y3"]


def test_two_inputs_and_input_shapes(tmp_path):
    nodes = [helper.make_node("Concat", ["a", "b"], ["c"], axis=1),
             helper.make_node("Relu", ["c"], ["y"])]
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, ["n", 2, 4])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, ["n", 3, "t"])
    path = tmp_path / "two.onnx"
    onnx.save(_onnx_model(nodes, [a, b], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]), path)
    with pytest.raises(MicrolithError, match="input 'a' has a dynamic shape"):
        load_onnx(path)
    with pytest.raises(MicrolithError, match="2 inputs; give one shape per input"):
        load_onnx(path, input_shape=[1, 2, 4])
    with pytest.raises(MicrolithError, match=r"unknown input\(s\) \['c'\]"):
        load_onnx(path, input_shape={"c": [1]})
    g = load_onnx(path, input_shape={"a": [2, 2, 4], "b": [2, 3, 4]})
    assert [g.t(n).shape for n in g.inputs] == [(2, 2, 4), (2, 3, 4)]
    assert load_onnx(path, input_shape=[[2, 2, 4], [2, 3, 4]]).t("y").shape == (2, 5, 4)
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(2, 2, 4)).astype(np.float32), rng.normal(size=(2, 3, 4)).astype(np.float32)]
    assert_close(run_ort(path, xs), run_tflm(g, xs))


def test_window_padding_errors(tmp_path):
    def model(op, **kw):
        path = tmp_path / f"{op}.onnx"
        onnx.save(_onnx_model([helper.make_node(op, ["x"], ["y"], kernel_shape=[3, 3], **kw)],
                              [_vi("x", [1, 2, 6, 6])], [_vi("y", [1, 2, 3, 3])]), path)
        return path
    with pytest.raises(MicrolithError, match="MaxPool pads .* not known to be >= 0"):
        load_onnx(model("MaxPool", strides=[2, 2], pads=[1, 1, 1, 1]))
    with pytest.raises(MicrolithError, match="AveragePool pads .* count_include_pad=0"):
        load_onnx(model("AveragePool", strides=[2, 2], pads=[1, 1, 1, 1]))


def test_pool_ceil_mode(tmp_path):
    class Pools(nn.Module):
        def forward(self, x):
            a = F.max_pool2d(F.relu(x), 3, stride=2, ceil_mode=True)                   # SAME-like
            b = F.avg_pool2d(x, 2, stride=2, ceil_mode=True)                             # partial last window
            c = F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=True)
            return a, b, c
    check(Pools(), (1, 2, 7, 5), tmp_path)
