#include "ml_transpose_s16.h"

ml_status ml_transpose_s16(const ml_transpose_params *params,
                           const ml_shape_nd *input_shape, const int16_t *input,
                           const ml_shape_nd *output_shape, int16_t *output)
{
    const int32_t rank = input_shape->rank;
    int32_t in_strides[ML_MAX_RANK];
    if (rank < 1 || output_shape->rank != rank || !ml_shape_nd_strides(input_shape, in_strides)) {
        return ML_ARG_ERROR;
    }
    int32_t step[ML_MAX_RANK];  /* input elements between neighbours along output dimension d */
    for (int32_t d = 0; d < rank; ++d) {
        const int32_t p = params->perm[d];
        if (p < 0 || p >= rank || input_shape->dims[p] != output_shape->dims[d]) {
            return ML_ARG_ERROR;
        }
        step[d] = in_strides[p];
    }
    const int32_t last = rank - 1;
    const int32_t inner_n = output_shape->dims[last];
    const int32_t inner_step = step[last];
    const int32_t total = ml_shape_nd_size(output_shape);
    if (total == 0) {
        return ML_OK;
    }
    const int32_t rows = total / inner_n;
    int32_t idx[ML_MAX_RANK] = {0};
    int32_t base = 0;
    for (int32_t r = 0; r < rows; ++r) {
        const int16_t *p = input + base;
        for (int32_t k = 0; k < inner_n; ++k) {
            output[k] = p[k * inner_step];
        }
        output += inner_n;
        /* Odometer over the outer output dimensions. */
        for (int32_t d = last - 1; d >= 0; --d) {
            base += step[d];
            if (++idx[d] < output_shape->dims[d]) {
                break;
            }
            base -= output_shape->dims[d] * step[d];
            idx[d] = 0;
        }
    }
    return ML_OK;
}
