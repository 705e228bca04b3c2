#include "ml_mirror_pad_s8.h"

/* TFLM's GetInputDimension for a padding that stays within the input. */
static int32_t ml_mirror_index(int32_t p, int32_t before, int32_t size, int32_t offset)
{
    if (p < before) {
        return before + offset - 1 - p;
    }
    p -= before;
    if (p >= size) {
        return size - 1 - offset - (p - size);
    }
    return p;
}

ml_status ml_mirror_pad_s8(const ml_mirror_pad_params *params,
                           const ml_shape_nd *input_shape, const int8_t *input,
                           const ml_shape_nd *output_shape, int8_t *output)
{
    const int32_t rank = input_shape->rank;
    const int32_t offset = params->offset;
    const int32_t block = params->block;
    int32_t in_strides[ML_MAX_RANK];
    if (rank < 1 || output_shape->rank != rank || (offset != 0 && offset != 1) || block < 1 ||
        !ml_shape_nd_strides(input_shape, in_strides)) {
        return ML_ARG_ERROR;
    }
    for (int32_t d = 0; d < rank; ++d) {
        const int32_t size = input_shape->dims[d];
        const int32_t before = params->before[d];
        const int32_t after = output_shape->dims[d] - size - before;
        if (size < 1 || before < 0 || after < 0 || before > size - offset || after > size - offset) {
            return ML_ARG_ERROR;
        }
    }
    const int32_t last = rank - 1;
    const int32_t row_n = output_shape->dims[last];
    const int32_t rows = ml_shape_nd_size(output_shape) / row_n;
    const size_t bytes = (size_t)block;
    int32_t idx[ML_MAX_RANK] = {0};
    for (int32_t r = 0; r < rows; ++r) {
        int32_t src = 0;
        for (int32_t d = 0; d < last; ++d) {
            src += ml_mirror_index(idx[d], params->before[d], input_shape->dims[d], offset) *
                   in_strides[d];
        }
        const int8_t *row = input + src * block;
        for (int32_t k = 0; k < row_n; ++k) {
            const int32_t i = ml_mirror_index(k, params->before[last], input_shape->dims[last], offset);
            memcpy(output, row + i * block, bytes);
            output += block;
        }
        for (int32_t d = last - 1; d >= 0; --d) {
            if (++idx[d] < output_shape->dims[d]) {
                break;
            }
            idx[d] = 0;
        }
    }
    return ML_OK;
}
