#ifndef ML_SOFTMAX_S8_S16_H
#define ML_SOFTMAX_S8_S16_H

#include "ml_common.h"
#include "ml_softmax_s8.h"

/*
 * Softmax over the innermost dimension, int8 in, int16 out (TFLM reference_ops::Softmax
 * with an int16 output): same arithmetic as ml_softmax_s8 with 8 more output bits.
 * input_dims == output_dims: {n, h, w, c}. Output quantization is fixed: scale 1/65536,
 * zero point -32768.
 */
ml_status ml_softmax_s8_s16(const ml_softmax_params *params, const ml_dims *input_dims, const int8_t *input,
                            const ml_dims *output_dims, int16_t *output);

#endif
