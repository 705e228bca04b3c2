#ifndef ML_DSP_BAND_POWER_F32_H
#define ML_DSP_BAND_POWER_F32_H

#include "ml_dsp_common.h"

typedef struct {
    const ml_dsp_fft_f32_params *fft;  /* n_fft-point rfft */
    uint32_t frame_length;             /* <= n_fft */
    const float *window;               /* frame_length values */
    uint32_t n_bands;
    const uint16_t *band_start;        /* first bin of each band */
    const uint16_t *band_end;          /* one past its last bin */
    float norm;                        /* scale^2 / (frame_length^2 * n_fft * sum w^2) */
    float floor;                       /* > 0, normal */
} ml_dsp_band_power_f32_params;

/*
 * out[b] = ln(max(norm * sum_{k in band b} g_k |X_k|^2, floor)), X = rfft(d * window) with
 * d = frame_length * x - sum x (the mean removed exactly in int64; norm holds the
 * 1/frame_length^2), g_k = 2 except 1 at DC and Nyquist. work: n_fft floats.
 */
ml_status ml_dsp_band_power_f32(const ml_dsp_band_power_f32_params *params, const int16_t *x, float *out,
                                float *work);

#endif
