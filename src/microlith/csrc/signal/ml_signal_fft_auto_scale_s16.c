#include "ml_signal_fft_auto_scale_s16.h"
#include "ml_signal_common.h"

ml_status ml_signal_fft_auto_scale_s16(const ml_signal_fft_auto_scale_params *params,
                                       const int16_t *input, int16_t *output, int32_t *scale_bits)
{
    int16_t max = 0;
    int32_t bits;
    for (int32_t i = 0; i < params->size; ++i) {
        const int16_t v = input[i];
        if (v > max) {
            max = v;
        } else if (-v > max) {
            max = (int16_t)(-v);  /* -(-32768) wraps to -32768, as in TFLM */
        }
    }
    /* int16 -> uint32 sign-extends: a wrapped -32768 has its top bit at 32. */
    bits = 16 - (int32_t)ml_signal_msb32((uint32_t)(int32_t)max) - 1;
    if (bits <= 0) {
        bits = 0;
    }
    for (int32_t i = 0; i < params->size; ++i) {
        output[i] = (int16_t)(input[i] * (1 << bits));
    }
    *scale_bits = bits;
    return ML_OK;
}
