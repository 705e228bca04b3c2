"""TFLM's signal library (signal/micro/kernels): the custom ops of an audio front end.

Window -> FftAutoScale -> Rfft -> Energy -> FilterBank -> FilterBankSquareRoot ->
FilterBankSpectralSubtraction -> PCAN -> FilterBankLog, as in TFLM's micro_speech
preprocessor, plus Delay. Their arithmetic is unsigned and wide (uint32 energies, uint64 filter-bank
sums) and has no quantization parameters: each reference below is TFLM's integer code
(signal/src/*.cc) written over numpy int64/uint64, with every C wrap-around made explicit.

State: FilterBankSpectralSubtraction keeps a noise estimate, Delay the samples it still owes,
from one invoke to the next in a persistent buffer that TFLM zeroes in Prepare and on
MicroInterpreter::Reset. Here it is
`p["state"]`, created zeroed by prepare() and updated in place by reference() (so reusing one
prepare() result across samples is TFLM running them in sequence, and a fresh prepare() is a
Reset), and in the generated C a static array from EmitContext.state(), zeroed by NAME_reset().
"""
from __future__ import annotations

import math

import numpy as np

from ..ir import MicrolithError, Node, Op, safe_text
from . import OpImpl, register, where

U32 = (1 << 32) - 1
U64 = (1 << 64) - 1


# -- shared checks and integer helpers ---------------------------------------------------------

def _fail(node, g, msg: str) -> MicrolithError:
    return MicrolithError(f"{where(node, g)}: {msg}")


def _check(node: Node, g, ins: list[tuple[str, int | None]], outs: list[tuple[str, int | None]]) -> None:
    """Each input/output has TFLM's dtype and, where given, its rank (TFLM's Prepare checks)."""
    for kind, names, spec in (("input", node.inputs, ins), ("output", node.outputs, outs)):
        for k, (dtype, rank) in enumerate(spec):
            name = names[k] if k < len(names) else None
            if name is None:
                raise _fail(node, g, f"{kind} #{k} is missing")
            t = g.t(name)
            if t.dtype != dtype:
                raise _fail(node, g, f"{kind} #{k} '{safe_text(name)}' is {t.dtype}; TFLM's kernel takes {dtype}")
            if rank is not None and len(t.shape) != rank:
                raise _fail(node, g, f"{kind} #{k} '{safe_text(name)}' has shape {list(t.shape)}; "
                                     f"TFLM's kernel needs {rank} dimension{'s' if rank != 1 else ''}")


def _in_range(node, g, key: str, lo: int, hi: int, why: str) -> int:
    v = int(node.attrs[key])
    if not lo <= v <= hi:
        raise _fail(node, g, f"option {key}={v} is outside [{lo}, {hi}]; {why}")
    return v


def _same_size(node, g, a: str, b: str) -> None:
    if g.t(a).size != g.t(b).size:
        raise _fail(node, g, f"'{safe_text(a)}' has {g.t(a).size} elements but '{safe_text(b)}' has "
                             f"{g.t(b).size}; TFLM's kernel writes one output per input element")


def _as_int32(x) -> np.ndarray:
    """A uint32 bit pattern read as int32_t (two's complement), as the C casts do."""
    x = np.asarray(x, np.int64) & U32
    return x - ((x >> 31) << 32)


def _wrap16(x) -> np.ndarray:
    """Conversion to int16_t as every supported compiler does it (two's complement wrap)."""
    return ((np.asarray(x, np.int64) + (1 << 15)) & 0xFFFF) - (1 << 15)


def _msb(x, bits: int) -> np.ndarray:
    """TFLM's MostSignificantBit32/64 as its gcc build computes it: 32 (64) for 0."""
    x = np.asarray(x, np.uint64)
    out = np.full(x.shape, bits, np.int64)
    nz = x != 0
    # float64 log2 is exact enough only below 2^53: count bits by shifting instead
    v, n = x[nz].copy(), np.zeros(int(nz.sum()), np.int64)
    while v.size and np.any(v):
        live = v != 0
        n += live
        v = v >> np.uint64(1)
    out[nz] = n
    return out


def _sqrt_bitwise(num: np.ndarray, width: int) -> np.ndarray:
    """TFLM's Sqrt32 (width 32) / Sqrt64 (width 64) on values >= 1 (bit by bit, then rounded)."""
    num = np.asarray(num, np.uint64).copy()
    res = np.zeros(num.shape, np.uint64)
    top = width - 1
    max_bit = (width - _msb(num, width)) | 1
    bit = np.left_shift(np.uint64(1), (top - max_bit).astype(np.uint64))
    iterations = (top - max_bit) // 2 + 1
    for step in range(int(iterations.max(initial=0))):
        live = step < iterations
        take = live & (num >= res + bit)
        num = np.where(take, num - (res + bit), num)
        res = np.where(take, (res >> np.uint64(1)) + bit, np.where(live, res >> np.uint64(1), res))
        bit = np.where(live, bit >> np.uint64(2), bit)
    cap = np.uint64(0xFFFF if width == 32 else 0xFFFFFFFF)
    return np.where((num > res) & (res != cap), res + np.uint64(1), res)


