#include "ml_gather_nd_s8.h"

ml_status ml_gather_nd_s8(const ml_gather_nd_params *params, const int8_t *input,
                          const int32_t *indices, int8_t *output)
{
    const int32_t depth = params->depth;
    const int32_t slice = params->slice_size;
    if (depth < 1 || depth > ML_GATHER_ND_MAX_DEPTH || slice < 1 || params->slices < 0) {
        return ML_ARG_ERROR;
    }
    for (int32_t i = 0; i < params->slices; ++i) {
        /* int64: indices come from the caller and may be anything */
        int64_t from = 0;
        for (int32_t j = 0; j < depth; ++j) {
            from += (int64_t)indices[i * depth + j] * params->stride[j];
        }
        if (from < 0 || from + slice > params->params_size) {
            return ML_ARG_ERROR;
        }
        memcpy(output + i * slice, input + from, (size_t)slice);
    }
    return ML_OK;
}
