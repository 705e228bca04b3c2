"""Vibration features in numpy (float64): statistics, band powers, envelope spectrum.

Definitions (the generated C computes the same quantities):
- x = samples * scale (physical units, e.g. g), c = x - mean(x) over the window.
- rms = sqrt(mean(c^2)); peak = max |c|; crest = peak / rms; kurtosis = mean(c^4) / mean(c^2)^2
  (Pearson's, 3 for a Gaussian, not the excess). A constant window gives 0 for all four.
- Band power: one-sided, window-power-normalized spectrum of c,
  P(band) = sum_{k in band} g_k |X_k|^2 / (n_fft * sum(w^2)), X = rfft(c * w, n_fft), g_k = 2
  except 1 at DC and Nyquist, so the bands of a partition add up to the mean square of c
  (a sine of amplitude A gives A^2 / 2). A bin k belongs to band b when
  edges[b] <= k * fs / n_fft < edges[b + 1]. The feature is ln(max(P, floor)).
- Envelope spectrum (bearing faults): the analytic signal of x restricted to the bins
  [k_lo, k_hi] of its n-point DFT (band-pass and Hilbert transform in one step),
  a(t) = (2/n) sum_{k=k_lo}^{k_hi} X_k exp(2 pi i k t / n); its magnitude sampled every n/m
  samples (m a power of two: the envelope needs no more bandwidth, and the C computes it with
  an m-point inverse FFT of the shifted band, the same numbers exactly); minus its mean;
  times a periodic Hann window w; amplitude spectrum 2 |E_k| / sum(w) for k = 1 .. n_out,
  whose bin spacing is fs / n. A fault at f Hz shows as a line at bin f * n / fs.
"""
from __future__ import annotations

import math

import numpy as np

from ..ir import MicrolithError
from .spectral import window


def moments(samples, scale: float = 1.0) -> np.ndarray:
    """[rms, peak, crest, kurtosis] of one window."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1) * scale
    c = x - x.mean()
    m2 = np.mean(c * c)
    if m2 == 0.0:
        return np.zeros(4)
    rms = math.sqrt(m2)
    peak = float(np.max(np.abs(c)))
    return np.array([rms, peak, peak / rms, np.mean(c ** 4) / (m2 * m2)])


def band_bins(edges_hz, sample_rate: float, n_fft: int) -> list[tuple[int, int]]:
    """[first, last + 1) bin range of each band."""
    k = np.arange(n_fft // 2 + 1) * (sample_rate / n_fft)
    out = []
    for lo, hi in zip(edges_hz[:-1], edges_hz[1:]):
        inside = np.nonzero((k >= lo) & (k < hi))[0]
        if inside.size == 0:
            raise MicrolithError(f"dsp: band [{lo}, {hi}) Hz holds no FFT bin at n_fft={n_fft}, "
                                 f"fs={sample_rate}; widen it or raise n_fft")
        out.append((int(inside[0]), int(inside[-1]) + 1))
    return out


def band_powers(samples, *, sample_rate, n_fft, edges_hz, window_kind="hann", scale=1.0,
                floor=1e-12) -> np.ndarray:
    """ln(power) in each band (see the module docstring)."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1) * scale
    c = x - x.mean()
    w = window(window_kind, len(c))
    spec = np.fft.rfft(c * w, n=n_fft)
    p = spec.real ** 2 + spec.imag ** 2
    g = np.full(p.shape, 2.0)
    g[0] = 1.0
    g[-1] = 1.0
    p = p * g / (n_fft * np.sum(w * w))
    out = np.array([p[a:b].sum() for a, b in band_bins(edges_hz, sample_rate, n_fft)])
    return np.log(np.maximum(out, floor))


def envelope_bins(sample_rate: float, n: int, band_hz, max_freq: float) -> tuple[int, int, int, int]:
    """(k_lo, k_hi, m, n_out) for an envelope spectrum of an n-sample window."""
    k_lo = int(math.ceil(band_hz[0] * n / sample_rate))
    k_hi = int(math.floor(band_hz[1] * n / sample_rate))
    if not 1 <= k_lo <= k_hi <= n // 2 - 1:
        raise MicrolithError(f"dsp: envelope band {list(band_hz)} Hz must lie strictly between 0 and "
                             f"fs/2 = {sample_rate / 2} and hold at least one bin")
    n_out = int(math.floor(max_freq * n / sample_rate))
    if n_out < 1:
        raise MicrolithError(f"dsp: envelope max_freq {max_freq} Hz is below one bin ({sample_rate / n} Hz)")
    m = 2
    while m < k_hi - k_lo + 1 or m < 2 * (n_out + 1):
        m *= 2
    if m > n:
        raise MicrolithError(f"dsp: envelope max_freq {max_freq} Hz needs more than the window's {n} samples")
    return k_lo, k_hi, m, n_out


def envelope_spectrum(samples, *, sample_rate, band_hz, max_freq, scale=1.0) -> np.ndarray:
    """Amplitude of the envelope spectrum at bins 1 .. n_out (spacing sample_rate / n)."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1) * scale
    n = len(x)
    k_lo, k_hi, m, n_out = envelope_bins(sample_rate, n, band_hz, max_freq)
    spec = np.fft.fft(x)
    analytic = np.zeros(n, dtype=np.complex128)
    analytic[k_lo:k_hi + 1] = 2.0 * spec[k_lo:k_hi + 1]
    env = np.abs(np.fft.ifft(analytic))[::n // m]
    w = window("hann", m)
    e = np.fft.rfft((env - env.mean()) * w)
    return 2.0 * np.abs(e[1:n_out + 1]) / w.sum()


def bearing_fault_frequencies(shaft_hz: float, n_balls: int, ball_diameter: float, pitch_diameter: float,
                              contact_angle_deg: float = 0.0) -> dict[str, float]:
    """Characteristic defect frequencies (Hz) of a rolling bearing with a stationary outer race."""
    r = ball_diameter / pitch_diameter * math.cos(math.radians(contact_angle_deg))
    return {
        "bpfo": n_balls / 2.0 * shaft_hz * (1.0 - r),
        "bpfi": n_balls / 2.0 * shaft_hz * (1.0 + r),
        "bsf": pitch_diameter / (2.0 * ball_diameter) * shaft_hz * (1.0 - r * r),
        "ftf": shaft_hz / 2.0 * (1.0 - r),
    }


# CWRU drive-end bearing, SKF 6205-2RS JEM: 9 balls, ball 0.3126 in, pitch 1.537 in.
CWRU_DRIVE_END = dict(n_balls=9, ball_diameter=0.3126, pitch_diameter=1.537)
