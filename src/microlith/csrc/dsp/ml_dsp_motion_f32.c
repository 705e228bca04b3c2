#include "ml_dsp_motion_f32.h"

#include "ml_dsp_mathf.h"
#include "ml_dsp_rfft_f32.h"

/* out = {mean, std, min, max, rms} of v[0..n), two passes (the mean first). */
static void motion_stats_f32(const float *v, uint32_t n, float *out)
{
    float sum = 0.0f;
    float sq = 0.0f;
    float lo = v[0];
    float hi = v[0];
    for (uint32_t i = 0; i < n; ++i) {
        sum += v[i];
        sq += v[i] * v[i];
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    const float nf = (float)n;
    const float mean = sum / nf;
    float s2 = 0.0f;
    for (uint32_t i = 0; i < n; ++i) {
        const float c = v[i] - mean;
        s2 += c * c;
    }
    out[0] = mean;
    out[1] = ml_dsp_sqrtf(s2 / nf);
    out[2] = lo;
    out[3] = hi;
    out[4] = ml_dsp_sqrtf(sq / nf);
}

ml_status ml_dsp_motion_f32(const ml_dsp_motion_f32_params *params, const int16_t *x, float *out, void *work)
{
    const uint32_t n = params->gravity.n;
    const uint32_t axes = params->gravity.axes;
    const uint32_t n_fft = params->fft->n;
    if ((axes != 3U && axes != 6U) || n < 4U || n > n_fft || n > 16384U) {
        return ML_ARG_ERROR;
    }
    int32_t *d = (int32_t *)work;
    float *m2 = (float *)work + n;
    float *buf = (float *)work + 2U * n;
    const uint32_t per_axis = 7U + params->n_bands;
    float stats[5];
    for (uint32_t a = 0; a < axes; ++a) {
        const uint32_t s = a / 3U;
        float *o = out + a * per_axis;
        const ml_status gs = ml_dsp_motion_gravity_s16(&params->gravity, x, a, d);
        if (gs != ML_OK) {
            return gs;
        }
        /* Exact integer parts: raw sum, squared first differences, zero crossings of d. */
        int64_t sum = x[a];
        uint64_t jerk = 0;
        uint32_t crossings = 0;
        for (uint32_t i = 1; i < n; ++i) {
            const int32_t cur = x[i * axes + a];
            const int32_t diff = cur - (int32_t)x[(i - 1U) * axes + a];
            sum += cur;
            jerk += (uint64_t)((int64_t)diff * diff);
            crossings += (uint32_t)((d[i] < 0) != (d[i - 1U] < 0));
        }
        const float u = params->d_unit[s];
        for (uint32_t i = 0; i < n; ++i) {
            buf[i] = (float)d[i] * u;
        }
        motion_stats_f32(buf, n, stats);
        o[0] = (float)sum * params->mean_unit[s];
        o[1] = stats[1];
        o[2] = stats[2];
        o[3] = stats[3];
        o[4] = stats[4];
        o[5] = (float)crossings * params->zcr_unit;
        o[6] = ml_dsp_sqrtf((float)jerk) * params->jerk_unit[s];
        /* The magnitude of the sensor's gravity-removed vector, summed over its three axes. */
        for (uint32_t i = 0; i < n; ++i) {
            const float sq = buf[i] * buf[i];
            m2[i] = a % 3U == 0U ? sq : m2[i] + sq;
        }
        /* Band energies of d: mean removed, windowed, zero-padded to n_fft. */
        const float mean = stats[0];
        for (uint32_t i = 0; i < n; ++i) {
            buf[i] = (buf[i] - mean) * params->window[i];
        }
        for (uint32_t i = n; i < n_fft; ++i) {
            buf[i] = 0.0f;
        }
        const ml_status st = ml_dsp_rfft_f32(params->fft, buf);
        if (st != ML_OK) {
            return st;
        }
        for (uint32_t b = 0; b < params->n_bands; ++b) {
            float acc = 0.0f;
            for (uint32_t k = params->band_start[b]; k < params->band_end[b]; ++k) {
                if (k == 0U) {
                    acc += buf[0] * buf[0];
                } else if (k == n_fft / 2U) {
                    acc += buf[1] * buf[1];
                } else {
                    acc += 2.0f * (buf[2U * k] * buf[2U * k] + buf[2U * k + 1U] * buf[2U * k + 1U]);
                }
            }
            const float p = acc * params->norm;
            o[7U + b] = ml_dsp_logf(p > params->floor ? p : params->floor);
        }
        if (a % 3U == 2U) {
            for (uint32_t i = 0; i < n; ++i) {
                m2[i] = ml_dsp_sqrtf(m2[i]);
            }
            motion_stats_f32(m2, n, out + axes * per_axis + 5U * s);
        }
    }
    return ML_OK;
}
