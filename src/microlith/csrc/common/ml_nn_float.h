/*
 * Float <-> integer conversions of QUANTIZE and DEQUANTIZE, bit for bit as TFLM computes
 * them, without math.h and without double arithmetic (which Cortex-M4F/M33 lack in
 * hardware).
 */
#ifndef ML_NN_FLOAT_H
#define ML_NN_FLOAT_H

#include "ml_common.h"

/* Affine quantization of a float tensor's integer counterpart: real = scale * (q - zero_point). */
typedef struct {
    float scale;         /* exactly the float32 stored in the model */
    int32_t zero_point;
} ml_float_quant;

/*
 * clamp(round(x / scale) + zero_point, qmin, qmax), TFLM's AffineQuantize.
 * The division is in float like TFLM's; round() takes halves away from zero (std::round).
 * `limit` is a power of two with |round(q)| >= limit saturating for every zero point in
 * [qmin, qmax]: it keeps the float -> int conversion defined. NaN maps to zero_point.
 */
static inline int32_t ml_nn_quantize_f32(float x, const ml_float_quant *quant,
                                         int32_t qmin, int32_t qmax, float limit)
{
    const float q = x / quant->scale;
    int32_t r;
    if (q >= limit) {
        r = (int32_t)limit;
    } else if (q <= -limit) {
        r = -(int32_t)limit;
    } else if (q != q) {
        r = 0;
    } else {
        /* |q| < limit <= 2^23, so q - trunc(q) is exact. */
        r = (int32_t)q;
        const float frac = q - (float)r;
        if (frac >= 0.5f) {
            r += 1;
        } else if (frac <= -0.5f) {
            r -= 1;
        }
    }
    r += quant->zero_point;
    return r < qmin ? qmin : (r > qmax ? qmax : r);
}

/*
 * scale * (q - zero_point), TFLM's Dequantize. TFLM multiplies in double and rounds to
 * float; the product of a float and an integer below 2^24 in magnitude is exact in double,
 * so a single float multiply rounds to the very same value.
 */
static inline float ml_nn_dequantize_f32(int32_t q, const ml_float_quant *quant)
{
    return quant->scale * (float)(q - quant->zero_point);
}

#endif /* ML_NN_FLOAT_H */
