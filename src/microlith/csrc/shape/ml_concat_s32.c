#include "ml_concat_s32.h"

ml_status ml_concat_s32(const ml_concat_params *params,
                        const ml_dims *const *input_dims, const int32_t *const *inputs,
                        const ml_dims *output_dims, int32_t *output)
{
    const int32_t outer = output_dims->w;
    int32_t total = 0;
    for (int32_t i = 0; i < params->num_inputs; ++i) {
        if (input_dims[i]->w != outer) {
            return ML_ARG_ERROR;
        }
        total += input_dims[i]->c;
    }
    if (total != output_dims->c) {
        return ML_ARG_ERROR;
    }
    for (int32_t o = 0; o < outer; ++o) {
        for (int32_t i = 0; i < params->num_inputs; ++i) {
            const int32_t block = input_dims[i]->c;
            memcpy(output, inputs[i] + o * block, (size_t)block * sizeof(int32_t));
            output += block;
        }
    }
    return ML_OK;
}
