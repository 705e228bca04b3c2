#ifndef ML_AVGPOOL_S8_H
#define ML_AVGPOOL_S8_H

#include "ml_common.h"

typedef struct {
    int32_t stride_h, stride_w;  /* >= 1 */
    int32_t filter_h, filter_w;  /* >= 1 */
    int32_t pad_h, pad_w;        /* top and left padding, >= 0 (SAME's extra cell goes bottom/right) */
    int32_t act_min, act_max;    /* fused activation clamp, in [-128, 127] */
    /* Division by the full window's count d = filter_h * filter_w as a multiply (0 = divide):
     * for every window sum a in [-128 d, 127 d], with a' = a + 128 d + d / 2 - [a < 0 and d
     * even] (>= 0), TFLM's rounded a / d is (a' * div_mult >> div_shift) - 128. The compiler
     * checks that identity for every a' (ops/pool.py) and that a' * div_mult < 2^32,
     * a' < 2^15 and div_shift >= 16. */
    int32_t div_mult, div_shift;
} ml_avgpool_params;

/*
 * Average pooling, TFLM reference_integer_ops::AveragePool: the average is taken over the
 * window cells inside the input only (padding is not counted) and rounded half away from
 * zero. Input and output share scale and zero point, so no requantization happens.
 * input_dims:  {N, H_in, W_in, C}    output_dims: {N, H_out, W_out, C}; NHWC int8.
 * Returns ML_ARG_ERROR if a window has no cell inside the input.
 */
ml_status ml_avgpool_s8(const ml_avgpool_params *params,
                        const ml_dims *input_dims, const int8_t *input,
                        const ml_dims *output_dims, int8_t *output);

#endif
