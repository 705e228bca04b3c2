#ifndef ML_DSP_BAND_POWER_Q_H
#define ML_DSP_BAND_POWER_Q_H

#include "ml_dsp_common.h"

typedef struct {
    const ml_dsp_fft_q31_params *fft;  /* n_fft-point rfft */
    uint32_t frame_length;             /* <= n_fft, <= 65536 */
    const int32_t *window;             /* Q30 */
    uint32_t n_bands;
    const uint16_t *band_start;
    const uint16_t *band_end;
    int32_t frac_bits;                 /* output Q format, 0 .. 30 */
    int64_t offset_q30;                /* ln(scale^2 / (frame_length^2 * n_fft * sum w^2)), Q30 */
    int64_t floor_q30;                 /* ln(floor), Q30 */
} ml_dsp_band_power_q_params;

/*
 * ml_dsp_band_power_f32 in integers: d * w (int64, Q30 window) scaled into the q31 FFT's
 * headroom with a block exponent, power in uint64, band sums of g_k power_k / 2^(log2 n_fft + 1)
 * (< 2^61), integer ln. out in Q(frac_bits). work: n_fft int32.
 */
ml_status ml_dsp_band_power_q(const ml_dsp_band_power_q_params *params, const int16_t *x, int32_t *out,
                              int32_t *work);

#endif
