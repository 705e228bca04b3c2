#include "ml_signal_spectral_subtraction_u32.h"

ml_status ml_signal_spectral_subtraction_u32(const ml_signal_spectral_subtraction_params *params,
                                             const uint32_t *input, uint32_t *output,
                                             uint32_t *noise_output, uint32_t *state)
{
    const uint32_t sbits = params->smoothing_bits;
    const uint32_t ssbits = params->spectral_subtraction_bits;
    if (sbits > 31u || ssbits > 63u) {
        return ML_ARG_ERROR;
    }
    for (int32_t i = 0; i < params->num_channels; ++i) {
        const int odd = (i & 1) != 0;
        const uint32_t smoothing = odd ? params->alternate_smoothing : params->smoothing;
        const uint32_t one_minus = odd ? params->alternate_one_minus_smoothing : params->one_minus_smoothing;
        const uint32_t scaled = input[i] << sbits;
        uint32_t estimate;
        uint32_t floor_value;
        uint32_t subtracted;
        state[i] = (uint32_t)(((uint64_t)scaled * smoothing + (uint64_t)state[i] * one_minus) >> ssbits);
        estimate = state[i];
        if (estimate > scaled) {
            estimate = scaled;
            if (params->clamping) {
                state[i] = estimate;
            }
        }
        floor_value = (uint32_t)(((uint64_t)input[i] * params->min_signal_remaining) >> ssbits);
        subtracted = (scaled - estimate) >> sbits;
        output[i] = subtracted > floor_value ? subtracted : floor_value;
        noise_output[i] = state[i];
    }
    return ML_OK;
}
