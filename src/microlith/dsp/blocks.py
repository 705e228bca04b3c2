"""Configured feature blocks: one frozen dataclass per block, each with

    block.numpy(samples) -> features    float32, the training-side definition (float64 inside)
    block.feature_shape                 shape of numpy(...) for block.n_samples samples
    block.generate_c(out_dir, prefix, variant="both") -> [paths]

generate_c writes PREFIX_dsp.h / PREFIX_dsp.c and the csrc/dsp kernels they call. The header
declares, per variant,
    int PREFIX_features(const int16_t *samples, size_t n, float *out);      float (FPU cores)
    int PREFIX_features_q(const int16_t *samples, size_t n, int32_t *out);  fixed point (no FPU)
each with a _with_work twin that takes the work memory (PREFIX_WORK_SIZE bytes) instead of
the file's static buffer. They return 0 or a negative ml_status. The fixed-point output is
the same features as int32 in Q(q_frac_bits): value = out / 2^q_frac_bits.

Error of the generated C against numpy, asserted on real recordings in tests/test_dsp.py
(FSDD and Picovoice speech, CWRU bearing vibration, all 300 CinC 2017 ECG records), per
feature column relative to that feature's range over the test recordings,
max |C - numpy| / (max - min):
    float variant: <= 1e-4 for every block (measured: MFCC/log-mel 2.5e-5, vibration 2.2e-6,
                   envelope 2.6e-6, RR features 3e-7)
    fixed point:   MFCC / log-mel <= FIXED_MEL_BOUND = 2e-3 (measured 8.3e-4, in the high-order
                   MFCCs of quiet 16 kHz frames: q31 FFT rounding near the noise floor; each
                   q31 product is rounded on its own, which ARMv6-M needs for 32-bit multiplies),
                   vibration and envelope <= FIXED_VIB_BOUND = 1e-4 (measured 1.5e-5),
                   RR features <= FIXED_RR_BOUND = 1e-4 (measured 7.9e-6, half an LSB of Q16)
    R peaks: the C returns exactly the positions of ecg.rpeaks (an integer algorithm, the same
    for both variants), on every CinC record.
MotionBlock, on the 80 BasicMotions IMU recordings (tests/test_dsp_motion.py): float <= 1e-4
(measured 2.4e-7), fixed point <= FIXED_MOTION_BOUND = 1e-4 (measured 1.1e-5, half an LSB of Q16
on the smallest-range column); its gravity filter is integer in numpy and both C variants, so
the gravity-removed signal, and with it the zero-crossing counts, are identical in all three.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from ..ir import MicrolithError
from . import ecg, fixedmath, motion, spectral, vibration
from .cgen import CUnit, c_float, c_int, check_variant

FIXED_MEL_BOUND = 2e-3
FIXED_VIB_BOUND = 1e-4
FIXED_RR_BOUND = 1e-4
FIXED_MOTION_BOUND = 1e-4  # MotionBlock, fixed point (see above)


def _err(block, msg: str):
    raise MicrolithError(f"dsp {type(block).__name__}: {msg}")


def _fft_tables(u: CUnit, n: int, want_float: bool, want_fixed: bool, float_order: bool = False,
                swap_table: bool = False):
    """Twiddle table for n points and the fft params of an n-point rfft. float_order: the float
    input comes permuted (out["order"], the bit reversal of n / 2 points, is the framing
    kernel's order table), so the float FFT does no swaps. swap_table: the other FFTs swap
    from a generated pair table (4 bytes a swap, about n bytes: worth it for an FFT run every
    frame) instead of computing the permutation."""
    tw = fixedmath.twiddles(n)
    pairs = fixedmath.bitrev_pairs(n // 2)  # the rfft's inner complex FFT has n / 2 points
    rev = {}
    if swap_table and pairs.size and (want_fixed or not float_order):
        rev = dict(bitrev=u.array("bitrev", "uint16_t", pairs), n_bitrev=f"{pairs.size // 2}U")
    out = {}
    if want_float:
        name = u.array("twiddle", "float", tw)
        frev = rev
        if float_order:
            out["order"] = u.array("order", "uint16_t", fixedmath.bitrev_order(n // 2))
            frev = dict(bitrev=out["order"], n_bitrev="0U")  # already permuted: no swaps
        out["f"] = u.struct("fft", "ml_dsp_fft_f32_params", dict(n=f"{n}U", stride="1U", twiddle=name, **frev))
    if want_fixed:
        name = u.array("twiddle_q31", "int32_t", fixedmath.to_q(tw, 31))
        out["q"] = u.struct("fft_q", "ml_dsp_fft_q31_params", dict(n=f"{n}U", stride="1U", twiddle=name, **rev))
    return out


class _Block:
    """Shared plumbing of the block dataclasses."""
    title = "features"

    def numpy(self, samples) -> np.ndarray:
        raise NotImplementedError

    @property
    def feature_shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    def config(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def generate_c(self, out_dir, prefix: str, variant: str = "both") -> list[Path]:
        want_float, want_fixed = check_variant(variant)
        u = CUnit(prefix, self.title)
        self._emit(u, want_float, want_fixed)
        return u.write(out_dir)

    def _emit(self, u: CUnit, want_float: bool, want_fixed: bool) -> None:
        raise NotImplementedError


def _steps(steps: list[str], indent: str) -> str:
    """Kernel calls chained on their status: the first failure is returned."""
    out = f"{indent}ml_status st = {steps[0]};\n"
    for call in steps[1:]:
        out += f"{indent}if (st == ML_OK) {{\n{indent}    st = {call};\n{indent}}}\n"
    return out + f"{indent}if (st != ML_OK) {{\n{indent}    return (int)st;\n{indent}}}\n"


def _frame_loop(m: str, bufs: list[str], locals_: list[str], steps: list[str]) -> str:
    body = "".join(f"    {b}\n" for b in bufs)
    body += (f"    if (samples == NULL || out == NULL || work == NULL || n < {m}_FRAME_LENGTH) {{\n"
             f"        return (int)ML_ARG_ERROR;\n    }}\n"
             f"    const size_t frames = {m}_FRAMES(n);\n"
             f"    for (size_t f = 0; f < frames; ++f) {{\n"
             f"        const int16_t *x = samples + f * {m}_HOP;\n"
             f"        const int16_t prev = f > 0 ? x[-1] : (int16_t)0;\n")
    body += "".join(f"        {v}\n" for v in locals_)
    return body + _steps(steps, "        ") + "    }\n    return 0;\n"


def _check_common(block, n_samples: int, scale: float, q_frac_bits: int):
    if n_samples < 1:
        _err(block, f"n_samples must be positive, got {n_samples}")
    if not scale > 0.0 or not math.isfinite(scale):
        _err(block, f"scale must be a positive number, got {scale}")
    if not 0 <= q_frac_bits <= 30:
        _err(block, f"q_frac_bits must be in 0..30, got {q_frac_bits}")


# --------------------------------------------------------------------------- mel / MFCC

@dataclass(frozen=True)
class LogMelBlock(_Block):
    """Log-mel energies per frame: (n_frames, n_mels). See spectral.py for every definition."""
    sample_rate: int = 16000
    n_samples: int = 16000
    frame_length: int = 400
    hop: int = 160
    n_fft: int = 512
    n_mels: int = 40
    fmin: float = 20.0
    fmax: float | None = None
    window: str = "hann"
    mel_scale: str = "htk"
    log_floor: float = 1e-10
    preemphasis: float = 0.0
    scale: float = 1.0 / 32768
    q_frac_bits: int = 16
    title = "log-mel energies"

    def __post_init__(self):
        _check_common(self, self.n_samples, self.scale, self.q_frac_bits)
        if not spectral.is_pow2(self.n_fft) or not 4 <= self.n_fft <= 16384:
            _err(self, f"n_fft must be a power of two in 4..16384, got {self.n_fft}")
        if not 1 <= self.frame_length <= self.n_fft:
            _err(self, f"frame_length must be in 1..n_fft ({self.n_fft}), got {self.frame_length}")
        if self.hop < 1:
            _err(self, f"hop must be positive, got {self.hop}")
        if self.n_samples < self.frame_length:
            _err(self, f"n_samples ({self.n_samples}) is shorter than one frame ({self.frame_length})")
        if self.window not in spectral.WINDOWS:
            _err(self, f"window must be one of {', '.join(spectral.WINDOWS)}, got '{self.window}'")
        if self.mel_scale not in spectral.MEL_SCALES:
            _err(self, f"mel_scale must be htk or slaney, got '{self.mel_scale}'")
        if not 0.0 <= self.fmin < self.f_max <= self.sample_rate / 2:
            _err(self, f"need 0 <= fmin < fmax <= sample_rate/2, got fmin={self.fmin}, fmax={self.f_max}")
        if self.n_mels < 1:
            _err(self, f"n_mels must be positive, got {self.n_mels}")
        if not self.log_floor >= 1.2e-38:
            _err(self, f"log_floor must be at least 1.2e-38 (a normal float), got {self.log_floor}")
        if not 0.0 <= self.preemphasis <= 1.0:
            _err(self, f"preemphasis must be in [0, 1], got {self.preemphasis}")
        empty = np.nonzero(self.filterbank().max(axis=1) <= 0.0)[0]
        if empty.size:
            _err(self, f"mel filters {empty.tolist()} hold no FFT bin; use fewer mels, a larger n_fft or "
                       "a higher fmin")

    @property
    def f_max(self) -> float:
        return float(self.sample_rate) / 2 if self.fmax is None else float(self.fmax)

    @property
    def features_per_frame(self) -> int:
        return self.n_mels

    @property
    def feature_shape(self) -> tuple[int, int]:
        return (spectral.n_frames(self.n_samples, self.frame_length, self.hop), self.features_per_frame)

    def filterbank(self) -> np.ndarray:
        return spectral.mel_filterbank(self.sample_rate, self.n_fft, self.n_mels, self.fmin, self.f_max,
                                       self.mel_scale)

    def _kw(self) -> dict:
        return dict(sample_rate=self.sample_rate, frame_length=self.frame_length, hop=self.hop, n_fft=self.n_fft,
                    n_mels=self.n_mels, fmin=self.fmin, fmax=self.f_max, window_kind=self.window,
                    mel_scale=self.mel_scale, log_floor=self.log_floor, preemphasis=self.preemphasis,
                    scale=self.scale)

    def numpy(self, samples) -> np.ndarray:
        return spectral.log_mel(samples, **self._kw()).astype(np.float32)

    def _dct(self) -> np.ndarray | None:
        return None

    def _emit(self, u: CUnit, want_float: bool, want_fixed: bool) -> None:
        n_fft, nb, nm = self.n_fft, self.n_fft // 2 + 1, self.n_mels
        dct = self._dct()
        nout = self.features_per_frame
        frames = spectral.n_frames(self.n_samples, self.frame_length, self.hop)
        u.header_doc = self._doc(want_fixed)
        u.define("SAMPLE_RATE", self.sample_rate)
        u.define("INPUT_SIZE", self.n_samples, "samples the block was configured for")
        u.define("FRAME_LENGTH", self.frame_length)
        u.define("HOP", self.hop)
        u.define("FEATURES_PER_FRAME", nout)
        u.define("N_FRAMES", frames, "frames of INPUT_SIZE samples")
        u.define("OUTPUT_SIZE", frames * nout, "values written for INPUT_SIZE samples")
        m = u.macro
        u.define("FRAMES(n)", f"((n) < {m}_FRAME_LENGTH ? 0 : 1 + ((n) - {m}_FRAME_LENGTH) / {m}_HOP)",
                 "frames written for n samples")
        fb = self.filterbank()
        starts, counts, weights = [], [], []
        for row in fb:
            nz = np.nonzero(row > 0.0)[0]
            starts.append(int(nz[0]))
            counts.append(int(nz[-1] - nz[0] + 1))
            weights.extend(row[nz[0]:nz[-1] + 1].tolist())
        start = u.array("mel_start", "uint16_t", starts)
        count = u.array("mel_count", "uint16_t", counts)
        win = spectral.window(self.window, self.frame_length)
        fft = _fft_tables(u, n_fft, want_float, want_fixed, float_order=True, swap_table=True)
        work = 0
        if want_float:
            u.use("ml_dsp_frame_f32.h", "ml_dsp_rfft_power_f32.h", "ml_dsp_mel_f32.h", "ml_dsp_log_f32.h")
            n_bins = max(s + c for s, c in zip(starts, counts))  # bins past the last filter are not computed
            frame = u.struct("frame", "ml_dsp_frame_f32_params", dict(
                frame_length=f"{self.frame_length}U", n_fft=f"{n_fft}U", preemphasis=c_float(self.preemphasis),
                window=u.array("window", "float", win * self.scale),  # one multiply per sample, not two
                order=fft["order"]))  # written in the FFT's bit-reversed order: no swap pass
            mel = u.struct("mel", "ml_dsp_filterbank_f32_params", dict(
                n_filters=f"{nm}U", start=start, count=count, weights=u.array("mel_weights", "float", weights)))
            log = u.struct("log", "ml_dsp_log_f32_params", dict(n=f"{nm}U", floor=c_float(self.log_floor)))
            bufs = ["float *buf = (float *)work;", f"float *power = buf + {n_fft};", f"float *melv = power + {n_bins};"]
            steps = [f"ml_dsp_frame_f32(&{frame}, x, prev, buf)",
                     f"ml_dsp_rfft_power_f32(&{fft['f']}, {n_bins}U, buf, power)", f"ml_dsp_mel_f32(&{mel}, power, melv)"]
            if dct is None:
                steps.append(f"ml_dsp_log_f32(&{log}, melv, out + f * {nout})")
            else:
                u.use("ml_dsp_dct_f32.h")
                half = dct[:, :(nm + 1) // 2]  # the kernel uses each row's (anti)symmetry
                sign = np.where(np.arange(nout) % 2 == 0, 1.0, -1.0)[:, None]
                if not np.allclose(dct[:, ::-1][:, :(nm + 1) // 2] * sign, half, atol=1e-12):
                    _err(self, "the DCT matrix lacks the DCT-II row symmetry the C kernel relies on")
                d = u.struct("dct", "ml_dsp_dct_f32_params", dict(
                    n_in=f"{nm}U", n_out=f"{nout}U", matrix=u.array("dct_matrix", "float", half)))
                bufs.append(f"float *logmel = melv + {nm};")
                steps += [f"ml_dsp_log_f32(&{log}, melv, logmel)", f"ml_dsp_dct_f32(&{d}, logmel, out + f * {nout})"]
            u.entry("int", "features", "const int16_t *samples, size_t n, float *out",
                    _frame_loop(m, bufs, [], steps),
                    f"{self.title}, float: out[f * {nout} + j]; returns 0 or a negative ml_status")
            work = max(work, 4 * (n_fft + n_bins + 2 * nm))
        if want_fixed:
            u.use("ml_dsp_frame_q31.h", "ml_dsp_rfft_q31.h", "ml_dsp_power_q31.h", "ml_dsp_mel_q.h", "ml_dsp_log_q.h")
            frame = u.struct("frame_q", "ml_dsp_frame_q31_params", dict(
                frame_length=f"{self.frame_length}U", n_fft=f"{n_fft}U",
                preemphasis_q30=c_int(fixedmath.q30(self.preemphasis)),
                window=u.array("window_q30", "int32_t", fixedmath.to_q(win, 30))))
            wmax = max(weights)
            wq = np.round(np.asarray(weights) / wmax * 32767).astype(np.int64)
            wsum, pos = 0, 0
            for c in counts:
                wsum = max(wsum, int(wq[pos:pos + c].sum()))
                pos += c
            power_shift = max(0, wsum.bit_length() - 3)  # power < 2^61: sums stay below 2^64
            mel = u.struct("mel_q", "ml_dsp_filterbank_q_params", dict(
                n_filters=f"{nm}U", start=start, count=count, weights=u.array("mel_weights_q15", "uint16_t", wq),
                power_shift=power_shift))
            # mel energy = (integer sum) * 2^(2e + power_shift) * wmax * scale^2 / 32767
            offset = math.log(wmax * self.scale ** 2 / 32767.0)
            log = u.struct("log_q", "ml_dsp_log_q_params", dict(
                n=f"{nm}U", frac_bits=self.q_frac_bits, offset_q30=c_int(fixedmath.q30(offset)),
                floor_q30=c_int(fixedmath.q30(math.log(self.log_floor)))))
            bufs = ["uint64_t *power = (uint64_t *)work;", f"uint64_t *melv = power + {nb};",
                    f"int32_t *buf = (int32_t *)(melv + {nm});"]
            steps = [f"ml_dsp_frame_q31(&{frame}, x, prev, buf, &e)", f"ml_dsp_rfft_q31(&{fft['q']}, buf)",
                     f"ml_dsp_power_q31(&{fft['q']}, buf, power)", f"ml_dsp_mel_q(&{mel}, power, melv)"]
            if dct is None:
                steps.append(f"ml_dsp_log_q(&{log}, melv, 2 * e + {power_shift}, out + f * {nout})")
            else:
                u.use("ml_dsp_dct_q.h")
                mfb = min(30, 31 - nm.bit_length())  # |sum| < n_mels * 2^31 * 2^mfb < 2^63
                d = u.struct("dct_q", "ml_dsp_dct_q_params", dict(
                    n_in=f"{nm}U", n_out=f"{nout}U",
                    matrix=u.array("dct_matrix_q", "int32_t", fixedmath.to_q(dct, mfb)), matrix_frac_bits=mfb))
                bufs.append(f"int32_t *logmel = buf + {n_fft};")
                steps += [f"ml_dsp_log_q(&{log}, melv, 2 * e + {power_shift}, logmel)",
                          f"ml_dsp_dct_q(&{d}, logmel, out + f * {nout})"]
            u.entry("int", "features_q", "const int16_t *samples, size_t n, int32_t *out",
                    _frame_loop(m, bufs, ["int32_t e = 0;"], steps),
                    f"{self.title}, fixed point: out[f * {nout} + j] in Q{self.q_frac_bits}; returns 0 or a "
                    "negative ml_status")
            u.define("Q_FRAC_BITS", self.q_frac_bits, "fixed-point output = value * 2^Q_FRAC_BITS")
            work = max(work, 8 * (nb + nm) + 4 * (n_fft + nm))
        u.work_bytes = work

    def _doc(self, fixed: bool) -> str:
        c = self
        text = (f"{c.title} of 16-bit samples at {c.sample_rate} Hz: frames of {c.frame_length} samples every "
                f"{c.hop}, {c.window} window (periodic), {c.n_fft}-point FFT power |X_k|^2, {c.n_mels} "
                f"{c.mel_scale} mel filters over [{c.fmin:g}, {c.f_max:g}] Hz, ln(max(energy, {c.log_floor:g}))")
        if self._dct() is not None:
            text += f", orthonormal DCT-II -> {self.features_per_frame} coefficients"
        text += (f".\nSamples are scaled by {c.scale:g} (physical units per count)"
                 + (f", pre-emphasis {c.preemphasis:g}" if c.preemphasis else "") + ".\n"
                 "Same definitions as microlith.dsp.spectral (numpy); n samples give FRAMES(n) frames.")
        if fixed:
            text += (f"\nFixed point: q15 input, q31 FFT with a block exponent per frame, 64-bit power and mel "
                     f"sums, integer ln;\noutput int32 in Q{c.q_frac_bits} (value = out / 2^{c.q_frac_bits}).")
        return text


@dataclass(frozen=True)
class MfccBlock(LogMelBlock):
    """MFCCs per frame: (n_frames, n_mfcc), the orthonormal DCT-II of LogMelBlock's output."""
    n_mfcc: int = 13
    title = "MFCC"

    def __post_init__(self):
        super().__post_init__()
        if not 1 <= self.n_mfcc <= self.n_mels:
            _err(self, f"n_mfcc must be in 1..n_mels ({self.n_mels}), got {self.n_mfcc}")

    @property
    def features_per_frame(self) -> int:
        return self.n_mfcc

    def numpy(self, samples) -> np.ndarray:
        return spectral.mfcc(samples, n_mfcc=self.n_mfcc, **self._kw()).astype(np.float32)

    def _dct(self) -> np.ndarray:
        return spectral.dct_matrix(self.n_mfcc, self.n_mels)


# --------------------------------------------------------------------------- vibration

def _window_check(samples_expected: str) -> str:
    return (f"    if (samples == NULL || out == NULL || work == NULL || n != {samples_expected}) {{\n"
            f"        return (int)ML_ARG_ERROR;\n    }}\n")


@dataclass(frozen=True)
class VibrationBlock(_Block):
    """One window of n_samples: [rms, peak, crest, kurtosis, ln band power x n_bands] (vibration.py)."""
    sample_rate: int = 12000
    n_samples: int = 2048
    n_fft: int | None = None
    band_edges_hz: tuple = (0.0, 500.0, 1000.0, 2000.0, 3000.0, 4000.0, 6000.0)
    window: str = "hann"
    scale: float = 1.0
    log_floor: float = 1e-12
    q_frac_bits: int = 16
    title = "vibration features"

    def __post_init__(self):
        object.__setattr__(self, "band_edges_hz", tuple(float(f) for f in self.band_edges_hz))  # hashable
        _check_common(self, self.n_samples, self.scale, self.q_frac_bits)
        if not spectral.is_pow2(self.fft_size) or not self.n_samples <= self.fft_size <= 16384:
            _err(self, f"n_fft must be a power of two in n_samples..16384, got {self.fft_size}")
        if self.n_samples > 65536:
            _err(self, f"n_samples must be at most 65536, got {self.n_samples}")
        if self.window not in spectral.WINDOWS:
            _err(self, f"window must be one of {', '.join(spectral.WINDOWS)}, got '{self.window}'")
        edges = list(self.band_edges_hz)
        if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])):
            _err(self, f"band_edges_hz must be at least two increasing frequencies, got {edges}")
        if not self.log_floor >= 1.2e-38:
            _err(self, f"log_floor must be at least 1.2e-38 (a normal float), got {self.log_floor}")
        self.bins()

    @property
    def fft_size(self) -> int:
        if self.n_fft is not None:
            return self.n_fft
        n = 4
        while n < self.n_samples:
            n *= 2
        return n

    def bins(self):
        try:
            return vibration.band_bins(list(self.band_edges_hz), self.sample_rate, self.fft_size)
        except MicrolithError as e:
            _err(self, str(e).removeprefix("dsp: "))

    @property
    def feature_names(self) -> list[str]:
        edges = list(self.band_edges_hz)
        return ["rms", "peak", "crest", "kurtosis"] + [f"ln_power_{a:g}_{b:g}hz" for a, b in zip(edges, edges[1:])]

    @property
    def feature_shape(self) -> tuple[int]:
        return (3 + len(self.band_edges_hz),)

    def numpy(self, samples) -> np.ndarray:
        x = np.asarray(samples).reshape(-1)
        if x.size != self.n_samples:
            _err(self, f"expects windows of {self.n_samples} samples, got {x.size}")
        bands = vibration.band_powers(x, sample_rate=self.sample_rate, n_fft=self.fft_size,
                                      edges_hz=list(self.band_edges_hz), window_kind=self.window, scale=self.scale,
                                      floor=self.log_floor)
        return np.concatenate([vibration.moments(x, self.scale), bands]).astype(np.float32)

    def _emit(self, u: CUnit, want_float: bool, want_fixed: bool) -> None:
        n, n_fft = self.n_samples, self.fft_size
        nb = len(self.band_edges_hz) - 1
        u.header_doc = (f"Vibration features of one window of {n} int16 samples at {self.sample_rate} Hz, "
                        f"scaled by {self.scale:g}:\nout = [rms, peak, crest, kurtosis, ln band power x {nb}] "
                        f"(definitions: microlith.dsp.vibration), band edges {list(self.band_edges_hz)} Hz,\n"
                        f"{self.window} window, {n_fft}-point FFT, floor {self.log_floor:g}."
                        + (f"\nFixed point: output int32 in Q{self.q_frac_bits} (value = out / 2^{self.q_frac_bits})."
                           if want_fixed else ""))
        u.define("SAMPLE_RATE", self.sample_rate)
        u.define("INPUT_SIZE", n, "samples per window (n must equal it)")
        u.define("OUTPUT_SIZE", 4 + nb)
        starts = u.array("band_start", "uint16_t", [a for a, _ in self.bins()])
        ends = u.array("band_end", "uint16_t", [b for _, b in self.bins()])
        win = spectral.window(self.window, n)
        fft = _fft_tables(u, n_fft, want_float, want_fixed)
        check = _window_check(f"{u.macro}_INPUT_SIZE")
        norm = self.scale ** 2 / (n * n * n_fft * float(np.sum(win * win)))
        work = 0
        if want_float:
            u.use("ml_dsp_moments_f32.h", "ml_dsp_band_power_f32.h")
            mom = u.struct("moments", "ml_dsp_moments_f32_params", dict(n=f"{n}U", scale=c_float(self.scale)))
            bp = u.struct("bands", "ml_dsp_band_power_f32_params", dict(
                fft=f"&{fft['f']}", frame_length=f"{n}U", window=u.array("window", "float", win), n_bands=f"{nb}U",
                band_start=starts, band_end=ends, norm=c_float(norm), floor=c_float(self.log_floor)))
            body = check + _steps([f"ml_dsp_moments_f32(&{mom}, samples, out)",
                                   f"ml_dsp_band_power_f32(&{bp}, samples, out + 4, (float *)work)"], "    ")
            u.entry("int", "features", "const int16_t *samples, size_t n, float *out", body + "    return 0;\n",
                    f"{self.title}, float: {4 + nb} values; returns 0 or a negative ml_status")
            work = max(work, 4 * n_fft)
        if want_fixed:
            u.use("ml_dsp_moments_q.h", "ml_dsp_band_power_q.h")
            m_, e_ = fixedmath.xq(self.scale)
            mom = u.struct("moments_q", "ml_dsp_moments_q_params", dict(
                n=f"{n}U", scale=f"{{ {m_}U, {e_} }}", frac_bits=self.q_frac_bits))
            bp = u.struct("bands_q", "ml_dsp_band_power_q_params", dict(
                fft=f"&{fft['q']}", frame_length=f"{n}U", window=u.array("window_q30", "int32_t", fixedmath.to_q(win, 30)),
                n_bands=f"{nb}U", band_start=starts, band_end=ends, frac_bits=self.q_frac_bits,
                offset_q30=c_int(fixedmath.q30(math.log(norm))), floor_q30=c_int(fixedmath.q30(math.log(self.log_floor)))))
            body = check + _steps([f"ml_dsp_moments_q(&{mom}, samples, out)",
                                   f"ml_dsp_band_power_q(&{bp}, samples, out + 4, (int32_t *)work)"], "    ")
            u.entry("int", "features_q", "const int16_t *samples, size_t n, int32_t *out", body + "    return 0;\n",
                    f"{self.title}, fixed point: {4 + nb} values in Q{self.q_frac_bits}; returns 0 or a negative "
                    "ml_status")
            u.define("Q_FRAC_BITS", self.q_frac_bits, "fixed-point output = value * 2^Q_FRAC_BITS")
            work = max(work, 4 * n_fft)
        u.work_bytes = work