def sqrt64(x) -> np.ndarray:
    """TFLM's Sqrt64 (Sqrt32 below 2^32; 0 for 0)."""
    x = np.asarray(x, np.uint64)
    out = np.zeros(x.shape, np.uint64)
    small = (x >> np.uint64(32)) == 0
    s_nz, b = small & (x != 0), ~small
    if s_nz.any():
        out[s_nz] = _sqrt_bitwise(x[s_nz], 32)
    if b.any():
        out[b] = _sqrt_bitwise(x[b], 64)
    return out


# -- SignalWindow ---------------------------------------------------------------------------------

@register
class Window(OpImpl):
    """signal/micro/kernels/window.cc: each frame times the window, shifted, clamped to int16."""
    op = Op.SIGNAL_WINDOW
    kernels = ("ml_signal_window_s16",)
    dtypes = ("int16",)

    def prepare(self, node, g):
        _check(node, g, [("int16", None), ("int16", 1)], [("int16", None)])
        x, w, y = (g.t(n) for n in (node.inputs[0], node.inputs[1], node.outputs[0]))
        if len(x.shape) < 1 or len(x.shape) != len(y.shape):
            raise _fail(node, g, f"input {list(x.shape)} and output {list(y.shape)} need the same rank >= 1")
        _same_size(node, g, x.name, y.name)
        n = w.size
        if n < 1 or x.size % n:
            raise _fail(node, g, f"input of {x.size} samples is not a whole number of {n}-sample windows "
                                 "(TFLM would read and write past its tensors)")
        shift = _in_range(node, g, "shift", 0, 31, "TFLM shifts an int32 product by it")
        return dict(size=x.size, window_size=n, shift=shift)

    def reference(self, node, g, p, xs):
        x = np.asarray(xs[0], np.int64).reshape(-1, p["window_size"])
        w = np.asarray(xs[1], np.int64).reshape(1, -1)
        y = np.clip((x * w) >> p["shift"], -(1 << 15), (1 << 15) - 1)
        return [y.astype(np.int16).reshape(g.t(node.outputs[0]).shape)]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_signal_window_params", "params",
                            {k: p[k] for k in ("size", "window_size", "shift")})
        return (f"ml_signal_window_s16({params}, {ctx.tensor(node.inputs[0])}, {ctx.tensor(node.inputs[1])}, "
                f"{ctx.tensor(node.outputs[0])})")


# -- SignalFftAutoScale ---------------------------------------------------------------------------

def max_abs16(x: np.ndarray) -> int:
    """TFLM's MaxAbs16, sequentially: the running maximum lives in int16, so -32768 wraps to
    itself and any later sample above it replaces it."""
    m = 0
    for v in np.asarray(x, np.int64).reshape(-1).tolist():
        if v > m:
            m = v
        elif -v > m:
            m = int(_wrap16(-v))
    return m


@register
class FftAutoScale(OpImpl):
    """signal/micro/kernels/fft_auto_scale_kernel.cc: shift a frame up to use int16's range;
    the second output is the shift (FilterBankSquareRoot undoes it)."""
    op = Op.SIGNAL_FFT_AUTO_SCALE
    kernels = ("ml_signal_fft_auto_scale_s16",)
    dtypes = ("int16",)

    def prepare(self, node, g):
        _check(node, g, [("int16", 1)], [("int16", 1), ("int32", 0)])
        _same_size(node, g, node.inputs[0], node.outputs[0])
        return dict(size=g.t(node.outputs[0]).size)

    def reference(self, node, g, p, xs):
        x = np.asarray(xs[0], np.int64)
        m = max_abs16(x)
        msb = int(_msb(np.uint64(m & U32), 32))  # int16 -> uint32 sign-extends
        bits = max(16 - msb - 1, 0)
        return [_wrap16(x * (1 << bits)).astype(np.int16), np.array(bits, np.int32)]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_signal_fft_auto_scale_params", "params", {"size": p["size"]})
        return (f"ml_signal_fft_auto_scale_s16({params}, {ctx.tensor(node.inputs[0])}, "
                f"{ctx.tensor(node.outputs[0])}, {ctx.tensor(node.outputs[1])})")


# -- SignalRfft (int16: KISS FFT in 16-bit fixed point) -----------------------------------------

_KISS_PI = 3.141592653589793238462643383279502884197169399375105820974944  # as kiss_fft.c writes it


def kiss_factors(n: int) -> list[tuple[int, int]]:
    """KISS FFT's kf_factor: powers of 4, then 2, then odd primes; (radix, remaining length)."""
    out, p = [], 4
    floor_sqrt = math.floor(math.sqrt(float(n)))
    while True:
        while n % p:
            p = 2 if p == 4 else (3 if p == 2 else p + 2)
            if p > floor_sqrt:
                p = n
        n //= p
        out.append((p, n))
        if n <= 1:
            return out


def _q15(v: float) -> int:
    return int(math.floor(0.5 + 32767 * v))  # KISS_FFT_COS / KISS_FFT_SIN, then to int16


