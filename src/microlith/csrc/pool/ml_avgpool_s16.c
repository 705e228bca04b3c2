#include "ml_avgpool_s16.h"

#include "ml_nn_s16.h"

ml_status ml_avgpool_s16(const ml_avgpool_params *params,
                         const ml_dims *input_dims, const int16_t *input,
                         const ml_dims *output_dims, int16_t *output)
{
    const int32_t in_h = input_dims->h;
    const int32_t in_w = input_dims->w;
    const int32_t depth = input_dims->c;
    if (output_dims->n != input_dims->n || output_dims->c != depth) {
        return ML_ARG_ERROR;
    }
    int16_t *out = output;
    for (int32_t b = 0; b < input_dims->n; ++b) {
        const int16_t *in_batch = input + b * in_h * in_w * depth;
        for (int32_t oy = 0; oy < output_dims->h; ++oy) {
            const int32_t y0 = oy * params->stride_h - params->pad_h;
            const int32_t fy_start = ml_max_i32(0, -y0);
            const int32_t fy_end = ml_min_i32(params->filter_h, in_h - y0);
            for (int32_t ox = 0; ox < output_dims->w; ++ox) {
                const int32_t x0 = ox * params->stride_w - params->pad_w;
                const int32_t fx_start = ml_max_i32(0, -x0);
                const int32_t fx_end = ml_min_i32(params->filter_w, in_w - x0);
                const int32_t count = (fy_end - fy_start) * (fx_end - fx_start);
                if (fy_end <= fy_start || fx_end <= fx_start) {
                    return ML_ARG_ERROR;
                }
                for (int32_t c = 0; c < depth; ++c) {
                    int32_t acc = 0;
                    for (int32_t fy = fy_start; fy < fy_end; ++fy) {
                        const int16_t *row = in_batch + ((y0 + fy) * in_w + x0 + fx_start) * depth + c;
                        for (int32_t fx = 0; fx < fx_end - fx_start; ++fx) {
                            acc += row[fx * depth];
                        }
                    }
                    /* C division truncates, so bias away from zero first: rounds halves outward. */
                    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    *out++ = ml_clamp_s16(acc, params->act_min, params->act_max);
                }
            }
        }
    }
    return ML_OK;
}
