#ifndef ML_SVDF_S8_H
#define ML_SVDF_S8_H

#include "ml_svdf_common.h"

/*
 * SVDF with int8 input, output, weights_time and state (TFLM EvalInt8SvdfReference,
 * svdf_common.cc): ml_svdf_s8_s16 with the state and time weights in int8. The new feature is
 * saturated to int8 and then offset by the state's zero point, which TFLM stores modulo 2^8.
 * Layouts and scratch in ml_svdf_common.h.
 */
ml_status ml_svdf_s8(const ml_svdf_params *params, const int8_t *input, const int8_t *weights_feature,
                     const int8_t *weights_time, const int32_t *bias, int8_t *state,
                     int32_t *scratch, int8_t *output);

#endif
