"""microlith.dsp.MotionBlock: IMU features in numpy and in generated C, on real recordings.

Data: BasicMotions (tests/data/basicmotions, BSD-3-Clause, from the aeon wheel; see its README):
a smart watch's 3-axis accelerometer and 3-axis gyroscope at 10 Hz, 80 series of 10 s, four
activities. The float values are turned into the int16 counts of a +-4 g / +-2000 deg/s IMU.

Error measure, as tests/test_dsp.py: per feature column, max |C - numpy| / (max - min of that
feature over the recordings). Bounds: float <= 1e-4 (FLOAT_BOUND), fixed point <=
FIXED_MOTION_BOUND = 1e-4 (microlith.dsp.blocks). The zero crossings are counted on the
integer gravity-removed signal, which numpy and both C variants compute identically, so their
counts must be equal exactly.
"""
from __future__ import annotations

import ctypes
import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from microlith.dsp import FIXED_MOTION_BOUND, MotionBlock, motion
from microlith.ir import MicrolithError
from microlith.targets.build import STRICT, build_host_library

DATA = Path(__file__).resolve().parent / "data" / "basicmotions"
STRICT_DSP = STRICT + ["-Wdouble-promotion"]
FLOAT_BOUND = 1e-4
ACC = 4 * 9.80665 / 32768              # +-4 g accelerometer, m/s^2 per count
GYRO = 2000 * math.pi / 180 / 32768    # +-2000 deg/s gyroscope, rad/s per count
CLASSES = ["Standing", "Walking", "Running", "Badminton"]


def basicmotions(split: str) -> tuple[np.ndarray, np.ndarray]:
    """(series, 100, 6) int16 counts (acc x y z, gyro x y z per time step) and class indices."""
    series, labels = [], []
    for line in (DATA / f"BasicMotions_{split}.ts").read_text().splitlines():
        if not line.strip() or line.startswith(("#", "@")):
            continue
        *dims, label = line.strip().split(":")
        series.append(np.array([[float(v) for v in d.split(",")] for d in dims]).T)
        labels.append(CLASSES.index(label))
    values = np.stack(series)
    scale = np.array([ACC] * 3 + [GYRO] * 3)
    counts = np.clip(np.round(values / scale), -32768, 32767).astype(np.int16)
    return np.ascontiguousarray(counts), np.array(labels)


@pytest.fixture(scope="module")
def recordings():
    x_train, y_train = basicmotions("TRAIN")
    x_test, y_test = basicmotions("TEST")
    assert x_train.shape == x_test.shape == (40, 100, 6)
    return np.concatenate([x_train, x_test]), np.concatenate([y_train, y_test])


def _ptr(a: np.ndarray):
    return a.ctypes.data_as(ctypes.c_void_p)


class Built:
    def __init__(self, block: MotionBlock, work: Path, prefix: str):
        shutil.rmtree(work, ignore_errors=True)
        self.files = block.generate_c(work / "src", prefix)
        self.lib = ctypes.CDLL(str(build_host_library(work, work / f"lib{prefix}.so",
                                                      extra_flags=["-Wdouble-promotion"])))
        self.prefix, self.block = prefix, block

    def call(self, x: np.ndarray, fixed: bool, n: int | None = None) -> tuple[int, np.ndarray]:
        x = np.ascontiguousarray(x, dtype=np.int16)
        out = np.zeros(self.block.feature_shape[0], np.int32 if fixed else np.float32)
        fn = getattr(self.lib, f"{self.prefix}_features" + ("_q" if fixed else ""))
        rc = fn(_ptr(x), ctypes.c_size_t(x.size if n is None else n), _ptr(out))
        return rc, out

    def run(self, x: np.ndarray, fixed: bool) -> np.ndarray:
        rc, out = self.call(x, fixed)
        assert rc == 0
        return out.astype(np.float64) / 2.0 ** self.block.q_frac_bits if fixed else out.astype(np.float64)


