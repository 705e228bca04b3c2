#include "ml_reduce_min_max_s8.h"

/* One innermost row: folded into one output (reduced) or into a row of outputs (kept). */
static void ml_reduce_row(int32_t is_max, int32_t reduced, const int8_t *in, int32_t n, int8_t *out)
{
    if (reduced) {
        int8_t best = *out;
        for (int32_t k = 0; k < n; ++k) {
            if (is_max ? in[k] > best : in[k] < best) {
                best = in[k];
            }
        }
        *out = best;
    } else {
        for (int32_t k = 0; k < n; ++k) {
            if (is_max ? in[k] > out[k] : in[k] < out[k]) {
                out[k] = in[k];
            }
        }
    }
}

ml_status ml_reduce_min_max_s8(const ml_reduce_min_max_params *params,
                               const ml_shape_nd *input_shape, const int8_t *input,
                               const ml_shape_nd *output_shape, int8_t *output)
{
    const int32_t rank = input_shape->rank;
    if (rank < 0 || rank > ML_MAX_RANK) {
        return ML_ARG_ERROR;
    }
    /* Output stride of each input dimension; 0 for the reduced ones. */
    int32_t out_stride[ML_MAX_RANK];
    int32_t num_out = 1;
    for (int32_t i = rank - 1; i >= 0; --i) {
        const int32_t reduced = (params->reduce_mask >> i) & 1;
        out_stride[i] = reduced ? 0 : num_out;
        num_out *= reduced ? 1 : input_shape->dims[i];
    }
    if (num_out != ml_shape_nd_size(output_shape)) {
        return ML_ARG_ERROR;
    }
    const int8_t init = params->is_max ? INT8_MIN : INT8_MAX;
    for (int32_t o = 0; o < num_out; ++o) {
        output[o] = init;
    }
    if (rank == 0) {
        ml_reduce_row(params->is_max, 0, input, 1, output);
        return ML_OK;
    }
    const int32_t row = input_shape->dims[rank - 1];
    const int32_t rows = row > 0 ? ml_shape_nd_size(input_shape) / row : 0;
    const int32_t row_reduced = (params->reduce_mask >> (rank - 1)) & 1;
    int32_t idx[ML_MAX_RANK] = {0};
    int32_t o = 0;
    for (int32_t r = 0; r < rows; ++r) {
        ml_reduce_row(params->is_max, row_reduced, input + r * row, row, output + o);
        for (int32_t d = rank - 2; d >= 0; --d) {  /* next row: step the outer index */
            o += out_stride[d];
            if (++idx[d] < input_shape->dims[d]) {
                break;
            }
            o -= input_shape->dims[d] * out_stride[d];
            idx[d] = 0;
        }
    }
    return ML_OK;
}
