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
 * n / 2 points for an rfft (its inner complex FFT). */
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
