#ifndef ML_GATHER_ND_S8_H
#define ML_GATHER_ND_S8_H

#include "ml_common.h"

#define ML_GATHER_ND_MAX_DEPTH 5  /* TFLM's MAX_INDICES_ND */

typedef struct {
    int32_t slices;       /* index tuples: the product of the indices' leading dimensions */
    int32_t depth;        /* values per tuple: the indices' last dimension, 1..5 */
    int32_t slice_size;   /* elements copied per tuple: params dimensions from depth on */
    int32_t params_size;  /* elements of params */
    int32_t stride[ML_GATHER_ND_MAX_DEPTH];  /* elements per step of params dimension j < depth */
} ml_gather_nd_params;

/*
 * GATHER_ND (TFLM gather_nd.cc GatherNd<int8_t, int32_t>): slice i is copied from the flat
 * position sum_j indices[i][j] * stride[j]. Like TFLM, only that flat position is checked
 * (a single index past its dimension is accepted while the slice stays inside params); a
 * slice outside params returns ML_ARG_ERROR, where TFLM's Eval fails.
 */
ml_status ml_gather_nd_s8(const ml_gather_nd_params *params, const int8_t *input,
                          const int32_t *indices, int8_t *output);

#endif
