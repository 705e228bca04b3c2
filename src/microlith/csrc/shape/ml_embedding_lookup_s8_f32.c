#include "ml_embedding_lookup_s8_f32.h"

ml_status ml_embedding_lookup_s8_f32(const ml_embedding_lookup_f32_params *params,
                                     const int32_t *ids, const int8_t *table, float *output)
{
    const int32_t rows = params->rows;
    const int32_t columns = params->columns;
    const int32_t lookups = params->lookups;
    if (rows < 1 || columns < 1 || lookups < 1) {
        return ML_ARG_ERROR;
    }
    /* Ids may come from the caller at run time: check them all before writing. */
    for (int32_t i = 0; i < lookups; ++i) {
        if (ids[i] < 0 || ids[i] >= rows) {
            return ML_ARG_ERROR;
        }
    }
    const ml_float_quant quant = { params->scale, 0 };
    for (int32_t i = 0; i < lookups; ++i) {
        const int8_t *row = table + ids[i] * columns;
        for (int32_t c = 0; c < columns; ++c) {
            output[c] = ml_nn_dequantize_f32(row[c], &quant);
        }
        output += columns;
    }
    return ML_OK;
}
