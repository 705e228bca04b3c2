"""ONNX GRU and LSTM (unrolled into FULLY_CONNECTED / LOGISTIC / TANH / MUL / ADD / SUB /
STRIDED_SLICE / CONCATENATION): the float IR run in TFLM equals the ONNX semantics (onnx's
reference evaluator; onnxruntime for torch exports); quantized, the generated C is byte-exact
with TFLM; and a GRU classifier trained on BasicMotions keeps its accuracy in int8 C."""
from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator
from test_onnx import assert_close, export, run_ort, run_tflm

import microlith
from microlith.frontends.onnx import load_onnx
from microlith.ir import MicrolithError, Op

nn = torch.nn
DATA = Path(__file__).resolve().parent / "data" / "basicmotions"
CLASSES = ["Standing", "Walking", "Running", "Badminton"]


# ---------------------------------------------------------------------------------------------
# Single ONNX nodes with every attribute, against onnx's reference evaluator


def one_node(path: Path, op_type: str, x_shape, consts: list, n_out: int, **attrs) -> Path:
    """A model of one node: input "x", then `consts` (arrays, or None for an absent input)."""
    inits, names = [], ["x"]
    for k, c in enumerate(consts):
        if c is None:
            names.append("")
        else:
            names.append(f"c{k}")
            inits.append(numpy_helper.from_array(np.asarray(c), f"c{k}"))
    outs = [f"y{k}" for k in range(n_out)]
    node = helper.make_node(op_type, names, outs, **attrs)
    graph = helper.make_graph([node], "one", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def check_node(path: Path, x_shape, seed: int = 0, optimize: bool = True):
    x = np.random.default_rng(seed).normal(size=x_shape).astype(np.float32)
    want = ReferenceEvaluator(str(path)).run(None, {"x": x})
    g = load_onnx(path, optimize=optimize)
    assert_close(want, run_tflm(g, [x]))
    return g


def rnn_weights(rng, dirs: int, gates: int, n_in: int, hidden: int):
    w = rng.normal(0, 0.6, (dirs, gates * hidden, n_in)).astype(np.float32)
    r = rng.normal(0, 0.6, (dirs, gates * hidden, hidden)).astype(np.float32)
    b = rng.normal(0, 0.3, (dirs, 2 * gates * hidden)).astype(np.float32)
    return w, r, b


def initial_state(rng, kind: str | None, dirs: int, layout: int, hidden: int):
    shape = (dirs, 1, hidden) if layout == 0 else (1, dirs, hidden)
    return {None: None, "zero": np.zeros(shape, np.float32),
            "const": rng.normal(0, 0.5, shape).astype(np.float32)}[kind]


@pytest.mark.parametrize("layout,lbr,direction,h0,steps", [
    (0, 0, "forward", None, 5),
    (0, 1, "forward", "const", 4),
    (1, 1, "reverse", "zero", 3),
    (1, 0, "bidirectional", "const", 4),
    (0, 1, "bidirectional", None, 1),
])
def test_gru_node(tmp_path, layout, lbr, direction, h0, steps):
    rng = np.random.default_rng(1)
    dirs, n_in, hidden = (2 if direction == "bidirectional" else 1), 3, 5
    w, r, b = rnn_weights(rng, dirs, 3, n_in, hidden)
    x_shape = (steps, 1, n_in) if layout == 0 else (1, steps, n_in)
    path = one_node(tmp_path / "gru.onnx", "GRU", x_shape, [w, r, b, None, initial_state(rng, h0, dirs, layout, hidden)],
                    2, hidden_size=hidden, layout=layout, linear_before_reset=lbr, direction=direction)
    g = check_node(path, x_shape)
    check_node(path, x_shape, seed=1, optimize=False)
    count = {op: sum(n.op is op for n in g.nodes) for op in (Op.TANH, Op.LOGISTIC)}
    # Unrolled: one per gate and step, but the first reset gate only multiplies a zero state
    # when the recurrent product comes after it (linear_before_reset=0): it is not computed.
    unused = dirs if lbr == 0 and h0 != "const" else 0
    assert count == {Op.TANH: steps * dirs, Op.LOGISTIC: 2 * steps * dirs - unused}


@pytest.mark.parametrize("layout,direction,init,steps", [
    (0, "forward", None, 4),
    (1, "reverse", "const", 3),
    (0, "bidirectional", "zero", 3),
])
def test_lstm_node(tmp_path, layout, direction, init, steps):
    rng = np.random.default_rng(2)
    dirs, n_in, hidden = (2 if direction == "bidirectional" else 1), 4, 3
    w, r, b = rnn_weights(rng, dirs, 4, n_in, hidden)
    x_shape = (steps, 1, n_in) if layout == 0 else (1, steps, n_in)
    h0, c0 = (initial_state(rng, init, dirs, layout, hidden) for _ in range(2))
    path = one_node(tmp_path / "lstm.onnx", "LSTM", x_shape, [w, r, b, None, h0, c0], 3, hidden_size=hidden,
                    layout=layout, direction=direction)
    check_node(path, x_shape)


class Recurrent(nn.Module):
    def __init__(self, kind: str, **kw):
        super().__init__()
        self.rnn = getattr(nn, kind)(6, 8, batch_first=True, **kw)

    def forward(self, x):
        y, h = self.rnn(x)
        return y, (h[0] if isinstance(h, tuple) else h)


@pytest.mark.parametrize("kind,kw,dynamo", [("GRU", {}, False), ("GRU", {"bidirectional": True}, True),
                                            ("LSTM", {}, True), ("LSTM", {"num_layers": 2}, False)])
def test_torch_export(tmp_path, kind, kw, dynamo):
    torch.manual_seed(0)
    x = torch.randn(1, 5, 6)
    path = export(Recurrent(kind, **kw), x, tmp_path / "rnn.onnx", dynamo=dynamo)
    want = run_ort(path, [x.numpy()])
    assert_close(want, run_tflm(load_onnx(path), [x.numpy()]))


# ---------------------------------------------------------------------------------------------
# int8: quantize, compile, byte-exact against TFLM


def quantize_verify(path: Path, x_shape, tmp_path: Path, samples: int = 8) -> dict:
    rng = np.random.default_rng(3)
    cal = rng.normal(size=(16,) + tuple(x_shape[1:] if x_shape[0] == 1 else x_shape)).astype(np.float32)
    if x_shape[0] != 1:  # a [S, 1, I] input: one sample is the whole array
        cal = rng.normal(size=(16,) + tuple(x_shape)).astype(np.float32)
    else:
        cal = cal[:, None]
    out = tmp_path / "q.tflite"
    microlith.quantize(str(path), list(cal), str(out), report=False)
    res = microlith.verify(str(out), samples=samples)
    assert res["bit_exact"], res["first_mismatch"]
    return res


@pytest.mark.parametrize("op_type,gates,h0,attrs", [("GRU", 3, None, {"linear_before_reset": 1}),
                                                    ("GRU", 3, "const", {"direction": "bidirectional"}),
                                                    ("LSTM", 4, "const", {"layout": 1})])
def test_recurrent_int8_exact(tmp_path, op_type, gates, h0, attrs):
    """Quantized and compiled; a constant initial state puts constant operands into the first
    step's SUB/MUL/ADD."""
    rng = np.random.default_rng(4)
    dirs, layout = (2 if attrs.get("direction") == "bidirectional" else 1), attrs.get("layout", 0)
    w, r, b = rnn_weights(rng, dirs, gates, 4, 6)
    state = [initial_state(rng, h0, dirs, layout, 6)] * (gates - 2)
    x_shape = (5, 1, 4) if layout == 0 else (1, 5, 4)
    path = one_node(tmp_path / "rnn.onnx", op_type, x_shape, [w, r, b, None, *state], 2, hidden_size=6, **attrs)
    quantize_verify(path, x_shape, tmp_path)


# ---------------------------------------------------------------------------------------------
# Refusals


def _gru(tmp_path, x_shape=(3, 1, 2), consts=None, **attrs):
    w, r, b = rnn_weights(np.random.default_rng(5), 1, 3, 2, 4)
    return one_node(tmp_path / "bad.onnx", "GRU", x_shape, consts if consts is not None else [w, r, b], 2,
                    hidden_size=4, **attrs)


@pytest.mark.parametrize("case,message", [
    ("batch", "batch size 2"),
    ("activations", "activations"),
    ("clip", "clip"),
    ("sequence_lens", "sequence_lens"),
    ("long", "more than 1024 steps"),
])
def test_gru_refusals(tmp_path, case, message):
    w, r, b = rnn_weights(np.random.default_rng(5), 1, 3, 2, 4)
    if case == "batch":
        path = _gru(tmp_path, x_shape=(3, 2, 2))
    elif case == "activations":
        path = _gru(tmp_path, activations=["Relu", "Tanh"])
    elif case == "clip":
        path = _gru(tmp_path, clip=3.0)
    elif case == "long":
        path = _gru(tmp_path, x_shape=(513, 1, 2), direction="bidirectional",
                    consts=list(rnn_weights(np.random.default_rng(5), 2, 3, 2, 4)))
    else:
        path = _gru(tmp_path, consts=[w, r, b, np.array([2], np.int32)])
    with pytest.raises(MicrolithError, match=message) as e:
        load_onnx(path)
    assert "GRU node" in str(e.value)


def test_lstm_peephole_and_computed_state_refused(tmp_path):
    w, r, b = rnn_weights(np.random.default_rng(6), 1, 4, 2, 3)
    p = np.ones((1, 9), np.float32)
    path = one_node(tmp_path / "p.onnx", "LSTM", (3, 1, 2), [w, r, b, None, None, None, p], 1, hidden_size=3)
    with pytest.raises(MicrolithError, match="peephole"):
        load_onnx(path)
    # initial_h computed from the input
    node = helper.make_node("LSTM", ["x", "w", "r", "", "", "x"], ["y"], hidden_size=2)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(w[:, :8, :], "w"), numpy_helper.from_array(r[:, :8, :2], "r")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(tmp_path / "h.onnx"))
    with pytest.raises(MicrolithError, match="initial_h is computed at run time"):
        load_onnx(tmp_path / "h.onnx")


