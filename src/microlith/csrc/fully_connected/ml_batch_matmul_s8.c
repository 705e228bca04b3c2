#include "ml_batch_matmul_s8.h"

#include "ml_nn_batch_matmul.h"
#include "ml_nn_dsp.h"

/* Sum over k of (a[k * a_step] + a_offset) * (b[k * b_step] + b_offset), modulo 2^32 (unsigned,
 * so wrapping is defined) as TFLM's int32 accumulator wraps. */
static inline uint32_t ml_bmm_dot_s8(const int8_t *a, int32_t a_step, int32_t a_offset,
                                     const int8_t *b, int32_t b_step, int32_t b_offset, int32_t n)
{
    uint32_t acc = 0;
    int32_t k = 0;
#if defined(ML_NN_DSP)
    if (a_step == 1 && b_step == 1) {
        /* Both rows contiguous: four values a step. SXTAB16 adds an offset to two values at once
         * (|x + offset| <= 255 fits a halfword) and SMLAD adds both products modulo 2^32. */
        const int32_t a_offsets = ml_dsp_pair16(a_offset), b_offsets = ml_dsp_pair16(b_offset);
        int32_t acc4 = 0;
        for (; k + 4 <= n; k += 4) {
            const int32_t x = ml_dsp_read_s8x4(a + k);
            const int32_t y = ml_dsp_read_s8x4(b + k);
            acc4 = ml_dsp_smlad(ml_dsp_sxtab16(a_offsets, x), ml_dsp_sxtab16(b_offsets, y), acc4);
            acc4 = ml_dsp_smlad(ml_dsp_sxtab16_ror8(a_offsets, x), ml_dsp_sxtab16_ror8(b_offsets, y), acc4);
        }
        acc = (uint32_t)acc4;
    }
#endif
    a += k * a_step;
    b += k * b_step;
    for (; k < n; ++k) {
        acc += (uint32_t)((*a + a_offset) * (*b + b_offset));
        a += a_step;
        b += b_step;
    }
    return acc;
}

/* One M x N product. */
static void ml_bmm_matrix_s8(const ml_batch_matmul_params *p, const ml_nn_bmm_geometry *g,
                             const int8_t *lhs, const int8_t *rhs, int32_t r_col, int32_t r_k, int8_t *out)
{
    for (int32_t i = 0; i < g->rows; ++i) {
        for (int32_t j = 0; j < g->cols; ++j) {
            const uint32_t acc = ml_bmm_dot_s8(lhs + i * g->l_row, g->l_k, p->lhs_offset,
                                               rhs + j * r_col, r_k, p->rhs_offset, g->depth);
            const int32_t v = ML_NN_REQUANTIZE((int32_t)acc, p->multiplier, p->shift) + p->output_offset;
            out[i * g->cols + j] = ml_clamp_s8(v, -128, 127);
        }
    }
}

/* rhs [K, N] as [N, K] in `dst`: what TFLM's TransposeRowsColumns does before its product. */
static void ml_bmm_transpose_s8(const int8_t *src, int32_t depth, int32_t cols, int8_t *dst)
{
    for (int32_t j = 0; j < cols; ++j) {
        for (int32_t k = 0; k < depth; ++k) {
            dst[j * depth + k] = src[k * cols + j];
        }
    }
}

ml_status ml_batch_matmul_s8(const ml_batch_matmul_params *params, void *scratch,
                             const ml_shape_nd *lhs_shape, const int8_t *lhs,
                             const ml_shape_nd *rhs_shape, const int8_t *rhs,
                             const ml_shape_nd *output_shape, int8_t *output)
{
    ml_nn_bmm_geometry g;
    if (ml_nn_bmm_geometry_of(params->adj_x, params->adj_y, lhs_shape, rhs_shape, output_shape, &g) != ML_OK) {
        return ML_ARG_ERROR;
    }
    /* A non-adjoint rhs is copied one row per output column, so the dot products read both
     * operands contiguously; each rhs matrix once (broadcast batches reuse the copy). */
    int8_t *rhs_t = params->adj_y ? NULL : (int8_t *)scratch;
    int32_t index[ML_BMM_MAX_BATCH] = {0};
    int32_t lhs_off = 0, rhs_off = 0, copied = -1;
    for (int32_t b = 0; b < g.batches; ++b) {
        int8_t *out = output + b * g.rows * g.cols;
        if (rhs_t != NULL) {
            if (rhs_off != copied) {
                ml_bmm_transpose_s8(rhs + rhs_off, g.depth, g.cols, rhs_t);
                copied = rhs_off;
            }
            ml_bmm_matrix_s8(params, &g, lhs + lhs_off, rhs_t, g.depth, 1, out);
        } else {
            ml_bmm_matrix_s8(params, &g, lhs + lhs_off, rhs + rhs_off, g.r_col, g.r_k, out);
        }
        ml_nn_bmm_next(&g, output_shape, index, &lhs_off, &rhs_off);
    }
    return ML_OK;
}
