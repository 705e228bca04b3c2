#ifndef ML_REQUANTIZE_S8_H
#define ML_REQUANTIZE_S8_H

#include "ml_common.h"

typedef struct {
    int32_t input_offset;   /* -input zero point, in [-127, 128] */
    int32_t output_offset;  /* output zero point, in [-128, 127] */
    int32_t multiplier;     /* q31 multiplier of input scale / output scale */
    int32_t shift;          /* any sign */
    int32_t act_min;        /* clamp, in the output's int8 domain */
    int32_t act_max;
} ml_requantize_params;

/*
 * output = clamp(requantize(input + input_offset) + output_offset, act_min, act_max)
 *
 * One kernel for three TFLM int8 ops that share this arithmetic:
 *   RELU      ReluQuantized: act_min = max(-128, output zero point), act_max = 127;
 *   RELU6     Relu6Quantized, a plain clamp to [zero, six] in the input's quantization: the
 *             identity multiplier (2^30, shift 1) with output_offset = -input_offset;
 *   QUANTIZE  int8 -> int8 Requantize: act_min = -128, act_max = 127.
 * input_dims and output_dims hold the same number of elements (any layout).
 */
ml_status ml_requantize_s8(const ml_requantize_params *params,
                           const ml_dims *input_dims, const int8_t *input,
                           const ml_dims *output_dims, int8_t *output);

#endif