@dataclass(frozen=True)
class EnvelopeBlock(_Block):
    """Envelope spectrum of one window (vibration.envelope_spectrum): (n_out,) amplitudes at bins 1..n_out."""
    sample_rate: int = 12000
    n_samples: int = 8192
    band_hz: tuple = (2000.0, 5000.0)
    max_freq: float = 500.0
    scale: float = 1.0
    q_frac_bits: int = 16
    title = "envelope spectrum"

    def __post_init__(self):
        object.__setattr__(self, "band_hz", tuple(float(f) for f in self.band_hz))
        _check_common(self, self.n_samples, self.scale, self.q_frac_bits)
        if not spectral.is_pow2(self.n_samples) or not 16 <= self.n_samples <= 16384:
            _err(self, f"n_samples must be a power of two in 16..16384, got {self.n_samples}")
        self.plan()

    def plan(self) -> tuple[int, int, int, int]:
        try:
            return vibration.envelope_bins(self.sample_rate, self.n_samples, self.band_hz, self.max_freq)
        except MicrolithError as e:
            _err(self, str(e).removeprefix("dsp: "))

    @property
    def resolution_hz(self) -> float:
        return self.sample_rate / self.n_samples

    @property
    def feature_shape(self) -> tuple[int]:
        return (self.plan()[3],)

    def numpy(self, samples) -> np.ndarray:
        x = np.asarray(samples).reshape(-1)
        if x.size != self.n_samples:
            _err(self, f"expects windows of {self.n_samples} samples, got {x.size}")
        return vibration.envelope_spectrum(x, sample_rate=self.sample_rate, band_hz=self.band_hz,
                                           max_freq=self.max_freq, scale=self.scale).astype(np.float32)

    def _emit(self, u: CUnit, want_float: bool, want_fixed: bool) -> None:
        n = self.n_samples
        k_lo, k_hi, m, n_out = self.plan()
        u.header_doc = (f"Envelope spectrum of one window of {n} int16 samples at {self.sample_rate} Hz, scaled by "
                        f"{self.scale:g}: analytic signal of the\nband {list(self.band_hz)} Hz (bins {k_lo}..{k_hi}), "
                        f"its magnitude at {m} points, mean removed, Hann window, amplitude\nspectrum at bins "
                        f"1..{n_out} (bin k is k * {self.resolution_hz:g} Hz). Definitions: microlith.dsp.vibration."
                        + (f"\nFixed point: output int32 in Q{self.q_frac_bits} (value = out / 2^{self.q_frac_bits})."
                           if want_fixed else ""))
        u.define("SAMPLE_RATE", self.sample_rate)
        u.define("INPUT_SIZE", n, "samples per window (n must equal it)")
        u.define("OUTPUT_SIZE", n_out, "amplitudes of bins 1 .. OUTPUT_SIZE")
        win = spectral.window("hann", m)
        out_scale = 4.0 * self.scale / (n * float(win.sum()))
        fft = _fft_tables(u, n, want_float, want_fixed)
        check = _window_check(f"{u.macro}_INPUT_SIZE")
        plan = dict(m=f"{m}U", k_lo=f"{k_lo}U", k_hi=f"{k_hi}U", n_out=f"{n_out}U")
        if want_float:
            u.use("ml_dsp_envelope_f32.h")
            env = u.struct("envelope", "ml_dsp_envelope_f32_params", dict(
                fft=f"&{fft['f']}", **plan, window=u.array("window", "float", win), out_scale=c_float(out_scale)))
            body = check + _steps([f"ml_dsp_envelope_f32(&{env}, samples, out, (float *)work)"], "    ")
            u.entry("int", "features", "const int16_t *samples, size_t n, float *out", body + "    return 0;\n",
                    f"{self.title}, float: {n_out} amplitudes; returns 0 or a negative ml_status")
        if want_fixed:
            u.use("ml_dsp_envelope_q.h")
            m_, e_ = fixedmath.xq(out_scale)
            env = u.struct("envelope_q", "ml_dsp_envelope_q_params", dict(
                fft=f"&{fft['q']}", **plan, window=u.array("window_q30", "int32_t", fixedmath.to_q(win, 30)),
                out_scale=f"{{ {m_}U, {e_} }}", frac_bits=self.q_frac_bits))
            body = check + _steps([f"ml_dsp_envelope_q(&{env}, samples, out, (int32_t *)work)"], "    ")
            u.entry("int", "features_q", "const int16_t *samples, size_t n, int32_t *out", body + "    return 0;\n",
                    f"{self.title}, fixed point: {n_out} amplitudes in Q{self.q_frac_bits}; returns 0 or a "
                    "negative ml_status")
            u.define("Q_FRAC_BITS", self.q_frac_bits, "fixed-point output = value * 2^Q_FRAC_BITS")
        u.work_bytes = 4 * n


