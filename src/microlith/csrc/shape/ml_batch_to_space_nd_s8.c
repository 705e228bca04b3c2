#include "ml_batch_to_space_nd_s8.h"

ml_status ml_batch_to_space_nd_s8(const ml_batch_to_space_nd_params *params,
                                  const ml_dims *input_dims, const int8_t *input,
                                  const ml_dims *output_dims, int8_t *output)
{
    const int32_t depth = input_dims->c;
    const int32_t out_n = output_dims->n;
    if (params->block_h < 1 || params->block_w < 1 || out_n < 1 || output_dims->c != depth ||
        input_dims->n != out_n * params->block_h * params->block_w) {
        return ML_ARG_ERROR;
    }
    const int32_t in_row = input_dims->w * depth;
    const int32_t out_row = output_dims->w * depth;
    for (int32_t b = 0; b < input_dims->n; ++b) {
        const int32_t n = b % out_n;
        const int32_t shift = b / out_n;
        const int32_t sh = shift / params->block_w;
        const int32_t sw = shift % params->block_w;
        const int8_t *image = input + b * input_dims->h * in_row;
        int8_t *out_image = output + n * output_dims->h * out_row;
        for (int32_t h = 0; h < input_dims->h; ++h) {
            const int32_t oh = h * params->block_h + sh - params->top;
            if (oh < 0 || oh >= output_dims->h) {
                continue;
            }
            for (int32_t w = 0; w < input_dims->w; ++w) {
                const int32_t ow = w * params->block_w + sw - params->left;
                if (ow < 0 || ow >= output_dims->w) {
                    continue;
                }
                memcpy(out_image + oh * out_row + ow * depth, image + h * in_row + w * depth,
                       (size_t)depth);
            }
        }
    }
    return ML_OK;
}
