#ifndef ML_SVDF_S8_S16_H
#define ML_SVDF_S8_S16_H

#include "ml_svdf_common.h"

/*
 * SVDF with int8 input and output and int16 weights_time and state (TFLM
 * EvalInt16SvdfReference, svdf_common.cc). One invoke: the state of each filter ages by one
 * step (its oldest value drops out), the new feature (input x weights_feature, requantized to
 * the state's scale, saturated to int16) becomes its newest value, and the output is the
 * time dot product (state x weights_time) summed over `rank` filters per unit, plus bias,
 * requantized to int8. Layouts and scratch in ml_svdf_common.h. The fused activation is not
 * applied: TFLM's integer SVDF ignores it.
 */
ml_status ml_svdf_s8_s16(const ml_svdf_params *params, const int8_t *input, const int8_t *weights_feature,
                         const int16_t *weights_time, const int32_t *bias, int16_t *state,
                         int32_t *scratch, int8_t *output);

#endif
