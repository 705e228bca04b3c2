#include "ml_signal_energy_s16.h"

ml_status ml_signal_energy_s16(const ml_signal_energy_params *params, const int16_t *input,
                               uint32_t *output)
{
    if (params->start_index < 0 || params->end_index > params->size) {
        return ML_ARG_ERROR;
    }
    for (int32_t i = 0; i < params->size; ++i) {
        output[i] = 0;
    }
    for (int32_t i = params->start_index; i < params->end_index; ++i) {
        const int32_t re = input[2 * i], im = input[2 * i + 1];
        /* each square fits int32; their sum may not, so add them modulo 2^32 */
        output[i] = (uint32_t)(re * re) + (uint32_t)(im * im);
    }
    return ML_OK;
}
