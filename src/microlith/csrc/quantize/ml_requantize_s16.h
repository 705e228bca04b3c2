#ifndef ML_REQUANTIZE_S16_H
#define ML_REQUANTIZE_S16_H

#include "ml_common.h"

typedef struct {
    int32_t input_offset;   /* -input zero point */
    int32_t output_offset;  /* output zero point */
    int32_t multiplier;     /* q31 multiplier of input scale / output scale */
    int32_t shift;          /* any sign */
    int32_t act_min;        /* clamp, within the output type's range */
    int32_t act_max;
    int32_t input_bytes;    /* 1, 2 or 4: the input is int8, int16 or int32 */
    int32_t output_bytes;   /* 1, 2 or 4: the output is int8, int16 or int32 */
} ml_requantize_s16_params;

/*
 *   output = clamp(MultiplyByQuantizedMultiplier(input + input_offset) + output_offset,
 *                  act_min, act_max)
 * (the int32 additions wrap, as TFLM's do on every target), the int16 twin of
 * ml_requantize_s8, for two TFLM ops:
 *   QUANTIZE  reference_ops::Requantize<input_type, output_type> (quantize_common.cc) between
 *             integer types where one side is int16 or int32 (int16 <-> int8/int16/int32,
 *             int8 -> int32, int32 -> int8); the clamp is the output type's range;
 *   RELU      ReluQuantized<int16_t>: act_min = max(-32768, output zero point), act_max = 32767.
 * input_dims and output_dims hold the same number of elements (any layout).
 */
ml_status ml_requantize_s16(const ml_requantize_s16_params *params,
                            const ml_dims *input_dims, const void *input,
                            const ml_dims *output_dims, void *output);

#endif
