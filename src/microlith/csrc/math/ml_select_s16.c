#include "ml_select_s16.h"

#include "ml_nn_broadcast.h"

ml_status ml_select_s16(const ml_dims *condition_dims, const uint8_t *condition,
                        const ml_dims *x_dims, const int16_t *x,
                        const ml_dims *y_dims, const int16_t *y,
                        const ml_dims *output_dims, int16_t *output)
{
    int32_t sc[4], sx[4], sy[4];
    if (ml_nn_broadcast_strides(condition_dims, output_dims, sc) != ML_OK ||
        ml_nn_broadcast_strides(x_dims, output_dims, sx) != ML_OK ||
        ml_nn_broadcast_strides(y_dims, output_dims, sy) != ML_OK) {
        return ML_ARG_ERROR;
    }
    const int32_t depth = output_dims->c;
    int16_t *out = output;
    for (int32_t n = 0; n < output_dims->n; ++n) {
        for (int32_t h = 0; h < output_dims->h; ++h) {
            for (int32_t w = 0; w < output_dims->w; ++w) {
                const uint8_t *c = condition + n * sc[0] + h * sc[1] + w * sc[2];
                const int16_t *a = x + n * sx[0] + h * sx[1] + w * sx[2];
                const int16_t *b = y + n * sy[0] + h * sy[1] + w * sy[2];
                for (int32_t k = 0; k < depth; ++k) {
                    out[k] = c[k * sc[3]] ? a[k * sx[3]] : b[k * sy[3]];
                }
                out += depth;
            }
        }
    }
    return ML_OK;
}
