#ifndef ML_BATCH_MATMUL_S8_H
#define ML_BATCH_MATMUL_S8_H

#include "ml_common.h"
#include "ml_shape_nd.h"

typedef struct {
    int32_t lhs_offset;     /* -lhs zero point, in [-127, 128] */
    int32_t rhs_offset;     /* -rhs zero point, in [-127, 128] */
    int32_t output_offset;  /* output zero point, in [-128, 127] */
    int32_t multiplier;     /* q31 multiplier of lhs scale x rhs scale / output scale */
    int32_t shift;
    int32_t adj_x;          /* 0: lhs is [..., M, K]; 1: lhs is [..., K, M] */
    int32_t adj_y;          /* 0: rhs is [..., K, N]; 1: rhs is [..., N, K] */
} ml_batch_matmul_params;

/*
 * Batched matrix product, int8 x int8 -> int8, per-tensor quantization (TFLM
 * reference_ops::BatchMatMul<int8_t, int32_t> as batch_matmul.cc calls it, bit for bit):
 *
 *   output[b..., i, j] = clamp(requantize(sum_k (lhs(b..., i, k) + lhs_offset) *
 *                                               (rhs(b..., k, j) + rhs_offset)) + output_offset)
 *
 * clamped to [-128, 127] (BATCH_MATMUL has no fused activation). The three shapes have the
 * same rank r in [2, ML_MAX_RANK] (the generator pads the shorter operand with leading 1s);
 * each of the r - 2 batch dimensions of lhs and rhs equals the output's or is 1 (repeated,
 * numpy broadcasting). output is [b..., M, N], row-major. The int32 sum wraps like TFLM's
 * (it is computed modulo 2^32, so the order of the terms does not matter). Reads are
 * contiguous in k for lhs with adj_x = 0 and rhs with adj_y = 1 (the layout TFLM transposes
 * rhs into); cores with the DSP extension then take four values a step (SMLAD).
 *
 * scratch: with adj_y = 0, NULL (rhs is read with strides) or K * N bytes, where each rhs
 * matrix is transposed first, as TFLM does; ignored with adj_y = 1. The results are the same.
 * Returns ML_ARG_ERROR when the shapes do not fit together.
 */
#define ML_BATCH_MATMUL_S8_SCRATCH_BYTES(depth, cols) ((depth) * (cols))

ml_status ml_batch_matmul_s8(const ml_batch_matmul_params *params, void *scratch,
                             const ml_shape_nd *lhs_shape, const int8_t *lhs,
                             const ml_shape_nd *rhs_shape, const int8_t *rhs,
                             const ml_shape_nd *output_shape, int8_t *output);

#endif
