#include "ml_transpose_s16.h"

ml_status ml_transpose_s16(const ml_transpose_params *params,
                           const ml_shape_nd *input_shape, const int16_t *input,
                           const ml_shape_nd *output_shape, int16_t *output)
{
    ml_transpose_walk w;
    if (!ml_transpose_walk_of(&w, params->perm, input_shape, output_shape)) {
        return ML_ARG_ERROR;
    }
    if (w.total == 0) {
        return ML_OK;
    }
    ml_transpose_walk_copy(&w, input, output, (int32_t)sizeof(int16_t));
    return ML_OK;
}
