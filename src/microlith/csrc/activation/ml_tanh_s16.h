#ifndef ML_TANH_S16_H
#define ML_TANH_S16_H

#include "ml_common.h"
#include "ml_sigmoid_table_u16.h"

/*
 * int16 TANH: TFLM's reference_integer_ops::Tanh for int16 (tanh kernel, kTfLiteInt16),
 * bit for bit. The input (zero point 0) is rescaled so that 2^17 stands for 10.7, then
 * tanh(x) is interpolated linearly in ml_sigmoid_table_u16. Output in Q0.15 (scale 2^-15,
 * zero point 0). input_dims and output_dims hold the same number of elements (any layout).
 */
ml_status ml_tanh_s16(const ml_sigmoid_s16_params *params,
                      const ml_dims *input_dims, const int16_t *input,
                      const ml_dims *output_dims, int16_t *output);

#endif
