"""The input-data contract (issue 9): a sample has the model input's shape, with or without its
batch axis; a file holds a batch. Wrong shapes are refused with the expected and the given shape
and, where a transpose fixes it, which one; data is never reshaped by element count."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import microlith
from microlith.ir import Graph, MicrolithError, Node, Op, Tensor
from microlith.quantize.data import load_dataset
from microlith.verify import load_inputs
from opmodels import act, single_op, write

NCL = (1, 3, 64)  # a PyTorch/ONNX 1-D CNN input: batch, channels, length


def _float_graph(shape=NCL) -> Graph:
    x, y = Tensor("x", shape, "float32"), Tensor("y", shape, "float32")
    return Graph("f", {"x": x, "y": y}, [Node(Op.RELU, ("x",), ("y",), {})], ["x"], ["y"])


def _int8_model(tmp_path, shape=NCL):
    g = single_op(Op.RELU, [act("x", shape, 0.05, -3)], [act("y", shape, 0.05, -3)])
    return write(g, tmp_path, "relu_ncl")


WRONG = [  # the shapes the user's channels-last activity windows came in (issue 9, Why 1)
    ((500, 64, 3), r"channels-last data .* np.transpose\(x, \(0, 2, 1\)\)"),
    ((500, 3, 128), r"expected a batch of samples \(N, 1, 3, 64\) or \(N, 3, 64\)"),
    ((500, 192), "never reshaped"),
    ((3, 64), r"single sample without its batch axis"),
]
RIGHT = [((500, 3, 64), 500), ((500, 1, 3, 64), 500), ((1, 3, 64), 1)]


@pytest.mark.parametrize("shape, message", WRONG)
def test_calibration_of_the_wrong_shape_is_refused(shape, message):
    with pytest.raises(MicrolithError, match=message) as e:
        load_dataset(np.zeros(shape, np.float32), _float_graph())
    assert f"has shape {tuple(shape)}" in str(e.value) and "[1, 3, 64]" in str(e.value)


@pytest.mark.parametrize("shape, n", RIGHT)
def test_calibration_of_the_right_shape_with_and_without_batch_axis(shape, n):
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    ds = load_dataset(x, _float_graph())
    assert len(ds.samples) == n and ds.samples[0][0].shape == NCL
    assert np.array_equal(ds.samples[-1][0].reshape(-1), x.reshape(n, -1)[-1])


def test_python_api_samples_with_or_without_batch_axis():
    g = _float_graph()
    ok = load_dataset([np.ones((3, 64), np.float32), np.ones(NCL, np.float32)], g)
    assert [s[0].shape for s in ok.samples] == [NCL, NCL]
    with pytest.raises(MicrolithError, match=r"np.transpose\(x, \(1, 0\)\)"):
        load_dataset([np.ones((64, 3), np.float32)], g)


@pytest.mark.parametrize("shape, message", WRONG)
def test_verify_inputs_of_the_wrong_shape_exit_2(tmp_path, shape, message):
    model = _int8_model(tmp_path)
    data = tmp_path / "x.npy"
    np.save(data, np.zeros(shape, np.int8))
    r = subprocess.run([sys.executable, "-m", "microlith.cli", "verify", str(model), "--samples", "0",
                        "--inputs", str(data)], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    import re
    assert re.search(message, r.stderr), r.stderr


def test_verify_quantizes_float_inputs_and_says_so(tmp_path):
    model = _int8_model(tmp_path)
    x = np.random.default_rng(1).normal(0, 2, (4, 3, 64)).astype(np.float32)
    data = tmp_path / "x.npy"
    np.save(data, x)
    notes = []
    cases = load_inputs(str(data), microlith.load(model), notes)
    assert len(cases) == 4 and cases[0][0].dtype == np.int8 and cases[0][0].shape == NCL
    # TFLM's QUANTIZE: round half away from zero of x / scale, plus the zero point, saturated.
    v = x[0] / np.float32(0.05)
    want = np.clip(np.sign(v) * np.floor(np.abs(v) + 0.5) - 3, -128, 127).astype(np.int8)
    assert np.array_equal(cases[0][0].reshape(3, 64), want)
    assert notes and "scale 0.05" in notes[0] and "zero point -3" in notes[0]
    r = microlith.verify(model, samples=2, inputs=str(data))
    assert r["bit_exact"] and r["samples"] == 6 and r["notes"]


def test_npz_keys_are_named_when_they_do_not_match(tmp_path):
    model = _int8_model(tmp_path)
    data = tmp_path / "x.npz"
    np.savez(data, x=np.zeros((2, 3, 64), np.int8), extra=np.zeros(3))
    with pytest.raises(MicrolithError, match=r"holds arrays \['extra', 'x'\]; the model's inputs are \['x'\]"):
        load_inputs(str(data), microlith.load(model))
    with pytest.raises(MicrolithError, match=r"holds arrays \['extra', 'x'\]"):
        load_dataset(data, _float_graph())
