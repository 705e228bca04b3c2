"""Bad input of any kind: exit 2 and one line naming the problem, within seconds, never a traceback."""
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from microlith.codegen.c import prepare
from microlith.frontends.tflite import parse_tflite
from microlith.ir import MicrolithError
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

MODELS = Path(__file__).resolve().parent.parent / "examples" / "models" / "mlperf_tiny"
KWS = MODELS / "kws_ref_model.tflite"


def cli(*args, timeout=60):
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-m", "microlith.cli", *map(str, args)],
                         capture_output=True, text=True, timeout=timeout)
    return res, time.monotonic() - t0


def assert_bad_input(res, *words):
    assert res.returncode == 2, (res.returncode, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_truncated_file(tmp_path):
    bad = tmp_path / "truncated.tflite"
    bad.write_bytes(KWS.read_bytes()[:20000])
    res, secs = cli("compile", bad, "-o", tmp_path / "out")
    assert_bad_input(res, str(bad), "corrupt or truncated")
    assert secs < 10


def test_random_bytes(tmp_path):
    bad = tmp_path / "noise.tflite"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 50000, dtype=np.uint8).tobytes())
    res, _ = cli("verify", bad, "--samples", "3")
    assert_bad_input(res, str(bad), "not a TFLite flatbuffer")


def test_missing_file_and_bad_usage(tmp_path):
    res, _ = cli("inspect", tmp_path / "nope.tflite")
    assert_bad_input(res, "no such file")
    res, _ = cli("compile", KWS)  # -o is required
    assert_bad_input(res, "-o")


def _with_opcode(model_bytes: bytes, op_index: int, builtin: int) -> bytes:
    import flatbuffers
    m = fb.ModelT.InitFromPackedBuf(model_bytes, 0)
    m.operatorCodes[op_index].builtinCode = builtin
    m.operatorCodes[op_index].deprecatedBuiltinCode = min(builtin, 127)
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def test_unsupported_ops_are_all_listed(tmp_path):
    data = _with_opcode(KWS.read_bytes(), 1, fb.BuiltinOperator.EXP)      # the depthwise convs
    data = _with_opcode(data, 5, fb.BuiltinOperator.GELU)                 # the softmax
    bad = tmp_path / "unsupported.tflite"
    bad.write_bytes(data)
    res, _ = cli("compile", bad, "-o", tmp_path / "out")
    assert_bad_input(res, str(bad), "unsupported op", "EXP (x4", "GELU (x1")


def test_float_model_rejected_by_compile_and_verify_with_the_fix(tmp_path):
    """The error names the model's float input (not an op a frontend inserted) and gives the
    quantize command line (issue 9, Deliver 2)."""
    for cmd in (("compile", MODELS / "ad01_fp32.tflite", "-o", tmp_path / "out"),
                ("verify", MODELS / "ad01_fp32.tflite")):
        res, _ = cli(*cmd)
        assert_bad_input(res, "ad01_fp32.tflite", "float model", "input 'input_1' [1, 640] is float32",
                         "microlith quantize", "--calibration", "-o ad01_fp32_int8.tflite")


def test_float_onnx_names_its_input_not_an_inserted_op(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("window", TensorProto.FLOAT, [1, 3, 64])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 64])
    model = helper.make_model(helper.make_graph([helper.make_node("Relu", ["window"], ["y"])], "g", [x], [y]),
                              opset_imports=[helper.make_opsetid("", 13)])
    path = tmp_path / "net.onnx"
    onnx.save(model, path)
    res, _ = cli("compile", path, "-o", tmp_path / "out")
    assert_bad_input(res, "net.onnx", "input 'window' [1, 3, 64] is float32", "microlith quantize")
    assert "TRANSPOSE" not in res.stderr


def test_mutated_models_never_crash():
    """Flipped bytes and truncations anywhere in a real model: a Graph or a MicrolithError, fast."""
    rng = np.random.default_rng(1)
    base = bytearray(KWS.read_bytes())
    t0 = time.monotonic()
    outcomes = {"ok": 0, "error": 0}
    for k in range(300):
        data = bytearray(base)
        if k % 3 == 0:
            data = data[: int(rng.integers(8, len(data)))]
        else:
            for _ in range(int(rng.integers(1, 8))):
                # bias mutations toward the flatbuffer tables (the tail), where structure lives
                pos = int(rng.integers(len(data) - 4000 if k % 2 else 8, len(data)))
                data[pos] = int(rng.integers(0, 256))
        try:
            g = parse_tflite(bytes(data), "mutant.tflite")
            prepare(g)
            outcomes["ok"] += 1
        except MicrolithError as e:
            assert "mutant.tflite" in str(e) or "op #" in str(e), str(e)
            outcomes["error"] += 1
    assert time.monotonic() - t0 < 60
    assert outcomes["error"] > 50, outcomes
