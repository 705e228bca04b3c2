#include "ml_resize_bilinear_s8.h"

/* TFLM's ComputeInterpolationValuesInteger: the source position in Q10 and its two
 * neighbours (C division truncates toward zero, as TFLM's does). */
static void ml_bilinear_source(int32_t value, int32_t scale_10, int32_t half_pixel_centers,
                               int32_t input_size, int32_t *scaled, int32_t *lower, int32_t *upper)
{
    *scaled = half_pixel_centers ? value * scale_10 + scale_10 / 2 - (1 << 9) : value * scale_10;
    *lower = ml_max_i32(*scaled / (1 << 10), 0);
    *upper = ml_min_i32((*scaled + (1 << 10) - 1) / (1 << 10), input_size - 1);
}

ml_status ml_resize_bilinear_s8(const ml_resize_bilinear_params *params,
                                const ml_dims *input_dims, const int8_t *input,
                                const ml_dims *output_dims, int8_t *output)
{
    const int32_t depth = input_dims->c;
    if (output_dims->n != input_dims->n || output_dims->c != depth) {
        return ML_ARG_ERROR;
    }
    const int32_t row = input_dims->w * depth;
    for (int32_t n = 0; n < input_dims->n; ++n) {
        const int8_t *image = input + n * input_dims->h * row;
        for (int32_t y = 0; y < output_dims->h; ++y) {
            int32_t in_y, y0, y1;
            ml_bilinear_source(y, params->height_scale_10, params->half_pixel_centers,
                               input_dims->h, &in_y, &y0, &y1);
            if (y0 >= input_dims->h) {  /* TFLM would read past the input here */
                return ML_ARG_ERROR;
            }
            const int64_t wy1 = in_y - (1 << 10) * y0;
            const int64_t wy0 = (1 << 10) - wy1;
            for (int32_t x = 0; x < output_dims->w; ++x) {
                int32_t in_x, x0, x1;
                ml_bilinear_source(x, params->width_scale_10, params->half_pixel_centers,
                                   input_dims->w, &in_x, &x0, &x1);
                if (x0 >= input_dims->w) {
                    return ML_ARG_ERROR;
                }
                const int64_t wx1 = in_x - (1 << 10) * x0;
                const int64_t wx0 = (1 << 10) - wx1;
                const int8_t *p00 = image + y0 * row + x0 * depth;
                const int8_t *p10 = image + y1 * row + x0 * depth;
                const int8_t *p01 = image + y0 * row + x1 * depth;
                const int8_t *p11 = image + y1 * row + x1 * depth;
                for (int32_t c = 0; c < depth; ++c) {
                    const int64_t sum = p00[c] * wy0 * wx0 + p10[c] * wy1 * wx0 +
                                        p01[c] * wy0 * wx1 + p11[c] * wy1 * wx1;
                    const int64_t round = sum > 0 ? (1 << 19) : -(1 << 19);
                    *output++ = (int8_t)((sum + round) / (1 << 20));
                }
            }
        }
    }
    return ML_OK;
}
