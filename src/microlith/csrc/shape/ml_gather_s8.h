#ifndef ML_GATHER_S8_H
#define ML_GATHER_S8_H

#include "ml_common.h"

/* The input seen as [batch][outer][axis_size][inner], the indices as [batch][coords] and the
 * output as [batch][outer][coords][inner] (TFLM gather.cc's own decomposition). */
typedef struct {
    int32_t batch;      /* product of the first batch_dims dimensions */
    int32_t outer;      /* product of the input dimensions from batch_dims up to the axis */
    int32_t axis_size;  /* the gathered dimension */
    int32_t coords;     /* indices per batch */
    int32_t inner;      /* product of the input dimensions after the axis */
} ml_gather_params;

/*
 * GATHER (TFLM gather.cc Gather<int8_t, int32_t>): output[b][o][c][:] =
 * input[b][o][indices[b][c]][:]. Bytes are copied. An index outside [0, axis_size) returns
 * ML_ARG_ERROR before anything is written (TFLM only DCHECKs it and would read out of bounds).
 */
ml_status ml_gather_s8(const ml_gather_params *params, const int8_t *input,
                       const int32_t *indices, int8_t *output);

#endif