# --------------------------------------------------------------------------- ECG

@dataclass(frozen=True)
class EcgRhythmBlock(_Block):
    """RR-interval features of one ECG record of up to n_samples: ecg.RR_FEATURES (9 values)."""
    sample_rate: int = 300
    n_samples: int = 18300  # 61 s, the longest CinC 2017 record
    q_frac_bits: int = 16
    title = "ECG rhythm features"

    def __post_init__(self):
        _check_common(self, self.n_samples, 1.0, self.q_frac_bits)
        self.detector()

    def detector(self) -> ecg.PanTompkins:
        try:
            return ecg.PanTompkins.for_rate(self.sample_rate)
        except MicrolithError as e:
            _err(self, str(e).removeprefix("dsp: "))

    @property
    def feature_names(self) -> tuple[str, ...]:
        return ecg.RR_FEATURES

    @property
    def feature_shape(self) -> tuple[int]:
        return (len(ecg.RR_FEATURES),)

    def rpeaks(self, samples) -> np.ndarray:
        return ecg.rpeaks(samples, self.sample_rate)

    def numpy(self, samples) -> np.ndarray:
        x = np.asarray(samples).reshape(-1)
        if x.size > self.n_samples:
            _err(self, f"records are limited to n_samples={self.n_samples}, got {x.size}")
        return ecg.rr_features(self.rpeaks(x), self.sample_rate).astype(np.float32)

    def _emit(self, u: CUnit, want_float: bool, want_fixed: bool) -> None:
        pt = self.detector()
        max_peaks = pt.max_peaks(self.n_samples)
        u.header_doc = (f"ECG rhythm features of one record of up to {self.n_samples} int16 samples at "
                        f"{self.sample_rate} Hz: R peaks by integer\nPan-Tompkins (identical to "
                        f"microlith.dsp.ecg.rpeaks), then out = [{', '.join(ecg.RR_FEATURES)}]."
                        + (f"\nFixed point: output int32 in Q{self.q_frac_bits} (value = out / 2^{self.q_frac_bits})."
                           if want_fixed else ""))
        u.define("SAMPLE_RATE", self.sample_rate)
        u.define("INPUT_SIZE", self.n_samples, "longest record (n may be smaller)")
        u.define("OUTPUT_SIZE", len(ecg.RR_FEATURES))
        u.define("MAX_PEAKS", max_peaks, "R peaks an INPUT_SIZE record can hold")
        u.use("ml_dsp_rpeaks_s16.h")
        det = u.struct("detector", "ml_dsp_rpeaks_params", dict(
            m_lp=pt.m_lp, m_hp=pt.m_hp, d_hp=pt.d_hp, s_bp=pt.s_bp, s_sq=pt.s_sq, w=pt.w, r=pt.r,
            refractory=pt.refractory, t_wave=pt.t_wave, t_slope=pt.t_slope, learn=pt.learn, hist=pt.hist, delay=pt.delay, prime=pt.prime))
        rp_work = 8 * (pt.m_lp + pt.m_hp + pt.w + pt.hist) + 4 * (pt.m_lp + pt.hist)
        m = u.macro
        check = (f"    if (samples == NULL || work == NULL || n > {m}_INPUT_SIZE) {{\n"
                 "        return (int)ML_ARG_ERROR;\n    }\n")
        body = (check.replace("work == NULL", "peaks == NULL || n_peaks == NULL || work == NULL") +
                "    uint32_t count = 0;\n" +
                _steps([f"ml_dsp_rpeaks_s16(&{det}, samples, (uint32_t)n, peaks, {m}_MAX_PEAKS, &count, work)"], "    ") +
                "    *n_peaks = count;\n    return 0;\n")
        u.entry("int", "rpeaks", "const int16_t *samples, size_t n, int32_t *peaks, size_t *n_peaks", body,
                f"R-peak sample indices (ascending) into peaks[{m}_MAX_PEAKS], their count in *n_peaks")
        rr = u.struct("rr", "ml_dsp_rr_params", dict(fs=self.sample_rate, frac_bits=self.q_frac_bits))
        for want, name, ctype, kernel, doc in (
                (want_float, "features", "float", "ml_dsp_rr_features_f32", "float"),
                (want_fixed, "features_q", "int32_t", "ml_dsp_rr_features_q", f"fixed point, Q{self.q_frac_bits}")):
            if not want:
                continue
            u.use(kernel + ".h")
            body = (check.replace("work == NULL", "out == NULL || work == NULL") +
                    f"    int32_t *peaks = (int32_t *)((uint8_t *)work + {rp_work});\n    uint32_t count = 0;\n" +
                    _steps([f"ml_dsp_rpeaks_s16(&{det}, samples, (uint32_t)n, peaks, {m}_MAX_PEAKS, &count, work)",
                            f"{kernel}(&{rr}, peaks, count, out)"], "    ") + "    return 0;\n")
            u.entry("int", name, f"const int16_t *samples, size_t n, {ctype} *out", body,
                    f"{self.title}, {doc}: {len(ecg.RR_FEATURES)} values; returns 0 or a negative ml_status")
        if want_fixed:
            u.define("Q_FRAC_BITS", self.q_frac_bits, "fixed-point output = value * 2^Q_FRAC_BITS")
        u.work_bytes = rp_work + 4 * max_peaks


