#ifndef ML_L2_NORMALIZATION_S8_H
#define ML_L2_NORMALIZATION_S8_H

#include "ml_common.h"

typedef struct {
    int32_t input_zero_point;  /* in [-128, 127] */
} ml_l2_normalization_params;

/*
 * L2_NORMALIZATION over the innermost dimension, int8 in, int8 out, as TFLM's
 * reference_integer_ops::L2Normalization: per row, the sum of squares of (x - zero point),
 * its inverse square root as a multiplier (GetInvSqrtQuantizedMultiplierExp, Newton-Raphson
 * in Q3.28), then each value times that multiplier in output steps of 1/128 (zero point 0).
 * input_dims == output_dims: {n, h, w, c}; c <= 33025 so the sum of squares fits int32.
 */
ml_status ml_l2_normalization_s8(const ml_l2_normalization_params *params,
                                 const ml_dims *input_dims, const int8_t *input,
                                 const ml_dims *output_dims, int8_t *output);

#endif
