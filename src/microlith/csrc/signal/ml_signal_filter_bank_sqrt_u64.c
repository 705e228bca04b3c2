#include "ml_signal_filter_bank_sqrt_u64.h"
#include "ml_signal_common.h"

ml_status ml_signal_filter_bank_sqrt_u64(const ml_signal_filter_bank_sqrt_params *params,
                                         const uint64_t *input, const int32_t *scale_bits,
                                         uint32_t *output)
{
    const uint32_t shift = (uint32_t)*scale_bits & 31u;
    for (int32_t i = 0; i < params->size; ++i) {
        output[i] = ml_signal_sqrt64(input[i]) >> shift;
    }
    return ML_OK;
}