# --------------------------------------------------------------------------- motion (IMU)

# +-4 g accelerometer on a 16-bit IMU, in m/s^2 per count
ACC_4G_M_S2 = 4.0 * 9.80665 / 32768


@dataclass(frozen=True)
class MotionBlock(_Block):
    """One IMU window of n_samples time steps x axes (3: one sensor; 6: accelerometer then
    gyroscope), interleaved int16 counts: per-axis statistics, zero-crossing rate, jerk and
    ln band energies of the gravity-removed signal, and magnitude statistics per sensor
    (motion.py has every definition). scale: physical units per count, one per sensor (a
    number applies to all); cutoff_hz: the gravity low-pass filter's cut-off (-3 dB).

    Sizes: n_samples counts time steps; the C takes n = n_samples * axes int16 values and
    refuses any other n. Fixed point: Q(q_frac_bits) saturates at +-2^(31 - q_frac_bits)
    (32768 units at Q16); the largest feature a window can give is the jerk, at most
    scale * sample_rate * 65535 (units/s): lower q_frac_bits when that can exceed the range
    (e.g. a gyroscope in deg/s at 100 Hz)."""
    sample_rate: float = 50.0
    n_samples: int = 128
    axes: int = 3
    scale: tuple = (ACC_4G_M_S2,)
    cutoff_hz: float = 0.3
    band_edges_hz: tuple = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
    n_fft: int | None = None
    window: str = "hann"
    log_floor: float = 1e-10
    q_frac_bits: int = 16
    title = "motion (IMU) features"

    def __post_init__(self):
        object.__setattr__(self, "sample_rate", float(self.sample_rate))
        object.__setattr__(self, "band_edges_hz", tuple(float(f) for f in self.band_edges_hz))
        if self.axes not in (3, 6):
            _err(self, f"axes must be 3 (one sensor) or 6 (accelerometer + gyroscope), got {self.axes}")
        sc = self.scale
        sc = (float(sc),) * (self.axes // 3) if isinstance(sc, (int, float)) else tuple(float(v) for v in sc)
        object.__setattr__(self, "scale", sc)
        if len(sc) != self.axes // 3:
            _err(self, f"scale needs one value per 3-axis sensor ({self.axes // 3}), got {len(sc)}")
        _check_common(self, self.n_samples, min(sc), self.q_frac_bits)
        if not all(math.isfinite(v) for v in sc):
            _err(self, f"scale must be finite, got {sc}")
        if not 4 <= self.n_samples <= 16384:
            _err(self, f"n_samples (time steps per window) must be in 4..16384, got {self.n_samples}")
        if not self.sample_rate > 0 or not math.isfinite(self.sample_rate):
            _err(self, f"sample_rate must be a positive number, got {self.sample_rate}")
        if not spectral.is_pow2(self.fft_size) or not self.n_samples <= self.fft_size <= 16384:
            _err(self, f"n_fft must be a power of two in n_samples..16384, got {self.fft_size}")
        if not 0.0 < self.cutoff_hz < self.sample_rate / 2:
            _err(self, f"cutoff_hz must be in (0, sample_rate/2 = {self.sample_rate / 2:g}), got {self.cutoff_hz}")
        if not 0 < self.alpha_q30 < 1 << 30:
            _err(self, f"cutoff_hz {self.cutoff_hz} is too low for fs {self.sample_rate:g} (the Q30 filter "
                       "coefficient rounds to 0)")
        if self.window not in spectral.WINDOWS:
            _err(self, f"window must be one of {', '.join(spectral.WINDOWS)}, got '{self.window}'")
        edges = list(self.band_edges_hz)
        if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])):
            _err(self, f"band_edges_hz must be at least two increasing frequencies, got {edges}")
        if not self.log_floor >= 1.2e-38:
            _err(self, f"log_floor must be at least 1.2e-38 (a normal float), got {self.log_floor}")
        self.bins()

    @property
    def fft_size(self) -> int:
        if self.n_fft is not None:
            return self.n_fft
        n = 4
        while n < self.n_samples:
            n *= 2
        return n

    @property
    def alpha_q30(self) -> int:
        return motion.alpha_q30(self.sample_rate, self.cutoff_hz)

    @property
    def cutoff_actual_hz(self) -> float:
        """The cut-off the Q30 filter coefficient realizes (cutoff_hz to about 1e-8 relative)."""
        return motion.cutoff_actual(self.sample_rate, self.alpha_q30)

    @property
    def input_size(self) -> int:
        """int16 values per window: n_samples time steps x axes."""
        return self.n_samples * self.axes

    def bins(self):
        try:
            return vibration.band_bins(list(self.band_edges_hz), self.sample_rate, self.fft_size)
        except MicrolithError as e:
            _err(self, str(e).removeprefix("dsp: "))

    @property
    def n_bands(self) -> int:
        return len(self.band_edges_hz) - 1

    @property
    def feature_names(self) -> list[str]:
        return motion.feature_names(self.axes, self.band_edges_hz)

    @property
    def feature_shape(self) -> tuple[int]:
        return (self.axes * (len(motion.AXIS_FEATURES) + self.n_bands) + (self.axes // 3) * len(motion.MAG_FEATURES),)

    def check_window(self, samples) -> np.ndarray:
        """samples as an (n_samples, axes) int16 array; any other layout is refused, never reshaped."""
        x = np.asarray(samples)
        n, c = self.n_samples, self.axes
        if x.shape != (n, c):
            hint = ""
            if x.shape == (c, n):
                hint = "; it looks axes-first: pass x.T"
            elif x.ndim == 1 and x.size == n * c:
                hint = f"; a flat interleaved buffer (x0 y0 z0 x1 ...) is x.reshape(-1, {c})"
            _err(self, f"expects one window of shape ({n}, {c}) (time steps, axes) of int16 counts, "
                       f"got shape {x.shape}{hint}")
        if x.dtype.kind not in "iu":
            _err(self, f"expects int16 counts (scale converts them to physical units), got {x.dtype} values; "
                       "convert physical values with np.round(v / scale).astype(np.int16)")
        if x.size and (x.min() < -32768 or x.max() > 32767):
            _err(self, "sample values must fit int16 (-32768..32767)")
        return x.astype(np.int16)

    def numpy(self, samples) -> np.ndarray:
        x = self.check_window(samples)
        return motion.features(x, sample_rate=self.sample_rate, scale=self.scale, cutoff_hz=self.cutoff_hz,
                               n_fft=self.fft_size, edges_hz=self.band_edges_hz, window_kind=self.window,
                               floor=self.log_floor).astype(np.float32)

    def _xq_array(self, u: CUnit, hint: str, values) -> str:
        name = u._name(hint)
        items = ", ".join("{ %dU, %d }" % fixedmath.xq(v) for v in values)
        u.decls.append(f"static const ml_dsp_xq {name}[{len(values)}] = {{ {items} }};\n")
        u.const_bytes += 8 * len(values)
        return name

    def _emit(self, u: CUnit, want_float: bool, want_fixed: bool) -> None:
        n, n_fft, axes, fs = self.n_samples, self.fft_size, self.axes, self.sample_rate
        sensors = axes // 3
        nb = self.n_bands
        nout = self.feature_shape[0]
        u.header_doc = (
            f"Motion features of one IMU window: {n} time steps x {axes} axes at {fs:g} Hz, int16 counts "
            f"interleaved as the IMU delivers them "
            f"({'ax0 ay0 az0 gx0 gy0 gz0 ax1' if axes == 6 else 'x0 y0 z0 x1'} ...), "
            f"so n = {n * axes} values; scale per sensor {list(self.scale)} units per count.\n"
            f"Gravity removal per axis: first-order IIR low-pass g += alpha (x - g), alpha = "
            f"{self.alpha_q30} / 2^30 (-3 dB at {self.cutoff_actual_hz:.6g} Hz), started at the window mean, "
            f"exact integers; d = x - g.\n"
            f"out, per axis ({', '.join(motion.axis_names(axes))}): mean of x, std, min, max, rms of d, "
            f"zero crossings of d per second, jerk rms (units/s), ln band energy of d x {nb} "
            f"(bands {list(self.band_edges_hz)} Hz, {self.window} window, {n_fft}-point FFT, floor "
            f"{self.log_floor:g}); then per sensor: mean, std, min, max, rms of |d| (3-axis magnitude).\n"
            f"Definitions and feature names: microlith.dsp.motion."
            + (f"\nFixed point: output int32 in Q{self.q_frac_bits} (value = out / 2^{self.q_frac_bits}), saturated."
               if want_fixed else ""))
        u.define("SAMPLE_RATE", f"{fs:g}", "Hz")
        # (not AXES / WINDOW_SAMPLES: a Pipeline of the same name defines those, counting int16 values)
        u.define("AXES_PER_STEP", axes, "int16 values per time step, interleaved")
        u.define("TIME_STEPS", n, "time steps per window")
        u.define("INPUT_SIZE", n * axes, "int16 values per window (n must equal it)")
        u.define("OUTPUT_SIZE", nout)
        u.define("AXIS_FEATURES", len(motion.AXIS_FEATURES) + nb, "values per axis, then 5 per sensor")
        starts = u.array("band_start", "uint16_t", [a for a, _ in self.bins()])
        ends = u.array("band_end", "uint16_t", [b for _, b in self.bins()])
        win = spectral.window(self.window, n)
        fft = _fft_tables(u, n_fft, want_float, want_fixed)
        check = _window_check(f"{u.macro}_INPUT_SIZE")
        gravity = f"{{ {n}U, {axes}U, {self.alpha_q30} }}"
        work = 0
        if want_float:
            u.use("ml_dsp_motion_f32.h")
            sc = self.scale
            p = u.struct("motion", "ml_dsp_motion_f32_params", dict(
                gravity=gravity, fft=f"&{fft['f']}", window=u.array("window", "float", win),
                d_unit=u.array("d_unit", "float", [s / 2 ** motion.Q_SHIFT for s in sc]),
                mean_unit=u.array("mean_unit", "float", [s / n for s in sc]),
                jerk_unit=u.array("jerk_unit", "float", [s * fs / math.sqrt(n - 1) for s in sc]),
                zcr_unit=c_float(fs / (n - 1)), n_bands=f"{nb}U", band_start=starts, band_end=ends,
                norm=c_float(1.0 / (n_fft * float(np.sum(win * win)))), floor=c_float(self.log_floor)))
            body = check + _steps([f"ml_dsp_motion_f32(&{p}, samples, out, work)"], "    ")
            u.entry("int", "features", "const int16_t *samples, size_t n, float *out", body + "    return 0;\n",
                    f"{self.title}, float: {nout} values; returns 0 or a negative ml_status")
            work = max(work, 4 * (2 * n + n_fft))
        if want_fixed:
            u.use("ml_dsp_motion_q.h")
            sc = self.scale
            offsets = [fixedmath.q30(math.log(s * s / (2.0 ** 30 * n * n * n_fft * float(np.sum(win * win)))))
                       for s in sc]
            off_name = u._name("offset_q30")
            u.decls.append(f"static const int64_t {off_name}[{sensors}] = {{ "
                           + ", ".join(f"{int(v)}LL" for v in offsets)
                           + " };\n")
            u.const_bytes += 8 * sensors
            zm, ze = fixedmath.xq(fs / (n - 1))
            p = u.struct("motion_q", "ml_dsp_motion_q_params", dict(
                gravity=gravity, fft=f"&{fft['q']}", window=u.array("window_q30", "int32_t", fixedmath.to_q(win, 30)),
                scale=self._xq_array(u, "scale_xq", sc),
                jerk_unit=self._xq_array(u, "jerk_unit_xq", [s * fs / math.sqrt(n - 1) for s in sc]),
                zcr_unit=f"{{ {zm}U, {ze} }}", n_bands=f"{nb}U", band_start=starts, band_end=ends,
                offset_q30=off_name, floor_q30=c_int(fixedmath.q30(math.log(self.log_floor))),
                frac_bits=self.q_frac_bits))
            body = check + _steps([f"ml_dsp_motion_q(&{p}, samples, out, work)"], "    ")
            u.entry("int", "features_q", "const int16_t *samples, size_t n, int32_t *out", body + "    return 0;\n",
                    f"{self.title}, fixed point: {nout} values in Q{self.q_frac_bits}; returns 0 or a negative "
                    "ml_status")
            u.define("Q_FRAC_BITS", self.q_frac_bits, "fixed-point output = value * 2^Q_FRAC_BITS")
            work = max(work, 12 * n + 4 * n_fft)
        u.work_bytes = work


def generate_c(block: _Block, out_dir, prefix: str, variant: str = "both") -> list[Path]:
    """Write PREFIX_dsp.h / .c and the kernels of a configured block into out_dir."""
    return block.generate_c(out_dir, prefix, variant)
