#include "ml_signal_filter_bank_log_u32.h"
#include "ml_signal_common.h"

/* TFLM's kLogLut: the correction to a linear log2 fraction, per 1/128 of an octave. */
static const uint16_t ml_log_lut[129] = {
    0,    224,  442,  654,  861,  1063, 1259, 1450, 1636, 1817, 1992, 2163, 2329, 2490, 2646, 2797,
    2944, 3087, 3224, 3358, 3487, 3611, 3732, 3848, 3960, 4068, 4172, 4272, 4368, 4460, 4549, 4633,
    4714, 4791, 4864, 4934, 5001, 5063, 5123, 5178, 5231, 5280, 5326, 5368, 5408, 5444, 5477, 5507,
    5533, 5557, 5578, 5595, 5610, 5622, 5631, 5637, 5640, 5641, 5638, 5633, 5626, 5615, 5602, 5586,
    5568, 5547, 5524, 5498, 5470, 5439, 5406, 5370, 5332, 5291, 5249, 5203, 5156, 5106, 5054, 5000,
    4944, 4885, 4825, 4762, 4697, 4630, 4561, 4490, 4416, 4341, 4264, 4184, 4103, 4020, 3935, 3848,
    3759, 3668, 3575, 3481, 3384, 3286, 3186, 3084, 2981, 2875, 2768, 2659, 2549, 2437, 2323, 2207,
    2090, 1971, 1851, 1729, 1605, 1480, 1353, 1224, 1094, 963,  830,  695,  559,  421,  282,  142,
    0};

#define ML_LOG_SEGMENTS_LOG2 7
#define ML_LOG_SCALE_LOG2 16
#define ML_LOG_COEFF 45426u  /* ln(2) in Q16 */

/* TFLM's Log2FractionPart32 (x >= 2, log2x = its integer log2). */
static uint32_t ml_log2_fraction(uint32_t x, uint32_t log2x)
{
    int32_t frac = (int32_t)(x - (1u << log2x));  /* below 2^log2x: fits */
    uint32_t base_seg;
    int32_t c0, c1, seg_base, rel_pos;
    if (log2x < ML_LOG_SCALE_LOG2) {
        frac = (int32_t)((uint32_t)frac << (ML_LOG_SCALE_LOG2 - log2x));
    } else {
        frac >>= log2x - ML_LOG_SCALE_LOG2;
    }
    base_seg = (uint32_t)frac >> (ML_LOG_SCALE_LOG2 - ML_LOG_SEGMENTS_LOG2);
    c0 = ml_log_lut[base_seg];
    c1 = ml_log_lut[base_seg + 1u];
    seg_base = (int32_t)(((1u << ML_LOG_SCALE_LOG2) >> ML_LOG_SEGMENTS_LOG2) * base_seg);
    rel_pos = ((c1 - c0) * (frac - seg_base)) >> ML_LOG_SCALE_LOG2;
    return (uint32_t)(frac + c0 + rel_pos);
}

/* TFLM's Log32 */
static uint32_t ml_log32(uint32_t x, uint32_t out_scale)
{
    const uint32_t integer = ml_signal_msb32(x) - 1u;
    const uint32_t fraction = ml_log2_fraction(x, integer);
    const uint32_t log2 = (integer << ML_LOG_SCALE_LOG2) + fraction;
    const uint32_t round = 1u << (ML_LOG_SCALE_LOG2 - 1);
    const uint32_t loge = (uint32_t)(((uint64_t)ML_LOG_COEFF * log2 + round) >> ML_LOG_SCALE_LOG2);
    return (out_scale * loge + round) >> ML_LOG_SCALE_LOG2;
}

ml_status ml_signal_filter_bank_log_u32(const ml_signal_filter_bank_log_params *params,
                                        const uint32_t *input, int16_t *output)
{
    if (params->correction_bits > 31u) {
        return ML_ARG_ERROR;
    }
    for (int32_t i = 0; i < params->size; ++i) {
        const uint32_t scaled = input[i] << params->correction_bits;
        if (scaled > 1u) {
            const uint32_t v = ml_log32(scaled, params->output_scale);
            output[i] = (int16_t)(v < 32767u ? v : 32767u);
        } else {
            output[i] = 0;
        }
    }
    return ML_OK;
}
