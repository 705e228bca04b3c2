/*
 * microlith DSP kernels: shared types.
 *
 * Conventions for every kernel (ml_dsp_<what>_<type>):
 *   - argument order: params struct(s), then the inputs, then the outputs (then, where a
 *     kernel needs one, a caller-provided work buffer); inputs are const;
 *   - sizes and tables live in the params struct; tables (windows, twiddles, filterbanks,
 *     DCT matrices) are static const arrays that microlith generates;
 *   - _f32 kernels compute in float (for cores with an FPU), _q31 / _q kernels in integers
 *     only (q15 input, q31 internal, Q(frac_bits) int32 output), _s16 kernels are exact
 *     integer algorithms on int16 input;
 *   - a kernel returns ml_status (ML_OK = 0), never allocates and never prints.
 * C99, freestanding: stdint.h, stddef.h and string.h only.
 */
#ifndef ML_DSP_COMMON_H
#define ML_DSP_COMMON_H

#include "ml_common.h"

/* An FFT of n points (complex points for cfft, real samples for rfft).
 * twiddle holds (cos, sin)(2 pi k / N) interleaved for k < N / 2, N = n * stride, so one
 * table serves every power-of-two size up to N.
 * bitrev (optional, NULL: computed on the fly) lists the n_bitrev index pairs (i, j), i < j,
 * that the bit-reversal permutation of the complex FFT swaps: of n points for a cfft, of
 * n / 2 points for an rfft (its inner complex FFT). bitrev non-NULL with n_bitrev = 0 says the
 * data comes already permuted (ml_dsp_frame_f32 with an order table writes it so). */
typedef struct {
    uint32_t n;            /* a power of two: >= 1 for cfft, >= 4 for rfft */
    uint32_t stride;       /* N / n */
    const float *twiddle;  /* N floats */
    const uint16_t *bitrev;  /* 2 n_bitrev indices, or NULL */
    uint32_t n_bitrev;
} ml_dsp_fft_f32_params;

typedef struct {
    uint32_t n;
    uint32_t stride;
    const int32_t *twiddle;  /* q31, N values; cos(0) = 1 is stored as INT32_MAX */
    const uint16_t *bitrev;
    uint32_t n_bitrev;
} ml_dsp_fft_q31_params;

/* a * b as int64, exactly. ARMv6-M (Cortex-M0/M0+) has no 32 x 32 -> 64 multiply and gcc
 * calls libgcc's general 64 x 64 __aeabi_lmul (about 50 instructions with the call) for it;
 * four 16 x 16 -> 32 MULS give the same product: with a = ah 2^16 + al, b = bh 2^16 + bl
 * (ah, bh signed, al, bl in [0, 2^16)), a b = ah bh 2^32 + (ah bl + al bh) 2^16 + al bl, and
 * each partial product fits 32 bits. Other cores multiply directly (SMULL). */
static inline int64_t ml_dsp_mul_s64(int32_t a, int32_t b)
{
#if defined(__ARM_ARCH_6M__)
    const int32_t ah = a >> 16;
    const int32_t bh = b >> 16;
    const uint32_t al = (uint32_t)a & 0xFFFFU;
    const uint32_t bl = (uint32_t)b & 0xFFFFU;
    const int32_t m1 = ah * (int32_t)bl;
    const int32_t m2 = (int32_t)al * bh;
    /* the two words, carries by hand: 32-bit operations only */
    const uint32_t t1 = (uint32_t)m1 << 16;
    const uint32_t t2 = (uint32_t)m2 << 16;
    uint32_t lo = al * bl + t1;
    uint32_t hi = (uint32_t)(ah * bh) + (uint32_t)(m1 >> 16) + (uint32_t)(m2 >> 16) + (lo < t1 ? 1U : 0U);
    lo += t2;
    hi += lo < t2 ? 1U : 0U;
    return (int64_t)(((uint64_t)hi << 32) | lo);
#else
    return (int64_t)a * b;
#endif
}

/* a * b as int64 for a 16-bit a: on ARMv6-M two MULS, b = bh 2^16 + bl, a bh and a bl fit int32. */
static inline int64_t ml_dsp_mul_s16_s64(int16_t a, int32_t b)
{
#if defined(__ARM_ARCH_6M__)
    return (int64_t)(a * (b >> 16)) * 65536 + (int64_t)(a * (int32_t)((uint32_t)b & 0xFFFFU));
#else
    return (int64_t)a * b;
#endif
}

/* floor((a * b + 2^30) / 2^31): a q31 product rounded to nearest (ties up), exactly, on every
 * core (the result must fit int32: not for a = b = INT32_MIN, which no caller passes). On
 * ARMv6-M from four 16 x 16 MULS in 32-bit arithmetic: with m1 = ah bl, m2 = al bh,
 * a b + 2^30 = (ah bh + m1.hi + m2.hi) 2^32 + (m1.lo + m2.lo) 2^16 + al bl + 2^30
 * (.hi: arithmetic >> 16, .lo: the low halfword), so the result is
 * 2 (ah bh + m1.hi + m2.hi) + ((m1.lo + m2.lo + (al bl >> 16) + 2^14) >> 15). */
static inline int32_t ml_dsp_mul_q31(int32_t a, int32_t b)
{
#if defined(__ARM_ARCH_6M__)
    const int32_t ah = a >> 16;
    const int32_t bh = b >> 16;
    const uint32_t al = (uint32_t)a & 0xFFFFU;
    const uint32_t bl = (uint32_t)b & 0xFFFFU;
    const int32_t m1 = ah * (int32_t)bl;
    const int32_t m2 = (int32_t)al * bh;
    const uint32_t low = (((uint32_t)m1 & 0xFFFFU) + ((uint32_t)m2 & 0xFFFFU) + ((al * bl) >> 16) + 0x4000U) >> 15;
    const uint32_t high = (uint32_t)(ah * bh) + (uint32_t)(m1 >> 16) + (uint32_t)(m2 >> 16);
    return (int32_t)((high << 1) + low);
#else
    return (int32_t)(((int64_t)a * b + (1LL << 30)) >> 31);
#endif
}

/* w * v for a product known to fit 64 bits (w a 16-bit weight), without the 64 x 64 libgcc
 * multiply on ARMv6-M: v = vh 2^32 + vm 2^16 + vl, and w vh, w vm, w vl each fit 32 bits. */
static inline uint64_t ml_dsp_mul_u16_u64(uint16_t w, uint64_t v)
{
#if defined(__ARM_ARCH_6M__)
    const uint32_t hi = (uint32_t)(v >> 32);
    const uint32_t lo = (uint32_t)v;
    return ((uint64_t)(w * hi) << 32) + ((uint64_t)(w * (lo >> 16)) << 16) + (uint64_t)(w * (lo & 0xFFFFU));
#else
    return (uint64_t)w * v;
#endif
}

static inline int ml_dsp_is_pow2(uint32_t n) { return n != 0U && (n & (n - 1U)) == 0U; }

static inline uint32_t ml_dsp_log2_pow2(uint32_t n)
{
    uint32_t bits = 0;
    while ((1UL << bits) < n) {
        ++bits;
    }
    return bits;
}


#endif /* ML_DSP_COMMON_H */
