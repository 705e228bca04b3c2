#include "ml_dsp_motion_gravity_s16.h"

ml_status ml_dsp_motion_gravity_s16(const ml_dsp_motion_gravity_params *params, const int16_t *x,
                                    uint32_t axis, int32_t *d)
{
    const uint32_t n = params->n;
    const uint32_t stride = params->axes;
    const int64_t alpha = params->alpha_q30;
    if (n < 4U || n > 16384U || axis >= stride || alpha <= 0 || alpha >= (1LL << 30)) {
        return ML_ARG_ERROR;
    }
    int64_t sum = 0;
    for (uint32_t i = 0; i < n; ++i) {
        sum += (int64_t)x[i * stride + axis];
    }
    /* round_half_up(sum * 2^15 / n) = floor((2 sum 2^15 + n) / (2 n)); C division truncates,
     * so a negative quotient with a remainder is one less. */
    const int64_t num = sum * 65536 + (int64_t)n;
    const int64_t den = 2 * (int64_t)n;
    int64_t g = num / den;
    if (num % den != 0 && num < 0) {
        g -= 1;
    }
    for (uint32_t i = 0; i < n; ++i) {
        /* |X - g| < 2^31 (g stays between its start and the samples), so the product < 2^61. */
        const int64_t big = (int64_t)x[i * stride + axis] * 32768;
        const int64_t v = alpha * (big - g);
        g += (v >> 30) + ((v >> 29) & 1);
        d[i] = (int32_t)(big - g);
    }
    return ML_OK;
}
