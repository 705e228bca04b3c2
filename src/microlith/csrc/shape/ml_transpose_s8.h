#ifndef ML_TRANSPOSE_S8_H
#define ML_TRANSPOSE_S8_H

#include "ml_common.h"
#include "ml_shape_nd.h"

typedef struct {
    int32_t perm[ML_MAX_RANK];  /* output dimension d is input dimension perm[d] */
} ml_transpose_params;

/*
 * TRANSPOSE (TFLM reference_ops::Transpose): output[i_0..i_r] = input[j] with
 * j[perm[d]] = i[d]. Same rank for input and output, at least 1;
 * output_shape.dims[d] == input_shape.dims[perm[d]]. Bytes are copied.
 */
ml_status ml_transpose_s8(const ml_transpose_params *params,
                          const ml_shape_nd *input_shape, const int8_t *input,
                          const ml_shape_nd *output_shape, int8_t *output);

#endif
