#include "ml_fill_s32.h"

ml_status ml_fill_s32(const ml_fill_params *params, const int32_t *value, int32_t *output)
{
    const int32_t size = params->size;
    if (size < 0) {
        return ML_ARG_ERROR;
    }
    const int32_t v = *value;
    for (int32_t i = 0; i < size; ++i) {
        output[i] = v;
    }
    return ML_OK;
}
