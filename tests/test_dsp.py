"""microlith.dsp: numpy definitions, and the generated C (float and fixed point) against them.

Real recordings come from the archives in shared/data (see its README); they are unpacked
once into REPO/.cache/<name>/ (git ignores it). A test that needs a missing archive skips
and names where the data is published. The C is built for the host with gcc as a shared
library and called through ctypes, as microlith.verify does for models.

Error measure: max |C - numpy| / (max - min of that feature over the test recordings),
per feature column. Bounds: float <= 1e-4; fixed point <= the FIXED_*_BOUND constants that
microlith.dsp.blocks documents. R peaks: the C positions equal numpy's exactly.
"""
from __future__ import annotations

import ctypes
import math
import os
import re
import shutil
import subprocess
import tarfile
import wave
from pathlib import Path

import numpy as np
import pytest

from microlith.dsp import (FIXED_MEL_BOUND, FIXED_RR_BOUND, FIXED_VIB_BOUND, EcgRhythmBlock, EnvelopeBlock,
                           LogMelBlock, MfccBlock, VibrationBlock, ecg, fixedmath, spectral, vibration)
from microlith.dsp.cgen import DSP_CSRC, kernel_closure
from microlith.ir import MicrolithError
from microlith.targets.build import STRICT, build_host_library

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache"
STRICT_DSP = STRICT + ["-Wdouble-promotion"]
FLOAT_BOUND = 1e-4


def _data_dir() -> Path:
    """Where the archives are, as `microlith app` looks: $MICROLITH_DATA, else ../shared/data
    beside the repository (never a fixed absolute path: CI checks out elsewhere)."""
    env = os.environ.get("MICROLITH_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


SOURCES = {
    "fsdd": "Free Spoken Digit Dataset, https://github.com/Jakobovski/free-spoken-digit-dataset",
    "picovoice_wakeword": "Picovoice wake-word benchmark audio/, https://github.com/Picovoice/wake-word-benchmark",
    "cwru_bearing_12k_drive_end": "CWRU Bearing Data Center 12k drive-end faults, "
                                  "https://engineering.case.edu/bearingdatacenter/download-data-file",
    "cinc2017_af_sample": "PhysioNet/CinC Challenge 2017 sample2017/validation, "
                          "https://physionet.org/content/challenge-2017/1.0.0/",
}


def unpacked(name: str, members: list[str] | None = None) -> Path:
    """REPO/.cache/<name>/ holding the archive (or just `members` of it); skips if it is missing."""
    dest = CACHE / name
    want = [dest / m for m in members] if members else [dest / ".complete"]
    if all(p.exists() for p in want):
        return dest
    archive = _data_dir() / f"{name}.tar.xz"
    if not archive.is_file():
        pytest.skip(f"{archive} missing: {SOURCES[name]} (packed as in shared/data/README.md)")
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:xz") as tar:
        if members:
            wanted = set(members)
            tar.extractall(dest, members=[m for m in tar if m.name in wanted], filter="data")
        else:
            tar.extractall(dest, filter="data")
            (dest / ".complete").write_text("")
    missing = [str(p) for p in want if not p.exists()]
    if missing:
        pytest.skip(f"{archive} lacks {missing[0]}")
    return dest


def read_wav(path: Path) -> tuple[int, np.ndarray]:
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise ValueError(f"{path}: expected 16-bit mono")
        return w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)


def loadmat(path: Path) -> dict:
    sio = pytest.importorskip("scipy.io", reason="reading the .mat recordings needs scipy")
    return sio.loadmat(str(path))


def fsdd_clips(count: int = 12) -> list[np.ndarray]:
    root = unpacked("fsdd") / "fsdd" / "recordings"
    names = [f"{d}_{s}_{i}.wav" for d in range(10) for s, i in (("george", 3), ("jackson", 7))][:count]
    clips = []
    for n in names:
        sr, x = read_wav(root / n)
        assert sr == 8000
        clips.append(x)
    return clips


PICOVOICE = ["picovoice_wakeword/audio/computer/0386da81-9db7-499c-b4f8-910beec53c23.wav",
             "picovoice_wakeword/audio/jarvis/008a6329-b20c-4cfc-9ad4-9e7034bc5148.wav",
             "picovoice_wakeword/audio/snowboy/00927c6f-0043-43d2-8b39-6174019c584f.wav",
             "picovoice_wakeword/audio/view glass/003bc806-280c-43f0-80c1-d3cd63c33be1.wav"]


