#ifndef ML_MAXPOOL_S16_H
#define ML_MAXPOOL_S16_H

#include "ml_common.h"
#include "ml_maxpool_s8.h"

/*
 * TFLM's reference_integer_ops::MaxPool for int16 (pooling.cc kTfLiteInt16): the window maximum, clipped to the input, then the fused activation clamp.
 * Parameters as ml_maxpool_s8 (act_min/act_max in the int16 domain). TFLM requires input and
 * output to share scale and zero point (no requantization).
 * input_dims: {N, H, W, C}    output_dims: {N, OH, OW, C}
 */
ml_status ml_maxpool_s16(const ml_maxpool_params *params,
                      const ml_dims *input_dims, const int16_t *input,
                      const ml_dims *output_dims, int16_t *output);

#endif
