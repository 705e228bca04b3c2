#include "ml_dsp_mel_q.h"

ml_status ml_dsp_mel_q(const ml_dsp_filterbank_q_params *params, const uint64_t *power, uint64_t *out)
{
    if (params->power_shift < 0 || params->power_shift > 63) {
        return ML_ARG_ERROR;
    }
    const uint16_t *w = params->weights;
    for (uint32_t m = 0; m < params->n_filters; ++m) {
        const uint64_t *p = power + params->start[m];
        uint64_t acc = 0;
        for (uint32_t j = 0; j < params->count[m]; ++j) {
            acc += ml_dsp_mul_u16_u64(w[j], p[j] >> params->power_shift);
        }
        out[m] = acc;
        w += params->count[m];
    }
    return ML_OK;
}
