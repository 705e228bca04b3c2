#ifndef ML_FILL_S32_H
#define ML_FILL_S32_H

#include "ml_common.h"
#include "ml_fill_s8.h"

/*
 * FILL on int32 (TFLM fill.cc FillImpl<int32_t>): every output element is the scalar *value.
 * params->size counts int32 elements.
 */
ml_status ml_fill_s32(const ml_fill_params *params, const int32_t *value, int32_t *output);

#endif
