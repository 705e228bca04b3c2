#include "ml_signal_pcan_u32.h"
#include "ml_signal_common.h"

#define ML_PCAN_SNR_BITS 12
#define ML_PCAN_OUTPUT_BITS 6

/* TFLM's WideDynamicFunction */
static int16_t ml_pcan_wide_dynamic(uint32_t x, const int16_t *lut)
{
    int32_t interval, frac, result;
    if (x <= 2u) {
        return lut[x];
    }
    interval = (int32_t)ml_signal_msb32(x);
    lut += 4 * interval - 6;
    frac = (int32_t)(((interval < 11) ? (x << (11 - interval)) : (x >> (interval - 11))) & 0x3FFu);
    result = ((int32_t)lut[2] * frac) >> 5;
    result += (int32_t)((uint32_t)(int32_t)lut[1] << 5);
    result *= frac;
    result = (result + (1 << 14)) >> 15;
    result += lut[0];
    return (int16_t)result;
}

/* TFLM's PcanShrink */
static uint32_t ml_pcan_shrink(uint32_t x)
{
    if (x < (2u << ML_PCAN_SNR_BITS)) {
        return (x * x) >> (2 + 2 * ML_PCAN_SNR_BITS - ML_PCAN_OUTPUT_BITS);
    }
    return (x >> (ML_PCAN_SNR_BITS - ML_PCAN_OUTPUT_BITS)) - (1u << ML_PCAN_OUTPUT_BITS);
}

ml_status ml_signal_pcan_u32(const ml_signal_pcan_params *params, const uint32_t *input,
                             const uint32_t *noise, const int16_t *gain_lut, uint32_t *output)
{
    if (params->snr_shift < 0 || params->snr_shift > 63) {
        return ML_ARG_ERROR;
    }
    for (int32_t i = 0; i < params->size; ++i) {
        const uint32_t gain = (uint32_t)(int32_t)ml_pcan_wide_dynamic(noise[i], gain_lut);
        const uint32_t snr = (uint32_t)(((uint64_t)input[i] * gain) >> params->snr_shift);
        output[i] = ml_pcan_shrink(snr);
    }
    return ML_OK;
}
