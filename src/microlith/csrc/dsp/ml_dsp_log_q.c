#include "ml_dsp_log_q.h"

#include "ml_dsp_mathq.h"

ml_status ml_dsp_log_q(const ml_dsp_log_q_params *params, const uint64_t *in, int32_t exponent, int32_t *out)
{
    if (params->frac_bits < 0 || params->frac_bits > 30) {
        return ML_ARG_ERROR;
    }
    for (uint32_t i = 0; i < params->n; ++i) {
        int64_t value = params->floor_q30;
        if (in[i] != 0U) {
            const int64_t ln = ml_dsp_xq_ln_q30(ml_dsp_xq_from_u64(in[i], exponent)) + params->offset_q30;
            value = ln > value ? ln : value;
        }
        out[i] = ml_dsp_sat_i32(ml_dsp_shift_round_i64(value, 30 - params->frac_bits));
    }
    return ML_OK;
}
