#ifndef ML_DIV_S8_H
#define ML_DIV_S8_H

#include "ml_common.h"

/* TFLM's int8 DIV parameters (div.cc CalculateOpDataDiv). */
typedef struct {
    int32_t input1_offset;      /* -input1 zero point, in [-127, 128] */
    int32_t input2_offset;      /* -input2 zero point, in [-127, 128] */
    int32_t output_offset;      /* output zero point, in [-128, 127] */
    int32_t output_multiplier;  /* q31 multiplier of input1 scale / (input2 scale * output scale) */
    int32_t output_shift;       /* in [-25, 22]: the final shift then lies in [0, 63] */
    int32_t act_min;            /* fused activation clamp, in the output's int8 domain */
    int32_t act_max;
} ml_div_params;

/*
 * TFLM's reference_ops::DivElementwise / BroadcastDivSlowQuantized: the divisor's reciprocal
 * by Newton-Raphson (GetReciprocal), the dividend normalised by its redundant sign bits, two
 * high multiplies and one rounding right shift by headroom + reciprocal shift - output_shift.
 * That shift can reach 32 to 38 for small quotients and TFLM's gemmlowp RoundingDivideByPOT
 * is then undefined C++; this kernel computes what TFLM's x86 build (the tflite-micro oracle)
 * computes there: the mask is the low 32 bits of 2^e - 1 and the shift count is taken modulo
 * 32, as the x86 SAR instruction does. A zero divisor (input2 at its zero point) goes through
 * the same arithmetic, as in TFLM, whose check for it is a debug-only assert.
 * Broadcasting as in ml_add_s8. All tensors NHWC.
 */
ml_status ml_div_s8(const ml_div_params *params,
                    const ml_dims *input1_dims, const int8_t *input1,
                    const ml_dims *input2_dims, const int8_t *input2,
                    const ml_dims *output_dims, int8_t *output);

#endif
