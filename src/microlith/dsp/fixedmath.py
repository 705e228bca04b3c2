"""Constants and tables for the generated DSP C, and Python twins of its integer helpers.

The fixed-point kernels (csrc/dsp/*_q31.c, *_q.c, ml_dsp_mathq.c) use no float; every
constant they need is computed here, in float64, and emitted as an integer.
"""
from __future__ import annotations

import math

import numpy as np

# log2((u + 3) / 2), u in [-1, 1): degree-9 Chebyshev fit in power basis, q31, lowest order
# first. ml_dsp_mathq.c holds the same numbers; tests/test_dsp.py checks that they agree and
# that a fresh fit gives them back.
LOG2_POLY_Q31 = (1256197392, 1032721359, -172119561, 38248487, -9567445,
                 2552414, -694101, 196853, -74447, 22708)
LN2_Q30 = 744261118
LN2_Q52 = 3121657384082680


def fit_log2_poly(degree: int = 9) -> list[int]:
    from numpy.polynomial import chebyshev
    u = np.cos(np.linspace(0.0, np.pi, 4001))
    coeffs = chebyshev.cheb2poly(chebyshev.chebfit(u, np.log2((u + 3.0) / 2.0), degree))
    return [int(round(c * 2 ** 31)) for c in coeffs]


def xq(value: float) -> tuple[int, int]:
    """A positive constant as ml_dsp_xq (m, e): value ~ m * 2^e, m in [2^30, 2^31)."""
    if not value > 0.0 or not math.isfinite(value):
        raise ValueError(f"xq constant must be positive and finite, got {value}")
    frac, exp = math.frexp(value)  # value = frac * 2^exp, frac in [0.5, 1)
    m = int(round(frac * 2 ** 31))
    e = exp - 31
    if m == 2 ** 31:
        m, e = 2 ** 30, e + 1
    return m, e


def q30(value: float) -> int:
    return int(round(value * 2 ** 30))


def ln_q30_twin(v: int, e: int) -> int:
    """Python twin of ml_dsp_xq_ln_q30(ml_dsp_xq_from_u64(v, e)), v > 0."""
    bits = v.bit_length()
    s = bits - 31
    if s > 0:
        m = (v + (1 << (s - 1))) >> s
        e += s
        if m >> 31:
            m >>= 1
            e += 1
    else:
        m = v << -s
        e += s
    u = m * 4 - 3 * (1 << 31)
    acc = LOG2_POLY_Q31[9]
    for k in range(8, -1, -1):
        acc = LOG2_POLY_Q31[k] + ((acc * u + (1 << 30)) >> 31)
    frac = (acc * LN2_Q30 + (1 << 30)) >> 31
    whole = ((e + 30) * LN2_Q52 + (1 << 21)) >> 22
    return whole + frac


def twiddles(n: int) -> np.ndarray:
    """(cos, sin)(2 pi k / n) interleaved for k < n / 2, float64."""
    k = np.arange(n // 2)
    out = np.empty(n)
    out[0::2] = np.cos(2.0 * np.pi * k / n)
    out[1::2] = np.sin(2.0 * np.pi * k / n)
    return out


def bitrev_order(n: int) -> np.ndarray:
    """i bit-reversed (log2 n bits) for i < n: the framing kernel's order table."""
    bits = max(0, int(n).bit_length() - 1)
    return np.asarray([int(format(i, f"0{bits}b")[::-1], 2) if bits else 0 for i in range(n)], dtype=np.int64)


def bitrev_pairs(n: int) -> np.ndarray:
    """The (i, j) index pairs, i < j, that the bit-reversal permutation of n points swaps,
    flattened (i0, j0, i1, j1, ...): the FFT kernels' bitrev table."""
    bits = max(0, int(n).bit_length() - 1)
    pairs = []
    for i in range(n):
        j = int(format(i, f"0{bits}b")[::-1], 2) if bits else 0
        if i < j:
            pairs += [i, j]
    return np.asarray(pairs, dtype=np.int64)


def to_q(values, frac_bits: int, dtype=np.int32) -> np.ndarray:
    """round(values * 2^frac_bits), saturated to the dtype (cos(0) = 1 in q31 -> INT32_MAX)."""
    info = np.iinfo(dtype)
    q = np.round(np.asarray(values, dtype=np.float64) * float(2 ** frac_bits))
    return np.clip(q, info.min, info.max).astype(dtype)
