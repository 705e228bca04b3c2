#include "ml_batch_matmul_s8.h"

#define ML_BMM_MAX_BATCH (ML_MAX_RANK - 2)

/* Element strides of `shape` along each batch dimension of `out`, 0 where it repeats. */
static ml_status ml_bmm_batch_strides(const ml_shape_nd *shape, const ml_shape_nd *out,
                                      int32_t stride[ML_BMM_MAX_BATCH])
{
    const int32_t r = out->rank;
    int32_t step = shape->dims[r - 1] * shape->dims[r - 2];
    for (int32_t d = r - 3; d >= 0; --d) {
        if (shape->dims[d] != out->dims[d] && shape->dims[d] != 1) {
            return ML_ARG_ERROR;
        }
        stride[d] = shape->dims[d] == 1 ? 0 : step;
        step *= shape->dims[d];
    }
    return ML_OK;
}

/* One M x N product. lhs(i, k) = lhs[i * l_row + k * l_k]; rhs(k, j) = rhs[j * r_col + k * r_k].
 * The sum is taken modulo 2^32 (unsigned, so wrapping is defined), as TFLM's int32 wraps. */
static void ml_bmm_matrix(const ml_batch_matmul_params *p, const int8_t *lhs, int32_t l_row, int32_t l_k,
                          const int8_t *rhs, int32_t r_col, int32_t r_k,
                          int32_t rows, int32_t cols, int32_t depth, int8_t *out)
{
    for (int32_t i = 0; i < rows; ++i) {
        for (int32_t j = 0; j < cols; ++j) {
            const int8_t *a = lhs + i * l_row;
            const int8_t *b = rhs + j * r_col;
            uint32_t acc = 0;
            for (int32_t k = 0; k < depth; ++k) {
                acc += (uint32_t)((*a + p->lhs_offset) * (*b + p->rhs_offset));
                a += l_k;
                b += r_k;
            }
            const int32_t v = ml_nn_requantize((int32_t)acc, p->multiplier, p->shift) + p->output_offset;
            out[i * cols + j] = ml_clamp_s8(v, -128, 127);
        }
    }
}

ml_status ml_batch_matmul_s8(const ml_batch_matmul_params *params,
                             const ml_shape_nd *lhs_shape, const int8_t *lhs,
                             const ml_shape_nd *rhs_shape, const int8_t *rhs,
                             const ml_shape_nd *output_shape, int8_t *output)
{
    const ml_batch_matmul_params *p = params;
    const int32_t r = output_shape->rank;
    if (r < 2 || r > ML_MAX_RANK || lhs_shape->rank != r || rhs_shape->rank != r) {
        return ML_ARG_ERROR;
    }
    const int32_t rows = output_shape->dims[r - 2], cols = output_shape->dims[r - 1];
    const int32_t l_rows = p->adj_x ? lhs_shape->dims[r - 1] : lhs_shape->dims[r - 2];
    const int32_t depth = p->adj_x ? lhs_shape->dims[r - 2] : lhs_shape->dims[r - 1];
    const int32_t r_depth = p->adj_y ? rhs_shape->dims[r - 1] : rhs_shape->dims[r - 2];
    const int32_t r_cols = p->adj_y ? rhs_shape->dims[r - 2] : rhs_shape->dims[r - 1];
    int32_t ls[ML_BMM_MAX_BATCH] = {0}, rs[ML_BMM_MAX_BATCH] = {0};
    if (l_rows != rows || r_cols != cols || r_depth != depth ||
        ml_bmm_batch_strides(lhs_shape, output_shape, ls) != ML_OK ||
        ml_bmm_batch_strides(rhs_shape, output_shape, rs) != ML_OK) {
        return ML_ARG_ERROR;
    }
    /* Strides of one matrix: (per output row or column, per k). */
    const int32_t l_row = p->adj_x ? 1 : depth, l_k = p->adj_x ? rows : 1;
    const int32_t r_col = p->adj_y ? depth : 1, r_k = p->adj_y ? 1 : cols;

    int32_t batches = 1;
    for (int32_t d = 0; d < r - 2; ++d) {
        batches *= output_shape->dims[d];
    }
    int32_t index[ML_BMM_MAX_BATCH] = {0};
    int32_t l_off = 0, r_off = 0;
    for (int32_t b = 0; b < batches; ++b) {
        ml_bmm_matrix(p, lhs + l_off, l_row, l_k, rhs + r_off, r_col, r_k, rows, cols, depth,
                      output + b * rows * cols);
        /* Next batch index, last dimension fastest, moving both operand offsets with it. */
        for (int32_t d = r - 3; d >= 0; --d) {
            l_off += ls[d];
            r_off += rs[d];
            if (++index[d] < output_shape->dims[d]) {
                break;
            }
            index[d] = 0;
            l_off -= ls[d] * output_shape->dims[d];
            r_off -= rs[d] * output_shape->dims[d];
        }
    }
    return ML_OK;
}
