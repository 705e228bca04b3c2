#include "ml_dsp_cfft_q31.h"

/* The structure of ml_dsp_cfft_f32 (radix-2 stages fused in pairs, the second stage's
 * W_L^(k + L/4) applied exactly as -i W_L^k), in q31. Each product is rounded on its own
 * (ml_dsp_mul_q31), so a complex product carries two roundings, not one: what lets
 * ARMv6-M use 32-bit multiplies, with the same result on every core. */


static void bit_reverse(const ml_dsp_fft_q31_params *params, int32_t *data)
{
    const uint32_t n = params->n;
    if (params->bitrev != NULL) {
        const uint16_t *p = params->bitrev;
        for (uint32_t s = 0; s < params->n_bitrev; ++s, p += 2) {
            int32_t *a = data + 2U * p[0];
            int32_t *b = data + 2U * p[1];
            const int32_t re = a[0];
            const int32_t im = a[1];
            a[0] = b[0];
            a[1] = b[1];
            b[0] = re;
            b[1] = im;
        }
        return;
    }
    uint32_t j = 0;  /* Gold-Rader, as in ml_dsp_cfft_f32 */
    for (uint32_t i = 0; i + 1U < n; ++i) {
        if (i < j) {
            const int32_t re = data[2 * i];
            const int32_t im = data[2 * i + 1];
            data[2 * i] = data[2 * j];
            data[2 * i + 1] = data[2 * j + 1];
            data[2 * j] = re;
            data[2 * j + 1] = im;
        }
        uint32_t k = n >> 1;
        while (k <= j) {
            j -= k;
            k >>= 1;
        }
        j += k;
    }
}

static void conjugate(int32_t *data, uint32_t n)
{
    for (uint32_t i = 0; i < n; ++i) {
        data[2 * i + 1] = -data[2 * i + 1];
    }
}

ml_status ml_dsp_cfft_q31(const ml_dsp_fft_q31_params *params, int32_t inverse, int32_t *data)
{
    const uint32_t n = params->n;
    if (!ml_dsp_is_pow2(n) || params->stride == 0U) {
        return ML_ARG_ERROR;
    }
    if (inverse) {
        conjugate(data, n);
    }
    bit_reverse(params, data);
    uint32_t len = 4;
    if ((ml_dsp_log2_pow2(n) & 1U) != 0U) {
        for (uint32_t i = 0; i < n; i += 2) {
            int32_t *a = data + 2 * i;
            const int32_t br = a[2];
            const int32_t bi = a[3];
            a[2] = a[0] - br;
            a[3] = a[1] - bi;
            a[0] += br;
            a[1] += bi;
        }
        len = 8;
    } else if (n >= 4U) {
        for (int32_t *a = data; a < data + 2 * n; a += 8) {  /* twiddles 1 and -i: additions alone */
            const int32_t a1r = a[0] + a[2];
            const int32_t a1i = a[1] + a[3];
            const int32_t b1r = a[0] - a[2];
            const int32_t b1i = a[1] - a[3];
            const int32_t c1r = a[4] + a[6];
            const int32_t c1i = a[5] + a[7];
            const int32_t d1r = a[4] - a[6];
            const int32_t d1i = a[5] - a[7];
            a[0] = a1r + c1r;
            a[1] = a1i + c1i;
            a[4] = a1r - c1r;
            a[5] = a1i - c1i;
            a[2] = b1r + d1i;
            a[3] = b1i - d1r;
            a[6] = b1r - d1i;
            a[7] = b1i + d1r;
        }
        len = 16;
    }
    const int32_t *tw = params->twiddle;
    for (; len <= n; len <<= 2) {
        const uint32_t q = len >> 2;
        const uint32_t step = (n / len) * params->stride;
        for (uint32_t k = 0; k < q; ++k) {
            const int32_t w1r = tw[4 * k * step];
            const int32_t w1i = -tw[4 * k * step + 1];
            const int32_t w2r = tw[2 * k * step];
            const int32_t w2i = -tw[2 * k * step + 1];
            for (int32_t *a = data + 2 * k; a < data + 2 * n; a += 2 * len) {
                int32_t *b = a + 2 * q;
                int32_t *c = b + 2 * q;
                int32_t *d = c + 2 * q;
                int32_t tbr;
                int32_t tbi;
                int32_t tdr;
                int32_t tdi;
                int32_t tcr;
                int32_t tci;
                int32_t ur;
                int32_t ui;
                if (k == 0U) {  /* twiddle 1: no products, and none of their rounding */
                    tbr = b[0];
                    tbi = b[1];
                    tdr = d[0];
                    tdi = d[1];
                } else {
                    tbr = ml_dsp_mul_q31(b[0], w1r) - ml_dsp_mul_q31(b[1], w1i);
                    tbi = ml_dsp_mul_q31(b[0], w1i) + ml_dsp_mul_q31(b[1], w1r);
                    tdr = ml_dsp_mul_q31(d[0], w1r) - ml_dsp_mul_q31(d[1], w1i);
                    tdi = ml_dsp_mul_q31(d[0], w1i) + ml_dsp_mul_q31(d[1], w1r);
                }
                const int32_t a1r = a[0] + tbr;
                const int32_t a1i = a[1] + tbi;
                const int32_t b1r = a[0] - tbr;
                const int32_t b1i = a[1] - tbi;
                const int32_t c1r = c[0] + tdr;
                const int32_t c1i = c[1] + tdi;
                const int32_t d1r = c[0] - tdr;
                const int32_t d1i = c[1] - tdi;
                if (k == 0U) {
                    tcr = c1r;
                    tci = c1i;
                    ur = d1r;
                    ui = d1i;
                } else {
                    tcr = ml_dsp_mul_q31(c1r, w2r) - ml_dsp_mul_q31(c1i, w2i);
                    tci = ml_dsp_mul_q31(c1r, w2i) + ml_dsp_mul_q31(c1i, w2r);
                    ur = ml_dsp_mul_q31(d1r, w2r) - ml_dsp_mul_q31(d1i, w2i);
                    ui = ml_dsp_mul_q31(d1r, w2i) + ml_dsp_mul_q31(d1i, w2r);
                }
                a[0] = a1r + tcr;
                a[1] = a1i + tci;
                c[0] = a1r - tcr;
                c[1] = a1i - tci;
                b[0] = b1r + ui;
                b[1] = b1i - ur;
                d[0] = b1r - ui;
                d[1] = b1i + ur;
            }
        }
    }
    if (inverse) {
        conjugate(data, n);
    }
    return ML_OK;
}
