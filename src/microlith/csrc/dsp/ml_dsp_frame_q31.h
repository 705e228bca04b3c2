#ifndef ML_DSP_FRAME_Q31_H
#define ML_DSP_FRAME_Q31_H

#include "ml_dsp_common.h"

typedef struct {
    uint32_t frame_length;
    uint32_t n_fft;           /* a power of two >= frame_length */
    int32_t preemphasis_q30;  /* a * 2^30, a in [0, 1] */
    const int32_t *window;    /* Q30, frame_length values in [0, 2^30] */
} ml_dsp_frame_q31_params;

/*
 * Windowed frame in block floating point, ready for ml_dsp_rfft_q31:
 * out[i] * 2^(*exponent) = (x[i] - a x[i-1]) * window[i] (in counts) for i < frame_length,
 * out = 0 up to n_fft. The block is scaled so that max |out| < 2^(30 - log2 n_fft),
 * the FFT's headroom, and uses as many of those bits as the frame needs; a silent frame
 * gives out = 0 and *exponent = 0.
 * Internally y = (x[i] 2^30 - a_q30 x[i-1]) / 2^15 rounded (Q15 counts, |y| < 2^31), v = y * w (Q45).
 */
ml_status ml_dsp_frame_q31(const ml_dsp_frame_q31_params *params, const int16_t *x, int16_t prev,
                           int32_t *out, int32_t *exponent);

#endif
