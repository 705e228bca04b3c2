"""Motion (IMU) features in numpy: gravity removal, statistics, jerk, band energies.

Input: one window of n time steps of an IMU, int16 counts, `axes` values per step interleaved
as IMUs deliver them (x0 y0 z0 x1 y1 z1 ... for 3 axes; ax0 ay0 az0 gx0 gy0 gz0 ax1 ... for 6:
sensor 0 = axes 0-2, sensor 1 = axes 3-5). Sensor s converts counts to physical units with
scale[s] (e.g. m/s^2 or g per count for an accelerometer, rad/s or deg/s for a gyroscope:
full scale / 32768 for a 16-bit IMU), so every feature below is in physical units.

Gravity removal (per axis, the same on a gyroscope, where it removes the bias and slow
turns): a first-order IIR low-pass (exponential smoothing) estimates gravity,
    g[i] = g[i-1] + alpha (X[i] - g[i-1]),   H(z) = alpha / (1 - (1 - alpha) z^-1),
    d[i] = X[i] - g[i]   (the dynamic, gravity-removed part: high-pass 1 - H),
with alpha chosen so that the cut-off fc is the low-pass's exact -3 dB point, |H(exp(2 pi i fc / fs))|
= 1/sqrt(2): with c = cos(2 pi fc / fs), 1 - alpha = 2 - c - sqrt((2 - c)^2 - 1) (alpha ~ 2 pi fc / fs
for fc << fs, the RC filter of time constant 1 / (2 pi fc));
started at the window mean (no start-up transient) and defined EXACTLY in integers so that
numpy, the float C and the fixed-point C compute the same d (and hence the same zero
crossings and extremes): X = counts * 2^15 (Q15 counts), alpha_q30 = round(alpha 2^30),
g[-1] = round_half_up(sum X / n), step = round_half_up(alpha_q30 (X[i] - g[i-1]) / 2^30).
|d| < 2^31 always. The effective cut-off is cutoff_actual() (alpha rounded to Q30).

Features, with u = scale / 2^15 (d in physical units is d u):
per axis, in order
    mean        of the raw signal, scale * mean(counts): the static part (gravity direction,
                gyroscope bias), the one thing gravity removal erases;
    std, min, max, rms   of d u (std is the population standard deviation);
    zcr         zero crossings of d per second: fs * #{i >= 1: (d[i] < 0) != (d[i-1] < 0)} / (n - 1);
    jerk_rms    RMS of the first difference of the raw signal, in units per second:
                scale * fs * sqrt(mean((counts[i] - counts[i-1])^2)) over the n - 1 differences;
    ln band energy, per band: vibration.band_powers of d u (mean removed, window, one-sided,
                window-power-normalized |rfft|^2 summed over the band's bins, so a partition of
                0..fs/2 adds up to the variance), ln(max(P, floor));
per sensor (3 axes), the magnitude of the gravity-removed vector m[i] = u sqrt(dx^2 + dy^2 + dz^2):
    mean, std, min, max, rms of m (no zero crossings: m >= 0).
"""
from __future__ import annotations

import math

import numpy as np

from ..ir import MicrolithError
from . import vibration

AXIS_FEATURES = ("mean", "std", "min", "max", "rms", "zcr", "jerk_rms")
MAG_FEATURES = ("mean", "std", "min", "max", "rms")
Q_SHIFT = 15  # X = counts * 2^Q_SHIFT


def alpha_q30(sample_rate: float, cutoff_hz: float) -> int:
    """The gravity filter's coefficient in Q30: -3 dB of the low-pass at cutoff_hz."""
    c = math.cos(2.0 * math.pi * cutoff_hz / sample_rate)
    beta = (2.0 - c) - math.sqrt((2.0 - c) ** 2 - 1.0)
    return int(round((1.0 - beta) * 2 ** 30))


def cutoff_actual(sample_rate: float, alpha: int) -> float:
    """The -3 dB frequency (Hz) of the low-pass that alpha_q30 realizes."""
    a = alpha / 2 ** 30
    c = (1.0 + (1.0 - a) ** 2 - 2.0 * a * a) / (2.0 * (1.0 - a))
    return sample_rate * math.acos(max(-1.0, min(1.0, c))) / (2.0 * math.pi)


def _round_shift(v: np.ndarray, s: int) -> np.ndarray:
    """round_half_up(v / 2^s), as ml_dsp_shift_round_i64 (arithmetic shifts)."""
    return (v >> s) + ((v >> (s - 1)) & 1)


def gravity_split(counts, alpha: int) -> np.ndarray:
    """d (n, axes) int64 in Q15 counts: the gravity-removed signal of every axis (see above)."""
    x = np.asarray(counts)
    if x.ndim != 2:
        raise MicrolithError(f"dsp: motion samples must be (n, axes), got shape {x.shape}")
    big = x.astype(np.int64) << Q_SHIFT
    n = big.shape[0]
    g = np.floor_divide(2 * big.sum(axis=0) + n, 2 * n)  # round half up of the mean
    d = np.empty_like(big)
    for i in range(n):
        g = g + _round_shift(alpha * (big[i] - g), 30)
        d[i] = big[i] - g
    return d


def features(counts, *, sample_rate: float, scale, cutoff_hz: float, n_fft: int, edges_hz,
             window_kind: str = "hann", floor: float = 1e-10) -> np.ndarray:
    """float64 features of one window (n, axes) of int16 counts, in the order of feature_names()."""
    x = np.asarray(counts)
    n, axes = x.shape
    scale = [float(s) for s in scale]
    d = gravity_split(x, alpha_q30(sample_rate, cutoff_hz))
    raw = x.astype(np.int64)
    out = []
    for a in range(axes):
        u = scale[a // 3] / 2 ** Q_SHIFT
        da = d[:, a].astype(np.float64) * u
        crossings = int(np.count_nonzero((d[1:, a] < 0) != (d[:-1, a] < 0)))
        diffs = np.diff(raw[:, a]).astype(np.float64)
        out += [scale[a // 3] * raw[:, a].sum() / n, da.std(), da.min(), da.max(), math.sqrt(np.mean(da * da)),
                sample_rate * crossings / (n - 1), scale[a // 3] * sample_rate * math.sqrt(np.mean(diffs * diffs))]
        out += list(vibration.band_powers(d[:, a], sample_rate=sample_rate, n_fft=n_fft, edges_hz=list(edges_hz),
                                          window_kind=window_kind, scale=u, floor=floor))
    for s in range(axes // 3):
        dd = d[:, 3 * s:3 * s + 3].astype(np.float64)
        m = np.sqrt(np.sum(dd * dd, axis=1)) * (scale[s] / 2 ** Q_SHIFT)
        out += [m.mean(), m.std(), m.min(), m.max(), math.sqrt(np.mean(m * m))]
    return np.array(out)


def axis_names(axes: int) -> list[str]:
    return ["x", "y", "z"] if axes == 3 else ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]


def feature_names(axes: int, edges_hz) -> list[str]:
    edges = list(edges_hz)
    bands = [f"ln_energy_{a:g}_{b:g}hz" for a, b in zip(edges, edges[1:])]
    names = [f"{ax}_{f}" for ax in axis_names(axes) for f in (*AXIS_FEATURES, *bands)]
    sensors = ["mag"] if axes == 3 else ["acc_mag", "gyro_mag"]
    return names + [f"{s}_{f}" for s in sensors for f in MAG_FEATURES]
