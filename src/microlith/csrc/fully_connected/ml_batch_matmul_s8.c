#include "ml_batch_matmul_s8.h"

#include "ml_nn_batch_matmul.h"

/* One M x N product. The sum is taken modulo 2^32 (unsigned, so wrapping is defined), as
 * TFLM's int32 accumulator wraps. */
static void ml_bmm_matrix_s8(const ml_batch_matmul_params *p, const ml_nn_bmm_geometry *g,
                             const int8_t *lhs, const int8_t *rhs, int8_t *out)
{
    for (int32_t i = 0; i < g->rows; ++i) {
        for (int32_t j = 0; j < g->cols; ++j) {
            const int8_t *a = lhs + i * g->l_row;
            const int8_t *b = rhs + j * g->r_col;
            uint32_t acc = 0;
            for (int32_t k = 0; k < g->depth; ++k) {
                acc += (uint32_t)((*a + p->lhs_offset) * (*b + p->rhs_offset));
                a += g->l_k;
                b += g->r_k;
            }
            const int32_t v = ml_nn_requantize((int32_t)acc, p->multiplier, p->shift) + p->output_offset;
            out[i * g->cols + j] = ml_clamp_s8(v, -128, 127);
        }
    }
}

ml_status ml_batch_matmul_s8(const ml_batch_matmul_params *params,
                             const ml_shape_nd *lhs_shape, const int8_t *lhs,
                             const ml_shape_nd *rhs_shape, const int8_t *rhs,
                             const ml_shape_nd *output_shape, int8_t *output)
{
    ml_nn_bmm_geometry g;
    if (ml_nn_bmm_geometry_of(params->adj_x, params->adj_y, lhs_shape, rhs_shape, output_shape, &g) != ML_OK) {
        return ML_ARG_ERROR;
    }
    int32_t index[ML_BMM_MAX_BATCH] = {0};
    int32_t lhs_off = 0, rhs_off = 0;
    for (int32_t b = 0; b < g.batches; ++b) {
        ml_bmm_matrix_s8(params, &g, lhs + lhs_off, rhs + rhs_off, output + b * g.rows * g.cols);
        ml_nn_bmm_next(&g, output_shape, index, &lhs_off, &rhs_off);
    }
    return ML_OK;
}
