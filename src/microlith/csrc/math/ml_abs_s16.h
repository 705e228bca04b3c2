#ifndef ML_ABS_S16_H
#define ML_ABS_S16_H

#include "ml_common.h"

/* TFLM's int16 ABS parameters (elementwise.cc PrepareAbsRsqrt). */
typedef struct {
    int32_t quantized;    /* 0: an unquantized tensor, plain |x| */
    int32_t rescale;      /* quantized with differing scales: requantize |x| */
    int32_t multiplier;   /* q31 multiplier of input scale / output scale */
    int32_t shift;
} ml_abs_s16_params;

/*
 * TFLM's int16 ABS (zero points are 0): for a quantized tensor, |x| (requantized when the
 * scales differ) clamped to [-32768, 32767], so |-32768| gives 32767; for an unquantized one
 * std::abs converted back to int16, so |-32768| wraps to -32768. input_dims and output_dims
 * hold the same number of elements (any layout); input may equal output.
 */
ml_status ml_abs_s16(const ml_abs_s16_params *params,
                     const ml_dims *input_dims, const int16_t *input,
                     const ml_dims *output_dims, int16_t *output);

#endif
