#include "ml_requantize_s16.h"

static int32_t ml_requantize_s16_load(const void *data, int32_t bytes, int32_t i)
{
    if (bytes == 1) {
        return ((const int8_t *)data)[i];
    }
    if (bytes == 2) {
        return ((const int16_t *)data)[i];
    }
    return ((const int32_t *)data)[i];
}

/* Stores v, already clamped to the output type's range. */
static void ml_requantize_s16_store(void *data, int32_t bytes, int32_t i, int32_t v)
{
    if (bytes == 1) {
        ((int8_t *)data)[i] = (int8_t)v;
    } else if (bytes == 2) {
        ((int16_t *)data)[i] = (int16_t)v;
    } else {
        ((int32_t *)data)[i] = v;
    }
}

ml_status ml_requantize_s16(const ml_requantize_s16_params *params,
                            const ml_dims *input_dims, const void *input,
                            const ml_dims *output_dims, void *output)
{
    const int32_t size = input_dims->n * input_dims->h * input_dims->w * input_dims->c;
    const int32_t in_bytes = params->input_bytes;
    const int32_t out_bytes = params->output_bytes;
    if (size != output_dims->n * output_dims->h * output_dims->w * output_dims->c ||
        (in_bytes != 1 && in_bytes != 2 && in_bytes != 4) ||
        (out_bytes != 1 && out_bytes != 2 && out_bytes != 4)) {
        return ML_ARG_ERROR;
    }
    for (int32_t i = 0; i < size; ++i) {
        /* Modulo 2^32 like TFLM's int32 input - zero point. */
        const int32_t x = (int32_t)((uint32_t)ml_requantize_s16_load(input, in_bytes, i) +
                                    (uint32_t)params->input_offset);
        const uint32_t y = (uint32_t)ml_nn_requantize(x, params->multiplier, params->shift) +
                           (uint32_t)params->output_offset;
        const int32_t v = (int32_t)y;
        ml_requantize_s16_store(output, out_bytes, i,
                                v < params->act_min ? params->act_min : (v > params->act_max ? params->act_max : v));
    }
    return ML_OK;
}
