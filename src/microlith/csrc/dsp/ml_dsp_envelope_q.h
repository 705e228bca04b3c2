#ifndef ML_DSP_ENVELOPE_Q_H
#define ML_DSP_ENVELOPE_Q_H

#include "ml_dsp_mathq.h"

typedef struct {
    const ml_dsp_fft_q31_params *fft;  /* n-point rfft; its table also serves the m-point FFTs */
    uint32_t m;
    uint32_t k_lo;
    uint32_t k_hi;
    uint32_t n_out;
    const int32_t *window;             /* periodic Hann, Q30, m values */
    ml_dsp_xq out_scale;               /* 4 scale / (n sum w) */
    int32_t frac_bits;                 /* output Q format */
} ml_dsp_envelope_q_params;

/*
 * ml_dsp_envelope_f32 in integers: the q31 FFTs run in block floating point (each stage's
 * input is rescaled into its headroom and the exponent carried), magnitudes by integer
 * square root, out in Q(frac_bits). work: n int32.
 */
ml_status ml_dsp_envelope_q(const ml_dsp_envelope_q_params *params, const int16_t *x, int32_t *out,
                            int32_t *work);

#endif
