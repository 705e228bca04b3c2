#include "ml_batch_matmul_s16.h"

#include "ml_nn_batch_matmul.h"
#include "ml_nn_requantize_s64.h"

static void ml_bmm_matrix_s16(const ml_batch_matmul_s16_params *p, const ml_nn_bmm_geometry *g,
                              const int16_t *lhs, const int16_t *rhs, int16_t *out)
{
    for (int32_t i = 0; i < g->rows; ++i) {
        for (int32_t j = 0; j < g->cols; ++j) {
            const int16_t *a = lhs + i * g->l_row;
            const int16_t *b = rhs + j * g->r_col;
            int64_t acc = 0;
            for (int32_t k = 0; k < g->depth; ++k) {
                acc += (int32_t)*a * (int32_t)*b;
                a += g->l_k;
                b += g->r_k;
            }
            const int32_t v = ml_nn_requantize_s64(acc, p->multiplier, p->shift);
            out[i * g->cols + j] = (int16_t)(v < -32768 ? -32768 : (v > 32767 ? 32767 : v));
        }
    }
}

ml_status ml_batch_matmul_s16(const ml_batch_matmul_s16_params *params,
                              const ml_shape_nd *lhs_shape, const int16_t *lhs,
                              const ml_shape_nd *rhs_shape, const int16_t *rhs,
                              const ml_shape_nd *output_shape, int16_t *output)
{
    ml_nn_bmm_geometry g;
    if (ml_nn_bmm_geometry_of(params->adj_x, params->adj_y, lhs_shape, rhs_shape, output_shape, &g) != ML_OK) {
        return ML_ARG_ERROR;
    }
    int32_t index[ML_BMM_MAX_BATCH] = {0};
    int32_t lhs_off = 0, rhs_off = 0;
    for (int32_t b = 0; b < g.batches; ++b) {
        ml_bmm_matrix_s16(params, &g, lhs + lhs_off, rhs + rhs_off, output + b * g.rows * g.cols);
        ml_nn_bmm_next(&g, output_shape, index, &lhs_off, &rhs_off);
    }
    return ML_OK;
}
