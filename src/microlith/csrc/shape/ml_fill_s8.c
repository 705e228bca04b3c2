#include "ml_fill_s8.h"

ml_status ml_fill_s8(const ml_fill_params *params, const int8_t *value, int8_t *output)
{
    if (params->size < 0) {
        return ML_ARG_ERROR;
    }
    memset(output, *value, (size_t)params->size);
    return ML_OK;
}
