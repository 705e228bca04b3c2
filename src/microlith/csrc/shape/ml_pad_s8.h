#ifndef ML_PAD_S8_H
#define ML_PAD_S8_H

#include "ml_common.h"
#include "ml_shape_nd.h"

typedef struct {
    int32_t before[ML_MAX_RANK];  /* cells of padding in front of each dimension, >= 0 */
    int32_t pad_value;            /* the output zero point, in [-128, 127] */
} ml_pad_params;

/*
 * PAD with a constant (TFLM reference_ops::Pad): output[i] = input[i - before] where
 * inside the input, pad_value elsewhere. Same rank for input and output, at least 1; the
 * padding after dimension d is output_shape.dims[d] - input_shape.dims[d] - before[d].
 * Quantization passes through unchanged (bytes are copied).
 */
ml_status ml_pad_s8(const ml_pad_params *params,
                    const ml_shape_nd *input_shape, const int8_t *input,
                    const ml_shape_nd *output_shape, int8_t *output);

#endif
