#include "ml_svdf_s8_s16.h"

/* The stored value of zero point + feature: TFLM converts the int sum to int16 (modulo 2^16). */
static int16_t ml_svdf_wrap_s16(int32_t v)
{
    const int32_t low = (int32_t)((uint32_t)v & 0xFFFFu);
    return (int16_t)(low > INT16_MAX ? low - 65536 : low);
}

ml_status ml_svdf_s8_s16(const ml_svdf_params *params, const int8_t *input, const int8_t *weights_feature,
                         const int16_t *weights_time, const int32_t *bias, int16_t *state,
                         int32_t *scratch, int8_t *output)
{
    const ml_svdf_params p = *params;
    int32_t b, f, m;
    if (!ml_svdf_params_ok(&p)) {
        return ML_ARG_ERROR;
    }
    /* Age every filter's memory by one step: the whole state moves one element down. The last
     * element of each filter then holds the next filter's oldest value, overwritten below. */
    memmove(state, state + 1, (size_t)(p.batches * p.filters * p.memory - 1) * sizeof(int16_t));
    for (b = 0; b < p.batches; ++b) {
        for (f = 0; f < p.filters; ++f) {
            const int32_t dot = ml_svdf_feature_dot(input + b * p.input_size, weights_feature + f * p.input_size,
                                                    p.input_size, p.input_offset);
            int32_t v = ml_nn_requantize(dot, p.feature_multiplier, p.feature_shift);
            v = ml_min_i32(ml_max_i32(v, INT16_MIN), INT16_MAX);
            state[(b * p.filters + f) * p.memory + p.memory - 1] = ml_svdf_wrap_s16(p.state_zero_point + v);
        }
    }
    /* Time dot products, one per batch and filter. */
    for (b = 0; b < p.batches; ++b) {
        for (f = 0; f < p.filters; ++f) {
            const int16_t *s = state + (b * p.filters + f) * p.memory;
            const int16_t *w = weights_time + f * p.memory;
            int32_t acc = 0;
            for (m = 0; m < p.memory; ++m) {
                acc = ml_svdf_add_wrap(acc, (int32_t)w[m] * ((int32_t)s[m] - p.state_zero_point));
            }
            scratch[b * p.filters + f] = acc;
        }
    }
    ml_svdf_reduce_output(&p, bias, scratch, output);
    return ML_OK;
}
