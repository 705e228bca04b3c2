/*
 * The geometry both BATCH_MATMUL kernels (ml_batch_matmul_s8, ml_batch_matmul_s16) share:
 * matrix sizes, the strides that read lhs / rhs in either layout (adj_x, adj_y), and the walk
 * over the broadcast batch dimensions. Shapes as ml_shape_nd, all three of the same rank r in
 * [2, ML_MAX_RANK]; each batch dimension of lhs and rhs equals the output's or is 1.
 */
#ifndef ML_NN_BATCH_MATMUL_H
#define ML_NN_BATCH_MATMUL_H

#include "ml_common.h"
#include "ml_shape_nd.h"

#define ML_BMM_MAX_BATCH (ML_MAX_RANK - 2)

typedef struct {
    int32_t rows, cols, depth;    /* output M x N, K values summed */
    int32_t l_row, l_k;           /* lhs(i, k) = lhs[i * l_row + k * l_k] */
    int32_t r_col, r_k;           /* rhs(k, j) = rhs[j * r_col + k * r_k] */
    int32_t batches;              /* product of the output's batch dimensions */
    int32_t lhs_stride[ML_BMM_MAX_BATCH];  /* per batch dimension, 0 where the operand repeats */
    int32_t rhs_stride[ML_BMM_MAX_BATCH];
} ml_nn_bmm_geometry;

static inline ml_status ml_nn_bmm_batch_strides(const ml_shape_nd *shape, const ml_shape_nd *out,
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

/* Fills `g`; ML_ARG_ERROR when the shapes do not fit together. */
static inline ml_status ml_nn_bmm_geometry_of(int32_t adj_x, int32_t adj_y, const ml_shape_nd *lhs,
                                              const ml_shape_nd *rhs, const ml_shape_nd *out,
                                              ml_nn_bmm_geometry *g)
{
    const int32_t r = out->rank;
    if (r < 2 || r > ML_MAX_RANK || lhs->rank != r || rhs->rank != r) {
        return ML_ARG_ERROR;
    }
    g->rows = out->dims[r - 2];
    g->cols = out->dims[r - 1];
    g->depth = adj_x ? lhs->dims[r - 2] : lhs->dims[r - 1];
    const int32_t l_rows = adj_x ? lhs->dims[r - 1] : lhs->dims[r - 2];
    const int32_t r_depth = adj_y ? rhs->dims[r - 1] : rhs->dims[r - 2];
    const int32_t r_cols = adj_y ? rhs->dims[r - 2] : rhs->dims[r - 1];
    if (l_rows != g->rows || r_cols != g->cols || r_depth != g->depth ||
        ml_nn_bmm_batch_strides(lhs, out, g->lhs_stride) != ML_OK ||
        ml_nn_bmm_batch_strides(rhs, out, g->rhs_stride) != ML_OK) {
        return ML_ARG_ERROR;
    }
    g->l_row = adj_x ? 1 : g->depth;
    g->l_k = adj_x ? g->rows : 1;
    g->r_col = adj_y ? g->depth : 1;
    g->r_k = adj_y ? 1 : g->cols;
    g->batches = 1;
    for (int32_t d = 0; d < r - 2; ++d) {
        g->batches *= out->dims[d];
    }
    return ML_OK;
}

/* Steps the batch index (last dimension fastest) and both operands' offsets to the next matrix. */
static inline void ml_nn_bmm_next(const ml_nn_bmm_geometry *g, const ml_shape_nd *out,
                                  int32_t index[ML_BMM_MAX_BATCH], int32_t *lhs_off, int32_t *rhs_off)
{
    for (int32_t d = out->rank - 3; d >= 0; --d) {
        *lhs_off += g->lhs_stride[d];
        *rhs_off += g->rhs_stride[d];
        if (++index[d] < out->dims[d]) {
            return;
        }
        index[d] = 0;
        *lhs_off -= g->lhs_stride[d] * out->dims[d];
        *rhs_off -= g->rhs_stride[d] * out->dims[d];
    }
}

#endif /* ML_NN_BATCH_MATMUL_H */