def picovoice_clips() -> list[np.ndarray]:
    root = unpacked("picovoice_wakeword", PICOVOICE)
    out = []
    for m in PICOVOICE:
        sr, x = read_wav(root / m)
        assert sr == 16000
        out.append(x)
    return out


CWRU_SCALE = 16.0 / 32768  # a +-16 g accelerometer on a 16-bit ADC
CWRU_FILES = ["normal_0_97.mat", "12k_Drive_End_B007_0_118.mat", "12k_Drive_End_IR007_0_105.mat",
              "12k_Drive_End_IR021_2_211.mat", "12k_Drive_End_OR007@6_0_130.mat", "12k_Drive_End_OR021@3_2_248.mat",
              "12k_Drive_End_B028_0_3005.mat"]


def cwru(name: str) -> tuple[np.ndarray, float]:
    """Drive-end acceleration as int16 counts (CWRU_SCALE g each) and the shaft speed in Hz."""
    d = loadmat(unpacked("cwru_bearing_12k_drive_end") / "cwru_bearing" / name)
    key = next(k for k in d if k.endswith("_DE_time"))
    rpm = next((float(np.ravel(d[k])[0]) for k in d if k.endswith("RPM")), 1797.0)
    counts = np.clip(np.round(np.ravel(d[key]) / CWRU_SCALE), -32768, 32767).astype(np.int16)
    return counts, rpm / 60.0


def cinc_records() -> tuple[list[str], dict[str, str]]:
    root = unpacked("cinc2017_af_sample") / "cinc2017_af_sample" / "validation"
    labels = dict(line.split(",") for line in (root / "REFERENCE.csv").read_text().split())
    return [str(root / f"{r}.mat") for r in sorted(labels)], labels


def cinc(path: str) -> np.ndarray:
    return np.ascontiguousarray(loadmat(Path(path))["val"].reshape(-1).astype(np.int16))


# ------------------------------------------------------------------ building the C

def _ptr(a: np.ndarray):
    return a.ctypes.data_as(ctypes.c_void_p)


class Built:
    """A block's generated C as a host shared library."""

    def __init__(self, block, work: Path, prefix: str, variant: str = "both"):
        shutil.rmtree(work, ignore_errors=True)
        self.files = block.generate_c(work / "src", prefix, variant)
        self.lib = ctypes.CDLL(str(build_host_library(work, work / f"lib{prefix}.so",
                                                      extra_flags=["-Wdouble-promotion"])))
        self.prefix, self.block, self.dir = prefix, block, work / "src"

    def run(self, x: np.ndarray, size: int, fixed: bool) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.int16)
        out = np.zeros(size, np.int32 if fixed else np.float32)
        fn = getattr(self.lib, f"{self.prefix}_features" + ("_q" if fixed else ""))
        rc = fn(_ptr(x), ctypes.c_size_t(x.size), _ptr(out))
        assert rc == 0, f"{self.prefix}_features{'_q' if fixed else ''} returned {rc}"
        return out.astype(np.float64) / 2.0 ** self.block.q_frac_bits if fixed else out.astype(np.float64)


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    cache = {}

    def get(block, prefix: str) -> Built:
        key = (block, prefix)
        if key not in cache:
            cache[key] = Built(block, tmp_path_factory.mktemp(prefix), prefix)
        return cache[key]
    return get


def rel_errors(got: list[np.ndarray], want: list[np.ndarray]) -> np.ndarray:
    """Per feature column: max |got - want| / (max - min of want), over all recordings."""
    g = np.concatenate([np.reshape(a, (-1, np.shape(b)[-1])) for a, b in zip(got, want)])
    w = np.concatenate([np.reshape(b, (-1, np.shape(b)[-1])) for b in want]).astype(np.float64)
    span = w.max(axis=0) - w.min(axis=0)
    return np.abs(g - w).max(axis=0) / np.where(span > 0, span, 1.0)


# ------------------------------------------------------------------ numpy definitions

