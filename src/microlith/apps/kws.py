"""Keyword spotting: the 6 Picovoice wake words, "unknown" (FSDD spoken digits) and "silence/noise".

Data (16 kHz mono int16): Picovoice wake-word benchmark clips (alexa as FLAC, the rest WAV);
FSDD digits (8 kHz, resampled to 16 kHz: the DSP uses 20-4000 Hz only, so the 8 kHz source
leaves no band-limit cue); silence/noise from the non-speech parts of the Picovoice clips plus
synthetic white/pink/brown noise.

Split by speaker, never by clip:
- FSDD names its speakers: george and lucas are held out.
- Picovoice publishes no speaker IDs. Its alexa clips are numbered in recording order, and
  consecutive numbers come from the same speaker (their voice and noise-floor spectra are much
  closer than those of clips 5+ apart), so alexa is split into blocks of 20 consecutive numbers,
  every 5th block held out, and 4 clips on each side of a held-out block dropped from training.
  The other five words are UUID-named; their clips are grouped into recording sessions by
  agglomerative (Ward) clustering of the noise-floor spectrum of each clip (the quietest 10 % of
  its non-zero frames: microphone, room and gain of one session), about 40 clips per group, and
  whole groups are held out (~20 % of the clips). A speaker whose sessions differ could still
  land on both sides; the report says this split is inferred.

Pipeline: MFCC (30 ms frames every 20 ms, 512-point FFT, 40 mel bands 20-4000 Hz, 10
coefficients) -> int8 DS-CNN on 49 frames (0.99 s) -> the softmax of 3 windows 0.1 s apart
(a 1.2 s buffer) averaged -> argmax. Evaluation buffers are 1.2 s around each held-out clip's
loudest second (the keyword); "unknown" digits and "silence" buffers are built the same way
from held-out speakers and sessions.
"""
from __future__ import annotations

import json
import re
import time
import wave
from pathlib import Path

import numpy as np

from ..dsp import MfccBlock
from ..ir import MicrolithError
from ..pipeline import Pipeline, PostProcess
from . import common as C

WORDS = ["alexa", "computer", "jarvis", "smart mirror", "snowboy", "view glass"]
LABELS = WORDS + ["unknown", "silence"]
UNKNOWN, SILENCE = 6, 7
FS = 16000
FRAME, HOP, N_MFCC = 480, 320, 10
WINDOW_FRAMES, HOP_FRAMES = 49, 5
WINDOW = FRAME + (WINDOW_FRAMES - 1) * HOP            # 15840 samples, 0.99 s
BUFFER = 19200                                        # 1.2 s: 3 windows
TEST_FSDD_SPEAKERS = ("george", "lucas")
ALEXA_BLOCK, ALEXA_TEST_EVERY, ALEXA_GAP = 20, 5, 4
SESSION_SIZE = 40
TEST_SHARE = 0.2
_FSDD = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")


def block(frame: int = FRAME, hop: int = HOP, n_mfcc: int = N_MFCC, n_mels: int = 40) -> MfccBlock:
    """The app's MFCC front end; `microlith search` varies frame length, hop (so the frame count of
    a 0.99 s window), mel bands and coefficients."""
    n_fft = 1 << max(0, int(frame - 1).bit_length())
    return MfccBlock(sample_rate=FS, n_samples=window_samples(frame, hop), frame_length=frame, hop=hop,
                     n_fft=n_fft, n_mels=n_mels, fmin=20.0, fmax=4000.0, n_mfcc=n_mfcc)


def window_frames(frame: int = FRAME, hop: int = HOP) -> int:
    """Frames of one model window: as many as fit in 0.99 s (49 with the default 30/20 ms)."""
    return 1 + (WINDOW - frame) // hop


def window_samples(frame: int = FRAME, hop: int = HOP) -> int:
    return frame + (window_frames(frame, hop) - 1) * hop


