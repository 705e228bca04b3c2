#include "ml_dsp_motion_q.h"

#include "ml_dsp_rfft_q31.h"

/* sign * a in Q(frac_bits), saturated both ways. */
static int32_t motion_signed_q(int negative, ml_dsp_xq a, int32_t frac_bits)
{
    const int32_t v = ml_dsp_xq_to_q(a, frac_bits);
    return negative ? -v : v;
}

static uint64_t motion_abs_i64(int64_t v)
{
    return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

/* sum over i of round(v_i / 2^shift)^2 where the caller chose shift so that every term is
 * at most 2^46 (n <= 2^14 terms: the sum stays below 2^61). */
static uint64_t motion_sum_sq(const int32_t *v, uint32_t n, int64_t mul, int64_t sub, int32_t shift)
{
    uint64_t acc = 0;
    for (uint32_t i = 0; i < n; ++i) {
        const int64_t c = ml_dsp_shift_round_i64(mul * v[i] - sub, shift);
        acc += (uint64_t)(c * c);
    }
    return acc;
}

/* out = {mean, std, min, max, rms} of v * scale / 2^qbits, in Q(frac_bits). */
static void motion_stats_q(const int32_t *v, uint32_t n, int32_t qbits, ml_dsp_xq scale, int32_t frac_bits,
                           int32_t *out)
{
    int64_t sum = 0;
    int32_t lo = v[0];
    int32_t hi = v[0];
    uint64_t peak = 0;
    for (uint32_t i = 0; i < n; ++i) {
        sum += v[i];
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
        const uint64_t mag = motion_abs_i64(v[i]);
        peak = mag > peak ? mag : peak;
    }
    const ml_dsp_xq nq = ml_dsp_xq_from_u64(n, 0);
    out[0] = motion_signed_q(sum < 0, ml_dsp_xq_div(ml_dsp_xq_mul(ml_dsp_xq_from_u64(motion_abs_i64(sum), -qbits),
                                                                   scale), nq), frac_bits);
    out[2] = motion_signed_q(lo < 0, ml_dsp_xq_mul(ml_dsp_xq_from_u64(motion_abs_i64(lo), -qbits), scale), frac_bits);
    out[3] = motion_signed_q(hi < 0, ml_dsp_xq_mul(ml_dsp_xq_from_u64(motion_abs_i64(hi), -qbits), scale), frac_bits);
    /* std: c = n v - sum = n (v - mean) exactly, |c| < 2^46; scaled to 23 bits before squaring. */
    uint64_t peak_c = 0;
    for (uint32_t i = 0; i < n; ++i) {
        const uint64_t mag = motion_abs_i64((int64_t)n * v[i] - sum);
        peak_c = mag > peak_c ? mag : peak_c;
    }
    out[1] = 0;
    if (peak_c != 0U) {
        const int32_t shift = ml_dsp_bitlen_u64(peak_c) - 23;
        const uint64_t s2 = motion_sum_sq(v, n, (int64_t)n, sum, shift);
        const ml_dsp_xq rms_c = ml_dsp_xq_sqrt(ml_dsp_xq_div(ml_dsp_xq_from_u64(s2, 0), nq));
        const ml_dsp_xq unit = ml_dsp_xq_div(ml_dsp_xq_mul(scale, ml_dsp_xq_from_u64(1U, shift - qbits)), nq);
        out[1] = ml_dsp_xq_to_q(ml_dsp_xq_mul(rms_c, unit), frac_bits);
    }
    out[4] = 0;
    if (peak != 0U) {
        const int32_t shift = ml_dsp_bitlen_u64(peak) - 23;
        const uint64_t sq = motion_sum_sq(v, n, 1, 0, shift);
        const ml_dsp_xq rms = ml_dsp_xq_sqrt(ml_dsp_xq_div(ml_dsp_xq_from_u64(sq, 0), nq));
        out[4] = ml_dsp_xq_to_q(ml_dsp_xq_mul(ml_dsp_xq_mul(rms, ml_dsp_xq_from_u64(1U, shift - qbits)), scale),
                                frac_bits);
    }
}

/* ln band energies of d (Q15 counts, mean removed exactly), as ml_dsp_band_power_q does for
 * int16 samples: c = n d - sum d (|c| < 2^46), brought to 32 bits, times the Q30 window,
 * scaled into the q31 FFT's headroom with a block exponent, then integer power and ln. */
static ml_status motion_bands_q(const ml_dsp_motion_q_params *params, const int32_t *d, int64_t sum, int64_t offset,
                                int32_t *buf, int32_t *out)
{
    const uint32_t n = params->gravity.n;
    const uint32_t n_fft = params->fft->n;
    uint64_t peak_c = 0;
    for (uint32_t i = 0; i < n; ++i) {
        const uint64_t mag = motion_abs_i64((int64_t)n * d[i] - sum);
        peak_c = mag > peak_c ? mag : peak_c;
    }
    const int32_t s1 = peak_c == 0U ? 0 : (ml_dsp_bitlen_u64(peak_c) > 32 ? ml_dsp_bitlen_u64(peak_c) - 32 : 0);
    uint64_t peak = 0;  /* of v = (c / 2^s1) w, |v| <= 2^62 */
    for (uint32_t i = 0; i < n; ++i) {
        const int64_t v = ml_dsp_shift_round_i64((int64_t)n * d[i] - sum, s1) * params->window[i];
        const uint64_t mag = motion_abs_i64(v);
        peak = mag > peak ? mag : peak;
    }
    const int32_t log2n = (int32_t)ml_dsp_log2_pow2(n_fft);
    const int32_t s2 = peak == 0U ? 0 : ml_dsp_bitlen_u64(peak) - (29 - log2n);
    for (uint32_t i = 0; i < n; ++i) {
        const int64_t v = ml_dsp_shift_round_i64((int64_t)n * d[i] - sum, s1) * params->window[i];
        buf[i] = (int32_t)ml_dsp_shift_round_i64(v, s2);
    }
    for (uint32_t i = n; i < n_fft; ++i) {
        buf[i] = 0;
    }
    const ml_status st = ml_dsp_rfft_q31(params->fft, buf);
    if (st != ML_OK) {
        return st;
    }
    /* X * 2^(s1 + s2 - 30) is the FFT of c * w; the power sums lose log2n + 1 bits. */
    const int32_t exponent = 2 * (s1 + s2 - 30) + log2n + 1;
    for (uint32_t b = 0; b < params->n_bands; ++b) {
        uint64_t acc = 0;
        for (uint32_t k = params->band_start[b]; k < params->band_end[b]; ++k) {
            uint64_t p;
            if (k == 0U) {
                p = (uint64_t)((int64_t)buf[0] * buf[0]);
            } else if (k == n_fft / 2U) {
                p = (uint64_t)((int64_t)buf[1] * buf[1]);
            } else {
                const int64_t re = buf[2U * k];
                const int64_t im = buf[2U * k + 1U];
                p = 2U * ((uint64_t)(re * re) + (uint64_t)(im * im));
            }
            acc += p >> (log2n + 1);
        }
        int64_t value = params->floor_q30;
        if (acc != 0U) {
            const int64_t ln = ml_dsp_xq_ln_q30(ml_dsp_xq_from_u64(acc, exponent)) + offset;
            value = ln > value ? ln : value;
        }
        out[b] = ml_dsp_sat_i32(ml_dsp_shift_round_i64(value, 30 - params->frac_bits));
    }
    return ML_OK;
}

ml_status ml_dsp_motion_q(const ml_dsp_motion_q_params *params, const int16_t *x, int32_t *out, void *work)
{
    const uint32_t n = params->gravity.n;
    const uint32_t axes = params->gravity.axes;
    const uint32_t n_fft = params->fft->n;
    const int32_t fb = params->frac_bits;
    if ((axes != 3U && axes != 6U) || n < 4U || n > n_fft || n > 16384U || !ml_dsp_is_pow2(n_fft) ||
        fb < 0 || fb > 30) {
        return ML_ARG_ERROR;
    }
    uint64_t *m2 = (uint64_t *)work;
    int32_t *d = (int32_t *)(m2 + n);
    int32_t *buf = d + n;
    const uint32_t per_axis = 7U + params->n_bands;
    for (uint32_t a = 0; a < axes; ++a) {
        const uint32_t s = a / 3U;
        int32_t *o = out + a * per_axis;
        const ml_status gs = ml_dsp_motion_gravity_s16(&params->gravity, x, a, d);
        if (gs != ML_OK) {
            return gs;
        }
        int64_t sum_x = x[a];
        int64_t sum_d = d[0];
        uint64_t jerk = 0;
        uint32_t crossings = 0;
        for (uint32_t i = 1; i < n; ++i) {
            const int32_t cur = x[i * axes + a];
            const int32_t diff = cur - (int32_t)x[(i - 1U) * axes + a];
            sum_x += cur;
            sum_d += d[i];
            jerk += (uint64_t)((int64_t)diff * diff);
            crossings += (uint32_t)((d[i] < 0) != (d[i - 1U] < 0));
        }
        const ml_dsp_xq scale = params->scale[s];
        motion_stats_q(d, n, 15, scale, fb, o);  /* o[0] (mean of d) is replaced below */
        o[0] = motion_signed_q(sum_x < 0, ml_dsp_xq_div(ml_dsp_xq_mul(ml_dsp_xq_from_u64(motion_abs_i64(sum_x), 0),
                                                                       scale), ml_dsp_xq_from_u64(n, 0)), fb);
        o[5] = ml_dsp_xq_to_q(ml_dsp_xq_mul(ml_dsp_xq_from_u64(crossings, 0), params->zcr_unit), fb);
        o[6] = ml_dsp_xq_to_q(ml_dsp_xq_mul(ml_dsp_xq_sqrt(ml_dsp_xq_from_u64(jerk, 0)), params->jerk_unit[s]), fb);
        for (uint32_t i = 0; i < n; ++i) {
            const uint64_t sq = (uint64_t)((int64_t)d[i] * d[i]);  /* < 2^62; three of them < 2^64 */
            m2[i] = a % 3U == 0U ? sq : m2[i] + sq;
        }
        const ml_status st = motion_bands_q(params, d, sum_d, params->offset_q30[s], buf, o + 7);
        if (st != ML_OK) {
            return st;
        }
        if (a % 3U == 2U) {
            for (uint32_t i = 0; i < n; ++i) {
                d[i] = (int32_t)((ml_dsp_isqrt_u64(m2[i]) + 1U) >> 1);  /* Q14, < 2^31 */
            }
            motion_stats_q(d, n, 14, scale, fb, out + axes * per_axis + 5U * s);
        }
    }
    return ML_OK;
}