def test_mel_scales_and_filterbanks():
    f = np.array([0.0, 500.0, 999.0, 1000.0, 4000.0, 7999.0])
    for scale in spectral.MEL_SCALES:
        assert np.allclose(spectral.mel_to_hz(spectral.hz_to_mel(f, scale), scale), f, atol=1e-9)
    assert spectral.hz_to_mel(1000.0, "htk") == pytest.approx(1000.0, abs=0.1)   # by construction
    assert spectral.hz_to_mel(1000.0, "slaney") == pytest.approx(15.0)
    htk = spectral.mel_filterbank(16000, 512, 40, 20, 8000, "htk")
    assert htk.shape == (40, 257) and htk.max() <= 1.0 and np.all(htk.max(axis=1) > 0.5)
    # Slaney normalization: each triangle has unit area in Hz (sampled at the bin spacing)
    sl = spectral.mel_filterbank(16000, 4096, 40, 0, 8000, "slaney")
    assert np.allclose(sl.sum(axis=1) * (16000 / 4096), 1.0, atol=0.02)


def test_power_spectrum_and_dct_against_direct_sums():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 50))
    w = spectral.window("hamming", 50)
    n = np.arange(64)
    dft = np.exp(-2j * np.pi * np.outer(np.arange(33), n) / 64)
    want = np.abs(np.pad(x * w, ((0, 0), (0, 14))) @ dft.T) ** 2
    assert np.allclose(spectral.power_spectrum(x, w, 64), want)
    d = spectral.dct_matrix(13, 40)
    assert np.allclose(d @ d.T, np.eye(13), atol=1e-12)   # orthonormal rows
    v = rng.normal(size=40)
    m = np.arange(40)
    direct = [math.sqrt((1 if j == 0 else 2) / 40) * np.sum(v * np.cos(np.pi * j * (m + 0.5) / 40)) for j in range(13)]
    assert np.allclose(d @ v, direct)
    assert np.allclose(spectral.window("hann", 8), 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(8) / 8))


# The KWS application's front end and the speech blocks below, each against librosa.
LIBROSA_BLOCKS = {
    "kws_app_mfcc_htk": MfccBlock(sample_rate=16000, n_samples=15840, frame_length=480, hop=320, n_fft=512,
                                  n_mels=40, fmin=20.0, fmax=4000.0, n_mfcc=10),
    "mfcc_htk_8k": MfccBlock(sample_rate=8000, n_samples=8000, frame_length=256, hop=128, n_fft=256, n_mels=32,
                             n_mfcc=13, fmin=20, fmax=4000, mel_scale="htk"),
    "logmel_slaney_hamming_preemph": LogMelBlock(sample_rate=8000, n_samples=8000, frame_length=200, hop=80,
                                                 n_fft=256, n_mels=40, fmin=0, fmax=4000, mel_scale="slaney",
                                                 window="hamming", preemphasis=0.97, log_floor=1e-8),
    "mfcc_slaney_preemph": MfccBlock(sample_rate=16000, n_samples=16000, frame_length=480, hop=320, n_fft=512,
                                     n_mels=40, n_mfcc=13, fmin=20, fmax=7600, mel_scale="slaney", preemphasis=0.97),
}