def hop_frames(hop: int = HOP) -> int:
    """Model windows 0.1 s apart inside a buffer (5 frames with the default 20 ms hop)."""
    return max(1, round(FS // 10 / hop))


# ----------------------------------------------------------------------------- reading

def _read_wav(path: Path) -> tuple[int, int, np.ndarray]:
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{8 * w.getsampwidth()}-bit samples")
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return w.getframerate(), w.getnchannels(), x.reshape(-1, w.getnchannels())


def read_audio(path: Path) -> tuple[int, np.ndarray, int]:
    """(sample rate, int16 samples of the first channel, channels)."""
    if path.suffix.lower() == ".flac":
        try:
            import soundfile
        except ImportError:
            raise MicrolithError(f"{path.name}: FLAC clips need the soundfile package (pip install soundfile)") \
                from None
        x, sr = soundfile.read(str(path), dtype="int16", always_2d=True)
        return sr, np.ascontiguousarray(x[:, 0]), x.shape[1]
    sr, ch, x = _read_wav(path)
    return sr, np.ascontiguousarray(x[:, 0]), ch


def _resample(x: np.ndarray, sr: int) -> np.ndarray:
    if sr == FS:
        return x
    from math import gcd

    from scipy.signal import resample_poly
    g = gcd(sr, FS)
    y = resample_poly(x.astype(np.float64), FS // g, sr // g)
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


def frame_power(x: np.ndarray, hop: int = 160) -> np.ndarray:
    n = len(x) // hop
    f = x[:n * hop].astype(np.float64).reshape(n, hop)
    return np.mean(f * f, axis=1)


def locate(x: np.ndarray, length: int) -> tuple[int, float]:
    """Start of the `length`-sample stretch holding the most energy above the clip's noise floor
    (the keyword), and the clip's speech-to-floor ratio in dB."""
    p = frame_power(x)
    live = p[p > 0]
    if live.size == 0:
        return 0, 0.0
    floor = float(np.percentile(live, 10))
    e = np.maximum(p - floor, 0.0)
    span = max(1, min(len(p), length // 160))
    cs = np.concatenate([[0.0], np.cumsum(e)])
    start = int(np.argmax(cs[span:] - cs[:-span])) * 160
    snr = 10 * np.log10(max(p.max(), 1e-9) / max(floor, 1e-9))
    return start, float(snr)


# ----------------------------------------------------------------------------- loading and checks

def load(opts: C.AppOptions, checks: C.DataChecks, quick: bool) -> dict:
    """Every clip (quick: every 4th Picovoice clip and every 12th FSDD clip), checked."""
    pv_root = C.unpack("picovoice_wakeword", opts) / "picovoice_wakeword" / "audio"
    fs_root = C.unpack("fsdd", opts) / "fsdd"
    clips = []
    unreadable, rate_fixed, stereo, ignored = [], 0, [], []
    missing = [w for w in WORDS if not (pv_root / w).is_dir()]
    if missing:
        checks.add("picovoice", "class folders", "fatal", f"missing: {', '.join(missing)} in {pv_root}")
        return {"clips": []}
    for p in sorted(pv_root.iterdir()):
        if p.is_file():
            ignored.append(p.name)
    for label, word in enumerate(WORDS):
        paths = sorted((pv_root / word).iterdir(), key=lambda p: (len(p.name), p.name))
        for p in paths[::4] if quick else paths:
            try:
                sr, x, ch = read_audio(p)
            except MicrolithError:
                raise
            except Exception as e:  # soundfile/wave raise many types for a damaged file
                unreadable.append(f"{word}/{p.name} ({str(e).splitlines()[0][:40]})")
                continue
            if ch != 1:
                stereo.append(f"{word}/{p.name}")
            if sr != FS:
                x = _resample(x, sr)
                rate_fixed += 1
            clips.append({"source": "picovoice", "label": label, "name": f"{word}/{p.name}", "x": x, "sr": sr,
                          "num": int(p.stem) if p.stem.isdigit() else None})
    # FSDD: names carry digit and speaker; speakers.json is the label file to agree with
    rec = fs_root / "recordings"
    speakers = {}
    if (fs_root / "speakers.json").is_file():
        speakers = json.loads((fs_root / "speakers.json").read_text())
    bad_names, fs_rates = [], set()
    fsdd_files = sorted(rec.glob("*.wav"))
    for p in fsdd_files[::12] if quick else fsdd_files:
        m = _FSDD.match(p.name)
        if not m:
            bad_names.append(p.name)
            continue
        try:
            sr, x, ch = read_audio(p)
        except Exception as e:  # damaged file
            unreadable.append(f"fsdd/{p.name} ({type(e).__name__})")
            continue
        fs_rates.add(sr)
        clips.append({"source": "fsdd", "label": UNKNOWN, "name": f"fsdd/{p.name}", "x": _resample(x, sr),
                      "sr": sr, "speaker": m.group(2), "digit": int(m.group(1)), "index": int(m.group(3))})
    fsdd_speakers = {c["speaker"] for c in clips if c["source"] == "fsdd"}
    checks.add("fsdd", "label file vs recordings", "warning" if fsdd_speakers ^ set(speakers) or bad_names else "ok",
               (f"speakers.json lists {sorted(set(speakers) - fsdd_speakers)} without recordings; " if set(speakers)
                - fsdd_speakers else "") +
               (f"recordings of speakers missing from speakers.json: {sorted(fsdd_speakers - set(speakers))}; "
                if fsdd_speakers - set(speakers) else "") +
               (f"{len(bad_names)} file names not digit_speaker_index.wav (ignored)" if bad_names else "") or
               f"{len(fsdd_speakers)} speakers, all in speakers.json; names digit_speaker_index.wav",
               len(bad_names) + len(fsdd_speakers ^ set(speakers)))
    if not set(TEST_FSDD_SPEAKERS) <= fsdd_speakers:
        checks.add("fsdd", "held-out speakers", "fatal", f"{TEST_FSDD_SPEAKERS} not all present")
    checks.add("picovoice+fsdd", "readable", "warning" if unreadable else "ok",
               ("undecodable, excluded (the reference flac decoder fails on them too): " + "; ".join(unreadable[:3])
                + (", ..." if len(unreadable) > 3 else "")) if unreadable else "every clip decodes", len(unreadable))
    checks.add("picovoice+fsdd", "sample rate", "warning" if rate_fixed or fs_rates - {FS} else "ok",
               (f"FSDD at {sorted(fs_rates)} Hz, Picovoice {FS} Hz: FSDD resampled to {FS} Hz (the MFCC uses "
                f"20-4000 Hz only, so bandwidth cannot tell the sources apart)" if fs_rates - {FS} else "") +
               (f"; {rate_fixed} Picovoice clips resampled" if rate_fixed else "") or f"all {FS} Hz",
               rate_fixed + sum(c["sr"] != FS for c in clips if c["source"] == "fsdd"))
    if stereo:
        checks.add("picovoice", "channels", "warning", f"multi-channel, first channel used: {', '.join(stereo[:3])}",
                   len(stereo))
    if ignored:
        checks.add("picovoice", "files outside class folders", "info", f"ignored: {', '.join(ignored)}", len(ignored))
    _check_clips(clips, checks)
    return {"clips": [c for c in clips if not c.get("excluded")]}


def _check_clips(clips: list[dict], checks: C.DataChecks) -> None:
    seen: dict[str, list[dict]] = {}
    for c in clips:
        seen.setdefault(C.digest(c["x"]), []).append(c)
    dups = [v for v in seen.values() if len(v) > 1]
    cross = [v for v in dups if len({c["label"] for c in v}) > 1]
    for v in dups:
        for c in v[1:]:
            c["excluded"] = "duplicate"
    checks.add("picovoice+fsdd", "duplicates", "fatal" if cross else ("warning" if dups else "ok"),
               ("identical clips under different labels: " + "; ".join(" = ".join(c["name"] for c in v)
                                                                     for v in cross[:2])) if cross else
               ("identical clips, later copies dropped: " + "; ".join(" = ".join(c["name"] for c in v)
                                                                      for v in dups[:3])) if dups else
               "no two clips are identical", len(dups))
    empty, silent, clipped = [], [], []
    for c in clips:
        x = c["x"]
        if x.size < 0.1 * FS:
            empty.append(c["name"])
            c["excluded"] = "empty"
            continue
        peak = int(np.max(np.abs(x.astype(np.int32))))
        # FSDD clips are cut tightly around the digit: they have no noise floor to compare with
        snr = locate(x, FS)[1] if c["source"] == "picovoice" else 99.0
        if peak < 300 or snr < 10.0:
            silent.append(f"{c['name']} (peak {peak}, {snr:.0f} dB over its floor)")
            c["excluded"] = "silent"
            continue
        n_full = int(np.count_nonzero(np.abs(x.astype(np.int32)) >= 32767))
        if n_full >= 3:
            clipped.append(c["name"])
    checks.add("picovoice+fsdd", "empty clips", "warning" if empty else "ok",
               f"shorter than 0.1 s, excluded: {', '.join(empty[:4])}" if empty else "none", len(empty))
    checks.add("picovoice+fsdd", "silent clips", "warning" if silent else "ok",
               (f"no speech (peak < 300, or Picovoice loudest second < 10 dB over its floor), excluded: "
                f"{'; '.join(silent[:3])}" +
                (", ..." if len(silent) > 3 else "")) if silent else "every clip has speech 10 dB over its floor",
               len(silent))
    checks.add("picovoice+fsdd", "clipping", "warning" if clipped else "ok",
               (f">= 3 samples at full scale (kept): {', '.join(clipped[:3])}" + (", ..." if len(clipped) > 3 else ""))
               if clipped else "no clip saturates", len(clipped))
    kept = [c for c in clips if not c.get("excluded")]
    counts = np.bincount([c["label"] for c in kept], minlength=len(LABELS))
    low = [LABELS[i] for i in range(SILENCE) if counts[i] < 20]
    checks.add("picovoice+fsdd", "class counts (clips kept)", "fatal" if low else "ok",
               ", ".join(f"{LABELS[i]} {counts[i]}" for i in range(SILENCE)) +
               "; silence is made from the clips' non-speech parts" + (f"; too few: {low}" if low else ""))


# ----------------------------------------------------------------------------- speaker split

def session_signature(x: np.ndarray) -> np.ndarray:
    """Noise-floor log-mel spectrum of a clip (quietest 10 % of its non-zero frames), shape + level."""
    from ..dsp import spectral
    lm = spectral.log_mel(x, sample_rate=FS, frame_length=400, hop=160, n_fft=512, n_mels=40, fmin=20.0,
                          fmax=8000.0, window_kind="hann", mel_scale="htk", log_floor=1e-10, preemphasis=0.0,
                          scale=1.0 / 32768)
    live = lm[lm.min(axis=1) > np.log(1e-10) + 1.0]
    if len(live) < 10:
        live = lm
    e = live.mean(axis=1)
    quiet = live[np.argsort(e)[:max(5, len(e) // 10)]].mean(axis=0)
    return np.concatenate([quiet - quiet.mean(), [quiet.mean() * 0.5]])


def split_speakers(clips: list[dict], seed: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """Boolean masks (train, test) over clips; clips in neither are the alexa gap."""
    from scipy.cluster.hierarchy import fcluster, linkage
    n = len(clips)
    train, test = np.zeros(n, bool), np.zeros(n, bool)
    info = {}
    # FSDD: real speakers
    for i, c in enumerate(clips):
        if c["source"] == "fsdd":
            (test if c["speaker"] in TEST_FSDD_SPEAKERS else train)[i] = True
    # alexa: blocks of consecutive numbers
    alexa = [i for i, c in enumerate(clips) if c["source"] == "picovoice" and c["num"] is not None]
    pick = seed % ALEXA_TEST_EVERY
    test_nums = {clips[i]["num"] for i in alexa if (clips[i]["num"] // ALEXA_BLOCK) % ALEXA_TEST_EVERY == pick}
    for i in alexa:
        num = clips[i]["num"]
        if num in test_nums:
            test[i] = True
        elif any(num + d in test_nums for d in range(-ALEXA_GAP, ALEXA_GAP + 1)):
            continue  # the gap around a held-out block
        else:
            train[i] = True
    info["alexa"] = (f"blocks of {ALEXA_BLOCK} consecutive numbers, every {ALEXA_TEST_EVERY}th held out, "
                     f"{ALEXA_GAP} clips each side dropped: {int(test[alexa].sum())} test, "
                     f"{int(train[alexa].sum())} train, {len(alexa) - int(test[alexa].sum() + train[alexa].sum())} gap")
    # other words: recording sessions by noise-floor clustering
    rest = [i for i, c in enumerate(clips) if c["source"] == "picovoice" and c["num"] is None]
    if rest:
        sig = np.stack([session_signature(clips[i]["x"]) for i in rest])
        sig = (sig - sig.mean(axis=0)) / (sig.std(axis=0) + 1e-9)
        groups = fcluster(linkage(sig, "ward"), max(10, len(rest) // SESSION_SIZE), "maxclust")
        rng = np.random.default_rng(seed)
        order = rng.permutation(np.unique(groups))
        held, count = set(), 0
        for g in order:
            if count >= TEST_SHARE * len(rest):
                break
            held.add(int(g))
            count += int(np.sum(groups == g))
        for i, g in zip(rest, groups):
            (test if int(g) in held else train)[i] = True
        info["sessions"] = (f"{len(np.unique(groups))} inferred recording sessions (Ward clustering of noise-floor "
                            f"spectra) over {len(rest)} clips; {len(held)} held out ({count} clips)")
    info["fsdd"] = f"held-out speakers {', '.join(TEST_FSDD_SPEAKERS)}"
    return train, test, info


# ----------------------------------------------------------------------------- examples

class Noise:
    """Background noise: non-speech stretches of clips, tiled with 10 ms cross-fades, and
    synthetic white / pink / brown noise."""

    def __init__(self, segments: list[np.ndarray], rng: np.random.Generator):
        self.segments = [s.astype(np.float64) for s in segments if len(s) >= 1600]
        self.rng = rng

    def real(self, n: int) -> np.ndarray:
        out = np.zeros(0)
        fade = 160
        ramp = np.linspace(0.0, 1.0, fade)
        while len(out) < n:
            s = self.segments[self.rng.integers(len(self.segments))]
            if len(out) == 0:
                out = s.copy()
            else:
                mixed = out[-fade:] * (1 - ramp) + s[:fade] * ramp
                out = np.concatenate([out[:-fade], mixed, s[fade:]])
        start = self.rng.integers(0, len(out) - n + 1)
        return out[start:start + n]

    def synthetic(self, n: int) -> np.ndarray:
        kind = self.rng.integers(3)
        w = self.rng.standard_normal(n)
        if kind == 1:  # pink: 1/f power
            f = np.fft.rfftfreq(n)
            f[0] = f[1]
            w = np.fft.irfft(np.fft.rfft(w) / np.sqrt(f), n)
        elif kind == 2:  # brown
            w = np.cumsum(w)
            w -= np.linspace(w[0], w[-1], n)
        return w / (np.std(w) + 1e-9)

    def sample(self, n: int, level_db: float) -> np.ndarray:
        x = self.real(n) if self.segments and self.rng.random() < 0.75 else self.synthetic(n)
        rms = np.sqrt(np.mean(x * x)) + 1e-9
        return x / rms * 32768 * 10 ** (level_db / 20)


def background_segments(clip: dict, keyword_start: int) -> list[np.ndarray]:
    """Non-speech stretches of a Picovoice clip: away from its loudest second, no digital silence."""
    x = clip["x"]
    p = frame_power(x)
    ok = p > 0
    lo, hi = max(0, keyword_start // 160 - 25), min(len(p), (keyword_start + FS) // 160 + 25)
    ok[lo:hi] = False
    segs, start = [], None
    for i, v in enumerate(np.append(ok, False)):
        if v and start is None:
            start = i
        elif not v and start is not None:
            if i - start >= 25:
                segs.append(x[start * 160:i * 160])
            start = None
    return segs


def _place(x: np.ndarray, center: int, n: int, noise: Noise, noise_db: float) -> np.ndarray:
    """n samples of x centred on `center`, the parts outside x filled with noise."""
    out = noise.sample(n, noise_db)
    lo = center - n // 2
    a, b = max(0, lo), min(len(x), lo + n)
    out[a - lo:b - lo] = x[a:b]
    return out


def _level_db(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(x.astype(np.float64) ** 2) / 32768.0 ** 2 + 1e-12)


def make_example(c: dict, n: int, noise: Noise, rng: np.random.Generator, augment: bool) -> np.ndarray:
    """One int16 buffer of n samples for clip c (keyword/digit centred, jittered when augmenting)."""
    x = c["x"].astype(np.float64)
    center = c["center"] + (int(rng.integers(-2400, 2401)) if augment else 0)
    floor_db = c["floor_db"]
    y = _place(x, center, n, noise, floor_db if c["source"] == "picovoice" else c["speech_db"] -
               (rng.uniform(15, 35) if augment else 25.0))
    if augment:
        if rng.random() < 0.6:
            y = y + noise.sample(n, _level_db(y) - rng.uniform(5, 30))
        y = y * 10 ** (rng.uniform(-10, 6) / 20)
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


def make_silence(n: int, noise: Noise, rng: np.random.Generator) -> np.ndarray:
    y = noise.sample(n, rng.uniform(-75, -25))
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


# ----------------------------------------------------------------------------- model

def make_model(channels: int = 48, blocks: int = 4, kernel: int = 3, first_kernel: tuple = (10, 4)):
    """DS-CNN; `microlith search` varies width (channels), depth (blocks) and kernel sizes."""
    import torch
    from torch import nn
    kt, kf = first_kernel

    class DSCNN(nn.Module):
        """DS-CNN (Zhang et al. 2017, "Hello Edge"): a 10x4 convolution, depthwise-separable blocks,
        global average pooling and one fully connected layer."""

        def __init__(self):
            super().__init__()
            layers = [nn.Conv2d(1, channels, (kt, kf), stride=(2, 2), padding=(kt // 2, kf // 2 - (kf % 2 == 0)),
                                bias=False),
                      nn.BatchNorm2d(channels), nn.ReLU()]
            for _ in range(blocks):
                layers += [nn.Conv2d(channels, channels, kernel, padding=kernel // 2, groups=channels, bias=False),
                           nn.BatchNorm2d(channels), nn.ReLU(),
                           nn.Conv2d(channels, channels, 1, bias=False), nn.BatchNorm2d(channels), nn.ReLU()]
            self.features = nn.Sequential(*layers)
            self.drop = nn.Dropout(0.2)
            self.fc = nn.Linear(channels, len(LABELS))

        def forward(self, x):
            x = self.features(x)
            return self.fc(self.drop(torch.mean(x, dim=(2, 3))))

    return DSCNN()


# ----------------------------------------------------------------------------- run

def prepare(opts: C.AppOptions, prog: C.Progress, checks: C.DataChecks) -> dict:
    """Clips loaded and checked, keywords located, the speaker split, the unknown subsample and
    the noise sources: everything `run` and `microlith search` share before the DSP front end."""
    seconds = {}
    with prog.stage("loading Picovoice + FSDD clips", 1) as bar:
        data = load(opts, checks, opts.quick)
        bar.update()
    checks.raise_if_fatal()
    clips = data["clips"]
    rng = np.random.default_rng(opts.seed)
    t0 = time.perf_counter()
    with prog.stage("locating keywords, speaker split", len(clips)) as bar:
        for c in clips:
            length = FS if c["source"] == "picovoice" else len(c["x"])
            start, _ = locate(c["x"], min(length, len(c["x"])))
            c["center"] = start + min(length, len(c["x"])) // 2
            p = frame_power(c["x"])
            live = p[p > 0]
            c["floor_db"] = 10 * np.log10(np.percentile(live, 10) / 32768.0 ** 2 + 1e-12) if live.size else -90.0
            c["speech_db"] = _level_db(c["x"][max(0, start):start + min(length, len(c["x"]))])
            bar.update()
        train_m, test_m, split_info = split_speakers(clips, opts.seed)
    seconds["split"] = time.perf_counter() - t0
    train = [c for c, m in zip(clips, train_m) if m]
    test = [c for c, m in zip(clips, test_m) if m]
    # unknown is subsampled so it does not outnumber the keywords
    n_unknown = 100 if opts.quick else 500
    tr_unknown = [c for c in train if c["label"] == UNKNOWN]
    te_unknown = [c for c in test if c["label"] == UNKNOWN]
    tr_unknown = [tr_unknown[i] for i in rng.permutation(len(tr_unknown))[:n_unknown]]
    te_unknown = [te_unknown[i] for i in rng.permutation(len(te_unknown))[:n_unknown // 4]]
    train = [c for c in train if c["label"] != UNKNOWN] + tr_unknown
    test = [c for c in test if c["label"] != UNKNOWN] + te_unknown
    noise_train = Noise([s for c in train if c["source"] == "picovoice"
                         for s in background_segments(c, c["center"] - FS // 2)], np.random.default_rng(opts.seed))
    noise_test = Noise([s for c in test if c["source"] == "picovoice"
                        for s in background_segments(c, c["center"] - FS // 2)], np.random.default_rng(opts.seed + 1))
    return {"clips": clips, "train": train, "test": test, "noise_train": noise_train, "noise_test": noise_test,
            "n_sil_train": max(40, len(train) // 7), "n_sil_test": max(10, len(test) // 7),
            "split_info": split_info, "rng": rng, "seconds": seconds}


def heldout(d: dict, seed: int) -> tuple[list, np.ndarray, list]:
    """The held-out 1.2 s buffers (fixed seed): clips of held-out speakers/sessions, plus silence."""
    test_rng = np.random.default_rng(seed + 11)
    buffers, ybuf, names = [], [], []
    for c in d["test"]:
        buffers.append(make_example(c, BUFFER, d["noise_test"], test_rng, False))
        ybuf.append(c["label"])
        names.append(c["name"])
    for k in range(d["n_sil_test"]):
        buffers.append(make_silence(BUFFER, d["noise_test"], test_rng))
        ybuf.append(SILENCE)
        names.append(f"silence/{k}")
    return buffers, np.array(ybuf), names


def training_data(d: dict, blk: MfccBlock, frames: int, rng: np.random.Generator, seed: int):
    """(epoch_data, mean, std): epoch_data(ep) -> (X, y), a fresh augmentation of every training
    clip plus silence each epoch, normalized with fixed statistics (mean/std per coefficient)
    of un-augmented windows."""
    n = blk.n_samples
    train, noise_train, n_sil_train = d["train"], d["noise_train"], d["n_sil_train"]

    def window_features(buf: np.ndarray) -> np.ndarray:
        return blk.numpy(buf)[:frames]

    stats = np.concatenate([window_features(make_example(c, n, noise_train, rng, False))
                            for c in train[::max(1, len(train) // 400)]])
    mean, std = stats.mean(axis=0), stats.std(axis=0) + 1e-6
    epoch_rng = np.random.default_rng(seed + 7)

    def epoch_data(ep: int):
        X, y = [], []
        for c in train:
            X.append(window_features(make_example(c, n, noise_train, epoch_rng, True)))
            y.append(c["label"])
        for _ in range(n_sil_train):
            X.append(window_features(make_silence(n, noise_train, epoch_rng)))
            y.append(SILENCE)
        Z = (np.stack(X) - mean) / std
        return Z[:, None].astype(np.float32), np.array(y)

    return epoch_data, mean, std


def run(opts: C.AppOptions) -> dict:
    t_start = time.perf_counter()
    C.set_threads()
    prog = C.Progress(opts.progress)
    out_dir = Path(opts.out) / "kws"
    out_dir.mkdir(parents=True, exist_ok=True)
    checks = C.DataChecks()
    d = prepare(opts, prog, checks)
    seconds = d["seconds"]
    clips, train, split_info, rng = d["clips"], d["train"], d["split_info"], d["rng"]
    n_sil_train = d["n_sil_train"]
    blk = block()

    epoch_data, mean, std = training_data(d, blk, WINDOW_FRAMES, rng, opts.seed)

    import torch
    torch.manual_seed(opts.seed)
    net = make_model(channels=16, blocks=2) if opts.quick else make_model(channels=48, blocks=4)
    epochs = 20 if opts.quick else 40
    t0 = time.perf_counter()
    C.train(net, epoch_data, epochs, lr=6e-3 if opts.quick else 3e-3, weight_decay=1e-4, progress=prog,
            name="training DS-CNN", seed=opts.seed, label_smoothing=0.05)
    seconds["training"] = time.perf_counter() - t0

    buffers, ybuf, names = heldout(d, opts.seed)
    post = PostProcess(mode="argmax")
    t0 = time.perf_counter()
    # float: the same windows, softmax averaged
    cal_X, _ = epoch_data(0)
    feats = []
    with prog.stage("float model on held-out buffers", len(buffers)) as bar:
        for b in buffers:
            frames = blk.numpy(b)
            nw = 1 + (len(frames) - WINDOW_FRAMES) // HOP_FRAMES
            feats.append(np.stack([frames[w * HOP_FRAMES:w * HOP_FRAMES + WINDOW_FRAMES] for w in range(nw)]))
            bar.update()
    F = np.stack(feats)                                   # (buffers, windows, frames, coeffs)
    probs = C.predict_float(net, ((F - mean) / std).reshape(-1, 1, WINDOW_FRAMES, N_MFCC))
    probs = probs.reshape(len(buffers), -1, len(LABELS)).mean(axis=1)
    pred_float = probs.argmax(axis=1)
    seconds["float evaluation"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    cal = cal_X[np.random.default_rng(opts.seed).permutation(len(cal_X))[:300]]
    tfl = C.to_int8(net, (1, 1, WINDOW_FRAMES, N_MFCC), cal, out_dir / "kws_model.tflite")
    pipe = Pipeline("kws", blk, tfl, LABELS, mean, std, window_frames=WINDOW_FRAMES, hop_frames=HOP_FRAMES,
                    max_samples=BUFFER, post=post)
    folder = out_dir / "kws_pipeline"
    first_kw = int(np.argmax(ybuf == 0))
    pipe.generate_c(folder, sample=buffers[first_kw][:WINDOW])
    seconds["quantize+compile"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ev = C.evaluate_c(pipe, folder, buffers, prog, compare_count=40 if opts.quick else 240)
    pred_c = np.array([r["label"] for r in ev["results"]])
    seconds["evaluate C"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    prof = C.profile_pipeline(folder, opts, prog)
    seconds["profile"] = time.perf_counter() - t0
    seconds["total"] = time.perf_counter() - t_start

    acc_float, acc_c = C.accuracy(ybuf, pred_float), C.accuracy(ybuf, pred_c)
    cm = C.confusion(ybuf, pred_c, len(LABELS))
    png = C.plot_confusion(cm, LABELS, out_dir / "confusion.png",
                           f"keyword spotting, held-out speakers, int8 C pipeline: {C.pct(acc_c)}")
    kw = ybuf < UNKNOWN
    per_class = {LABELS[c]: C.pct(cm[c, c] / max(1, cm[c].sum())) for c in range(len(LABELS))}
    targets = [C.target_line("accuracy on held-out speakers >= 90%", acc_c, 0.90, acc_c >= 0.90),
               C.target_line("int8 C within 1 point of float", acc_c - acc_float, 0.01,
                             abs(acc_c - acc_float) <= 0.01, fmt=lambda v: f"{100 * v:+.1f} points")]
    if prof and not prof.get("skipped"):
        targets.append(C.target_line(f"fits {opts.target}", 1.0 if prof["fits_budget"] else 0.0, 1.0,
                                     bool(prof["fits_budget"]), fmt=lambda v: "yes" if v else "no"))
    counts_test = np.bincount(ybuf, minlength=len(LABELS))
    res = {
        "app": "kws", "title": "keyword spotting: 6 wake words + unknown + silence, held-out speakers",
        "task": "keyword spotting, 8 classes (Picovoice + FSDD)", "heldout": "speakers (Picovoice: inferred "
        "sessions/blocks; FSDD: 2 speakers)", "quick": opts.quick, "target": opts.target,
        "data_summary": f"{len(clips)} clips kept; training {len(train)} clips + {n_sil_train} silence per epoch "
                        f"(fresh shift/gain/noise each of {epochs} epochs); held out {len(buffers)} buffers of 1.2 s: "
                        + ", ".join(f"{LABELS[i]} {counts_test[i]}" for i in range(len(LABELS))),
        "split": "; ".join(f"{k}: {v}" for k, v in split_info.items()),
        "checks": checks.rows, "checks_table": checks.table(),
        "float_accuracy": acc_float, "int8_accuracy": acc_c,
        "extra_metrics": {"int8 C accuracy on the 6 wake words only": C.pct(C.accuracy(ybuf[kw], pred_c[kw])),
                          "int8 C per-class accuracy": ", ".join(f"{k} {v}" for k, v in per_class.items()),
                          "float / int8 C disagreements": f"{int(np.sum(pred_float != pred_c))}/{len(ybuf)}"},
        "agreement": ev["compare"], "profile": prof, "confusion": cm.tolist(), "labels": LABELS,
        "confusion_png": str(png), "out_dir": str(out_dir), "pipeline_dir": str(folder),
        "seconds": {k: round(v, 1) for k, v in seconds.items()}, "targets": targets,
    }
    res["benchmarks_details"] = "\n".join([
        f"### kws: {res['title']}",
        f"- split: {res['split']}",
        f"- data: {res['data_summary']}",
        f"- pipeline: MFCC ({FRAME / FS * 1000:.0f} ms frames every {HOP / FS * 1000:.0f} ms, 40 mels 20-4000 Hz, "
        f"{N_MFCC} coefficients) -> int8 DS-CNN on {WINDOW_FRAMES} frames -> softmax averaged over the 3 windows "
        "of a 1.2 s buffer -> argmax",
        f"- per class (int8 C): {res['extra_metrics']['int8 C per-class accuracy']}",
        f"- reproduce: `microlith app kws --out out/apps` (total {res['seconds']['total']:.0f} s)",
    ])
    C.write_result(res, out_dir)
    return res
