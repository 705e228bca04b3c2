#ifndef ML_CAST_INT_H
#define ML_CAST_INT_H

#include "ml_common.h"

typedef enum {
    ML_CAST_BOOL = 0,  /* one byte, 0 or 1 (input only) */
    ML_CAST_S8 = 1,
    ML_CAST_S16 = 2,
    ML_CAST_S32 = 3,
    ML_CAST_U32 = 4   /* TFLM's signal front ends keep energies in uint32 tensors */
} ml_cast_type;

typedef struct {
    int32_t input_type;   /* an ml_cast_type */
    int32_t output_type;  /* an ml_cast_type other than ML_CAST_BOOL */
} ml_cast_params;

/*
 * output[i] = (output type) input[i]: TFLM's CAST (cast.cc copyCast, a static_cast). Narrowing
 * and the int32 <-> uint32 conversions keep the low bits (a uint32 >= 2^31 becomes negative) (two's complement, as on every target TFLM supports); quantization is
 * ignored, as TFLM ignores it. input_dims and output_dims hold the same number of elements
 * (any layout). input and output point to data of the types params names.
 */
ml_status ml_cast_int(const ml_cast_params *params,
                      const ml_dims *input_dims, const void *input,
                      const ml_dims *output_dims, void *output);

#endif
