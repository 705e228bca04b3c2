#ifndef ML_RESIZE_NEAREST_S8_H
#define ML_RESIZE_NEAREST_S8_H

#include "ml_common.h"

typedef struct {
    const int32_t *y_source;  /* [output_dims.h]: input row of each output row */
    const int32_t *x_source;  /* [output_dims.w]: input column of each output column */
} ml_resize_nearest_params;

/*
 * RESIZE_NEAREST_NEIGHBOR (TFLM reference_ops::ResizeNearestNeighbor): output[n][y][x][:] =
 * input[n][y_source[y]][x_source[x]][:]. TFLM computes the source indices in float
 * (GetNearestNeighbor); the generator evaluates that float32 arithmetic once and passes the
 * resulting integer tables, so the kernel has no float. Indices out of range: ML_ARG_ERROR.
 */
ml_status ml_resize_nearest_s8(const ml_resize_nearest_params *params,
                               const ml_dims *input_dims, const int8_t *input,
                               const ml_dims *output_dims, int8_t *output);

#endif
