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

/* A radix-2 FFT of n points (complex points for cfft, real samples for rfft).
 * twiddle holds (cos, sin)(2 pi k / N) interleaved for k < N / 2, N = n * stride, so one
 * table serves every power-of-two size up to N. */
typedef struct {
    uint32_t n;            /* a power of two: >= 1 for cfft, >= 4 for rfft */
    uint32_t stride;       /* N / n */
    const float *twiddle;  /* N floats */
} ml_dsp_fft_f32_params;

typedef struct {
    uint32_t n;
    uint32_t stride;
    const int32_t *twiddle;  /* q31, N values; cos(0) = 1 is stored as INT32_MAX */
} ml_dsp_fft_q31_params;

static inline int ml_dsp_is_pow2(uint32_t n) { return n != 0U && (n & (n - 1U)) == 0U; }

static inline uint32_t ml_dsp_log2_pow2(uint32_t n)
{
    uint32_t bits = 0;
    while ((1UL << bits) < n) {
        ++bits;
    }
    return bits;
}

static inline uint32_t ml_dsp_bit_reverse(uint32_t i, uint32_t bits)
{
    uint32_t r = 0;
    for (uint32_t b = 0; b < bits; ++b) {
        r = (r << 1) | ((i >> b) & 1U);
    }
    return r;
}

#endif /* ML_DSP_COMMON_H */
