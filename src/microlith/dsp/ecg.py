"""ECG: integer Pan-Tompkins R-peak detection and RR-interval features, in numpy.

The detector is all-integer, so this numpy code is a bit-exact twin of the C kernel
csrc/dsp/ml_dsp_rpeaks_s16.c (same R-peak positions, not merely within a sample), and the
C needs no FPU. Stages, after Pan & Tompkins (IEEE TBME 1985), with the filter lengths
scaled from their 200 Hz design to the sample rate fs:

1. low-pass: two cascaded moving sums of m_lp = round(6 fs / 200) samples (triangular FIR,
   delay m_lp - 1, gain m_lp^2);
2. high-pass: m_hp * lp[n - d] - (moving sum of m_hp samples of lp), m_hp = 2 round(16 fs / 200) + 1
   odd so that d = (m_hp - 1) / 2 makes it linear phase; then an arithmetic right shift by
   s_bp keeps the band-passed signal within 2^24 for any int16 input;
3. derivative d[n] = 2 bp[n] + bp[n-1] - bp[n-3] - 2 bp[n-4]; squaring (>> s_sq);
4. moving-window integration over w = round(0.150 fs) samples -> mwi;
5. candidates: mwi[p] > 0 and the maximum of mwi over [p - r, p + r] (strictly greater than
   everything before, r = round(0.1 fs));
6. adaptive thresholds (integers, floor shifts): learning over the first 2 s:
   spki = min(max of mwi over the first half, max over the second half) / 3 (so one artifact in
   the learning phase cannot lift the threshold above every beat), npki = mean(mwi) / 2; thr1 = npki + (spki - npki) / 4, thr2 = thr1 / 2;
   a candidate within 200 ms of the last QRS is ignored; above thr1 it is a QRS
   (spki <- (mwi + 7 spki) / 8) unless it is a T wave: within 360 ms of the last QRS and its
   slope (max |derivative| over its integration window) below t_slope/10 = 0.7 of that QRS's
   (Pan and Tompkins use 1/2; the handheld single-lead ECGs of CinC 2017 have T waves steep
   enough to pass that);
   otherwise (T waves too) noise (npki <- (mwi + 7 npki) / 8) and, if above thr2, remembered; when the next candidate comes more than 166 % of the mean of the last 8 RR
   intervals after the last QRS, the largest remembered one is taken as a QRS (search-back,
   spki <- (mwi + 3 spki) / 4).
7. the R peak is the largest |bp| in the w + 3 samples ending at the candidate, moved back by
   the band-pass delay (m_lp - 1 + d) to input sample indices.
Before the first sample the input is taken to have held x[0] forever, so the baseline
offset of a record causes no start-up transient.

RR features (from the R-peak positions, RR intervals in samples, converted to ms):
mean_rr_ms, sdnn_ms (sample standard deviation, ddof 1), rmssd_ms, pnn50 (share of successive
differences > 50 ms), cv (sdnn / mean), nrmssd (rmssd / mean), tpr (turning-point ratio: share
of inner intervals that are a strict local extremum), shannon (entropy of a 16-bin histogram of
RR between its min and max, bin = (rr - min) * 16 // (max - min + 1), divided by ln 16),
hr_bpm. The last six are the irregularity measures used for AF detection (Dash et al.,
Ann. Biomed. Eng. 2009: nRMSSD, TPR, ShE). A feature that needs more intervals than the
record has (1 for the mean, 2 for sdnn/rmssd/pnn50/cv/nrmssd, 3 for tpr) is 0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..ir import MicrolithError

RR_FEATURES = ("mean_rr_ms", "sdnn_ms", "rmssd_ms", "pnn50", "cv", "nrmssd", "tpr", "shannon", "hr_bpm")
SHANNON_BINS = 16


def _bits(v: int) -> int:
    return max(0, int(v).bit_length())


@dataclass(frozen=True)
class PanTompkins:
    """Integer parameters of the detector for one sample rate (see the module docstring)."""
    fs: int
    m_lp: int
    m_hp: int
    d_hp: int
    s_bp: int
    s_sq: int
    w: int
    r: int
    refractory: int
    t_wave: int
    t_slope: int
    learn: int
    hist: int

    @classmethod
    def for_rate(cls, fs: int) -> "PanTompkins":
        if not 50 <= fs <= 2000 or int(fs) != fs:
            raise MicrolithError(f"dsp: ECG sample rate {fs} Hz is outside the supported 50..2000 Hz")
        fs = int(fs)
        m_lp = max(2, round(6 * fs / 200))
        m_hp = 2 * round(16 * fs / 200) + 1
        bound_bp = m_lp * m_lp * 32768 * 2 * m_hp
        s_bp = max(0, _bits(bound_bp) - 24)
        bound_sq = (6 * ((bound_bp >> s_bp) + 1)) ** 2
        w = max(1, round(0.150 * fs))
        s_sq = max(0, _bits(w * bound_sq) - 62)
        r = max(1, round(0.1 * fs))
        hist = 1
        while hist < max(2 * r + 1, r + w + 5):
            hist *= 2
        return cls(fs, m_lp, m_hp, (m_hp - 1) // 2, s_bp, s_sq, w, r, round(0.2 * fs), round(0.36 * fs), 7,
                   2 * fs, hist)

    @property
    def delay(self) -> int:
        return self.m_lp - 1 + self.d_hp

    @property
    def prime(self) -> int:
        """Samples of x[0] fed before the record: longer than the filters' whole memory."""
        return 2 * self.m_lp + self.m_hp + 5 + self.w

    def max_peaks(self, n: int) -> int:
        return n // self.refractory + 1