# ---------------------------------------------------------------------------------------------
# End to end: a GRU activity classifier on BasicMotions


def basicmotions(split: str, pool: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(N, 100 // pool, 6) float32 series (batch first, each step the mean of `pool` samples of
    the 6 IMU axes) and class indices."""
    xs, ys = [], []
    for line in (DATA / f"BasicMotions_{split}.ts").read_text().splitlines():
        if line.strip() and not line.startswith(("#", "@")):
            *axes, label = line.strip().split(":")
            xs.append([[float(v) for v in a.split(",")] for a in axes])
            ys.append(CLASSES.index(label))
    x = np.array(xs, np.float32)
    x = x.reshape(len(x), 6, -1, pool).mean(-1).transpose(0, 2, 1)
    return np.ascontiguousarray(x), np.array(ys)


class GRUClassifier(nn.Module):
    def __init__(self, hidden: int = 12):
        super().__init__()
        self.rnn = nn.GRU(6, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, len(CLASSES))

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.fc(y[:, -1])                     # the last step: Gather on the sequence axis


def train_gru(out_dir: Path, steps: int = 150, seed: int = 0) -> dict:
    """Train the classifier (full batch, Adam), export it to ONNX; the series are standardized
    with the training set's per-axis mean and deviation before the model."""
    x_train, y_train = basicmotions("TRAIN")
    x_test, y_test = basicmotions("TEST")
    mean, std = x_train.mean((0, 1)), x_train.std((0, 1))
    x_train, x_test = ((x - mean) / std for x in (x_train, x_test))
    torch.manual_seed(seed)
    net = GRUClassifier()
    opt = torch.optim.Adam(net.parameters(), lr=0.02)
    xt, yt = torch.from_numpy(x_train.astype(np.float32)), torch.from_numpy(y_train)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(net(xt), yt).backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        float_acc = float((net(torch.from_numpy(x_test.astype(np.float32))).argmax(1).numpy() == y_test).mean())
    path = Path(out_dir) / "gru.onnx"
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (xt[:1],), str(path), opset_version=17, dynamo=False)
    return {"onnx": path, "x_train": x_train.astype(np.float32), "x_test": x_test.astype(np.float32),
            "y_test": y_test, "torch_float_acc": float_acc}


