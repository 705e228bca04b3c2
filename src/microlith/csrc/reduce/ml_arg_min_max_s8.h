#ifndef ML_ARG_MIN_MAX_S8_H
#define ML_ARG_MIN_MAX_S8_H

#include "ml_common.h"
#include "ml_shape_nd.h"

typedef struct {
    int32_t is_max;  /* 1: ARG_MAX, 0: ARG_MIN */
} ml_arg_min_max_params;

/*
 * ARG_MAX / ARG_MIN of int8 along one axis, writing int32 indices, as TFLM's
 * reference_ops::ArgMinMax: the first extreme wins (strict comparison), so ties give the
 * lowest index. Values are compared raw; quantization does not change their order.
 * input_shape:  rank 3, {outer, axis_size, inner} (dimensions before / along / after the axis).
 * output_shape: rank 2, {outer, inner}.
 */
ml_status ml_arg_min_max_s8(const ml_arg_min_max_params *params,
                            const ml_shape_nd *input_shape, const int8_t *input,
                            const ml_shape_nd *output_shape, int32_t *output);

#endif
