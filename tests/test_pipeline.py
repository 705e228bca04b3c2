"""microlith.pipeline: DSP block + int8 model + post-processing as one Python object and one C library.

Checks: the generated folder compiles clean (gcc, clang, strict flags); the C result equals the
Python pipeline (numpy DSP + TFLM) on real-like inputs; the compiled model is byte-exact with
TFLM on the C's own features; the feature quantization of the C equals Pipeline.quantize()
applied to the C's features bit for bit; post-processing (threshold, fallback, detect) is the
same integer rule in both; bad configurations fail with a clear error; the folder reloads;
`microlith profile FOLDER` measures the whole pipeline on the emulated Cortex-M4.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from microlith.dsp import EcgRhythmBlock, MfccBlock, VibrationBlock
from microlith.ir import MicrolithError
from microlith.pipeline import Anomaly, HostPipeline, Pipeline, PostProcess, compare, quantize_features
from microlith.targets.build import STRICT

torch = pytest.importorskip("torch", reason="the test models are built with PyTorch")


def _int8_model(net, shape, calib, path: Path) -> bytes:
    from microlith.frontends.torch import from_torch
    from microlith.quantize.api import quantize
    g = from_torch(torch.nn.Sequential(net, torch.nn.Softmax(dim=1)).eval(), torch.zeros(*shape), name=path.stem)
    quantize(g, np.asarray(calib, np.float32), path, io="int8", report=False)
    return path.read_bytes()


def _vib_signal(rng, n, kind):
    t = np.arange(n) / 12000.0
    x = rng.standard_normal(n) * 300
    if kind == 1:
        x += 2000 * np.sin(2 * np.pi * 1500 * t) * (1 + np.sin(2 * np.pi * 30 * t))
    elif kind == 2:
        x += 3000 * (np.sin(2 * np.pi * 160 * t) > 0.995) * rng.standard_normal(n)
    return np.clip(x, -32768, 32767).astype(np.int16)


@pytest.fixture(scope="module")
def vib(tmp_path_factory):
    """A trained 3-class vibration pipeline (window block) with an anomaly score, compiled."""
    tmp = tmp_path_factory.mktemp("vib")
    rng = np.random.default_rng(0)
    blk = VibrationBlock(sample_rate=12000, n_samples=1024, scale=1 / 2048)
    sig = [(_vib_signal(rng, 1024, k), k) for k in range(3) for _ in range(40)]
    F = np.stack([blk.numpy(x) for x, _ in sig])
    y = np.array([k for _, k in sig])
    mean, std = F.mean(0), F.std(0) + 1e-6
    Z = torch.tensor((F - mean) / std, dtype=torch.float32)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(F.shape[1], 12), torch.nn.ReLU(), torch.nn.Linear(12, 3))
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    for _ in range(150):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(Z), torch.tensor(y)).backward()
        opt.step()
    model = _int8_model(net.eval(), (1, F.shape[1]), Z.numpy(), tmp / "vib.tflite")
    p = Pipeline("vib", blk, model, ["quiet", "tone", "impacts"], mean, std, hop=512, max_samples=4096,
                 anomaly=Anomaly.fit(F[y == 0]))
    buffers = [np.concatenate([_vib_signal(rng, 1024, k) for _ in range(4)]) for k in range(3) for _ in range(5)]
    folder = tmp / "vib_pipeline"
    p.generate_c(folder, sample=buffers[3][:1024])
    host = HostPipeline(folder, p)
    yield p, host, folder, buffers
    host.close()


@pytest.fixture(scope="module")
def kws(tmp_path_factory):
    """An untrained MFCC + CNN pipeline (frame block): exercises the frame geometry."""
    tmp = tmp_path_factory.mktemp("kws")
    rng = np.random.default_rng(1)
    blk = MfccBlock(sample_rate=16000, n_samples=8000, frame_length=480, hop=320, n_fft=512, n_mels=32,
                    fmin=20.0, fmax=4000.0, n_mfcc=10)
    frames = blk.feature_shape[0]

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c = torch.nn.Conv2d(1, 8, 3, stride=2)
            self.fc = torch.nn.Linear(8, 4)

        def forward(self, x):
            return self.fc(torch.relu(self.c(x)).mean((2, 3)))

    torch.manual_seed(1)
    clips = [(rng.standard_normal(12000) * 10 ** rng.uniform(1, 3.5)).astype(np.int16) for _ in range(8)]
    F = np.stack([blk.numpy(c[:8000]) for c in clips])
    mean, std = F.reshape(-1, 10).mean(0), F.reshape(-1, 10).std(0) + 1e-6
    model = _int8_model(Net().eval(), (1, 1, frames, 10), ((F - mean) / std)[:, None], tmp / "kws.tflite")
    p = Pipeline("kws", blk, model, list("abcd"), mean, std, window_frames=frames, hop_frames=4, max_samples=12000,
                 post=PostProcess(threshold=0.3, fallback=3))
    folder = tmp / "kws_pipeline"
    p.generate_c(folder, sample=clips[0][:p.window])
    host = HostPipeline(folder, p)
    yield p, host, folder, clips
    host.close()


def test_window_pipeline_c_equals_python(vib):
    p, host, _, buffers = vib
    r = compare(p, host, buffers)
    assert r["decisions_equal"] == r["buffers"] == len(buffers)
    assert r["post_exact"] == r["buffers"]
    assert r["model_bit_exact"] == r["windows"] == 7 * len(buffers)
    assert r["feature_error"] <= 1e-4
    assert r["input_lsb_max"] <= 1
    labels = [host.process(b)["label"] for b in buffers]
    assert np.mean(np.array(labels) == np.repeat(np.arange(3), 5)) >= 0.8  # it learned something


def test_anomaly_score_matches(vib):
    p, host, _, buffers = vib
    for b in buffers[:6]:
        c, py = host.process(b), p.process(b)
        assert c["anomaly"] == pytest.approx(py["anomaly"], rel=1e-4, abs=1e-5)
        assert c["anomalous"] == py["anomalous"]
    assert host.process(buffers[0])["anomaly"] < host.process(buffers[10])["anomaly"]


def test_frame_pipeline_c_equals_python(kws):
    p, host, _, clips = kws
    assert p.n_windows(p.window) == 1 and p.n_windows(p.window - 1) == 0
    assert p.n_windows(12000) == 1 + (p.units(12000) - p.window_frames) // 4
    r = compare(p, host, [c[:n] for c in clips for n in (p.window, 12000)])
    assert r["decisions_equal"] == r["buffers"] and r["post_exact"] == r["buffers"]
    assert r["model_bit_exact"] == r["windows"]
    assert r["feature_error"] <= 1e-4


def test_quantization_twin_is_bit_exact(vib, kws):
    """Pipeline.quantize on the C's own features gives exactly the C's model inputs."""
    for p, host, items in ((vib[0], vib[1], vib[3]), (kws[0], kws[1], kws[3])):
        for x in items[:5]:
            x = x[:p.window]
            feats = host.features(x)
            q = quantize_features(feats[:p.window_frames] if p.frame_based else feats, p.a, p.b)
            assert np.array_equal(q.reshape(-1), host.window_inputs(x)[0])


def test_quantize_features_rounding():
    a, b = np.array([1.0], np.float32), np.array([0.0], np.float32)
    x = np.array([[0.5], [-0.5], [1.5], [-2.5], [126.6], [300.0], [-300.0], [0.49999997]], np.float32)
    assert quantize_features(x, a, b).reshape(-1).tolist() == [1, -1, 2, -3, 127, 127, -128, 1]


def test_decide_rules(kws):
    p = kws[0]  # argmax, threshold 0.3 -> T = ceil(0.3 * 256) = 77, fallback 3
    assert p.threshold_q == 77
    z = p.out_zp
    out = np.array([[z + 200, z + 20, z + 20, z + 16], [z + 100, z + 120, z + 20, z + 16]])
    r = p.decide(out)
    assert r["sums"] == [300, 140, 40, 32] and r["label"] == 0
    low = np.array([[z + 70, z + 60, z + 60, z + 66]])
    assert p.decide(low)["label"] == 3
    det = Pipeline("det", p.block, p.model_bytes, p.labels, p.mean, p.std, window_frames=p.window_frames,
                   post=PostProcess(mode="detect", positive=2, threshold=0.5))
    assert det.decide(np.array([[z + 100, z + 20, z + 128, z + 8]]))["label"] == 2
    assert det.decide(np.array([[z + 100, z + 20, z + 127, z + 9]]))["label"] == 0


def test_post_processing_paths_in_c(kws, tmp_path):
    """Threshold/fallback and detect mode give the same labels in C and Python."""
    p, _, _, clips = kws
    for name, post in (("hi", PostProcess(threshold=0.9, fallback=2)),
                       ("det", PostProcess(mode="detect", positive=1, threshold=0.2))):
        q = Pipeline(f"k_{name}", p.block, p.model_bytes, p.labels, p.mean, p.std, window_frames=p.window_frames,
                     hop_frames=4, max_samples=12000, post=post)
        q.generate_c(tmp_path / name)
        h = HostPipeline(tmp_path / name, q)
        try:
            r = compare(q, h, [c[:12000] for c in clips], oracle_check=False)
            assert r["post_exact"] == r["buffers"]
        finally:
            h.close()


def test_c_rejects_bad_lengths(vib, kws):
    for p, host in ((vib[0], vib[1]), (kws[0], kws[1])):
        with pytest.raises(MicrolithError, match="returned -1"):
            host.process(np.zeros(p.window - 1, np.int16))
        with pytest.raises(MicrolithError, match="returned -1"):
            host.process(np.zeros(p.max_samples + 1, np.int16))
        with pytest.raises(MicrolithError, match="no window|exceed"):
            p.process(np.zeros(p.window - 1, np.int16))


@pytest.mark.parametrize("compiler", ["gcc", "clang"])
def test_generated_folder_compiles_strict(vib, kws, compiler, tmp_path):
    if shutil.which(compiler) is None:
        pytest.skip(f"{compiler} not installed")
    for folder in (vib[2], kws[2]):
        for src in sorted((folder / "src").glob("*.c")):
            subprocess.run([compiler, "-O2", *STRICT, "-ffp-contract=off", "-c", str(src), "-I", str(folder / "src"),
                            "-o", str(tmp_path / (src.stem + ".o"))], check=True, capture_output=True)


def test_folder_reloads_and_is_deterministic(vib, tmp_path):
    p, _, folder, _ = vib
    q = Pipeline.load(folder)
    assert q.config() == p.config()
    q.generate_c(tmp_path / "again", sample=np.load(folder / "sample.npy"))
    for f in sorted(folder.rglob("*")):
        if f.is_file():
            assert (tmp_path / "again" / f.relative_to(folder)).read_bytes() == f.read_bytes(), f.name


def test_fixed_point_variant(vib, tmp_path):
    p, _, _, buffers = vib
    q = Pipeline("vibq", p.block, p.model_bytes, p.labels, p.mean, p.std, hop=512, max_samples=4096,
                 variant="fixed")
    q.generate_c(tmp_path / "q")
    h = HostPipeline(tmp_path / "q", q)
    try:
        r = compare(q, h, buffers)
        assert r["post_exact"] == r["buffers"] and r["model_bit_exact"] == r["windows"]
        assert r["decisions_equal"] >= r["buffers"] - 1
        assert r["feature_error"] <= 1e-3
    finally:
        h.close()


def test_ecg_block_windows(tmp_path):
    """EcgRhythmBlock as a window block: a record is split into windows of n_samples."""
    blk = EcgRhythmBlock(sample_rate=300, n_samples=3000)
    net = torch.nn.Linear(9, 2)
    model = _int8_model(net.eval(), (1, 9), np.random.default_rng(0).standard_normal((50, 9)), tmp_path / "e.tflite")
    p = Pipeline("ecg", blk, model, ["n", "a"], np.zeros(9), np.ones(9), hop=1500, max_samples=9000,
                 post=PostProcess(mode="detect", positive=1, threshold=0.5))
    assert p.n_windows(9000) == 5 and p.window == 3000
    t = np.arange(9000)
    beats = (np.sin(2 * np.pi * t / 250) ** 40 * 2000).astype(np.int16)
    p.generate_c(tmp_path / "ecg")
    h = HostPipeline(tmp_path / "ecg", p)
    try:
        r = compare(p, h, [beats, beats[:6000]])
        assert r["decisions_equal"] == 2 and r["model_bit_exact"] == r["windows"] == 8
    finally:
        h.close()


def test_bad_configurations(vib, kws, tmp_path):
    p = vib[0]
    with pytest.raises(MicrolithError, match="labels"):
        Pipeline("x", p.block, p.model_bytes, ["a"], p.mean, p.std)
    with pytest.raises(MicrolithError, match="input values"):
        Pipeline("x", VibrationBlock(n_samples=1024, band_edges_hz=(0, 1000, 6000)), p.model_bytes, p.labels,
                 np.zeros(5), np.ones(5))
    with pytest.raises(MicrolithError, match="mean and std"):
        Pipeline("x", p.block, p.model_bytes, p.labels, p.mean[:3], p.std)
    with pytest.raises(MicrolithError, match="detect mode"):
        Pipeline("x", p.block, p.model_bytes, p.labels, p.mean, p.std, post=PostProcess(mode="detect"))
    with pytest.raises(MicrolithError, match="max_samples"):
        Pipeline("x", p.block, p.model_bytes, p.labels, p.mean, p.std, max_samples=10)
    with pytest.raises(MicrolithError, match="C prefix"):
        Pipeline("9x", p.block, p.model_bytes, p.labels, p.mean, p.std)
    with pytest.raises(MicrolithError, match="not a pipeline folder"):
        Pipeline.load(tmp_path)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("x")
    with pytest.raises(MicrolithError, match="not made by microlith"):
        p.generate_c(tmp_path / "other")
    assert (tmp_path / "other" / "keep.txt").read_text() == "x"
    k = kws[0]
    with pytest.raises(MicrolithError, match="window blocks only"):
        Pipeline("x", k.block, k.model_bytes, k.labels, k.mean, k.std, window_frames=k.window_frames,
                 anomaly=Anomaly.fit(np.ones((4, 10))))


def _have_arm() -> bool:
    return shutil.which("arm-none-eabi-gcc") is not None and shutil.which("qemu-system-arm") is not None


@pytest.mark.cortexm
def test_profile_pipeline_cli(vib, tmp_path):
    if not _have_arm():
        pytest.skip("needs arm-none-eabi-gcc and qemu-system-arm")
    folder = vib[2]
    res = subprocess.run([sys.executable, "-m", "microlith.cli", "profile", str(folder), "--target", "nrf52840",
                          "--json"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    r = json.loads(res.stdout)
    assert r["output_matches_host"] and r["fits_budget"] is True
    assert r["instructions"] > r["model_instructions"] > 0
    assert r["flash_bytes"] > 0 and r["ram_bytes"] > r["stack_bytes"] > 0
    assert r["latency_ms_est"] > 0 and r["window_samples"] == 1024
    # the whole window (DSP + model) is priced from its traced instruction stream, like a model
    assert r["cycles_est"] > r["instructions"] and r["model_cycles_est"] > 0
    assert r["latency_ms_est"] == round(r["cycles_est"] / 64e6 * 1e3, 4)   # nrf52840: 64 MHz, no flash model
    assert "cycles" in r["estimate_basis"] and "TRM" in r["estimate_basis"]
    text = subprocess.run([sys.executable, "-m", "microlith.cli", "profile", str(folder), "--target", "cortex-m4"],
                          capture_output=True, text=True, timeout=300)
    assert text.returncode == 0 and "instructions" in text.stdout and "identical to the host build" in text.stdout
