"""Spectral features in numpy (float64): framing, windows, power spectrum, mel, log, DCT.

These are the training-side definitions; the generated C (float and fixed point) computes
the same quantities and is tested against them. Conventions, chosen once and stated here:

- Samples are ADC counts (int16 values); `scale` converts them to physical units
  (1/32768 for audio gives full scale = 1.0).
- Frames start at 0, `hop` apart, `frame_length` long; no centering and no padding of the
  signal, so a clip of n samples gives 1 + (n - frame_length) // hop frames.
- Optional pre-emphasis y[i] = x[i] - a*x[i-1] over the whole clip (y[0] = x[0]), so a
  frame's first sample uses the sample before the frame, as a streaming front end would.
- Windows are periodic (DFT-even): hann w[i] = 0.5 - 0.5 cos(2 pi i / L), hamming
  0.54 - 0.46 cos(2 pi i / L); a frame shorter than n_fft is zero-padded at the end.
- Power spectrum: |X_k|^2 of the unnormalized DFT, k = 0 .. n_fft/2.
- Mel filterbank, the librosa construction: n_mels + 2 points equally spaced on the mel
  scale between fmin and fmax, triangles linear in Hz between them, evaluated at the bin
  frequencies k * sample_rate / n_fft. mel_scale "htk": mel = 2595 log10(1 + f/700) and
  peak-1 triangles (no normalization). "slaney": Slaney's scale (linear below 1 kHz,
  logarithmic above) and area normalization 2 / (f_right - f_left), librosa's default.
- Log: natural log of max(energy, log_floor).
- DCT-II, orthonormal (scipy.fft.dct(type=2, norm="ortho")), first n_mfcc coefficients.
"""
from __future__ import annotations

import math

import numpy as np

from ..ir import MicrolithError

WINDOWS = ("hann", "hamming", "rectangular")
MEL_SCALES = ("htk", "slaney")


def window(kind: str, length: int) -> np.ndarray:
    i = np.arange(length, dtype=np.float64)
    if kind == "hann":
        return 0.5 - 0.5 * np.cos(2.0 * np.pi * i / length)
    if kind == "hamming":
        return 0.54 - 0.46 * np.cos(2.0 * np.pi * i / length)
    if kind == "rectangular":
        return np.ones(length)
    raise MicrolithError(f"dsp: unknown window '{kind}' (use one of {', '.join(WINDOWS)})")


def is_pow2(n: int) -> bool:
    return n >= 2 and (n & (n - 1)) == 0


def n_frames(n_samples: int, frame_length: int, hop: int) -> int:
    return 0 if n_samples < frame_length else 1 + (n_samples - frame_length) // hop


def preemphasize(x: np.ndarray, coeff: float) -> np.ndarray:
    if coeff == 0.0:
        return x
    y = x.copy()
    y[1:] = x[1:] - coeff * x[:-1]
    return y


def frames(x: np.ndarray, frame_length: int, hop: int) -> np.ndarray:
    """(n_frames, frame_length) view of a 1-D signal."""
    count = n_frames(len(x), frame_length, hop)
    if count == 0:
        raise MicrolithError(f"dsp: {len(x)} samples is shorter than one frame ({frame_length})")
    idx = np.arange(frame_length)[None, :] + hop * np.arange(count)[:, None]
    return x[idx]


def power_spectrum(framed: np.ndarray, win: np.ndarray, n_fft: int) -> np.ndarray:
    """|rfft(frame * window, n_fft)|^2 per frame: (n_frames, n_fft // 2 + 1)."""
    spec = np.fft.rfft(framed * win, n=n_fft, axis=-1)
    return spec.real ** 2 + spec.imag ** 2


def hz_to_mel(f, scale: str):
    f = np.asarray(f, dtype=np.float64)
    if scale == "htk":
        return 2595.0 * np.log10(1.0 + f / 700.0)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-12) / min_log_hz) / logstep,
                    f / f_sp)


def mel_to_hz(m, scale: str):
    m = np.asarray(m, dtype=np.float64)
    if scale == "htk":
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filterbank(sample_rate: float, n_fft: int, n_mels: int, fmin: float, fmax: float,
                   scale: str = "htk") -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular weights (see the module docstring)."""
    if scale not in MEL_SCALES:
        raise MicrolithError(f"dsp: unknown mel scale '{scale}' (use htk or slaney)")
    fft_freqs = np.arange(n_fft // 2 + 1) * (sample_rate / n_fft)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin, scale), hz_to_mel(fmax, scale), n_mels + 2), scale)
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    if scale == "slaney":
        weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights


def dct_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Orthonormal DCT-II rows: out = D @ x equals scipy.fft.dct(x, 2, norm='ortho')[:n_out]."""
    j = np.arange(n_out)[:, None]
    m = np.arange(n_in)[None, :]
    d = np.sqrt(2.0 / n_in) * np.cos(np.pi * j * (m + 0.5) / n_in)
    d[0] /= np.sqrt(2.0)
    return d


def log_mel(samples, *, sample_rate, frame_length, hop, n_fft, n_mels, fmin, fmax, window_kind="hann",
            mel_scale="htk", log_floor=1e-10, preemphasis=0.0, scale=1.0 / 32768) -> np.ndarray:
    """(n_frames, n_mels) natural-log mel energies."""
    x = preemphasize(np.asarray(samples, dtype=np.float64).reshape(-1) * scale, preemphasis)
    p = power_spectrum(frames(x, frame_length, hop), window(window_kind, frame_length), n_fft)
    fb = mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax, mel_scale)
    return np.log(np.maximum(p @ fb.T, log_floor))


def mfcc(samples, *, n_mfcc, **kw) -> np.ndarray:
    """(n_frames, n_mfcc) MFCCs: orthonormal DCT-II of the log-mel energies."""
    lm = log_mel(samples, **kw)
    return lm @ dct_matrix(n_mfcc, lm.shape[1]).T
