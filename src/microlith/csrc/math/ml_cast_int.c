#include "ml_cast_int.h"

/* The int32 with the same bits as u, without the implementation-defined conversion. */
static int32_t ml_cast_u32_bits(uint32_t u)
{
    return u <= (uint32_t)INT32_MAX ? (int32_t)u : -(int32_t)(~u) - 1;
}

static int32_t ml_cast_load(int32_t type, const void *data, int32_t i)
{
    switch (type) {
    case ML_CAST_BOOL: return ((const uint8_t *)data)[i] != 0;
    case ML_CAST_S8: return ((const int8_t *)data)[i];
    case ML_CAST_S16: return ((const int16_t *)data)[i];
    case ML_CAST_U32: return ml_cast_u32_bits(((const uint32_t *)data)[i]);
    default: return ((const int32_t *)data)[i];
    }
}

static void ml_cast_store(int32_t type, void *data, int32_t i, int32_t value)
{
    /* Through the unsigned type: the conversion keeps the low bits, like static_cast. */
    switch (type) {
    case ML_CAST_S8: ((int8_t *)data)[i] = (int8_t)(uint8_t)(uint32_t)value; break;
    case ML_CAST_S16: ((int16_t *)data)[i] = (int16_t)(uint16_t)(uint32_t)value; break;
    case ML_CAST_U32: ((uint32_t *)data)[i] = (uint32_t)value; break;
    default: ((int32_t *)data)[i] = value; break;
    }
}

ml_status ml_cast_int(const ml_cast_params *params,
                      const ml_dims *input_dims, const void *input,
                      const ml_dims *output_dims, void *output)
{
    const int32_t n = input_dims->n * input_dims->h * input_dims->w * input_dims->c;
    if (n != output_dims->n * output_dims->h * output_dims->w * output_dims->c ||
        params->input_type < ML_CAST_BOOL || params->input_type > ML_CAST_U32 ||
        params->output_type < ML_CAST_S8 || params->output_type > ML_CAST_U32) {
        return ML_ARG_ERROR;
    }
    for (int32_t i = 0; i < n; ++i) {
        ml_cast_store(params->output_type, output, i, ml_cast_load(params->input_type, input, i));
    }
    return ML_OK;
}
