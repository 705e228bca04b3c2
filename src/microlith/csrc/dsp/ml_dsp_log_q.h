#ifndef ML_DSP_LOG_Q_H
#define ML_DSP_LOG_Q_H

#include "ml_dsp_common.h"

typedef struct {
    uint32_t n;
    int32_t frac_bits;   /* output Q format, 0 .. 30 */
    int64_t offset_q30;  /* ln of the constant factor the integers leave out, Q30 */
    int64_t floor_q30;   /* ln(floor), Q30 */
} ml_dsp_log_q_params;

/*
 * out[i] = round(2^frac_bits * max(ln(in[i] * 2^exponent) + offset, ln floor)), saturated
 * to int32; in[i] = 0 gives the floor. ln is ml_dsp_xq_ln_q30 (error bound in ml_dsp_mathq.h).
 */
ml_status ml_dsp_log_q(const ml_dsp_log_q_params *params, const uint64_t *in, int32_t exponent, int32_t *out);

#endif
