/*
 * microlith kernel library: shapes of any rank up to ML_MAX_RANK, for the data-movement
 * kernels (pad, transpose, strided slice, mean) whose tensors are not always 4-D NHWC.
 *
 * dims[0] is the outermost dimension, dims[rank - 1] the innermost (row-major, as TFLite).
 * Entries at index >= rank are ignored. rank 0 is a scalar (one element).
 */
#ifndef ML_SHAPE_ND_H
#define ML_SHAPE_ND_H

#include "ml_common.h"

#define ML_MAX_RANK 6

typedef struct {
    int32_t rank;               /* in [0, ML_MAX_RANK] */
    int32_t dims[ML_MAX_RANK];  /* each >= 0 */
} ml_shape_nd;

static inline int32_t ml_shape_nd_size(const ml_shape_nd *shape)
{
    int32_t n = 1;
    for (int32_t i = 0; i < shape->rank; ++i) {
        n *= shape->dims[i];
    }
    return n;
}

/* Element strides of a row-major shape; returns 0 when the rank is out of range. */
static inline int ml_shape_nd_strides(const ml_shape_nd *shape, int32_t strides[ML_MAX_RANK])
{
    if (shape->rank < 0 || shape->rank > ML_MAX_RANK) {
        return 0;
    }
    int32_t s = 1;
    for (int32_t i = shape->rank - 1; i >= 0; --i) {
        strides[i] = s;
        s *= shape->dims[i];
    }
    return 1;
}

#endif /* ML_SHAPE_ND_H */
