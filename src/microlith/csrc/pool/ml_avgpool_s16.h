#ifndef ML_AVGPOOL_S16_H
#define ML_AVGPOOL_S16_H

#include "ml_common.h"
#include "ml_avgpool_s8.h"

/*
 * TFLM's reference_integer_ops::AveragePool for int16 (pooling.cc kTfLiteInt16): the window mean, clipped to the input, rounded half away from zero, then the fused activation clamp. |sum| <= 32768 * filter_h * filter_w: the generator keeps it in int32.
 * Parameters as ml_avgpool_s8 (act_min/act_max in the int16 domain). TFLM requires input and
 * output to share scale and zero point (no requantization).
 * input_dims: {N, H, W, C}    output_dims: {N, OH, OW, C}
 */
ml_status ml_avgpool_s16(const ml_avgpool_params *params,
                      const ml_dims *input_dims, const int16_t *input,
                      const ml_dims *output_dims, int16_t *output);

#endif
