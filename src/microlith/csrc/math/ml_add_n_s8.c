#include "ml_add_n_s8.h"

/* (x + offset) << left_shift, rescaled: |x + offset| <= 255, so the shift stays below 2^28. */
static inline int32_t ml_add_n_term(const ml_add_n_params *p, int32_t x)
{
    return ml_nn_requantize(x * (1 << p->left_shift), p->input_multiplier, p->input_shift);
}

ml_status ml_add_n_s8(const ml_add_n_params *params,
                      const ml_dims *input_dims, const int8_t *const *inputs,
                      const ml_dims *output_dims, int8_t *output)
{
    const int32_t n = input_dims->n * input_dims->h * input_dims->w * input_dims->c;
    if (n != output_dims->n * output_dims->h * output_dims->w * output_dims->c ||
        params->num_inputs < 2 || params->num_inputs > 15) {
        return ML_ARG_ERROR;
    }
    const ml_add_n_params *p = params;
    const int32_t first = ml_add_n_term(p, p->input_offset);
    for (int32_t i = 0; i < n; ++i) {
        int32_t sum = first;
        for (int32_t k = 0; k < p->num_inputs; ++k) {
            sum += ml_add_n_term(p, (int32_t)inputs[k][i] + p->input_offset);
        }
        const int32_t out = ml_nn_requantize(sum, p->output_multiplier, p->output_shift) + p->output_offset;
        output[i] = ml_clamp_s8(out, -128, 127);
    }
    return ML_OK;
}
