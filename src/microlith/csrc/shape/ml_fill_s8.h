#ifndef ML_FILL_S8_H
#define ML_FILL_S8_H

#include "ml_common.h"

typedef struct {
    int32_t size;  /* output elements */
} ml_fill_params;

/*
 * FILL on int8 (TFLM fill.cc FillImpl<int8_t>, reference_ops::Fill): every output element is
 * the scalar *value, copied as it is (TFLM does not requantize between value and output).
 * value may be a constant or a tensor computed at run time.
 */
ml_status ml_fill_s8(const ml_fill_params *params, const int8_t *value, int8_t *output);

#endif
