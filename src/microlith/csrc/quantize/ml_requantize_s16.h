#ifndef ML_REQUANTIZE_S16_H
#define ML_REQUANTIZE_S16_H

#include "ml_common.h"

typedef struct {
    int32_t input_offset;   /* -input zero point */
    int32_t output_offset;  /* output zero point */
    int32_t multiplier;     /* q31 multiplier of input scale / output scale */
    int32_t shift;          /* any sign */
    int32_t input_bytes;    /* 1, 2 or 4: the input is int8, int16 or int32 */
    int32_t output_bytes;   /* 1, 2 or 4: the output is int8, int16 or int32 */
} ml_requantize_s16_params;

/*
 * QUANTIZE between integer types where one side is int16 or int32: TFLM's
 * reference_ops::Requantize<input_type, output_type> (quantize_common.cc) for int16 -> int8,
 * int8 -> int16, int16 -> int16, int16 -> int32 and int32 -> int16:
 *   output = clamp(MultiplyByQuantizedMultiplier(input + input_offset) + output_offset)
 * to the output type's range (the int32 subtraction wraps, as TFLM's does on every target).
 * int8 -> int8 is ml_requantize_s8. input_dims and output_dims hold the same number of
 * elements (any layout).
 */
ml_status ml_requantize_s16(const ml_requantize_s16_params *params,
                            const ml_dims *input_dims, const void *input,
                            const ml_dims *output_dims, void *output);

#endif
