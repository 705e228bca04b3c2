#include "ml_maxpool_s8.h"

ml_status ml_maxpool_s8(const ml_maxpool_params *params,
                        const ml_dims *input_dims, const int8_t *input,
                        const ml_dims *output_dims, int8_t *output)
{
    const int32_t batches = input_dims->n;
    const int32_t in_h = input_dims->h;
    const int32_t in_w = input_dims->w;
    const int32_t depth = input_dims->c;
    const int32_t out_h = output_dims->h;
    const int32_t out_w = output_dims->w;
    if (output_dims->n != batches || output_dims->c != depth) {
        return ML_ARG_ERROR;
    }
    for (int32_t b = 0; b < batches; ++b) {
        const int8_t *in_batch = input + b * in_h * in_w * depth;
        for (int32_t oy = 0; oy < out_h; ++oy) {
            const int32_t y0 = oy * params->stride_h - params->pad_h;
            const int32_t fy_start = ml_max_i32(0, -y0);
            const int32_t fy_end = ml_min_i32(params->filter_h, in_h - y0);
            for (int32_t ox = 0; ox < out_w; ++ox) {
                const int32_t x0 = ox * params->stride_w - params->pad_w;
                const int32_t fx_start = ml_max_i32(0, -x0);
                const int32_t fx_end = ml_min_i32(params->filter_w, in_w - x0);
                int8_t *out = output + ((b * out_h + oy) * out_w + ox) * depth;
                for (int32_t c = 0; c < depth; ++c) {
                    int32_t max = INT8_MIN;
                    for (int32_t fy = fy_start; fy < fy_end; ++fy) {
                        const int8_t *row = in_batch + ((y0 + fy) * in_w + x0 + fx_start) * depth + c;
                        for (int32_t fx = 0; fx < fx_end - fx_start; ++fx) {
                            max = ml_max_i32(max, row[fx * depth]);
                        }
                    }
                    out[c] = ml_clamp_s8(max, params->act_min, params->act_max);
                }
            }
        }
    }
    return ML_OK;
}
