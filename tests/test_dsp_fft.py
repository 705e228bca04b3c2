"""The FFT-side DSP kernels on their own, against numpy: complex FFT (f32 and q31, forward and
inverse, with and without the generated bit-reversal table), the real FFT fused with the power
of the first bins, the symmetric DCT-II, and the integer multiply helpers in both their
portable and their ARMv6-M (Cortex-M0) forms (the latter compiled for the host with
-D__ARM_ARCH_6M__, so the M0 branch is checked bit for bit here too).
"""
from __future__ import annotations

import ctypes
import shutil

import numpy as np
import pytest

from microlith.dsp import fixedmath, spectral
from microlith.dsp.cgen import kernel_closure
from microlith.targets.build import build_host_library

_SRC = """
#include "ml_dsp_cfft_f32.h"
#include "ml_dsp_cfft_q31.h"
#include "ml_dsp_rfft_power_f32.h"
#include "ml_dsp_dct_f32.h"
#include "ml_dsp_mathq.h"
void t_ln(const uint64_t *v, const int32_t *e, int64_t *y, size_t n)
{ for (size_t i = 0; i < n; ++i) y[i] = ml_dsp_xq_ln_q30(ml_dsp_xq_from_u64(v[i], e[i])); }
int t_cfft_f32(uint32_t n, const float *tw, const uint16_t *rev, uint32_t n_rev, int32_t inv, float *d)
{ ml_dsp_fft_f32_params p = { n, 1U, tw, rev, n_rev }; return (int)ml_dsp_cfft_f32(&p, inv, d); }
int t_cfft_q31(uint32_t n, const int32_t *tw, const uint16_t *rev, uint32_t n_rev, int32_t inv, int32_t *d)
{ ml_dsp_fft_q31_params p = { n, 1U, tw, rev, n_rev }; return (int)ml_dsp_cfft_q31(&p, inv, d); }
int t_rfft_power(uint32_t n, const float *tw, const uint16_t *rev, uint32_t n_rev, uint32_t bins, float *d, float *pw)
{ ml_dsp_fft_f32_params p = { n, 1U, tw, rev, n_rev }; return (int)ml_dsp_rfft_power_f32(&p, bins, d, pw); }
int t_dct(uint32_t n_in, uint32_t n_out, const float *m, const float *in, float *out)
{ ml_dsp_dct_f32_params p = { n_in, n_out, m }; return (int)ml_dsp_dct_f32(&p, in, out); }
void t_mul(const int32_t *a, const int32_t *b, int64_t *p, int32_t *q, size_t n)
{ for (size_t i = 0; i < n; ++i) { p[i] = ml_dsp_mul_s64(a[i], b[i]); q[i] = ml_dsp_mul_q31(a[i], b[i]); } }
void t_mul_s16(const int16_t *a, const int32_t *b, int64_t *p, size_t n)
{ for (size_t i = 0; i < n; ++i) p[i] = ml_dsp_mul_s16_s64(a[i], b[i]); }
void t_mul_u16(const uint16_t *w, const uint64_t *v, uint64_t *p, size_t n)
{ for (size_t i = 0; i < n; ++i) p[i] = ml_dsp_mul_u16_u64(w[i], v[i]); }
"""


def _ptr(a):
    return a.ctypes.data_as(ctypes.c_void_p)


def _build(tmp, flags):
    src = tmp / "src"
    src.mkdir(parents=True)
    for p in kernel_closure(["ml_dsp_cfft_f32.h", "ml_dsp_cfft_q31.h", "ml_dsp_rfft_power_f32.h", "ml_dsp_dct_f32.h",
                             "ml_dsp_mathq.h"]):
        shutil.copyfile(p, src / p.name)
    (src / "t_fft.c").write_text(_SRC)
    lib = ctypes.CDLL(str(build_host_library(tmp, tmp / "libfft.so", extra_flags=flags)))
    return lib


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("fft"), [])


@pytest.fixture(scope="module")
def lib_m0(tmp_path_factory):
    """The same kernels with the ARMv6-M branches (the macro gcc defines for -mcpu=cortex-m0)."""
    return _build(tmp_path_factory.mktemp("fft_m0"), ["-U__ARM_ARCH_6M__", "-D__ARM_ARCH_6M__=1"])


def _tables(n):
    rev = fixedmath.bitrev_pairs(n).astype(np.uint16)
    return fixedmath.twiddles(max(n, 2)), (rev if rev.size else np.zeros(2, np.uint16)), rev.size // 2


