#ifndef ML_MAXPOOL_S8_H
#define ML_MAXPOOL_S8_H

#include "ml_common.h"

typedef struct {
    int32_t stride_h, stride_w;  /* >= 1 */
    int32_t filter_h, filter_w;  /* >= 1 */
    int32_t pad_h, pad_w;        /* top and left padding, >= 0 */
    int32_t act_min, act_max;    /* fused activation clamp, in [-128, 127] */
} ml_maxpool_params;

/*
 * Max pooling, TFLM reference_integer_ops::MaxPool: the maximum over the window cells
 * inside the input (padding never wins), then the activation clamp. Input and output
 * share scale and zero point.
 * input_dims:  {N, H_in, W_in, C}    output_dims: {N, H_out, W_out, C}; NHWC int8.
 * A window with no cell inside the input yields the clamp of -128, as in TFLM.
 */
ml_status ml_maxpool_s8(const ml_maxpool_params *params,
                        const ml_dims *input_dims, const int8_t *input,
                        const ml_dims *output_dims, int8_t *output);

#endif
