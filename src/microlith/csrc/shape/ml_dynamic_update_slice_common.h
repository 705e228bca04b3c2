/*
 * The one DYNAMIC_UPDATE_SLICE algorithm behind ml_dynamic_update_slice_s8/_s16/_s32, on
 * elements of any size: TFLM dynamic_update_slice.cc EvalImpl, without its recursion.
 */
#ifndef ML_DYNAMIC_UPDATE_SLICE_COMMON_H
#define ML_DYNAMIC_UPDATE_SLICE_COMMON_H

#include "ml_common.h"
#include "ml_shape_nd.h"

typedef struct {
    int32_t start_is_int64;  /* 1: start_indices points to int64_t values, 0: to int32_t */
} ml_dynamic_update_slice_params;

/*
 * output = operand, then output[start + i] = update[i] for every index i of update, where
 * start[d] = clamp(start_indices[d], 0, operand dim d - update dim d) (TFLM's
 * CalculateClampedStartIndices, in int64). start_indices (operand rank values) may be
 * computed at run time. Shapes have one rank, each update dimension <= the operand's.
 */
static inline ml_status ml_nn_dynamic_update_slice(const ml_dynamic_update_slice_params *params,
                                                   const ml_shape_nd *operand_shape,
                                                   const void *operand,
                                                   const ml_shape_nd *update_shape,
                                                   const void *update, const void *start_indices,
                                                   void *output, size_t element_bytes)
{
    const int32_t rank = operand_shape->rank;
    int32_t out_strides[ML_MAX_RANK];
    if (rank < 1 || update_shape->rank != rank || !ml_shape_nd_strides(operand_shape, out_strides)) {
        return ML_ARG_ERROR;
    }
    int32_t start[ML_MAX_RANK];
    for (int32_t d = 0; d < rank; ++d) {
        const int64_t room = (int64_t)operand_shape->dims[d] - update_shape->dims[d];
        if (room < 0 || update_shape->dims[d] < 1) {
            return ML_ARG_ERROR;
        }
        const int64_t s = params->start_is_int64 ? ((const int64_t *)start_indices)[d]
                                                 : (int64_t)((const int32_t *)start_indices)[d];
        start[d] = (int32_t)(s < 0 ? 0 : (s > room ? room : s));
    }
    const size_t total = (size_t)ml_shape_nd_size(operand_shape) * element_bytes;
    if (output != operand) {  /* TFLM skips the copy when it runs in place */
        memcpy(output, operand, total);
    }
    unsigned char *out = (unsigned char *)output;
    const unsigned char *src = (const unsigned char *)update;
    const int32_t last = rank - 1;
    const size_t row_bytes = (size_t)update_shape->dims[last] * element_bytes;
    const int32_t rows = ml_shape_nd_size(update_shape) / update_shape->dims[last];
    int32_t idx[ML_MAX_RANK] = {0};  /* position of the current row in the update */
    for (int32_t r = 0; r < rows; ++r) {
        int32_t offset = start[last];
        for (int32_t d = 0; d < last; ++d) {
            offset += (start[d] + idx[d]) * out_strides[d];
        }
        memcpy(out + (size_t)offset * element_bytes, src, row_bytes);
        src += row_bytes;
        for (int32_t d = last - 1; d >= 0; --d) {
            if (++idx[d] < update_shape->dims[d]) {
                break;
            }
            idx[d] = 0;
        }
    }
    return ML_OK;
}

#endif /* ML_DYNAMIC_UPDATE_SLICE_COMMON_H */
