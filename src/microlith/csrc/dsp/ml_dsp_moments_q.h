#ifndef ML_DSP_MOMENTS_Q_H
#define ML_DSP_MOMENTS_Q_H

#include "ml_dsp_mathq.h"

typedef struct {
    uint32_t n;          /* window length, 1 .. 65536 */
    ml_dsp_xq scale;     /* physical units per count */
    int32_t frac_bits;   /* output Q format */
} ml_dsp_moments_q_params;

/*
 * ml_dsp_moments_f32's {rms, peak, crest, kurtosis} in Q(frac_bits), integers only:
 * d = n x - sum x exactly (int64), c = d scaled to |c| < 2^23 (block exponent), sum c^2 in
 * uint64, sum c^4 as sum ((c^2 / 2^16)^2 / 2^b), b = bits of n; then ml_dsp_xq arithmetic.
 */
ml_status ml_dsp_moments_q(const ml_dsp_moments_q_params *params, const int16_t *x, int32_t *out);

#endif
