#ifndef ML_MUL_S16_H
#define ML_MUL_S16_H

#include "ml_common.h"
#include "ml_mul_s8.h"

/*
 * int16 MUL: TFLM's reference_integer_ops::Mul / BroadcastMul4DSlow for int16 in and out
 * (MulElementwise<int16_t, int16_t>), the int8 algorithm of ml_mul_s8 with int16 clamps.
 * TFLM requires zero point 0 for int16 MUL, so the offsets are 0 and the product of two
 * int16 values (at most 2^30) fits int32. Broadcasting as ml_add_s8.
 */
ml_status ml_mul_s16(const ml_mul_params *params,
                     const ml_dims *input1_dims, const int16_t *input1,
                     const ml_dims *input2_dims, const int16_t *input2,
                     const ml_dims *output_dims, int16_t *output);

#endif
