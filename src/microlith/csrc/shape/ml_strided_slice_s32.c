#include "ml_strided_slice_s32.h"

ml_status ml_strided_slice_s32(const ml_strided_slice_params *params,
                               const ml_shape_nd *input_shape, const int32_t *input,
                               const ml_shape_nd *output_shape, int32_t *output)
{
    const int32_t rank = input_shape->rank;
    int32_t in_strides[ML_MAX_RANK];
    if (rank < 1 || output_shape->rank != rank || !ml_shape_nd_strides(input_shape, in_strides)) {
        return ML_ARG_ERROR;
    }
    int32_t step[ML_MAX_RANK];  /* input elements between two consecutive outputs along d */
    int32_t base = 0;
    for (int32_t d = 0; d < rank; ++d) {
        const int32_t n = output_shape->dims[d];
        if (n == 0) {
            return ML_OK;
        }
        const int32_t first = params->begin[d];
        const int32_t last_index = first + (n - 1) * params->stride[d];
        if (first < 0 || first >= input_shape->dims[d] || last_index < 0 ||
            last_index >= input_shape->dims[d]) {
            return ML_ARG_ERROR;
        }
        step[d] = params->stride[d] * in_strides[d];
        base += first * in_strides[d];
    }
    const int32_t last = rank - 1;
    const int32_t inner_n = output_shape->dims[last];
    const int32_t inner_step = step[last];
    const int32_t rows = ml_shape_nd_size(output_shape) / inner_n;
    int32_t idx[ML_MAX_RANK] = {0};
    for (int32_t r = 0; r < rows; ++r) {
        const int32_t *p = input + base;
        if (inner_step == 1) {
            memcpy(output, p, (size_t)inner_n * sizeof(int32_t));
        } else {
            for (int32_t k = 0; k < inner_n; ++k) {
                output[k] = p[k * inner_step];
            }
        }
        output += inner_n;
        /* Odometer over the outer dimensions: advance the innermost that has room left. */
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