@pytest.mark.parametrize("n", [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024])
def test_cfft_f32_and_q31_match_numpy(lib, lib_m0, n):
    rng = np.random.default_rng(n)
    z = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    tw, rev, n_rev = _tables(n)
    twf = tw.astype(np.float32)
    twq = fixedmath.to_q(tw, 31).astype(np.int32)
    scale = 2.0 ** (28 - max(1, n.bit_length()))  # the FFT's q31 headroom: |X| < 2^30
    for inverse in (0, 1):
        want = np.fft.ifft(z) * n if inverse else np.fft.fft(z)
        for table, count in ((rev, n_rev), (None, 0)):
            d = np.empty(2 * n, np.float32)
            d[0::2], d[1::2] = z.real, z.imag
            assert lib.t_cfft_f32(n, _ptr(twf), None if table is None else _ptr(table), count, inverse, _ptr(d)) == 0
            got = d[0::2] + 1j * d[1::2]
            assert np.abs(got - want).max() <= 2e-6 * max(1.0, np.abs(want).max()) * max(1, n.bit_length())
            outs = []
            for variant in (lib, lib_m0):
                q = np.empty(2 * n, np.int32)
                q[0::2], q[1::2] = np.round(z.real * scale), np.round(z.imag * scale)
                assert variant.t_cfft_q31(n, _ptr(twq), None if table is None else _ptr(table), count, inverse,
                                          _ptr(q)) == 0
                outs.append(q.copy())
            np.testing.assert_array_equal(outs[0], outs[1])  # M0 branch = portable branch, bit for bit
            gotq = (outs[0][0::2] + 1j * outs[0][1::2]) / scale
            # two roundings of half an LSB per complex product and stage
            assert np.abs(gotq - want).max() <= (2.0 * max(1, n.bit_length()) + 2) * np.sqrt(n) / scale + 1e-9


