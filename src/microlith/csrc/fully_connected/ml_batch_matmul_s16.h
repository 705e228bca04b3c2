#ifndef ML_BATCH_MATMUL_S16_H
#define ML_BATCH_MATMUL_S16_H

#include "ml_common.h"
#include "ml_shape_nd.h"

typedef struct {
    int32_t multiplier;     /* q31 multiplier of lhs scale x rhs scale / output scale */
    int32_t shift;          /* <= 7 */
    int32_t adj_x;          /* 0: lhs is [..., M, K]; 1: lhs is [..., K, M] */
    int32_t adj_y;          /* 0: rhs is [..., K, N]; 1: rhs is [..., N, K] */
} ml_batch_matmul_s16_params;

/*
 * Batched matrix product, int16 x int16 -> int16, zero points 0 (TFLM
 * reference_ops::BatchMatMul<int16_t, int64_t> as batch_matmul.cc calls it, bit for bit):
 *
 *   output[b..., i, j] = clamp(requantize_s64(sum_k lhs(b..., i, k) * rhs(b..., k, j)))
 *
 * summed in int64 and requantized by TFLM's int64 MultiplyByQuantizedMultiplier
 * (ml_nn_requantize_s64.h), clamped to the int16 range. Shapes, layouts and broadcasting as
 * ml_batch_matmul_s8 (ml_batch_matmul_s8.h). The generator guarantees K * 2^30 < 2^47.
 * Returns ML_ARG_ERROR when the shapes do not fit together.
 */
ml_status ml_batch_matmul_s16(const ml_batch_matmul_s16_params *params,
                              const ml_shape_nd *lhs_shape, const int16_t *lhs,
                              const ml_shape_nd *rhs_shape, const int16_t *rhs,
                              const ml_shape_nd *output_shape, int16_t *output);

#endif
