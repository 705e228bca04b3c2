#include "ml_signal_filter_bank_u32.h"

ml_status ml_signal_filter_bank_u32(const ml_signal_filter_bank_params *params, const uint32_t *input,
                                    uint64_t *output)
{
    uint64_t weighted = 0;
    uint64_t unweighted = 0;
    for (int32_t i = 0; i <= params->num_channels; ++i) {
        const int32_t freq = params->frequency_starts[i];
        const int32_t w = params->weight_starts[i];
        for (int32_t j = 0; j < params->widths[i]; ++j) {
            const uint64_t x = input[freq + j];
            weighted += (uint64_t)(int64_t)params->weights[w + j] * x;
            unweighted += (uint64_t)(int64_t)params->unweights[w + j] * x;
        }
        if (i > 0) {
            output[i - 1] = weighted;
        }
        weighted = unweighted;
        unweighted = 0;
    }
    return ML_OK;
}
