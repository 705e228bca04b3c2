#include "ml_transpose_s8.h"

ml_status ml_transpose_s8(const ml_transpose_params *params,
                          const ml_shape_nd *input_shape, const int8_t *input,
                          const ml_shape_nd *output_shape, int8_t *output)
{
    ml_transpose_walk w;
    if (!ml_transpose_walk_of(&w, params->perm, input_shape, output_shape)) {
        return ML_ARG_ERROR;
    }
    if (w.total == 0) {
        return ML_OK;
    }
    const int32_t n = w.dims[w.inner];
    const int32_t in_step = w.in_step[w.inner];
    const int32_t out_step = w.out_step[w.inner];
    int32_t idx[ML_MAX_RANK] = {0};
    int32_t in_base = 0;
    int32_t out_base = 0;
    for (int32_t r = w.total / n; r > 0; --r) {
        const int8_t *p = input + in_base;
        int8_t *q = output + out_base;
        for (int32_t k = n; k > 0; --k, p += in_step, q += out_step) {
            *q = *p;
        }
        ml_transpose_walk_next(&w, idx, &in_base, &out_base);
    }
    return ML_OK;
}
