#include "ml_lut_s8.h"

ml_status ml_lut_s8(const ml_lut_params *params,
                    const ml_dims *input_dims, const int8_t *input,
                    const ml_dims *output_dims, int8_t *output)
{
    const int32_t n = input_dims->n * input_dims->h * input_dims->w * input_dims->c;
    if (n != output_dims->n * output_dims->h * output_dims->w * output_dims->c) {
        return ML_ARG_ERROR;
    }
    /* Indexed by the signed input: centre of the table. */
    const int8_t *lut = params->table + 128;
    int32_t i = 0;
    /* Four at a time: each element is a load, a table load and a store. */
    for (; i + 4 <= n; i += 4) {
        const int8_t a = lut[input[i]];
        const int8_t b = lut[input[i + 1]];
        const int8_t c = lut[input[i + 2]];
        const int8_t d = lut[input[i + 3]];
        output[i] = a;
        output[i + 1] = b;
        output[i + 2] = c;
        output[i + 3] = d;
    }
    for (; i < n; ++i) {
        output[i] = lut[input[i]];
    }
    return ML_OK;
}
