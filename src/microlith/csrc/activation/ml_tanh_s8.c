#include "ml_tanh_s8.h"

ml_status ml_tanh_s8(const ml_tanh_params *params, const ml_dims *input_dims, const int8_t *input,
                     const ml_dims *output_dims, int8_t *output)
{
    const int32_t size = input_dims->n * input_dims->h * input_dims->w * input_dims->c;
    int32_t i;
    if (output_dims->n * output_dims->h * output_dims->w * output_dims->c != size) {
        return ML_ARG_ERROR;
    }
    for (i = 0; i < size; ++i) {
        const int32_t x = (int32_t)input[i] - params->input_zero_point;
        if (x <= -params->input_range_radius) {
            output[i] = INT8_MIN;
        } else if (x >= params->input_range_radius) {
            output[i] = INT8_MAX;
        } else {
            /* Inside the radius x * 2^shift stays below 15 * 2^27: no overflow in Q4.27. */
            const int32_t x_q4 = ml_nn_requantize(x, params->input_multiplier, params->input_left_shift);
            const int32_t y_q0 = ml_fp_tanh(x_q4, 4);
            /* Q0.31 -> units of 1/128 (zero point 0). */
            output[i] = ml_clamp_s8(ml_nn_divide_by_pot(y_q0, 24), INT8_MIN, INT8_MAX);
        }
    }
    return ML_OK;
}