@pytest.mark.parametrize("n", [4, 8, 16, 64, 256, 512, 1024])
def test_rfft_power_matches_numpy_for_any_bin_count(lib, n):
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n).astype(np.float32)
    want = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    tw, _, _ = _tables(n)
    rev = fixedmath.bitrev_pairs(n // 2).astype(np.uint16)
    twf = tw.astype(np.float32)
    for bins in sorted({1, 2, n // 4, n // 4 + 1, n // 2, n // 2 + 1, n // 2 - 1} - {0}):
        d = x.copy()
        pw = np.full(n // 2 + 1, -1.0, np.float32)
        r = rev if rev.size else np.zeros(2, np.uint16)
        assert lib.t_rfft_power(n, _ptr(twf), _ptr(r), rev.size // 2, bins, _ptr(d), _ptr(pw)) == 0
        np.testing.assert_allclose(pw[:bins], want[:bins], rtol=1e-4, atol=1e-4 * want.max())
        assert np.all(pw[bins:] == -1.0)  # nothing written past n_bins
    d = x.copy()
    assert lib.t_rfft_power(n, _ptr(twf), None, 0, n // 2 + 2, _ptr(d), _ptr(pw)) == -1  # ML_ARG_ERROR


@pytest.mark.parametrize("n_in,n_out", [(40, 10), (40, 13), (32, 13), (20, 6), (21, 7), (21, 8), (1, 1), (2, 2), (3, 3)])
def test_symmetric_dct_matches_the_dense_matrix(lib, n_in, n_out):
    dct = spectral.dct_matrix(n_out, n_in)
    half = np.ascontiguousarray(dct[:, :(n_in + 1) // 2], np.float32)
    x = np.random.default_rng(n_in * 100 + n_out).standard_normal(n_in).astype(np.float32) * 10
    out = np.zeros(n_out, np.float32)
    assert lib.t_dct(n_in, n_out, _ptr(half), _ptr(x), _ptr(out)) == 0
    np.testing.assert_allclose(out, dct @ x.astype(np.float64), rtol=0, atol=1e-5 * np.abs(x).sum())


def test_integer_multiply_helpers_are_exact_in_both_branches(lib, lib_m0):
    rng = np.random.default_rng(5)
    edge = np.array([0, 1, -1, 2 ** 31 - 1, -2 ** 31 + 1, 2 ** 16, -2 ** 16, 65535, -65536, 2 ** 30, -2 ** 30],
                    np.int64)
    a = np.concatenate([rng.integers(-2 ** 31, 2 ** 31, 50000), np.repeat(edge, edge.size), [-2 ** 31]])
    b = np.concatenate([rng.integers(-2 ** 31 + 1, 2 ** 31, 50000), np.tile(edge, edge.size), [2 ** 31 - 1]])
    a, b = a.astype(np.int32), b.astype(np.int32)
    exact = [int(x) * int(y) for x, y in zip(a.tolist(), b.tolist())]
    want_p = np.array(exact, np.int64)
    want_q = np.array([(v + (1 << 30)) >> 31 for v in exact], np.int64).astype(np.int32)
    for variant in (lib, lib_m0):
        p, q = np.zeros(a.size, np.int64), np.zeros(a.size, np.int32)
        variant.t_mul(_ptr(a), _ptr(b), _ptr(p), _ptr(q), ctypes.c_size_t(a.size))
        np.testing.assert_array_equal(p, want_p)
        np.testing.assert_array_equal(q, want_q)
    a16 = np.concatenate([rng.integers(-2 ** 15, 2 ** 15, 20000), [-2 ** 15, 2 ** 15 - 1, 0]]).astype(np.int16)
    b32 = np.concatenate([rng.integers(-2 ** 31, 2 ** 31, 20000), [-2 ** 31, 2 ** 31 - 1, -1]]).astype(np.int32)
    want16 = np.array([int(x) * int(y) for x, y in zip(a16.tolist(), b32.tolist())], np.int64)
    for variant in (lib, lib_m0):
        p = np.zeros(a16.size, np.int64)
        variant.t_mul_s16(_ptr(a16), _ptr(b32), _ptr(p), ctypes.c_size_t(a16.size))
        np.testing.assert_array_equal(p, want16)
    w = rng.integers(0, 2 ** 16, 20000).astype(np.uint16)
    v = np.array([int(rng.integers(0, 2 ** 62)) >> int(k) for k in rng.integers(0, 62, w.size)], np.uint64)
    v = np.array([min(int(x), (2 ** 64 - 1) // max(1, int(y))) for x, y in zip(v.tolist(), w.tolist())], np.uint64)
    want = np.array([int(x) * int(y) for x, y in zip(v.tolist(), w.tolist())], np.uint64)
    for variant in (lib, lib_m0):
        p = np.zeros(w.size, np.uint64)
        variant.t_mul_u16(_ptr(w), _ptr(v), _ptr(p), ctypes.c_size_t(w.size))
        np.testing.assert_array_equal(p, want)


def test_fixed_frame_takes_full_scale_pre_emphasis(tmp_path):
    """x - 0.97 x[-1] reaches twice full scale on an alternating full-scale signal: the fixed
    frame holds it (Q15 counts in int32) and the log-mel still matches numpy."""
    from microlith.dsp import FIXED_MEL_BOUND, LogMelBlock
    block = LogMelBlock(sample_rate=8000, n_samples=1000, frame_length=200, hop=80, n_fft=256, n_mels=20,
                        fmin=0, fmax=4000, preemphasis=0.97)
    block.generate_c(tmp_path / "src", "pe")
    so = ctypes.CDLL(str(build_host_library(tmp_path, tmp_path / "libpe.so")))
    rng = np.random.default_rng(9)
    wobble = np.abs(rng.normal(0, 1500, 1000)).astype(np.int64)  # energy in every bin, not only at Nyquist
    x = np.where(np.arange(1000) % 2 == 0, 32767 - wobble, -32768 + wobble)
    x[500:] = rng.integers(-32768, 32768, 500)
    x = x.astype(np.int16)
    want = block.numpy(x).astype(np.float64)
    out = np.zeros(want.size, np.int32)
    assert so.pe_features_q(_ptr(x), ctypes.c_size_t(x.size), _ptr(out)) == 0
    got = out.reshape(want.shape) / 2.0 ** block.q_frac_bits
    span = want.max(axis=0) - want.min(axis=0)
    assert (np.abs(got - want).max(axis=0) / np.maximum(span, 1.0)).max() <= FIXED_MEL_BOUND


@pytest.mark.parametrize("frame_length,pre", [(199, 0.0), (199, 0.97), (256, 0.5), (1, 0.0)])
def test_float_frame_in_fft_order_matches_numpy(tmp_path, frame_length, pre):
    """The float framing writes the FFT's bit-reversed order itself (odd lengths pair the last
    sample with the padding); the features equal numpy's."""
    from microlith.dsp import LogMelBlock
    block = LogMelBlock(sample_rate=8000, n_samples=1200, frame_length=frame_length, hop=100, n_fft=256, n_mels=16,
                        fmin=0, fmax=4000, preemphasis=pre)
    block.generate_c(tmp_path / "src", "fo", variant="float")
    so = ctypes.CDLL(str(build_host_library(tmp_path, tmp_path / "libfo.so")))
    x = np.random.default_rng(frame_length).integers(-20000, 20000, 1200).astype(np.int16)
    want = block.numpy(x).astype(np.float64)
    out = np.zeros(want.size, np.float32)
    assert so.fo_features(_ptr(x), ctypes.c_size_t(x.size), _ptr(out)) == 0
    span = want.max(axis=0) - want.min(axis=0)
    assert (np.abs(out.reshape(want.shape) - want).max(axis=0) / np.maximum(span, 1.0)).max() <= 1e-4


def test_fixed_ln_equals_its_python_twin_in_both_branches(lib, lib_m0):
    """ml_dsp_xq_ln_q30 builds its products from q31 multiplies: bit for bit the twin's exact
    arithmetic, including mantissas just under 2^31, where the polynomial passes 1.0."""
    rng = np.random.default_rng(11)
    v = np.concatenate([rng.integers(1, 1 << 63, 20000, dtype=np.uint64),
                        rng.integers(1, 1 << 20, 4000).astype(np.uint64),
                        np.arange((1 << 31) - 3000, (1 << 31) + 3, dtype=np.uint64),
                        np.array([1, 2, 3, 1 << 30, (1 << 64) - 1], dtype=np.uint64)])
    e = rng.integers(-300, 300, v.size).astype(np.int32)
    want = np.array([fixedmath.ln_q30_twin(int(a), int(b)) for a, b in zip(v.tolist(), e.tolist())], np.int64)
    for variant in (lib, lib_m0):
        y = np.zeros(v.size, np.int64)
        variant.t_ln(_ptr(v), _ptr(e), _ptr(y), ctypes.c_size_t(v.size))
        np.testing.assert_array_equal(y, want)
