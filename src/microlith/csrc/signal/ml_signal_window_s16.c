#include "ml_signal_window_s16.h"

ml_status ml_signal_window_s16(const ml_signal_window_params *params, const int16_t *input,
                               const int16_t *weights, int16_t *output)
{
    const int32_t n = params->window_size;
    if (n < 1 || params->size % n != 0 || params->shift < 0 || params->shift > 31) {
        return ML_ARG_ERROR;
    }
    for (int32_t base = 0; base < params->size; base += n) {
        for (int32_t i = 0; i < n; ++i) {
            const int32_t raw = ((int32_t)input[base + i] * weights[i]) >> params->shift;
            output[base + i] = (int16_t)(raw < INT16_MIN ? INT16_MIN : (raw > INT16_MAX ? INT16_MAX : raw));
        }
    }
    return ML_OK;
}
