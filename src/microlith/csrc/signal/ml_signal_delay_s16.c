#include "ml_signal_delay_s16.h"

ml_status ml_signal_delay_s16(const ml_signal_delay_params *params, const int16_t *input,
                              int16_t *output, int16_t *state)
{
    const int32_t n = params->frame_size, d = params->delay_length;
    if (n < 0 || d < 0) {
        return ML_ARG_ERROR;
    }
    for (int32_t r = 0; r < params->rows; ++r) {
        const int16_t *in = input + r * n;
        int16_t *out = output + r * n;
        int16_t *line = state + r * d;
        /* stream[k] = k < d ? line[k] : in[k - d] */
        for (int32_t k = 0; k < n; ++k) {
            out[k] = k < d ? line[k] : in[k - d];
        }
        /* ascending k reads line[n + k] before anything writes it (k < n + k) */
        for (int32_t k = 0; k < d; ++k) {
            line[k] = n + k < d ? line[n + k] : in[n + k - d];
        }
    }
    return ML_OK;
}