def _moving_sum(x: np.ndarray, length: int) -> np.ndarray:
    c = np.concatenate([np.zeros(length, np.int64), np.cumsum(x, dtype=np.int64)])
    return c[length:] - c[:-length]


def _delayed(x: np.ndarray, d: int) -> np.ndarray:
    return np.concatenate([np.zeros(d, np.int64), x[:len(x) - d]]) if d else x


def filter_chain(samples, pt: PanTompkins) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(band-passed, derivative, moving-window integral), int64, one value per input sample."""
    x = np.asarray(samples).reshape(-1).astype(np.int64)
    if x.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    xp = np.concatenate([np.full(pt.prime, x[0], np.int64), x])
    lp = _moving_sum(_moving_sum(xp, pt.m_lp), pt.m_lp)
    hp = pt.m_hp * _delayed(lp, pt.d_hp) - _moving_sum(lp, pt.m_hp)
    bp = hp >> pt.s_bp
    d = 2 * bp + _delayed(bp, 1) - _delayed(bp, 3) - 2 * _delayed(bp, 4)
    sq = (d * d) >> pt.s_sq
    mwi = _moving_sum(sq, pt.w)
    return bp[pt.prime:], d[pt.prime:], mwi[pt.prime:]


def _candidates(m: np.ndarray, r: int) -> np.ndarray:
    n = len(m)
    pad = np.concatenate([np.full(r, -1, np.int64), m, np.full(r, -1, np.int64)])
    win = np.lib.stride_tricks.sliding_window_view(pad, r)
    left = win[:n].max(axis=1)          # m[p - r .. p - 1]
    right = win[r + 1:r + 1 + n].max(axis=1)  # m[p + 1 .. p + r]
    return np.nonzero((m > 0) & (m > left) & (m >= right))[0]


def rpeaks(samples, fs: int) -> np.ndarray:
    """R-peak sample indices (int64, ascending) of one ECG record of int16 counts."""
    pt = PanTompkins.for_rate(fs)
    bp, deriv, m = filter_chain(samples, pt)
    n = len(m)
    if n == 0:
        return np.zeros(0, np.int64)
    learn = min(n, pt.learn)
    half = learn // 2
    spki = (int(m[:learn].max()) if half == 0 else min(int(m[:half].max()), int(m[half:learn].max()))) // 3
    npki = (int(m[:learn].sum()) // learn) // 2
    thr1 = npki + ((spki - npki) >> 2)
    thr2 = thr1 >> 1
    absbp, absd = np.abs(bp), np.abs(deriv)
    peaks: list[int] = []
    rrs: list[int] = []
    last, last_slope = None, 0
    best = None  # search-back candidate: (mwi, position, refined R peak, slope)

    def refine(p: int) -> int:
        lo = max(0, p - pt.w - 2)
        return max(0, lo + int(np.argmax(absbp[lo:p + 1])) - pt.delay)

    def slope(p: int) -> int:
        return int(absd[max(0, p - pt.w + 1):p + 1].max())

    def accept(p: int, r: int, s: int):
        nonlocal last, best, last_slope
        peaks.append(r)
        if last is not None:
            rrs.append(p - last)
            del rrs[:-8]
        last, best, last_slope = p, None, s

    for p in _candidates(m, pt.r).tolist():
        mp = int(m[p])
        if best is not None and rrs and p - last > (sum(rrs) // len(rrs)) * 166 // 100:
            spki = (best[0] + 3 * spki) >> 2
            accept(best[1], best[2], best[3])
            thr1 = npki + ((spki - npki) >> 2)
            thr2 = thr1 >> 1
        if last is not None and p - last < pt.refractory:
            continue
        sp = slope(p)
        t_wave = last is not None and p - last < pt.t_wave and 10 * sp < pt.t_slope * last_slope
        if mp > thr1 and not t_wave:
            spki = (mp + 7 * spki) >> 3
            accept(p, refine(p), sp)
        else:
            npki = (mp + 7 * npki) >> 3
            if mp > thr2 and not t_wave and (best is None or mp > best[0]):
                best = (mp, p, refine(p), sp)
        thr1 = npki + ((spki - npki) >> 2)
        thr2 = thr1 >> 1
    return np.array(peaks, dtype=np.int64)


def rr_features(peaks, fs: float) -> np.ndarray:
    """The RR_FEATURES vector (float64) of a sorted array of R-peak sample indices."""
    rr = np.diff(np.asarray(peaks, dtype=np.int64))
    out = np.zeros(len(RR_FEATURES))
    n = len(rr)
    if n < 1:
        return out
    ms = 1000.0 / fs
    mean = rr.mean() * ms
    out[0] = mean
    out[8] = 60000.0 / mean
    lo, hi = int(rr.min()), int(rr.max())
    counts = np.bincount((rr - lo) * SHANNON_BINS // (hi - lo + 1), minlength=SHANNON_BINS)
    p = counts[counts > 0] / n
    out[7] = float(-(p * np.log(p)).sum() / math.log(SHANNON_BINS))
    if n >= 2:
        d = np.diff(rr)
        out[1] = rr.std(ddof=1) * ms
        out[2] = math.sqrt(np.mean(d.astype(np.float64) ** 2)) * ms
        out[3] = np.mean(np.abs(d) * 1000 > 50 * fs)
        out[4] = out[1] / mean
        out[5] = out[2] / mean
    if n >= 3:
        out[6] = np.mean((d[:-1] * d[1:]) < 0)
    return out