def host_accuracy(c_dir: Path, prefix: str, tflite: Path, x: np.ndarray, y: np.ndarray, work: Path) -> float:
    """Top-1 of the generated C (host build) on float series, quantized with the model's input
    parameters."""
    from microlith.quantize.report import int8_inputs
    from microlith.verify import HostModel
    g = microlith.load(str(tflite))
    work.mkdir(parents=True, exist_ok=True)
    host = HostModel(c_dir, g, prefix, work)
    try:
        preds = [int(np.argmax(host.run(int8_inputs(g, [s[None]]))[0])) for s in x]
    finally:
        host.close()
    return float(np.mean(np.array(preds) == y))


def test_gru_basicmotions_end_to_end(tmp_path):
    m = train_gru(tmp_path)
    assert m["torch_float_acc"] >= 0.85, m["torch_float_acc"]  # a real recogniser (chance: 25%)
    g = microlith.load(str(m["onnx"]))
    assert {Op.FULLY_CONNECTED, Op.LOGISTIC, Op.TANH, Op.STRIDED_SLICE} <= {n.op for n in g.nodes}
    assert Op.CONCATENATION not in {n.op for n in g.nodes}  # y[:, -1] reads the last step's state itself
    q = tmp_path / "gru_int8.tflite"
    r = microlith.quantize(g, m["x_train"], str(q), evaluation=m["x_test"], labels=m["y_test"])
    acc = r["accuracy"]
    assert acc["top1_float"] >= 0.85 and acc["top1_int8"] >= acc["top1_float"] - 0.05, r["report_text"]
    np.save(tmp_path / "test.npy", m["x_test"])
    # The C is byte-exact with TFLM on every held-out series, so its accuracy is top1_int8
    # (bench/bench_recurrent.py measures it on the C directly).
    v = microlith.verify(str(q), samples=4, inputs=str(tmp_path / "test.npy"))
    assert v["bit_exact"] and v["samples"] == 44, v
    assert v["arena_bytes"] < 4096
