#ifndef ML_SIGNAL_RFFT_S16_H
#define ML_SIGNAL_RFFT_S16_H

#include "ml_common.h"

/*
 * TFLM's int16 SignalRfft (signal/micro/kernels/rfft.cc, signal/src/rfft_int16.cc): KISS FFT
 * v1.3.0 in 16-bit fixed point (kiss_fftr over kiss_fft, FIXED_POINT=16), as TFLM builds it.
 * The generator computes KISS FFT's tables exactly as kiss_fft_alloc / kiss_fftr_alloc do
 * (floor(0.5 + 32767 * cos/sin(phase)) in double), so the kernel needs no floating point.
 * KISS FFT's recursive kf_work runs here as an index permutation followed by its butterfly
 * stages, innermost first; each butterfly does exactly KISS FFT's arithmetic, including its
 * int16 wrap-around on every store.
 */
typedef struct {
    int32_t fft_length;      /* N real samples per transform: even, N/2 has factors 2, 3, 4, 5 */
    int32_t input_length;    /* samples per input frame, <= N (the rest is zero-padded) */
    int32_t frames;          /* frames in the input; each gives N/2 + 1 complex outputs */
    int32_t num_stages;      /* pairs in factors */
    const int32_t *factors;  /* kf_factor(N/2): (radix, remaining length) per stage */
    const int16_t *twiddles;        /* N/2 complex (re, im): exp(-2 pi i k / (N/2)) in Q15 */
    const int16_t *super_twiddles;  /* N/4 complex: exp(-i pi ((k + 1) / (N/2) + 1/2)) in Q15 */
} ml_signal_rfft_params;

/* kf_factor gives at most 15 stages for N/2 <= 32768 (each radix is at least 2). */
#define ML_SIGNAL_RFFT_MAX_STAGES 16

/* Scratch: 2 * N int16 (the padded frame and the half-length complex FFT). */
static inline int32_t ml_signal_rfft_s16_scratch_bytes(int32_t fft_length)
{
    return 4 * fft_length;
}

/* input: frames x input_length int16; output: frames x (N/2 + 1) complex int16 (re, im). */
ml_status ml_signal_rfft_s16(const ml_signal_rfft_params *params, const int16_t *input,
                             int16_t *output, int16_t *scratch);

#endif
