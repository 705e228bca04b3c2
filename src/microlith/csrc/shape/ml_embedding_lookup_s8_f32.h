#ifndef ML_EMBEDDING_LOOKUP_S8_F32_H
#define ML_EMBEDDING_LOOKUP_S8_F32_H

#include "ml_common.h"
#include "ml_nn_float.h"

typedef struct {
    int32_t rows;     /* the table's first dimension */
    int32_t columns;  /* elements per row (the table's other dimensions, flattened) */
    int32_t lookups;  /* number of ids */
    float scale;      /* the table's scale, exactly the float32 in the model (zero point 0) */
} ml_embedding_lookup_f32_params;

/*
 * EMBEDDING_LOOKUP, TFLM embedding_lookup.cc EvalHybrid: an int8 table read into a float32
 * output, output[i][:] = table[ids[i]][:] * scale (micro_utils.h Dequantize, one float
 * multiply, zero point 0). An id outside [0, rows) returns ML_ARG_ERROR before anything is
 * written (TFLM fails the invoke there too).
 * The int8 -> int8 lookup is a plain row copy: ml_gather_s8.
 */
ml_status ml_embedding_lookup_s8_f32(const ml_embedding_lookup_f32_params *params,
                                     const int32_t *ids, const int8_t *table, float *output);

#endif
