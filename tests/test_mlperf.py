"""The four MLPerf Tiny int8 reference models: byte-exact with TFLM, strict C, deterministic output."""
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import microlith
from microlith.targets.build import check_strict

MODELS = Path(__file__).resolve().parent.parent / "examples" / "models" / "mlperf_tiny"
INT8 = ["kws_ref_model.tflite", "vww_96_int8.tflite", "pretrainedResnet_quant.tflite", "ad01_int8.tflite"]


@pytest.mark.slow
@pytest.mark.parametrize("model", INT8)
def test_byte_exact_on_50_random_inputs(model):
    res = microlith.verify(MODELS / model, samples=50, seed=7)
    assert res["samples"] == 50
    assert res["bit_exact"], res


def test_kws_shipped_input_is_exact_and_says_on():
    res = microlith.verify(MODELS / "kws_ref_model.tflite", samples=0,
                           inputs=str(MODELS / "inputs" / "kws_input_int8.npy"))
    assert res["samples"] == 1 and res["bit_exact"], res


def test_kws_shipped_input_classifies_as_on(tmp_path):
    """The compiled C, called as firmware would, gives the reference submission's answer."""
    from microlith.verify import HostModel
    g = microlith.load(MODELS / "kws_ref_model.tflite")
    microlith.compile(g, tmp_path / "c", measure=False)
    out = HostModel(tmp_path / "c", g, g.name, tmp_path).run([np.load(MODELS / "inputs" / "kws_input_int8.npy")])[0]
    labels = "down go left no off on right stop up yes silence unknown".split()
    probs = (out.reshape(-1).astype(np.int32) + 128) / 256.0
    assert labels[int(np.argmax(probs))] == "on" and probs.max() > 0.95


def test_ad_real_spectrogram_windows_exact(tmp_path):
    """Real log-mel windows of a ToyCar clip, quantized with the model's input parameters."""
    spec = np.fromfile(MODELS / "inputs" / "ad_dcase01_normal_id_01_hist_librosa.bin", np.float32).reshape(200, 128)
    windows = np.stack([spec[i:i + 5].reshape(640) for i in range(0, 196, 13)])
    q = np.clip(np.round(windows / 0.3910152) + 89, -128, 127).astype(np.int8)
    np.save(tmp_path / "ad.npy", q)
    res = microlith.verify(MODELS / "ad01_int8.tflite", samples=0, inputs=str(tmp_path / "ad.npy"))
    assert res["samples"] == len(q) and res["bit_exact"], res


@pytest.mark.parametrize("compiler", ["gcc", "clang"])
def test_generated_c_is_warning_free(tmp_path, compiler):
    if shutil.which(compiler) is None:
        pytest.skip(f"{compiler} not installed")
    for model in INT8:
        out = tmp_path / model
        microlith.compile(MODELS / model, out, measure=False)
        check_strict(out, shutil.which(compiler))


def test_output_folder_is_deterministic(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    microlith.compile(MODELS / "kws_ref_model.tflite", a, measure=False)
    microlith.compile(MODELS / "kws_ref_model.tflite", b, measure=False)
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_cmake_builds_the_library(tmp_path):
    if shutil.which("cmake") is None:
        pytest.skip("cmake not installed")
    microlith.compile(MODELS / "ad01_int8.tflite", tmp_path / "c", measure=False)
    build = tmp_path / "build"
    subprocess.run(["cmake", "-S", tmp_path / "c", "-B", build], check=True, capture_output=True)
    subprocess.run(["cmake", "--build", build], check=True, capture_output=True)
    assert (build / "libad01_int8.a").exists()