def _chirp_clip(sample_rate: int, n: int) -> np.ndarray:
    """int16 test clip: a chirp from 100 Hz to 0.45 fs with its third harmonic (energy in every
    mel band), a little noise, and a stretch of digital silence that hits the log floor."""
    rng = np.random.default_rng(0)
    t = np.arange(n) / sample_rate
    phase = 2 * np.pi * np.cumsum(100 + (0.45 * sample_rate - 100) * t / t[-1]) / sample_rate
    x = 0.3 * np.sin(phase) + 0.1 * np.sin(3 * phase) + 0.02 * rng.normal(size=n)
    x[n // 3: n // 3 + n // 10] = 0.0
    return np.round(x * 32767).astype(np.int16)


@pytest.mark.parametrize("name", sorted(LIBROSA_BLOCKS))
def test_log_mel_and_mfcc_match_librosa(name):
    """Our numpy front end against an independent implementation, librosa, given the same
    definitions: periodic window (scipy's get_window), no centering, |rfft|^2, librosa's mel
    filterbank (htk=True and no normalization, or Slaney's scale with norm="slaney"), natural
    log of max(energy, log_floor), DCT-II with norm="ortho" (librosa.feature.mfcc on that
    log-mel, no liftering), pre-emphasis with a zero initial state. librosa centres a frame
    shorter than n_fft inside the FFT window where we pad at the end: the same samples reach
    the FFT (so the same |X|^2) once the clip is padded by the centring offset.
    Bound: both in float64, |difference| <= 1e-9 in natural-log units (measured <= 2e-13);
    the blocks' float32 outputs within float32 rounding (1.2e-7 x the largest value)."""
    librosa = pytest.importorskip("librosa", reason="pip install librosa (the test extra)")
    b = LIBROSA_BLOCKS[name]
    x = _chirp_clip(b.sample_rate, b.n_samples)
    y = x.astype(np.float64) * b.scale
    if b.preemphasis:
        y = librosa.effects.preemphasis(y, coef=b.preemphasis, zi=np.zeros(1))
    left = (b.n_fft - b.frame_length) // 2
    y = np.pad(y, (left, b.n_fft - b.frame_length - left))
    power = librosa.feature.melspectrogram(
        y=y, sr=b.sample_rate, n_fft=b.n_fft, hop_length=b.hop, win_length=b.frame_length, window=b.window,
        center=False, power=2.0, n_mels=b.n_mels, fmin=b.fmin, fmax=b.f_max, htk=b.mel_scale == "htk",
        norm=None if b.mel_scale == "htk" else "slaney", dtype=np.float64)
    want = np.log(np.maximum(power, b.log_floor)).T                       # (frames, n_mels)
    assert want.shape == (b.feature_shape[0], b.n_mels)
    assert want.min() == pytest.approx(math.log(b.log_floor))               # the silence reached the floor
    if isinstance(b, MfccBlock):
        want = librosa.feature.mfcc(S=want.T, n_mfcc=b.n_mfcc, dct_type=2, norm="ortho", lifter=0).T
        ours = spectral.mfcc(x, n_mfcc=b.n_mfcc, **b._kw())
    else:
        ours = spectral.log_mel(x, **b._kw())
    assert ours.shape == want.shape == b.feature_shape
    assert np.abs(ours - want).max() <= 1e-9, np.abs(ours - want).max()
    block_out = b.numpy(x).astype(np.float64)
    assert np.abs(block_out - want).max() <= 1.2e-7 * np.abs(want).max()


def test_vibration_definitions_on_a_sine():
    fs, n, amp = 12000, 4096, 1000.0
    t = np.arange(n)
    x = np.round(amp * np.sin(2 * np.pi * 1500.25 * t / fs) + 200).astype(np.int16)  # with a DC offset
    rms, peak, crest, kurt = vibration.moments(x, scale=0.5)
    assert rms == pytest.approx(0.5 * amp / math.sqrt(2), rel=1e-3)
    assert peak == pytest.approx(0.5 * amp, rel=1e-3)
    assert crest == pytest.approx(math.sqrt(2), rel=2e-3)
    assert kurt == pytest.approx(1.5, rel=2e-3)
    edges = [0, 1000, 2000, 6001]  # a partition of 0..fs/2 with Nyquist included
    bands = np.exp(vibration.band_powers(x, sample_rate=fs, n_fft=n, edges_hz=edges, scale=0.5))
    assert bands.sum() == pytest.approx(rms ** 2, rel=1e-3)   # Parseval over the partition
    assert bands[1] / bands.sum() > 0.999
    assert np.all(vibration.moments(np.full(64, 7)) == 0)


def test_envelope_spectrum_finds_the_modulation():
    fs, n = 12000, 8192
    t = np.arange(n) / fs
    x = np.round(2000 * (1 + 0.5 * np.cos(2 * np.pi * 105.0 * t)) * np.sin(2 * np.pi * 3000 * t)).astype(np.int16)
    env = vibration.envelope_spectrum(x, sample_rate=fs, band_hz=(2000, 4000), max_freq=500)
    k = int(np.argmax(env)) + 1
    assert abs(k * fs / n - 105.0) < fs / n
    # amplitude of the 105 Hz envelope line: 2000 * 0.5 (Hann scalloping costs at most 15 %)
    assert 850 < env[k - 1] < 1001


def test_envelope_spectrum_shows_the_outer_race_fault():
    x, shaft = cwru("12k_Drive_End_OR007@6_0_130.mat")
    blk = EnvelopeBlock(sample_rate=12000, n_samples=8192, band_hz=(2000, 5000), max_freq=500, scale=CWRU_SCALE)
    env = blk.numpy(x[:8192])
    bpfo = vibration.bearing_fault_frequencies(shaft, **vibration.CWRU_DRIVE_END)["bpfo"]
    k = int(np.argmax(env)) + 1
    assert abs(k * blk.resolution_hz - bpfo) < 2 * blk.resolution_hz, (k * blk.resolution_hz, bpfo)


def test_rr_features_by_hand():
    fs = 250
    peaks = np.cumsum([0, 200, 210, 190, 260, 200])  # RR 800, 840, 760, 1040, 800 ms
    f = dict(zip(ecg.RR_FEATURES, ecg.rr_features(peaks, fs)))
    rr = np.array([800, 840, 760, 1040, 800.0])
    d = np.diff(rr)
    assert f["mean_rr_ms"] == pytest.approx(rr.mean())
    assert f["sdnn_ms"] == pytest.approx(rr.std(ddof=1))
    assert f["rmssd_ms"] == pytest.approx(math.sqrt(np.mean(d ** 2)))
    assert f["pnn50"] == pytest.approx(np.mean(np.abs(d) > 50))   # 80 and 280 and 240 > 50, 40 not
    assert f["cv"] == pytest.approx(rr.std(ddof=1) / rr.mean())
    assert f["tpr"] == pytest.approx(3 / 3)                         # 840 max, 760 min, 1040 max
    assert f["hr_bpm"] == pytest.approx(60000 / rr.mean())
    bins = [(int(r / 4) - 190) * 16 // (260 - 190 + 1) for r in rr]  # RR in samples: 200,210,190,260,200
    p = np.bincount(bins) / 5
    p = p[p > 0]
    assert f["shannon"] == pytest.approx(-(p * np.log(p)).sum() / math.log(16))
    assert np.all(ecg.rr_features([5], fs) == 0)


def test_rpeaks_on_real_ecg_are_plausible():
    records, labels = cinc_records()
    feats = {"N": [], "A": []}
    hr_ok, on_peak = [], []
    for path in records:
        label = labels[Path(path).stem]
        if label not in feats:
            continue
        x = cinc(path)
        peaks = ecg.rpeaks(x, 300)
        feats[label].append(ecg.rr_features(peaks, 300))
        if label == "N":
            rr = np.diff(peaks) / 300.0
            hr_ok.append(rr.size > 0 and 40 < 60 / rr.mean() < 180)
            # a detected beat sits on the largest deflection of the raw ECG within +-8 samples
            base = np.median(x)
            off = [abs(int(np.argmax(np.abs(x[max(0, p - 8):p + 9] - base))) - min(8, p)) for p in peaks]
            on_peak.append(np.median(off) <= 1)
    assert np.mean(hr_ok) >= 0.95 and np.mean(on_peak) >= 0.9, (np.mean(hr_ok), np.mean(on_peak))
    # atrial fibrillation is irregular: pNN50 and nRMSSD separate it from normal rhythm (AUC)
    n, a = np.array(feats["N"]), np.array(feats["A"])
    for name, least in (("pnn50", 0.85), ("nrmssd", 0.75), ("tpr", 0.75)):
        k = ecg.RR_FEATURES.index(name)
        auc = np.mean(a[:, k][:, None] > n[:, k][None, :]) + 0.5 * np.mean(a[:, k][:, None] == n[:, k][None, :])
        assert auc >= least, (name, auc)


def test_block_configs_are_checked():
    with pytest.raises(MicrolithError, match="n_fft must be a power of two"):
        MfccBlock(n_fft=500)
    with pytest.raises(MicrolithError, match="n_mfcc"):
        MfccBlock(n_mels=10, n_mfcc=13)
    with pytest.raises(MicrolithError, match="hold no FFT bin"):
        LogMelBlock(sample_rate=16000, n_fft=64, frame_length=64, hop=32, n_samples=64, n_mels=40, fmin=0)
    with pytest.raises(MicrolithError, match="band"):
        VibrationBlock(band_edges_hz=(0, 1, 2))
    with pytest.raises(MicrolithError, match="envelope band"):
        EnvelopeBlock(band_hz=(0, 1000))
    with pytest.raises(MicrolithError, match="ECG sample rate"):
        EcgRhythmBlock(sample_rate=20)
    with pytest.raises(MicrolithError, match="variant"):
        MfccBlock().generate_c("/tmp/unused-microlith-dsp", "kws", variant="double")
    with pytest.raises(MicrolithError, match="C prefix"):
        MfccBlock().generate_c("/tmp/unused-microlith-dsp", "2kws")
    assert MfccBlock().feature_shape == (98, 13)
    assert LogMelBlock(n_samples=400).feature_shape == (1, 40)


# ------------------------------------------------------------------ integer helpers of the C

_HELPERS = """
#include "ml_dsp_mathf.h"
#include "ml_dsp_mathq.h"
void t_logf(const float *x, float *y, size_t n) { for (size_t i = 0; i < n; ++i) y[i] = ml_dsp_logf(x[i]); }
void t_sqrtf(const float *x, float *y, size_t n) { for (size_t i = 0; i < n; ++i) y[i] = ml_dsp_sqrtf(x[i]); }
void t_ln(const uint64_t *v, const int32_t *e, int64_t *y, size_t n)
{ for (size_t i = 0; i < n; ++i) y[i] = ml_dsp_xq_ln_q30(ml_dsp_xq_from_u64(v[i], e[i])); }
"""


@pytest.fixture(scope="module")
def helpers(tmp_path_factory):
    work = tmp_path_factory.mktemp("helpers")
    src = work / "src"
    src.mkdir()
    for p in kernel_closure(["ml_dsp_mathf.h", "ml_dsp_mathq.h"]):
        shutil.copyfile(p, src / p.name)
    (src / "t_helpers.c").write_text(_HELPERS)
    return ctypes.CDLL(str(build_host_library(work, work / "libhelpers.so")))


def test_float_log_and_sqrt_error_bounds(helpers):
    x = np.exp(np.linspace(math.log(1e-37), math.log(1e37), 1 << 20)).astype(np.float32)
    x = np.concatenate([x, np.float32(1) + np.arange(-2000, 2000, dtype=np.float32) * np.float32(2 ** -23)])
    y = np.zeros_like(x)
    helpers.t_logf(_ptr(x), _ptr(y), ctypes.c_size_t(x.size))
    want = np.log(x.astype(np.float64))
    err = np.abs(y - want)
    small = np.abs(want) <= 1
    assert err[small].max() <= 1.5e-7                         # the bounds in ml_dsp_mathf.h
    assert (err[~small] / np.abs(want[~small])).max() <= 1.5e-7
    helpers.t_sqrtf(_ptr(x), _ptr(y), ctypes.c_size_t(x.size))
    assert (np.abs(y - np.sqrt(x.astype(np.float64))) / np.sqrt(x.astype(np.float64))).max() <= 1.2e-7


def test_fixed_log_error_bound_and_python_twin(helpers):
    rng = np.random.default_rng(3)
    v = np.concatenate([rng.integers(1, 1 << 63, 200000, dtype=np.uint64),
                        rng.integers(1, 1 << 20, 20000).astype(np.uint64),
                        np.array([1, 2, 3, (1 << 31) - 1, 1 << 31, (1 << 64) - 1], dtype=np.uint64)])
    e = rng.integers(-150, 60, v.size).astype(np.int32)
    y = np.zeros(v.size, np.int64)
    helpers.t_ln(_ptr(v), _ptr(e), _ptr(y), ctypes.c_size_t(v.size))
    want = np.log(v.astype(np.float64)) + e * math.log(2)
    assert np.abs(y / 2.0 ** 30 - want).max() <= 1e-8            # the bound in ml_dsp_mathq.h
    for k in range(0, v.size, 997):
        assert y[k] == fixedmath.ln_q30_twin(int(v[k]), int(e[k]))
    # the C polynomial is fixedmath's, which a fresh fit reproduces
    text = (DSP_CSRC / "ml_dsp_mathq.c").read_text()
    table = re.search(r"ml_dsp_log2_poly_q31\[10\] = \{([^}]*)\}", text).group(1)
    assert tuple(int(t) for t in table.replace("\n", " ").split(",") if t.strip()) == fixedmath.LOG2_POLY_Q31
    assert np.abs(np.array(fixedmath.fit_log2_poly()) - fixedmath.LOG2_POLY_Q31).max() <= 4


# ------------------------------------------------------------------ generated C vs numpy, real data

MEL_BLOCKS = {
    "fsdd_mfcc_htk": MfccBlock(sample_rate=8000, n_samples=8000, frame_length=256, hop=128, n_fft=256, n_mels=32,
                               n_mfcc=13, fmin=20, fmax=4000, mel_scale="htk"),
    "fsdd_logmel_slaney": LogMelBlock(sample_rate=8000, n_samples=8000, frame_length=200, hop=80, n_fft=256,
                                      n_mels=40, fmin=0, fmax=4000, mel_scale="slaney", window="hamming",
                                      preemphasis=0.97, log_floor=1e-8),
    "pico_mfcc_slaney": MfccBlock(sample_rate=16000, n_samples=16000, frame_length=480, hop=320, n_fft=512,
                                  n_mels=40, n_mfcc=13, fmin=20, fmax=7600, mel_scale="slaney", preemphasis=0.97),
}


@pytest.mark.parametrize("name", sorted(MEL_BLOCKS))
def test_mel_blocks_c_matches_numpy_on_speech(build, name):
    block = MEL_BLOCKS[name]
    clips = fsdd_clips() if name.startswith("fsdd") else picovoice_clips()
    lib = build(block, name)
    want = [block.numpy(x) for x in clips]
    got_f = [lib.run(x, w.size, fixed=False) for x, w in zip(clips, want)]
    got_q = [lib.run(x, w.size, fixed=True) for x, w in zip(clips, want)]
    err_f, err_q = rel_errors(got_f, want), rel_errors(got_q, want)
    assert err_f.max() <= FLOAT_BOUND, err_f
    assert err_q.max() <= FIXED_MEL_BOUND, err_q


def test_mel_block_edge_inputs(build):
    block = MEL_BLOCKS["fsdd_mfcc_htk"]
    lib = build(block, "fsdd_mfcc_htk")
    rng = np.random.default_rng(7)
    cases = [np.zeros(600, np.int16),                                          # digital silence: the floor
             np.full(600, -32768, np.int16),                                  # full-scale DC
             np.where(np.arange(600) % 2 == 0, 32767, -32768).astype(np.int16),   # full-scale Nyquist
             rng.integers(-32768, 32768, 600).astype(np.int16),
             rng.integers(-2, 3, 256).astype(np.int16)]                       # exactly one frame, 2-LSB noise
    want = [block.numpy(x) for x in cases]
    err_f = rel_errors([lib.run(x, w.size, False) for x, w in zip(cases, want)], want)
    err_q = rel_errors([lib.run(x, w.size, True) for x, w in zip(cases, want)], want)
    assert err_f.max() <= FLOAT_BOUND and err_q.max() <= FIXED_MEL_BOUND, (err_f, err_q)
    silent = lib.run(np.zeros(256, np.int16), 13, True)
    assert silent[0] == pytest.approx(math.log(1e-10) * math.sqrt(32), abs=1e-3)
    out = np.zeros(13, np.float32)
    short = np.zeros(255, np.int16)
    assert lib.lib.fsdd_mfcc_htk_features(_ptr(short), ctypes.c_size_t(255), _ptr(out)) == -1  # ML_ARG_ERROR


def test_vibration_blocks_c_match_numpy_on_cwru(build):
    vib = VibrationBlock(sample_rate=12000, n_samples=2048, band_edges_hz=(0, 500, 1000, 2000, 3000, 4000, 6000),
                         scale=CWRU_SCALE)
    env = EnvelopeBlock(sample_rate=12000, n_samples=8192, band_hz=(2000, 5000), max_freq=500, scale=CWRU_SCALE)
    lib_v, lib_e = build(vib, "vib"), build(env, "env")
    windows = []
    for name in CWRU_FILES:
        x, _ = cwru(name)
        windows += [x[s:s + 8192] for s in (0, 50000)]
    for block, lib in ((vib, lib_v), (env, lib_e)):
        xs = [w[:block.n_samples] for w in windows]
        want = [block.numpy(x)[None, :] for x in xs]
        got_f = [lib.run(x, w.size, False) for x, w in zip(xs, want)]
        got_q = [lib.run(x, w.size, True) for x, w in zip(xs, want)]
        if block is env:  # one spectrum: its range is that of all its bins together
            want, got_f, got_q = ([np.reshape(a, (-1, 1)) for a in arrs] for arrs in (want, got_f, got_q))
        err_f, err_q = rel_errors(got_f, want), rel_errors(got_q, want)
        assert err_f.max() <= FLOAT_BOUND, (type(block).__name__, err_f)
        assert err_q.max() <= FIXED_VIB_BOUND, (type(block).__name__, err_q)
    out = np.zeros(10, np.float32)
    assert lib_v.lib.vib_features(_ptr(windows[0]), ctypes.c_size_t(2047), _ptr(out)) == -1
    flat = lib_v.run(np.full(2048, 123, np.int16), 10, True)
    assert np.all(flat[:4] == 0)


def test_ecg_block_c_matches_numpy_on_cinc(build):
    records, _ = cinc_records()
    block = EcgRhythmBlock(sample_rate=300, n_samples=61 * 300)
    lib = build(block, "ecg")
    want, got_f, got_q = [], [], []
    cap = block.detector().max_peaks(block.n_samples)
    for path in records:
        x = cinc(path)
        peaks = np.zeros(cap, np.int32)
        count = ctypes.c_size_t(0)
        assert lib.lib.ecg_rpeaks(_ptr(x), ctypes.c_size_t(x.size), _ptr(peaks), ctypes.byref(count)) == 0
        np.testing.assert_array_equal(peaks[:count.value], block.rpeaks(x), err_msg=path)  # identical positions
        want.append(block.numpy(x)[None, :])
        got_f.append(lib.run(x, 9, False))
        got_q.append(lib.run(x, 9, True))
    err_f, err_q = rel_errors(got_f, want), rel_errors(got_q, want)
    assert err_f.max() <= FLOAT_BOUND, err_f
    assert err_q.max() <= FIXED_RR_BOUND, err_q
    too_long = np.zeros(block.n_samples + 1, np.int16)
    assert lib.lib.ecg_features(_ptr(too_long), ctypes.c_size_t(too_long.size), _ptr(np.zeros(9, np.float32))) == -1


# ------------------------------------------------------------------ the generated folder

ALL_BLOCKS = [MEL_BLOCKS["fsdd_mfcc_htk"], MEL_BLOCKS["fsdd_logmel_slaney"], VibrationBlock(), EnvelopeBlock(),
              EcgRhythmBlock()]


@pytest.mark.parametrize("compiler", ["gcc", "clang"])
def test_generated_c_is_clean_under_strict_warnings(tmp_path, compiler):
    if shutil.which(compiler) is None:
        pytest.skip(f"{compiler} not installed")
    srcs = set()
    for i, block in enumerate(ALL_BLOCKS):
        files = block.generate_c(tmp_path / f"b{i}", f"blk{i}")
        srcs.update(str(p) for p in files if p.suffix == ".c")
    procs = [subprocess.Popen([compiler, "-O2", *STRICT_DSP, "-I", str(Path(s).parent), "-c", s, "-o", os.devnull],
                              stderr=subprocess.PIPE, text=True) for s in sorted(srcs)]
    errors = [p.communicate()[1] for p in procs if p.wait() != 0]
    assert not errors, errors[0]


def test_generated_folders_are_deterministic_and_minimal(tmp_path):
    block = MEL_BLOCKS["fsdd_mfcc_htk"]
    a = block.generate_c(tmp_path / "a", "kws")
    b = block.generate_c(tmp_path / "b", "kws")
    assert [p.name for p in a] == [p.name for p in b]
    assert all(p.read_bytes() == q.read_bytes() for p, q in zip(a, b))
    fixed = {p.name for p in block.generate_c(tmp_path / "f", "kws", variant="fixed")}
    assert not any(n.endswith("_f32.c") or n == "ml_dsp_mathf.c" for n in fixed)
    header = (tmp_path / "a" / "kws_dsp.h").read_text()
    for decl in ("int kws_features(const int16_t *samples, size_t n, float *out);",
                 "int kws_features_q(const int16_t *samples, size_t n, int32_t *out);",
                 "#define KWS_Q_FRAC_BITS", "#define KWS_WORK_SIZE", "#define KWS_OUTPUT_SIZE"):
        assert decl in header


def test_fixed_point_variant_needs_no_fpu(tmp_path):
    """Built for a Cortex-M0 (no FPU), the fixed-point C calls no soft-float routine."""
    cc, nm = shutil.which("arm-none-eabi-gcc"), shutil.which("arm-none-eabi-nm")
    if cc is None or nm is None:
        pytest.skip("arm-none-eabi-gcc not installed")
    objs = []
    for i, block in enumerate(ALL_BLOCKS):
        for src in block.generate_c(tmp_path / f"b{i}", f"blk{i}", variant="fixed"):
            if src.suffix == ".c":
                obj = src.with_suffix(".o")
                subprocess.run([cc, "-mcpu=cortex-m0", "-mthumb", "-O2", *STRICT_DSP, "-I", str(src.parent),
                                "-c", str(src), "-o", str(obj)], check=True, capture_output=True)
                objs.append(str(obj))
    undefined = subprocess.run([nm, "-u", *objs], check=True, capture_output=True, text=True).stdout
    soft_float = sorted(set(re.findall(r"__aeabi_[fd]\w+|__\w+[sd]f\d?\b", undefined)))
    assert not soft_float, soft_float
