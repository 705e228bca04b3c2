#ifndef ML_DSP_MOTION_Q_H
#define ML_DSP_MOTION_Q_H

#include "ml_dsp_mathq.h"
#include "ml_dsp_motion_gravity_s16.h"

typedef struct {
    ml_dsp_motion_gravity_params gravity;  /* n, axes (3 or 6), alpha */
    const ml_dsp_fft_q31_params *fft;      /* n_fft-point rfft, n <= n_fft */
    const int32_t *window;                 /* Q30, n values */
    const ml_dsp_xq *scale;                /* per sensor (3 axes): units per count */
    const ml_dsp_xq *jerk_unit;            /* per sensor: scale * fs / sqrt(n - 1) */
    ml_dsp_xq zcr_unit;                    /* fs / (n - 1) */
    uint32_t n_bands;
    const uint16_t *band_start;
    const uint16_t *band_end;
    const int64_t *offset_q30;             /* per sensor: ln(scale^2 / (2^30 n^2 n_fft sum w^2)), Q30 */
    int64_t floor_q30;                     /* ln(floor), Q30 */
    int32_t frac_bits;                     /* output Q format, 0 .. 30 */
} ml_dsp_motion_q_params;

/* Bytes of work memory ml_dsp_motion_q needs (8-byte aligned). */
#define ML_DSP_MOTION_Q_WORK(n, n_fft) (12U * (n) + 4U * (n_fft))

/*
 * ml_dsp_motion_f32's features in integers only, out in Q(frac_bits) (saturated):
 * sums of int64, block exponents before squaring (values kept below 2^23, sums of squares
 * below 2^62), ml_dsp_xq products and square roots, the q31 FFT with a block exponent for
 * the band energies and the integer ln. The magnitude is isqrt(dx^2 + dy^2 + dz^2) in Q14.
 */
ml_status ml_dsp_motion_q(const ml_dsp_motion_q_params *params, const int16_t *x, int32_t *out, void *work);

#endif
