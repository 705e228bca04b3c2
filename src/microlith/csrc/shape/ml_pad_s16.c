#include "ml_pad_s16.h"

static void ml_pad_s16_fill(int16_t *out, int32_t n, int16_t value)
{
    for (int32_t i = 0; i < n; ++i) {
        out[i] = value;
    }
}

ml_status ml_pad_s16(const ml_pad_params *params,
                     const ml_shape_nd *input_shape, const int16_t *input,
                     const ml_shape_nd *output_shape, int16_t *output)
{
    const int32_t rank = input_shape->rank;
    if (rank < 1 || rank > ML_MAX_RANK || output_shape->rank != rank) {
        return ML_ARG_ERROR;
    }
    for (int32_t d = 0; d < rank; ++d) {
        if (params->before[d] < 0 ||
            params->before[d] + input_shape->dims[d] > output_shape->dims[d]) {
            return ML_ARG_ERROR;
        }
    }
    /* One innermost output row at a time, as ml_pad_s8: a row is all padding or holds the
     * next input row between its own pads, so the input pointer only moves forward. */
    const int32_t last = rank - 1;
    const int32_t row_out = output_shape->dims[last];
    const int32_t row_in = input_shape->dims[last];
    const int32_t row_before = params->before[last];
    const int32_t row_after = row_out - row_in - row_before;
    const int16_t fill = (int16_t)params->pad_value;
    int32_t rows = 1;
    for (int32_t d = 0; d < last; ++d) {
        rows *= output_shape->dims[d];
    }
    int32_t idx[ML_MAX_RANK] = {0};
    for (int32_t r = 0; r < rows; ++r) {
        int inside = 1;
        for (int32_t d = 0; d < last; ++d) {
            const int32_t i = idx[d] - params->before[d];
            if (i < 0 || i >= input_shape->dims[d]) {
                inside = 0;
                break;
            }
        }
        if (inside) {
            ml_pad_s16_fill(output, row_before, fill);
            memcpy(output + row_before, input, (size_t)row_in * sizeof(int16_t));
            ml_pad_s16_fill(output + row_before + row_in, row_after, fill);
            input += row_in;
        } else {
            ml_pad_s16_fill(output, row_out, fill);
        }
        output += row_out;
        for (int32_t d = last - 1; d >= 0; --d) {
            if (++idx[d] < output_shape->dims[d]) {
                break;
            }
            idx[d] = 0;
        }
    }
    return ML_OK;
}
