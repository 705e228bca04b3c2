#include "ml_resize_nearest_s8.h"

ml_status ml_resize_nearest_s8(const ml_resize_nearest_params *params,
                               const ml_dims *input_dims, const int8_t *input,
                               const ml_dims *output_dims, int8_t *output)
{
    const int32_t depth = input_dims->c;
    if (output_dims->n != input_dims->n || output_dims->c != depth) {
        return ML_ARG_ERROR;
    }
    for (int32_t y = 0; y < output_dims->h; ++y) {
        if (params->y_source[y] < 0 || params->y_source[y] >= input_dims->h) {
            return ML_ARG_ERROR;
        }
    }
    for (int32_t x = 0; x < output_dims->w; ++x) {
        if (params->x_source[x] < 0 || params->x_source[x] >= input_dims->w) {
            return ML_ARG_ERROR;
        }
    }
    const int32_t row = input_dims->w * depth;
    for (int32_t n = 0; n < input_dims->n; ++n) {
        const int8_t *image = input + n * input_dims->h * row;
        for (int32_t y = 0; y < output_dims->h; ++y) {
            const int8_t *src = image + params->y_source[y] * row;
            for (int32_t x = 0; x < output_dims->w; ++x) {
                memcpy(output, src + params->x_source[x] * depth, (size_t)depth);
                output += depth;
            }
        }
    }
    return ML_OK;
}