def rel_errors(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    span = want.max(axis=0) - want.min(axis=0)
    return np.abs(got - want).max(axis=0) / np.where(span > 0, span, 1.0)


BM6 = MotionBlock(sample_rate=10, n_samples=100, axes=6, scale=(ACC, GYRO), cutoff_hz=0.3,
                  band_edges_hz=(0.2, 0.5, 1.0, 2.0, 3.0, 5.0))
# one sensor, a shorter window zero-padded to a larger FFT, another window and cut-off
BM3 = MotionBlock(sample_rate=10, n_samples=64, axes=3, scale=ACC, cutoff_hz=0.5, n_fft=256, window="hamming",
                  band_edges_hz=(0.0, 1.0, 2.5, 5.01))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    cache = {}

    def get(block, prefix):
        if prefix not in cache:
            cache[prefix] = Built(block, tmp_path_factory.mktemp(prefix), prefix)
        return cache[prefix]
    return get


# ------------------------------------------------------------------ numpy definitions

def test_gravity_filter_is_the_stated_low_pass():
    fs, fc = 50.0, 0.5
    alpha = motion.alpha_q30(fs, fc)
    a = alpha / 2 ** 30
    lowpass = lambda f: abs(a / (1 - (1 - a) * np.exp(-2j * np.pi * f / fs)))  # noqa: E731
    assert lowpass(fc) == pytest.approx(1 / math.sqrt(2), rel=1e-8)      # fc is the -3 dB point
    assert a == pytest.approx(2 * math.pi * fc / fs, rel=0.05)            # ~ the RC filter's
    assert motion.cutoff_actual(fs, alpha) == pytest.approx(fc, rel=1e-7)
    n = 4000
    t = np.arange(n) / fs
    # a constant (gravity) is removed exactly: the filter starts at the window mean
    const = np.full((n, 3), [120, -4096, 7], np.int16)
    assert np.all(motion.gravity_split(const, alpha) == 0)
    for f in (fc / 20, fc, 20 * fc):
        x = np.round(8000 * np.sin(2 * np.pi * f * t))[:, None].repeat(3, axis=1).astype(np.int16)
        d = motion.gravity_split(x, alpha)[n // 2:, 0] / 2 ** motion.Q_SHIFT  # steady state
        g = x[n // 2:, 0] - d
        # amplitudes of the gravity estimate g and of d = x - g against H and 1 - H
        z1 = np.exp(-2j * np.pi * f / fs)
        assert np.sqrt(2 * np.mean(g ** 2)) / 8000 == pytest.approx(lowpass(f), rel=0.01, abs=1e-3), f
        assert np.sqrt(2 * np.mean(d ** 2)) / 8000 == pytest.approx(
            abs((1 - a) * (1 - z1) / (1 - (1 - a) * z1)), rel=0.01, abs=1e-3), f


def test_gravity_filter_against_scipy(recordings):
    """The integer recursion is the float IIR filter up to its Q15 rounding: scipy's lfilter of
    alpha / (1 - (1 - alpha) z^-1), started at the window mean, differs by < 1e-3 counts
    (each step rounds by at most 2^-16 counts, and the filter's gain on that error is 1 / alpha)."""
    signal = pytest.importorskip("scipy.signal", reason="the cross-check uses scipy")
    alpha = motion.alpha_q30(10.0, 0.3)
    a = alpha / 2 ** 30
    for x in recordings[0][::7]:
        d = motion.gravity_split(x, alpha) / 2 ** motion.Q_SHIFT
        xf = x.astype(np.float64)
        g, _ = signal.lfilter([a], [1.0, -(1.0 - a)], xf, axis=0, zi=(1.0 - a) * xf.mean(axis=0)[None, :])
        assert np.abs(d - (xf - g)).max() < 1e-3


def test_features_by_hand():
    fs, n, a = 50.0, 500, 2000
    t = np.arange(n) / fs
    blk = MotionBlock(sample_rate=fs, n_samples=n, axes=3, scale=0.001, cutoff_hz=0.2, n_fft=512,
                      band_edges_hz=(0.0, 2.0, 4.0, 25.01), window="rectangular")
    x = np.zeros((n, 3), np.int16)
    x[:, 0] = np.round(a * np.sin(2 * np.pi * 3.0 * t))          # 3 Hz motion on x
    x[:, 2] = -1000                                                # gravity on z
    f = dict(zip(blk.feature_names, blk.numpy(x).astype(np.float64)))
    assert f["z_mean"] == pytest.approx(-1.0) and f["z_std"] == 0 and f["z_zcr"] == 0 and f["z_jerk_rms"] == 0
    assert f["x_rms"] == pytest.approx(a * 0.001 / math.sqrt(2), rel=0.02)
    assert f["x_std"] == pytest.approx(f["x_rms"], rel=1e-3)
    assert f["x_max"] == pytest.approx(2.0, rel=0.03) and f["x_min"] == pytest.approx(-2.0, rel=0.03)
    assert f["x_zcr"] == pytest.approx(6.0, rel=0.02)                      # two crossings per period
    # jerk: d/dt of A sin(w t) sampled: rms of differences * fs ~ A w / sqrt(2)
    assert f["x_jerk_rms"] == pytest.approx(2.0 * 2 * math.pi * 3 / math.sqrt(2), rel=0.02)
    energy = np.exp([f["x_ln_energy_0_2hz"], f["x_ln_energy_2_4hz"], f["x_ln_energy_4_25.01hz"]])
    assert energy.sum() == pytest.approx(f["x_std"] ** 2, rel=1e-6)         # Parseval over a partition
    assert energy[1] / energy.sum() > 0.99
    assert f["mag_mean"] == pytest.approx(2.0 * 2 / math.pi, rel=0.03)     # mean |A sin|
    assert f["mag_rms"] == pytest.approx(f["x_rms"], rel=1e-3)
    assert f["y_ln_energy_0_2hz"] == pytest.approx(math.log(1e-10))         # silent axis: the floor


def test_configs_and_layouts_are_checked():
    with pytest.raises(MicrolithError, match="axes must be 3"):
        MotionBlock(axes=2)
    with pytest.raises(MicrolithError, match="one value per 3-axis sensor"):
        MotionBlock(axes=6, scale=(ACC,))
    with pytest.raises(MicrolithError, match="cutoff_hz"):
        MotionBlock(sample_rate=10, cutoff_hz=5.0)
    with pytest.raises(MicrolithError, match="holds no FFT bin"):
        MotionBlock(sample_rate=50, n_samples=32, band_edges_hz=(0.1, 0.2))
    assert MotionBlock(axes=6, scale=0.5).scale == (0.5, 0.5)
    assert BM6.feature_shape == (82,) == (len(BM6.feature_names),)
    x = np.zeros((100, 6), np.int16)
    with pytest.raises(MicrolithError, match=r"axes-first: pass x.T"):
        BM6.numpy(x.T)
    with pytest.raises(MicrolithError, match=r"reshape\(-1, 6\)"):
        BM6.numpy(x.reshape(-1))
    with pytest.raises(MicrolithError, match="shape"):
        BM6.numpy(x[:, :3])
    with pytest.raises(MicrolithError, match="int16 counts"):
        BM6.numpy(x.astype(np.float32))


# ------------------------------------------------------------------ generated C vs numpy, real data

@pytest.mark.parametrize("name", ["bm6", "bm3"])
def test_c_matches_numpy_on_basicmotions(built, recordings, name):
    block = BM6 if name == "bm6" else BM3
    x_all, _ = recordings
    if block.axes == 3:   # the accelerometer, two windows per series
        windows = [s[o:o + block.n_samples, :3] for s in x_all for o in (0, 36)]
    else:
        windows = list(x_all)
    lib = built(block, name)
    want = np.stack([block.numpy(w) for w in windows]).astype(np.float64)
    got_f = np.stack([lib.run(w, fixed=False) for w in windows])
    got_q = np.stack([lib.run(w, fixed=True) for w in windows])
    err_f, err_q = rel_errors(got_f, want), rel_errors(got_q, want)
    assert err_f.max() <= FLOAT_BOUND, (block.feature_names[int(np.argmax(err_f))], err_f.max())
    assert err_q.max() <= FIXED_MOTION_BOUND, (block.feature_names[int(np.argmax(err_q))], err_q.max())
    # zero crossings: the same counts exactly (the gravity filter is integer in all three)
    zc = [i for i, nm in enumerate(block.feature_names) if nm.endswith("_zcr")]
    per = block.sample_rate / (block.n_samples - 1)
    for got in (got_f, got_q):
        np.testing.assert_array_equal(np.round(got[:, zc] / per), np.round(want[:, zc] / per))
    assert np.ptp(want[:, zc]) > 0


def test_c_gravity_filter_is_bit_exact(recordings, tmp_path):
    """ml_dsp_motion_gravity_s16 gives numpy's integer d on every axis of every recording."""
    from microlith.dsp.cgen import kernel_closure
    src = tmp_path / "src"
    src.mkdir()
    for p in kernel_closure(["ml_dsp_motion_gravity_s16.h"]):
        shutil.copyfile(p, src / p.name)
    lib = ctypes.CDLL(str(build_host_library(tmp_path, tmp_path / "libgravity.so")))
    x_all, _ = recordings
    rng = np.random.default_rng(2)
    extremes = [np.full((64, 6), -32768, np.int16), rng.integers(-32768, 32768, (64, 6)).astype(np.int16),
                np.where(np.arange(64 * 6).reshape(64, 6) % 12 < 6, 32767, -32768).astype(np.int16)]
    for fc in (0.3, 2.0):
        for x in [*x_all, *extremes]:
            n = len(x)
            alpha = motion.alpha_q30(10.0, fc)
            want = motion.gravity_split(x, alpha)
            params = (ctypes.c_uint32 * 3)(n, 6, alpha)
            x = np.ascontiguousarray(x)
            for a in range(6):
                d = np.zeros(n, np.int32)
                assert lib.ml_dsp_motion_gravity_s16(params, _ptr(x), ctypes.c_uint32(a), _ptr(d)) == 0
                np.testing.assert_array_equal(d, want[:, a])


def test_c_edge_inputs(built):
    """Digital silence, full-scale DC, full-scale alternation and full-scale noise: no overflow."""
    block = BM6
    lib = built(block, "bm6")
    rng = np.random.default_rng(5)
    n = block.n_samples
    alt = np.where(np.arange(n) % 2 == 0, 32767, -32768).astype(np.int16)
    cases = [np.zeros((n, 6), np.int16), np.full((n, 6), -32768, np.int16),
             np.repeat(alt[:, None], 6, axis=1), rng.integers(-32768, 32768, (n, 6)).astype(np.int16),
             np.concatenate([np.full((n // 2, 6), 32767), np.full((n - n // 2, 6), -32768)]).astype(np.int16)]
    for x in cases:
        want = block.numpy(x).astype(np.float64)
        got_f, got_q = lib.run(x, False), lib.run(x, True)
        # absolute bound on each feature's own scale (these windows have no spread to relate to)
        tol = 1e-4 * np.maximum(np.abs(want), 1.0)
        assert np.all(np.abs(got_f - want) <= tol), np.abs(got_f - want).max()
        assert np.all(np.abs(got_q - want) <= tol), np.abs(got_q - want).max()
    silent = lib.run(cases[0], True)
    assert np.all(silent[[i for i, nm in enumerate(block.feature_names) if "ln_energy" not in nm]] == 0)


def test_c_refuses_wrong_sizes(built):
    lib = built(BM6, "bm6")
    x = np.zeros((100, 6), np.int16)
    for fixed in (False, True):
        assert lib.call(x, fixed, n=100)[0] == -1           # time steps instead of int16 values
        assert lib.call(x, fixed, n=599)[0] == -1
        assert lib.call(x, fixed)[0] == 0


# ------------------------------------------------------------------ the generated C

def _sources(tmp_path: Path, variant: str) -> list[Path]:
    out = []
    for i, block in enumerate((BM6, BM3)):
        out += [p for p in block.generate_c(tmp_path / f"{variant}{i}", f"imu{i}", variant) if p.suffix == ".c"]
    return out


@pytest.mark.parametrize("compiler", ["gcc", "clang"])
def test_generated_c_is_clean_under_strict_warnings(tmp_path, compiler):
    if shutil.which(compiler) is None:
        pytest.skip(f"{compiler} not installed")
    for src in _sources(tmp_path, "both"):
        assert "math.h" not in src.read_text(), src.name
        subprocess.run([compiler, "-O2", *STRICT_DSP, "-I", str(src.parent), "-c", str(src), "-o", os.devnull],
                       check=True, capture_output=True)


def test_arm_builds_fixed_point_without_soft_float(tmp_path):
    """arm-none-eabi-gcc, strict: the float variant for a Cortex-M4F, the fixed point for a
    Cortex-M0 without any soft-float routine."""
    cc, nm = shutil.which("arm-none-eabi-gcc"), shutil.which("arm-none-eabi-nm")
    if cc is None or nm is None:
        pytest.skip("arm-none-eabi-gcc not installed")
    m4 = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
    for src in _sources(tmp_path, "float"):
        subprocess.run([cc, *m4, "-O2", *STRICT_DSP, "-I", str(src.parent), "-c", str(src), "-o", os.devnull],
                       check=True, capture_output=True)
    objs = []
    for src in _sources(tmp_path, "fixed"):
        obj = src.with_suffix(".o")
        subprocess.run([cc, "-mcpu=cortex-m0", "-mthumb", "-O2", *STRICT_DSP, "-I", str(src.parent), "-c", str(src),
                        "-o", str(obj)], check=True, capture_output=True)
        objs.append(str(obj))
    assert not any(p.endswith("_f32.o") for p in objs)
    undefined = subprocess.run([nm, "-u", *objs], check=True, capture_output=True, text=True).stdout
    assert not sorted(set(re.findall(r"__aeabi_[fd]\w+|__\w+[sd]f\d?\b", undefined)))


# ------------------------------------------------------------------ in a Pipeline

PIPE_BLOCK = MotionBlock(sample_rate=10, n_samples=50, axes=6, scale=(ACC, GYRO), cutoff_hz=0.3,
                         band_edges_hz=(0.2, 0.5, 1.0, 2.0, 3.0, 5.0))


def _train_motion_pipeline(tmp: Path, variant: str = "float"):
    """MotionBlock (5 s windows every 2.5 s) -> int8 MLP trained on the BasicMotions training
    series -> softmax summed over the 3 windows of a 10 s series -> argmax."""
    torch = pytest.importorskip("torch", reason="the test model is trained with PyTorch")
    from microlith.frontends.torch import from_torch
    from microlith.pipeline import Pipeline
    from microlith.quantize.api import quantize
    x_train, y_train = basicmotions("TRAIN")
    blk = PIPE_BLOCK
    hop_steps = 25
    feats, labels = [], []
    for x, y in zip(x_train, y_train):
        for o in range(0, 100 - blk.n_samples + 1, hop_steps):
            feats.append(blk.numpy(x[o:o + blk.n_samples]))
            labels.append(y)
    f = np.stack(feats).astype(np.float64)
    mean, std = f.mean(0), f.std(0) + 1e-6
    z = torch.tensor((f - mean) / std, dtype=torch.float32)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(f.shape[1], 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    for _ in range(200):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(z), torch.tensor(labels)).backward()
        opt.step()
    g = from_torch(torch.nn.Sequential(net, torch.nn.Softmax(dim=1)).eval(), torch.zeros(1, f.shape[1]),
                   name="imu_mlp")
    quantize(g, z.numpy(), tmp / "imu_mlp.tflite", io="int8", report=False)
    p = Pipeline("imu", blk, (tmp / "imu_mlp.tflite").read_bytes(), CLASSES, mean, std,
                 hop=hop_steps * blk.axes, max_samples=100 * blk.axes, variant=variant)
    return p


@pytest.fixture(scope="module")
def imu_pipeline(tmp_path_factory):
    from microlith.pipeline import HostPipeline
    tmp = tmp_path_factory.mktemp("imu")
    p = _train_motion_pipeline(tmp)
    x_test, y_test = basicmotions("TEST")
    folder = tmp / "imu_pipeline"
    p.generate_c(folder, sample=x_test[10][:p.block.n_samples])
    host = HostPipeline(folder, p)
    yield p, host, folder, x_test, y_test
    host.close()


def test_pipeline_c_equals_python_on_basicmotions(imu_pipeline):
    from microlith.pipeline import compare
    p, host, _, x_test, y_test = imu_pipeline
    assert p.window == 300 and p.hop == 150 and p.n_windows(600) == 3
    r = compare(p, host, list(x_test))
    assert r["decisions_equal"] == r["buffers"] == 40
    assert r["post_exact"] == r["buffers"]
    assert r["model_bit_exact"] == r["windows"] == 120
    assert r["feature_error"] <= FLOAT_BOUND
    assert r["input_lsb_max"] <= 1
    labels = np.array([host.process(x)["label"] for x in x_test])
    assert np.mean(labels == y_test) >= 0.85, np.mean(labels == y_test)   # held-out series


def test_pipeline_refuses_wrong_layouts(imu_pipeline):
    from microlith.pipeline import Pipeline
    p, host, folder, x_test, _ = imu_pipeline
    x = x_test[0]
    with pytest.raises(MicrolithError, match=r"shape \(n, 6\).*axes-first: pass x.T"):
        p.process(x.T)
    with pytest.raises(MicrolithError, match=r"shape \(n, 6\)"):
        p.process(x.reshape(-1))                     # a flat buffer is ambiguous in Python
    with pytest.raises(MicrolithError, match=r"shape \(n, 6\)"):
        p.process(x[:, :3])
    flat = np.ascontiguousarray(x).reshape(-1)
    assert host.process(flat)["label"] == p.process(x)["label"]   # the C takes the interleaved buffer
    with pytest.raises(MicrolithError, match="returned -1"):
        host.process(flat[:-1])                      # not whole time steps
    with pytest.raises(MicrolithError, match="multiples of 6"):
        Pipeline("bad", p.block, p.model_bytes, p.labels, p.mean, p.std, hop=100)
    header = (folder / "src" / "imu.h").read_text()
    assert "#define IMU_AXES 6" in header and "#define IMU_WINDOW_SAMPLES 300" in header
    assert Pipeline.load(folder).config() == p.config()


def test_pipeline_fixed_point_variant(imu_pipeline, tmp_path):
    from microlith.pipeline import HostPipeline, Pipeline, compare
    p, _, _, x_test, _ = imu_pipeline
    q = Pipeline("imuq", p.block, p.model_bytes, p.labels, p.mean, p.std, hop=p.hop, max_samples=p.max_samples,
                 variant="fixed")
    q.generate_c(tmp_path / "q")
    h = HostPipeline(tmp_path / "q", q)
    try:
        r = compare(q, h, list(x_test))
        assert r["post_exact"] == r["buffers"] and r["model_bit_exact"] == r["windows"]
        assert r["decisions_equal"] >= r["buffers"] - 1
        assert r["feature_error"] <= FIXED_MOTION_BOUND
    finally:
        h.close()


@pytest.mark.cortexm
def test_pipeline_profiles_on_cortex_m4(imu_pipeline):
    if shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None:
        pytest.skip("needs arm-none-eabi-gcc and qemu-system-arm")
    from microlith.pipeline import profile
    _, _, folder, _, _ = imu_pipeline
    r = profile(folder, "cortex-m4")
    assert r["output_matches_host"] and r["output_matches_python"]
    assert r["instructions"] > r["model_instructions"] > 0 and r["block"] == "MotionBlock"
    assert r["flash_bytes"] > 0 and r["ram_bytes"] > r["stack_bytes"] > 0 and r["window_samples"] == 300
