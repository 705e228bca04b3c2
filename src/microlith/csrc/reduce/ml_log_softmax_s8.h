#ifndef ML_LOG_SOFTMAX_S8_H
#define ML_LOG_SOFTMAX_S8_H

#include "ml_common.h"
#include "ml_fixedpoint.h"

typedef struct {
    int32_t input_multiplier;            /* input_scale * 2^26 as a Q31 mantissa ... */
    int32_t input_left_shift;            /* ... and its exponent, in [1, 31] */
    int32_t reverse_scaling_divisor;     /* the inverse of that scaling as a Q31 mantissa ... */
    int32_t reverse_scaling_left_shift;  /* ... and its exponent, <= 0 */
    int32_t diff_min;                    /* differences below this (<= 0) do not enter the sum */
} ml_log_softmax_params;

/*
 * LOG_SOFTMAX over the innermost dimension, int8 in, int8 out, as TFLM's
 * reference_ops::LogSoftmaxQuantized: per row, the sum of exp(diff) over differences from the
 * row maximum in Q12.19, its log in Q5.26, then (diff - log) in output steps of 16/256.
 * Output quantization is fixed: scale 16/256, zero point 127.
 * input_dims == output_dims: {n, h, w, c}; each of the n*h*w rows of c values is one softmax.
 * c < 4096, so the sum of exponentials stays below 2^31.
 */
ml_status ml_log_softmax_s8(const ml_log_softmax_params *params,
                            const ml_dims *input_dims, const int8_t *input,
                            const ml_dims *output_dims, int8_t *output);

#endif
