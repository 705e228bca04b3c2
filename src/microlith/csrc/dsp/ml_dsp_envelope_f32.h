#ifndef ML_DSP_ENVELOPE_F32_H
#define ML_DSP_ENVELOPE_F32_H

#include "ml_dsp_common.h"

typedef struct {
    const ml_dsp_fft_f32_params *fft;  /* n-point rfft; its table also serves the m-point FFTs */
    uint32_t m;                        /* envelope points, a power of two, 2 (n_out + 1) <= m <= n */
    uint32_t k_lo;                     /* band of the analytic signal, bins k_lo .. k_hi, */
    uint32_t k_hi;                     /* 1 <= k_lo <= k_hi < n/2 and k_hi - k_lo < m */
    uint32_t n_out;
    const float *window;               /* periodic Hann, m values */
    float out_scale;                   /* 4 scale / (n sum w) */
} ml_dsp_envelope_f32_params;

/*
 * Envelope spectrum of one window of n samples (see microlith.dsp.vibration): FFT; the
 * bins k_lo .. k_hi shifted down to 0 (a frequency shift leaves the envelope unchanged) and
 * inverse-FFT'd at m points, which is the band-passed analytic signal decimated by n/m;
 * |.|; minus its mean; Hann window; FFT; out[k-1] = out_scale |E_k| for k = 1 .. n_out.
 * work: n floats.
 */
ml_status ml_dsp_envelope_f32(const ml_dsp_envelope_f32_params *params, const int16_t *x, float *out,
                              float *work);

#endif
