#ifndef ML_HARD_SWISH_S8_H
#define ML_HARD_SWISH_S8_H

#include "ml_common.h"

/* TFLM's HardSwishParams for int8 (hard_swish_common.cc). Multipliers are q15. */
typedef struct {
    int32_t input_zero_point;     /* in [-128, 127] */
    int32_t output_zero_point;    /* in [-128, 127] */
    int32_t output_multiplier;    /* q15 multiplier of input scale / (128 * output scale) */
    int32_t output_exponent;      /* in [-31, 0] */
    int32_t reluish_multiplier;   /* q15 multiplier of input scale / 128 / (3 / 32768) */
    int32_t reluish_exponent;     /* in [-31, 30] */
} ml_hard_swish_params;

/*
 * output = x * relu6(x + 3) / 6, computed the way TFLM's reference_ops::HardSwish does:
 * in 16-bit fixed point, with TFLM's choice of rounding at each step (including the
 * deliberate truncating multiply that cancels the bias of the rounding ones).
 * input_dims and output_dims hold the same number of elements (any layout).
 */
ml_status ml_hard_swish_s8(const ml_hard_swish_params *params,
                           const ml_dims *input_dims, const int8_t *input,
                           const ml_dims *output_dims, int8_t *output);

#endif
