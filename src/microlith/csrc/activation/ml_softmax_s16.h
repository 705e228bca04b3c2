#ifndef ML_SOFTMAX_S16_H
#define ML_SOFTMAX_S16_H

#include "ml_common.h"

typedef struct {
    int32_t input_multiplier;     /* q31 multiplier of input scale * beta / (10 / 65535) ... */
    int32_t input_left_shift;     /* ... and its exponent (any sign) */
    const int16_t *exp_lut;       /* 513 entries: exp(x) for x in [-10, 0] (TFLM's LUTPopulate) */
    const int16_t *recip_lut;     /* 513 entries: 1 / (1 + x) for x in [0, 1] */
} ml_softmax_s16_params;

/*
 * Softmax over the innermost dimension, int16 in and out: TFLM's reference_ops::SoftmaxInt16
 * (softmax.cc, kTfLiteInt16), bit for bit. Differences from the row maximum are rescaled so
 * that [-65535, 0] stands for [-10, 0], looked up in exp_lut (with TFLM's interpolating
 * LUTLookup), summed in int32, and each exp is multiplied by 1/sum from recip_lut.
 * Input zero point 0; output scale 2^-15, zero point 0 (values in [0, 32767]).
 * input_dims == output_dims: {n, h, w, c}, c the softmax axis. The output doubles as the
 * buffer of the row's exps, as in TFLM, so it must not overlap the input.
 */
ml_status ml_softmax_s16(const ml_softmax_s16_params *params,
                         const ml_dims *input_dims, const int16_t *input,
                         const ml_dims *output_dims, int16_t *output);

#endif
