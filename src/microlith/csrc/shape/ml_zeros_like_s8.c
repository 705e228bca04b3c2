#include "ml_zeros_like_s8.h"

ml_status ml_zeros_like_s8(const ml_zeros_like_params *params, const int8_t *input,
                           int8_t *output)
{
    (void)input;
    if (params->size < 0) {
        return ML_ARG_ERROR;
    }
    memset(output, 0, (size_t)params->size);
    return ML_OK;
}
