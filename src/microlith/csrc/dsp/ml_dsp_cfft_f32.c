#include "ml_dsp_cfft_f32.h"

/* Two radix-2 decimation-in-time stages fused into one pass ("radix-2^2"): each pass reads
 * and writes a point once per two stages, and the second stage's twiddle W_L^(k + L/4) is
 * -i W_L^k, a swap and a sign, so 3 complex multiplies do the work of 4. Every twiddle
 * index stays below N / 2, inside the shared table. */

static void bit_reverse(const ml_dsp_fft_f32_params *params, float *data)
{
    const uint32_t n = params->n;
    if (params->bitrev != NULL) {
        /* generated (i, j) pairs, i < j: no index arithmetic in the loop */
        const uint16_t *p = params->bitrev;
        for (uint32_t s = 0; s < params->n_bitrev; ++s, p += 2) {
            float *a = data + 2U * p[0];
            float *b = data + 2U * p[1];
            const float re = a[0];
            const float im = a[1];
            a[0] = b[0];
            a[1] = b[1];
            b[0] = re;
            b[1] = im;
        }
        return;
    }
    /* Gold-Rader: j is i bit-reversed, kept by adding n/2 "backwards". */
    uint32_t j = 0;
    for (uint32_t i = 0; i + 1U < n; ++i) {
        if (i < j) {
            const float re = data[2 * i];
            const float im = data[2 * i + 1];
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

static void conjugate(float *data, uint32_t n)
{
    for (uint32_t i = 0; i < n; ++i) {
        data[2 * i + 1] = -data[2 * i + 1];
    }
}

ml_status ml_dsp_cfft_f32(const ml_dsp_fft_f32_params *params, int32_t inverse, float *data)
{
    const uint32_t n = params->n;
    if (!ml_dsp_is_pow2(n) || params->stride == 0U) {
        return ML_ARG_ERROR;
    }
    if (inverse) {
        conjugate(data, n);  /* IFFT(x) = conj(FFT(conj x)) without the 1/n */
    }
    bit_reverse(params, data);
    uint32_t len = 4;
    if ((ml_dsp_log2_pow2(n) & 1U) != 0U) {
        /* odd log2 n: one plain radix-2 stage of length 2 (twiddle 1) first */
        for (uint32_t i = 0; i < n; i += 2) {
            float *a = data + 2 * i;
            const float br = a[2];
            const float bi = a[3];
            a[2] = a[0] - br;
            a[3] = a[1] - bi;
            a[0] += br;
            a[1] += bi;
        }
        len = 8;
    } else if (n >= 4U) {
        /* the first pass of length 4 has twiddles 1 and -i only: additions alone */
        for (float *a = data; a < data + 2 * n; a += 8) {
            const float a1r = a[0] + a[2];
            const float a1i = a[1] + a[3];
            const float b1r = a[0] - a[2];
            const float b1i = a[1] - a[3];
            const float c1r = a[4] + a[6];
            const float c1i = a[5] + a[7];
            const float d1r = a[4] - a[6];
            const float d1i = a[5] - a[7];
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
    const float *tw = params->twiddle;
    for (; len <= n; len <<= 2) {
        const uint32_t q = len >> 2;
        const uint32_t step = (n / len) * params->stride;  /* W_len^k = tw[2 k step], (cos, sin) */
        for (uint32_t k = 0; k < q; ++k) {
            const float w1r = tw[4 * k * step];       /* W_len^2k, the stage of length len / 2 */
            const float w1i = -tw[4 * k * step + 1];
            const float w2r = tw[2 * k * step];       /* W_len^k, the stage of length len */
            const float w2i = -tw[2 * k * step + 1];
            for (float *a = data + 2 * k; a < data + 2 * n; a += 2 * len) {
                float *b = a + 2 * q;
                float *c = b + 2 * q;
                float *d = c + 2 * q;
                /* stage len / 2: (a, b) and (c, d), twiddle W_len^2k */
                const float tbr = b[0] * w1r - b[1] * w1i;
                const float tbi = b[0] * w1i + b[1] * w1r;
                const float tdr = d[0] * w1r - d[1] * w1i;
                const float tdi = d[0] * w1i + d[1] * w1r;
                const float a1r = a[0] + tbr;
                const float a1i = a[1] + tbi;
                const float b1r = a[0] - tbr;
                const float b1i = a[1] - tbi;
                const float c1r = c[0] + tdr;
                const float c1i = c[1] + tdi;
                const float d1r = c[0] - tdr;
                const float d1i = c[1] - tdi;
                /* stage len: (a1, c1) with W_len^k, (b1, d1) with W_len^(k + q) = -i W_len^k */
                const float tcr = c1r * w2r - c1i * w2i;
                const float tci = c1r * w2i + c1i * w2r;
                const float ur = d1r * w2r - d1i * w2i;
                const float ui = d1r * w2i + d1i * w2r;
                a[0] = a1r + tcr;
                a[1] = a1i + tci;
                c[0] = a1r - tcr;
                c[1] = a1i - tci;
                b[0] = b1r + ui;  /* b1 + (-i) u */
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
