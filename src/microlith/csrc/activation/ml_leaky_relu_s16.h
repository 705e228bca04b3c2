#ifndef ML_LEAKY_RELU_S16_H
#define ML_LEAKY_RELU_S16_H

#include "ml_common.h"
#include "ml_leaky_relu_s8.h"

/*
 * int16 LEAKY_RELU: TFLM's reference_ops::QuantizeLeakyRelu<int16_t> (leaky_relu.cc,
 * kTfLiteInt16), the algorithm of ml_leaky_relu_s8 with the output clamped to
 * [-32768, 32767]. Same parameters (ml_leaky_relu_params); input_dims and output_dims hold
 * the same number of elements (any layout).
 */
ml_status ml_leaky_relu_s16(const ml_leaky_relu_params *params,
                            const ml_dims *input_dims, const int16_t *input,
                            const ml_dims *output_dims, int16_t *output);

#endif
