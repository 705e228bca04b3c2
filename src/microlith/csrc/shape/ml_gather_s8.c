#include "ml_gather_s8.h"

ml_status ml_gather_s8(const ml_gather_params *params, const int8_t *input,
                       const int32_t *indices, int8_t *output)
{
    const int32_t batch = params->batch;
    const int32_t outer = params->outer;
    const int32_t axis_size = params->axis_size;
    const int32_t coords = params->coords;
    const int32_t inner = params->inner;
    if (batch < 1 || outer < 1 || axis_size < 1 || coords < 1 || inner < 1) {
        return ML_ARG_ERROR;
    }
    /* Indices may come from the caller at run time: check them all before writing. */
    for (int32_t k = 0; k < batch * coords; ++k) {
        if (indices[k] < 0 || indices[k] >= axis_size) {
            return ML_ARG_ERROR;
        }
    }
    const size_t row = (size_t)inner;
    for (int32_t b = 0; b < batch; ++b) {
        const int32_t *index = indices + b * coords;
        for (int32_t o = 0; o < outer; ++o) {
            const int8_t *plane = input + (b * outer + o) * axis_size * inner;
            for (int32_t c = 0; c < coords; ++c) {
                memcpy(output, plane + index[c] * inner, row);
                output += inner;
            }
        }
    }
    return ML_OK;
}
