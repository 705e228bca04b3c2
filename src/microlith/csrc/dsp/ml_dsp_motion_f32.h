#ifndef ML_DSP_MOTION_F32_H
#define ML_DSP_MOTION_F32_H

#include "ml_dsp_common.h"
#include "ml_dsp_motion_gravity_s16.h"

typedef struct {
    ml_dsp_motion_gravity_params gravity;  /* n, axes (3 or 6), alpha */
    const ml_dsp_fft_f32_params *fft;      /* n_fft-point rfft, n <= n_fft */
    const float *window;                   /* n values */
    const float *d_unit;                   /* per sensor (3 axes): scale / 2^15, units per Q15 count */
    const float *mean_unit;                /* per sensor: scale / n */
    const float *jerk_unit;                /* per sensor: scale * fs / sqrt(n - 1) */
    float zcr_unit;                        /* fs / (n - 1) */
    uint32_t n_bands;
    const uint16_t *band_start;            /* first bin of each band */
    const uint16_t *band_end;              /* one past its last bin */
    float norm;                            /* 1 / (n_fft * sum w^2) */
    float floor;                           /* > 0, normal */
} ml_dsp_motion_f32_params;

/* Bytes of work memory ml_dsp_motion_f32 needs. */
#define ML_DSP_MOTION_F32_WORK(n, n_fft) (4U * (2U * (n) + (n_fft)))

/*
 * Motion features of one interleaved IMU window (x[i * axes + a], n time steps), float,
 * as microlith.dsp.motion.features: per axis {mean, std, min, max, rms, zcr, jerk_rms,
 * ln band energy x n_bands}, then per sensor {mean, std, min, max, rms} of the magnitude of
 * the gravity-removed vector. The gravity filter, zero crossings, the raw sums and the jerk
 * sum are exact integers; the rest is float on physical units.
 */
ml_status ml_dsp_motion_f32(const ml_dsp_motion_f32_params *params, const int16_t *x, float *out, void *work);

#endif
