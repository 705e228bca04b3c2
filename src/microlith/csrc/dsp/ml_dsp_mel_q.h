#ifndef ML_DSP_MEL_Q_H
#define ML_DSP_MEL_Q_H

#include "ml_dsp_common.h"

/* As ml_dsp_filterbank_f32_params with q15 weights (the float weights divided by their
 * maximum; the generator folds that maximum into the log offset) and a right shift of the
 * power, chosen by the generator so that no filter's sum can exceed 2^64. */
typedef struct {
    uint32_t n_filters;
    const uint16_t *start;
    const uint16_t *count;
    const uint16_t *weights;  /* q15, <= 32767 */
    int32_t power_shift;
} ml_dsp_filterbank_q_params;

/* out[m] = sum_j weights[.. + j] * (power[start[m] + j] >> power_shift): the exponent of out
 * is that of power + power_shift - 15. */
ml_status ml_dsp_mel_q(const ml_dsp_filterbank_q_params *params, const uint64_t *power, uint64_t *out);

#endif
