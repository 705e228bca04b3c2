#ifndef ML_RSQRT_S16_H
#define ML_RSQRT_S16_H

#include "ml_common.h"

/* TFLM's int16 RSQRT parameters (elementwise.cc PrepareAbsRsqrt; zero points are 0). */
typedef struct {
    int32_t multiplier;  /* q31 multiplier of 1 / (sqrt(input scale) * output scale) */
    int32_t shift;       /* its exponent; the kernel applies shift - 20, at least -31 */
} ml_rsqrt_s16_params;

/*
 * TFLM's int16 RSQRT (RsqrtEvalQuantized<int16_t>): 1/sqrt(x) by TFLite's
 * GetInvSqrtQuantizedMultiplierExp (five Newton-Raphson steps in gemmlowp's Q3.28), applied
 * to 1 << 20 and requantized; x = 0 gives 32767. Like TFLM's Eval, fails (ML_ARG_ERROR) on a
 * negative input, after writing the elements before it. input_dims and output_dims hold the
 * same number of elements (any layout); input may equal output.
 */
ml_status ml_rsqrt_s16(const ml_rsqrt_s16_params *params,
                       const ml_dims *input_dims, const int16_t *input,
                       const ml_dims *output_dims, int16_t *output);

#endif