def kiss_twiddles(nfft: int) -> np.ndarray:
    """kiss_fft_alloc's twiddles: exp(-2 pi i k / nfft) in Q15, (re, im) interleaved."""
    tw = []
    for i in range(nfft):
        phase = -2 * _KISS_PI * i / nfft
        tw += [_q15(math.cos(phase)), _q15(math.sin(phase))]
    return np.array(tw, np.int16)


def kiss_super_twiddles(nfft: int) -> np.ndarray:
    """kiss_fftr_alloc's super twiddles for the real-input split."""
    tw = []
    for i in range(nfft // 2):
        phase = -3.14159265358979323846264338327 * ((i + 1) / nfft + 0.5)
        tw += [_q15(math.cos(phase)), _q15(math.sin(phase))]
    return np.array(tw, np.int16).reshape(-1) if tw else np.zeros(0, np.int16)


def _sround(x):
    return _wrap16((np.asarray(x, np.int64) + (1 << 14)) >> 15)


def _fixdiv(c, k: int):
    f = 32767 // k
    return _sround(c[0] * f), _sround(c[1] * f)


def _cmul(a, b):
    return _sround(a[0] * b[0] - a[1] * b[1]), _sround(a[0] * b[1] + a[1] * b[0])


def _cadd(a, b):
    return _wrap16(a[0] + b[0]), _wrap16(a[1] + b[1])


def _csub(a, b):
    return _wrap16(a[0] - b[0]), _wrap16(a[1] - b[1])


def _bfly(p: int, f: list, tw: np.ndarray, fstride: int, m: int) -> list:
    """One KISS FFT butterfly over all segments at once: f[q] = (re, im) arrays [segments, m]."""
    k = np.arange(m)

    def t(idx):
        idx = np.asarray(idx)
        return tw[0][idx], tw[1][idx]

    f = [_fixdiv(c, p) for c in f]
    if p == 2:
        s = _cmul(f[1], t(k * fstride))
        return [_cadd(f[0], s), _csub(f[0], s)]
    if p == 4:
        s0, s1, s2 = (_cmul(f[q], t(q * k * fstride)) for q in (1, 2, 3))
        s5 = _csub(f[0], s1)
        f0 = _cadd(f[0], s1)
        s3, s4 = _cadd(s0, s2), _csub(s0, s2)
        f2 = _csub(f0, s3)
        f0 = _cadd(f0, s3)
        f1 = (_wrap16(s5[0] + s4[1]), _wrap16(s5[1] - s4[0]))
        f3 = (_wrap16(s5[0] - s4[1]), _wrap16(s5[1] + s4[0]))
        return [f0, f1, f2, f3]
    if p == 3:
        epi3 = t(fstride * m)
        s1, s2 = _cmul(f[1], t(k * fstride)), _cmul(f[2], t(2 * k * fstride))
        s3, s0 = _cadd(s1, s2), _csub(s1, s2)
        f1 = (_wrap16(f[0][0] - (s3[0] >> 1)), _wrap16(f[0][1] - (s3[1] >> 1)))
        s0 = (_sround(s0[0] * epi3[1]), _sround(s0[1] * epi3[1]))
        f0 = _cadd(f[0], s3)
        f2 = (_wrap16(f1[0] + s0[1]), _wrap16(f1[1] - s0[0]))
        f1 = (_wrap16(f1[0] - s0[1]), _wrap16(f1[1] + s0[0]))
        return [f0, f1, f2]
    if p == 5:
        ya, yb = t(fstride * m), t(fstride * 2 * m)
        s0 = f[0]
        s1, s2, s3, s4 = (_cmul(f[q], t(q * k * fstride)) for q in (1, 2, 3, 4))
        s7, s10, s8, s9 = _cadd(s1, s4), _csub(s1, s4), _cadd(s2, s3), _csub(s2, s3)
        sm = _sround  # S_MUL(a, b) = sround(a * b)
        f0 = (_wrap16(f[0][0] + (s7[0] + s8[0])), _wrap16(f[0][1] + (s7[1] + s8[1])))
        s5 = (_wrap16(s0[0] + sm(s7[0] * ya[0]) + sm(s8[0] * yb[0])),
              _wrap16(s0[1] + sm(s7[1] * ya[0]) + sm(s8[1] * yb[0])))
        s6 = (_wrap16(sm(s10[1] * ya[1]) + sm(s9[1] * yb[1])),
              _wrap16(-sm(s10[0] * ya[1]) - sm(s9[0] * yb[1])))
        s11 = (_wrap16(s0[0] + sm(s7[0] * yb[0]) + sm(s8[0] * ya[0])),
               _wrap16(s0[1] + sm(s7[1] * yb[0]) + sm(s8[1] * ya[0])))
        s12 = (_wrap16(-sm(s10[1] * yb[1]) + sm(s9[1] * ya[1])),
               _wrap16(sm(s10[0] * yb[1]) - sm(s9[0] * ya[1])))
        return [f0, _csub(s5, s6), _cadd(s11, s12), _csub(s11, s12), _cadd(s5, s6)]
    raise AssertionError(p)


def kiss_fftr16(frame: np.ndarray, factors, tw: np.ndarray, stw: np.ndarray) -> np.ndarray:
    """kiss_fftr (FIXED_POINT=16) of one zero-padded frame of N int16 samples: N/2 + 1 complex
    bins, (re, im) interleaved, in the order and with the wrap-arounds of the C kernel."""
    n = frame.size
    nfft = n // 2
    re, im = frame[0::2].astype(np.int64), frame[1::2].astype(np.int64)
    # kf_work's recursion as one permutation (mixed-radix digits) ...
    idx, rem, stride = np.zeros(nfft, np.int64), np.arange(nfft), 1
    for p, m in factors:
        idx += (rem // m) * stride
        rem = rem % m
        stride *= p
    re, im = re[idx], im[idx]
    twc = (tw[0::2].astype(np.int64), tw[1::2].astype(np.int64))
    # ... then the butterflies, innermost stage first
    for s in range(len(factors) - 1, -1, -1):
        p, m = factors[s]
        fstride = math.prod(q for q, _ in factors[:s])
        r3, i3 = re.reshape(-1, p, m), im.reshape(-1, p, m)
        out = _bfly(p, [(r3[:, q, :], i3[:, q, :]) for q in range(p)], twc, fstride, m)
        re = np.stack([o[0] for o in out], axis=1).reshape(-1)
        im = np.stack([o[1] for o in out], axis=1).reshape(-1)
    # kiss_fftr's split into the real transform's bins
    out_r, out_i = np.zeros(nfft + 1, np.int64), np.zeros(nfft + 1, np.int64)
    tdc = _fixdiv((re[0], im[0]), 2)
    out_r[0], out_r[nfft] = _wrap16(tdc[0] + tdc[1]), _wrap16(tdc[0] - tdc[1])
    stw_r, stw_i = stw[0::2].astype(np.int64), stw[1::2].astype(np.int64)
    for k in range(1, nfft // 2 + 1):
        fpk = _fixdiv((re[k], im[k]), 2)
        fpnk = _fixdiv((re[nfft - k], _wrap16(-im[nfft - k])), 2)
        f1k, f2k = _cadd(fpk, fpnk), _csub(fpk, fpnk)
        t = _cmul(f2k, (stw_r[k - 1], stw_i[k - 1]))
        out_r[k], out_i[k] = (f1k[0] + t[0]) >> 1, (f1k[1] + t[1]) >> 1
        out_r[nfft - k], out_i[nfft - k] = (f1k[0] - t[0]) >> 1, (t[1] - f1k[1]) >> 1
    return np.stack([out_r, out_i], axis=1).reshape(-1)


@register
class Rfft(OpImpl):
    """signal/micro/kernels/rfft.cc (int16): each frame zero-padded to fft_length, transformed by
    KISS FFT's fixed-point real FFT into fft_length/2 + 1 complex int16 bins."""
    op = Op.SIGNAL_RFFT
    kernels = ("ml_signal_rfft_s16",)
    dtypes = ("int16",)

    def prepare(self, node, g):
        _check(node, g, [("int16", None)], [("int16", None)])
        x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
        if len(x.shape) < 1 or len(x.shape) != len(y.shape):
            raise _fail(node, g, f"input {list(x.shape)} and output {list(y.shape)} need the same rank >= 1")
        n = int(node.attrs["fft_length"])
        if n < 4 or n % 2 or n > (1 << 16):
            raise _fail(node, g, f"fft_length={n}: KISS FFT's real transform needs an even length from 4 to "
                                 "65536 (TFLM fails on odd lengths and on 2)")
        factors = kiss_factors(n // 2)
        if any(p > 5 for p, _ in factors):
            raise _fail(node, g, f"fft_length={n}: half of it has the prime factor {max(p for p, _ in factors)}; "
                                 "TFLM's KISS FFT is built without the scratch memory radices above 5 need "
                                 "(it would crash); use a length whose half has only factors 2, 3 and 5")
        length = int(x.shape[-1])
        if not 1 <= length <= n:
            raise _fail(node, g, f"input frames of {length} samples do not fit fft_length={n}")
        frames = x.size // length
        if int(y.shape[-1]) != n + 2 or y.size != frames * (n + 2):
            raise _fail(node, g, f"output {list(y.shape)}: TFLM writes {n // 2 + 1} complex bins "
                                 f"({n + 2} int16) per frame, so it needs a last dimension of {n + 2} "
                                 f"and {frames} frames")
        return dict(fft_length=n, input_length=length, frames=frames, factors=factors,
                    twiddles=kiss_twiddles(n // 2), super_twiddles=kiss_super_twiddles(n // 2))

    def reference(self, node, g, p, xs):
        n, length = p["fft_length"], p["input_length"]
        x = np.asarray(xs[0], np.int64).reshape(p["frames"], length)
        out = []
        for frame in x:
            padded = np.zeros(n, np.int64)
            padded[:length] = frame
            out.append(kiss_fftr16(padded, p["factors"], p["twiddles"], p["super_twiddles"]))
        y = np.concatenate(out) if out else np.zeros(0, np.int64)
        return [_wrap16(y).astype(np.int16).reshape(g.t(node.outputs[0]).shape)]

    def scratch_bytes(self, node, g, p):
        return 4 * p["fft_length"]

    def emit(self, node, g, p, ctx):
        factors = ctx.const("factors", np.array(p["factors"], np.int32).reshape(-1))
        tw = ctx.const("twiddles", p["twiddles"])
        stw = ctx.const("super_twiddles", p["super_twiddles"])
        params = ctx.struct("ml_signal_rfft_params", "params", dict(
            fft_length=p["fft_length"], input_length=p["input_length"], frames=p["frames"],
            num_stages=len(p["factors"]), factors=factors, twiddles=tw, super_twiddles=stw))
        return (f"ml_signal_rfft_s16({params}, {ctx.tensor(node.inputs[0])}, {ctx.tensor(node.outputs[0])}, "
                f"(int16_t *){ctx.scratch()})")


# -- SignalEnergy ---------------------------------------------------------------------------------

@register
class Energy(OpImpl):
    """signal/micro/kernels/energy.cc: |bin|^2 of complex int16 bins start_index..end_index-1."""
    op = Op.SIGNAL_ENERGY
    kernels = ("ml_signal_energy_s16",)
    dtypes = ("int16",)

    def prepare(self, node, g):
        _check(node, g, [("int16", 1)], [("uint32", 1)])
        x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
        start, end = int(node.attrs["start_index"]), int(node.attrs["end_index"])
        if start < end and (start < 0 or end > y.size or end > x.size // 2):
            raise _fail(node, g, f"bins [{start}, {end}) do not lie within the input's {x.size // 2} complex "
                                 f"bins and the output's {y.size} elements (TFLM would access memory past them)")
        if start >= end:  # TFLM's loop writes nothing
            start = end = 0
        return dict(start_index=start, end_index=end, size=y.size)

    def reference(self, node, g, p, xs):
        x = np.asarray(xs[0], np.int64).reshape(-1)
        out = np.zeros(p["size"], np.uint32)  # TFLM leaves these unwritten; the kernel zeroes them
        s, e = p["start_index"], p["end_index"]
        re, im = x[0::2][s:e], x[1::2][s:e]
        out[s:e] = ((re * re + im * im) & U32).astype(np.uint32)
        return [out]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_signal_energy_params", "params",
                            {k: p[k] for k in ("start_index", "end_index", "size")})
        return f"ml_signal_energy_s16({params}, {ctx.tensor(node.inputs[0])}, {ctx.tensor(node.outputs[0])})"


# -- SignalFilterBank -----------------------------------------------------------------------------

@register
class FilterBank(OpImpl):
    """signal/micro/kernels/filter_bank.cc: overlapping triangular filters over energy bins."""
    op = Op.SIGNAL_FILTER_BANK
    kernels = ("ml_signal_filter_bank_u32",)
    dtypes = ("uint32",)
    TABLES = ("weights", "unweights", "frequency_starts", "weight_starts", "widths")

    def prepare(self, node, g):
        _check(node, g, [("uint32", 1)] + [("int16", 1)] * 5, [("uint64", 1)])
        n = _in_range(node, g, "num_channels", 0, (1 << 30), "it counts channels")
        tables = {}
        for key, name in zip(self.TABLES, node.inputs[1:]):
            t = g.t(name)
            if not t.is_const:
                raise _fail(node, g, f"{key} '{safe_text(name)}' is not a constant; microlith checks the "
                                     "filter tables' indices when it compiles, so they must be in the model")
            tables[key] = np.asarray(t.data, np.int64).reshape(-1)
        for key in ("frequency_starts", "weight_starts", "widths"):
            if tables[key].size < n + 1:
                raise _fail(node, g, f"{key} has {tables[key].size} entries; num_channels={n} needs {n + 1}")
        size_in = g.t(node.inputs[0]).size
        for i in range(n + 1):
            f, w, width = (int(tables[k][i]) for k in ("frequency_starts", "weight_starts", "widths"))
            if width <= 0:
                continue
            if f < 0 or f + width > size_in or w < 0 or w + width > min(tables["weights"].size,
                                                                        tables["unweights"].size):
                raise _fail(node, g, f"channel {i} reads input bins [{f}, {f + width}) and weights "
                                     f"[{w}, {w + width}), past the input ({size_in}) or the weight tables "
                                     f"({tables['weights'].size}, {tables['unweights'].size})")
        if g.t(node.outputs[0]).size != n:
            raise _fail(node, g, f"output has {g.t(node.outputs[0]).size} elements; num_channels={n}")
        return dict(num_channels=n, **tables)

    def reference(self, node, g, p, xs):
        x = np.asarray(xs[0], np.uint64).reshape(-1)
        weighted = unweighted = 0
        out = []
        for i in range(p["num_channels"] + 1):
            f, w, width = (int(p[k][i]) for k in ("frequency_starts", "weight_starts", "widths"))
            width = max(width, 0)
            v = [int(a) for a in x[f:f + width]]
            weighted = (weighted + sum((int(c) & U64) * a for c, a in zip(p["weights"][w:w + width], v))) & U64
            unweighted = (unweighted + sum((int(c) & U64) * a for c, a in zip(p["unweights"][w:w + width], v))) & U64
            if i > 0:
                out.append(weighted)
            weighted, unweighted = unweighted, 0
        return [np.array(out, np.uint64)]

    def emit(self, node, g, p, ctx):
        fields = {"num_channels": p["num_channels"]}
        order = dict(zip(self.TABLES, node.inputs[1:]))
        for key in ("frequency_starts", "weight_starts", "widths", "weights", "unweights"):
            fields[key] = ctx.tensor(order[key])
        params = ctx.struct("ml_signal_filter_bank_params", "params", fields)
        return f"ml_signal_filter_bank_u32({params}, {ctx.tensor(node.inputs[0])}, {ctx.tensor(node.outputs[0])})"


# -- SignalFilterBankSquareRoot -------------------------------------------------------------------

@register
class FilterBankSquareRoot(OpImpl):
    """signal/micro/kernels/filter_bank_square_root.cc: Sqrt64 of each channel, shifted right
    by FftAutoScale's scale (a tensor, known only when the model runs)."""
    op = Op.SIGNAL_FILTER_BANK_SQUARE_ROOT
    kernels = ("ml_signal_filter_bank_sqrt_u64",)
    dtypes = ("uint64",)

    def prepare(self, node, g):
        _check(node, g, [("uint64", 1), ("int32", 0)], [("uint32", 1)])
        _same_size(node, g, node.inputs[0], node.outputs[0])
        s = g.t(node.inputs[1])
        if s.is_const and not 0 <= int(np.asarray(s.data).reshape(-1)[0]) <= 31:
            raise _fail(node, g, f"scale bits {int(np.asarray(s.data).reshape(-1)[0])} lie outside [0, 31]; "
                                 "TFLM's shift of a uint32 by it is undefined")
        return dict(size=g.t(node.inputs[0]).size)

    def reference(self, node, g, p, xs):
        shift = np.uint64(int(np.asarray(xs[1]).reshape(-1)[0]) & 31)  # x86's shift count, see the kernel
        return [(sqrt64(xs[0]) >> shift).astype(np.uint32).reshape(-1)]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_signal_filter_bank_sqrt_params", "params", {"size": p["size"]})
        return (f"ml_signal_filter_bank_sqrt_u64({params}, {ctx.tensor(node.inputs[0])}, "
                f"{ctx.tensor(node.inputs[1])}, {ctx.tensor(node.outputs[0])})")


# -- SignalFilterBankSpectralSubtraction (stateful) ------------------------------------------------

@register
class SpectralSubtraction(OpImpl):
    """signal/micro/kernels/filter_bank_spectral_subtraction.cc: subtract a running noise
    estimate (kept across invokes) from each channel. The second output is the estimate."""
    op = Op.SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION
    kernels = ("ml_signal_spectral_subtraction_u32",)
    dtypes = ("uint32",)
    U32_FIELDS = ("smoothing", "one_minus_smoothing", "alternate_smoothing",
                  "alternate_one_minus_smoothing", "min_signal_remaining")

    def prepare(self, node, g):
        _check(node, g, [("uint32", 1)], [("uint32", 1), ("uint32", 1)])
        n = int(node.attrs["num_channels"])
        sizes = [g.t(x).size for x in (node.inputs[0], *node.outputs)]
        if any(s != n for s in sizes):
            raise _fail(node, g, f"num_channels={n} but the input, output and noise estimate have {sizes} "
                                 "elements; TFLM's kernel needs them all equal")
        p = {k: int(node.attrs[k]) & U32 for k in self.U32_FIELDS}  # TFLM keeps these as uint32
        p.update(num_channels=n, clamping=int(bool(node.attrs["clamping"])),
                 smoothing_bits=_in_range(node, g, "smoothing_bits", 0, 31, "TFLM shifts a uint32 by it"),
                 spectral_subtraction_bits=_in_range(node, g, "spectral_subtraction_bits", 0, 63,
                                                     "TFLM shifts a uint64 by it"))
        p["state"] = np.zeros(n, np.uint64)  # the noise estimate: zero after Prepare / Reset
        return p

    def reference(self, node, g, p, xs):
        x = np.asarray(xs[0], np.uint64).reshape(-1)
        sb, ssb = np.uint64(p["smoothing_bits"]), np.uint64(p["spectral_subtraction_bits"])
        odd = (np.arange(x.size) & 1) == 1
        smoothing = np.where(odd, p["alternate_smoothing"], p["smoothing"]).astype(np.uint64)
        one_minus = np.where(odd, p["alternate_one_minus_smoothing"], p["one_minus_smoothing"]).astype(np.uint64)
        scaled = (x << sb) & np.uint64(U32)
        with np.errstate(over="ignore"):  # uint64 products and sums wrap, as in C
            state = ((scaled * smoothing + p["state"] * one_minus) >> ssb) & np.uint64(U32)
            floor = ((x * np.uint64(p["min_signal_remaining"])) >> ssb) & np.uint64(U32)
        estimate = np.minimum(state, scaled)
        if p["clamping"]:
            state = estimate
        subtracted = (scaled - estimate) >> sb
        p["state"][:] = state
        return [np.maximum(subtracted, floor).astype(np.uint32), state.astype(np.uint32)]

    def emit(self, node, g, p, ctx):
        fields = {k: p[k] for k in ("num_channels",) + self.U32_FIELDS +
                  ("smoothing_bits", "spectral_subtraction_bits", "clamping")}
        fields = {k: (f"{v}u" if k != "num_channels" else v) for k, v in fields.items()}
        params = ctx.struct("ml_signal_spectral_subtraction_params", "params", fields)
        state = ctx.state("noise_estimate", "uint32_t", p["num_channels"])
        return (f"ml_signal_spectral_subtraction_u32({params}, {ctx.tensor(node.inputs[0])}, "
                f"{ctx.tensor(node.outputs[0])}, {ctx.tensor(node.outputs[1])}, {state})")


# -- SignalPCAN -----------------------------------------------------------------------------------

PCAN_SNR_BITS, PCAN_OUTPUT_BITS = 12, 6
PCAN_LUT_SIZE = 4 * 32 - 6 + 3  # WideDynamicFunction reads up to lut[4 * 32 - 6 + 2]


def wide_dynamic(x: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """TFLM's WideDynamicFunction, elementwise (int32 arithmetic, arithmetic shifts)."""
    x = np.asarray(x, np.uint64)
    lut = np.asarray(lut, np.int64)
    small = x <= 2
    interval = _msb(x, 32)
    base = np.where(small, 0, 4 * interval - 6)
    xi = x.astype(np.int64)
    frac = np.where(interval < 11, (xi << np.clip(11 - interval, 0, None)) & U32,
                    xi >> np.clip(interval - 11, 0, None)) & 0x3FF
    l0, l1, l2 = lut[base], lut[base + 1], lut[base + 2]
    result = (l2 * frac) >> 5
    result = result + _as_int32((l1 & U32) << 5)  # (int32_t)((uint32_t)lut[1] << 5)
    result = result * frac  # stays within int32 for int16 tables (see the kernel)
    result = ((result + (1 << 14)) >> 15) + l0
    return np.where(small, lut[np.minimum(xi, 2)], _wrap16(result))


def pcan_shrink(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.uint64)
    lo = (x * x) >> np.uint64(2 + 2 * PCAN_SNR_BITS - PCAN_OUTPUT_BITS)
    hi = ((x >> np.uint64(PCAN_SNR_BITS - PCAN_OUTPUT_BITS)) - np.uint64(1 << PCAN_OUTPUT_BITS)) & np.uint64(U32)
    return np.where(x < (2 << PCAN_SNR_BITS), lo, hi)


@register
class Pcan(OpImpl):
    """signal/micro/kernels/pcan.cc: per-channel energy normalization against the noise estimate."""
    op = Op.SIGNAL_PCAN
    kernels = ("ml_signal_pcan_u32",)
    dtypes = ("uint32",)

    def prepare(self, node, g):
        _check(node, g, [("uint32", 1), ("uint32", 1), ("int16", 1)], [("uint32", 1)])
        x, noise, lut = (g.t(n) for n in node.inputs)
        _same_size(node, g, x.name, node.outputs[0])
        if noise.size < x.size:
            raise _fail(node, g, f"noise estimate has {noise.size} channels, the input {x.size}")
        if lut.size < PCAN_LUT_SIZE:
            raise _fail(node, g, f"gain table '{safe_text(lut.name)}' has {lut.size} entries; TFLM's "
                                 f"WideDynamicFunction reads up to {PCAN_LUT_SIZE}")
        snr = _in_range(node, g, "snr_shift", 0, 63, "TFLM shifts a uint64 by it")
        return dict(size=x.size, snr_shift=snr)

    def reference(self, node, g, p, xs):
        x = np.asarray(xs[0], np.uint64).reshape(-1)
        noise = np.asarray(xs[1], np.uint64).reshape(-1)[:x.size]
        gain = (wide_dynamic(noise, xs[2]) & U32).astype(np.uint64)  # int16 -> uint32 sign-extends
        with np.errstate(over="ignore"):
            snr = ((x * gain) >> np.uint64(p["snr_shift"])) & np.uint64(U32)
        return [pcan_shrink(snr).astype(np.uint32)]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_signal_pcan_params", "params", {k: p[k] for k in ("size", "snr_shift")})
        ins = ", ".join(ctx.tensor(n) for n in node.inputs)
        return f"ml_signal_pcan_u32({params}, {ins}, {ctx.tensor(node.outputs[0])})"


# -- SignalFilterBankLog --------------------------------------------------------------------------

LOG_LUT = np.array([
    0, 224, 442, 654, 861, 1063, 1259, 1450, 1636, 1817, 1992, 2163, 2329, 2490, 2646, 2797,
    2944, 3087, 3224, 3358, 3487, 3611, 3732, 3848, 3960, 4068, 4172, 4272, 4368, 4460, 4549, 4633,
    4714, 4791, 4864, 4934, 5001, 5063, 5123, 5178, 5231, 5280, 5326, 5368, 5408, 5444, 5477, 5507,
    5533, 5557, 5578, 5595, 5610, 5622, 5631, 5637, 5640, 5641, 5638, 5633, 5626, 5615, 5602, 5586,
    5568, 5547, 5524, 5498, 5470, 5439, 5406, 5370, 5332, 5291, 5249, 5203, 5156, 5106, 5054, 5000,
    4944, 4885, 4825, 4762, 4697, 4630, 4561, 4490, 4416, 4341, 4264, 4184, 4103, 4020, 3935, 3848,
    3759, 3668, 3575, 3481, 3384, 3286, 3186, 3084, 2981, 2875, 2768, 2659, 2549, 2437, 2323, 2207,
    2090, 1971, 1851, 1729, 1605, 1480, 1353, 1224, 1094, 963, 830, 695, 559, 421, 282, 142, 0], np.int64)


def log32(x: np.ndarray, out_scale: int) -> np.ndarray:
    """TFLM's Log32 for x >= 2: fixed-point ln(x) times out_scale / 2^16, rounded."""
    x = np.asarray(x, np.int64)
    integer = _msb(x.astype(np.uint64), 32) - 1
    frac = x - (np.int64(1) << integer)
    frac = np.where(integer < 16, frac << np.clip(16 - integer, 0, None), frac >> np.clip(integer - 16, 0, None))
    base = frac >> 9
    c0, c1 = LOG_LUT[base], LOG_LUT[base + 1]
    rel = ((c1 - c0) * (frac - 512 * base)) >> 16
    fraction = (frac + c0 + rel) & U32
    log2 = ((integer << 16) + fraction) & U32
    loge = ((45426 * log2 + 32768) >> 16) & U32
    return ((out_scale * loge + 32768) & U32) >> 16


@register
class FilterBankLog(OpImpl):
    """signal/micro/kernels/filter_bank_log.cc: scaled natural log of each channel, int16."""
    op = Op.SIGNAL_FILTER_BANK_LOG
    kernels = ("ml_signal_filter_bank_log_u32",)
    dtypes = ("uint32",)

    def prepare(self, node, g):
        _check(node, g, [("uint32", 1)], [("int16", 1)])
        _same_size(node, g, node.inputs[0], node.outputs[0])
        bits = _in_range(node, g, "input_correction_bits", 0, 31, "TFLM shifts a uint32 by it")
        return dict(size=g.t(node.inputs[0]).size, correction_bits=bits,
                    output_scale=int(node.attrs["output_scale"]) & U32)

    def reference(self, node, g, p, xs):
        x = np.asarray(xs[0], np.int64).reshape(-1)
        scaled = (x << p["correction_bits"]) & U32
        big = scaled > 1
        v = log32(np.where(big, scaled, 2), p["output_scale"])
        return [np.where(big, np.minimum(v, 32767), 0).astype(np.int16)]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_signal_filter_bank_log_params", "params", dict(
            size=p["size"], correction_bits=f"{p['correction_bits']}u", output_scale=f"{p['output_scale']}u"))
        return f"ml_signal_filter_bank_log_u32({params}, {ctx.tensor(node.inputs[0])}, {ctx.tensor(node.outputs[0])})"


# -- SignalDelay (stateful) -----------------------------------------------------------------------

# The delay lines live in static memory (see the module docstring); this bounds them like a tensor.
DELAY_STATE_LIMIT = 1 << 24  # samples


@register
class Delay(OpImpl):
    """signal/micro/kernels/delay.cc: each row (the last dimension) delayed by delay_length
    samples across invokes, zeros first: TFLM's circular buffer, kept as the samples owed."""
    op = Op.SIGNAL_DELAY
    kernels = ("ml_signal_delay_s16",)
    dtypes = ("int16",)

    def prepare(self, node, g):
        _check(node, g, [("int16", None)], [("int16", None)])
        x = g.t(node.inputs[0])
        if len(x.shape) < 1 or int(x.shape[-1]) < 1:
            raise _fail(node, g, f"input '{safe_text(x.name)}' has shape {list(x.shape)}; TFLM's delay needs a "
                                 "last dimension of at least one sample")
        _same_size(node, g, x.name, node.outputs[0])
        frame = int(x.shape[-1])
        rows = x.size // frame
        delay = _in_range(node, g, "delay_length", 0, DELAY_STATE_LIMIT // max(rows, 1),
                          f"the {rows} delay lines are kept in static memory")
        # the samples owed per row: zero after Prepare / Reset (TFLM writes delay_length zeros)
        return dict(rows=rows, frame_size=frame, delay_length=delay, state=np.zeros((rows, delay), np.int16))

    def reference(self, node, g, p, xs):
        x = np.asarray(xs[0], np.int16).reshape(p["rows"], p["frame_size"])
        stream = np.concatenate([p["state"], x], axis=1)
        p["state"][:] = stream[:, p["frame_size"]:]
        return [stream[:, :p["frame_size"]].reshape(g.t(node.outputs[0]).shape).astype(np.int16)]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_signal_delay_params", "params",
                            {k: p[k] for k in ("rows", "frame_size", "delay_length")})
        state = ctx.state("delay_line", "int16_t", p["rows"] * p["delay_length"])
        return (f"ml_signal_delay_s16({params}, {ctx.tensor(node.inputs[0])}, {ctx.tensor(node.outputs[0])}, "
                f"{state})")
