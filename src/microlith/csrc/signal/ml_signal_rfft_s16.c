#include "ml_signal_rfft_s16.h"

typedef struct {
    int16_t r, i;
} ml_cpx16;

/* KISS FFT's sround(): (x + 2^14) >> 15, stored in int16 (wrapping). */
static int16_t ml_sround(int32_t x)
{
    return (int16_t)((x + (1 << 14)) >> 15);
}

/* C_FIXDIV(c, k): each part times SAMP_MAX / k, rounded. */
static ml_cpx16 ml_fixdiv(ml_cpx16 c, int32_t k)
{
    const int32_t f = 32767 / k;
    ml_cpx16 out;
    out.r = ml_sround(c.r * f);
    out.i = ml_sround(c.i * f);
    return out;
}

/* C_MUL(m, a, b) */
static ml_cpx16 ml_cmul(ml_cpx16 a, ml_cpx16 b)
{
    ml_cpx16 out;
    out.r = ml_sround(a.r * b.r - a.i * b.i);
    out.i = ml_sround(a.r * b.i + a.i * b.r);
    return out;
}

static ml_cpx16 ml_cadd(ml_cpx16 a, ml_cpx16 b)
{
    ml_cpx16 out;
    out.r = (int16_t)(a.r + b.r);
    out.i = (int16_t)(a.i + b.i);
    return out;
}

static ml_cpx16 ml_csub(ml_cpx16 a, ml_cpx16 b)
{
    ml_cpx16 out;
    out.r = (int16_t)(a.r - b.r);
    out.i = (int16_t)(a.i - b.i);
    return out;
}

static ml_cpx16 ml_tw(const int16_t *tw, int32_t k)
{
    ml_cpx16 out;
    out.r = tw[2 * k];
    out.i = tw[2 * k + 1];
    return out;
}

/* kf_bfly2 */
static void ml_bfly2(ml_cpx16 *f, int32_t fstride, const int16_t *tw, int32_t m)
{
    for (int32_t k = 0; k < m; ++k) {
        ml_cpx16 t;
        f[k] = ml_fixdiv(f[k], 2);
        f[k + m] = ml_fixdiv(f[k + m], 2);
        t = ml_cmul(f[k + m], ml_tw(tw, k * fstride));
        f[k + m] = ml_csub(f[k], t);
        f[k] = ml_cadd(f[k], t);
    }
}

/* kf_bfly3 (forward) */
static void ml_bfly3(ml_cpx16 *f, int32_t fstride, const int16_t *tw, int32_t m)
{
    const ml_cpx16 epi3 = ml_tw(tw, fstride * m);
    for (int32_t k = 0; k < m; ++k) {
        ml_cpx16 s0, s1, s2, s3;
        ml_cpx16 *f0 = &f[k], *f1 = &f[k + m], *f2 = &f[k + 2 * m];
        *f0 = ml_fixdiv(*f0, 3);
        *f1 = ml_fixdiv(*f1, 3);
        *f2 = ml_fixdiv(*f2, 3);
        s1 = ml_cmul(*f1, ml_tw(tw, k * fstride));
        s2 = ml_cmul(*f2, ml_tw(tw, 2 * k * fstride));
        s3 = ml_cadd(s1, s2);
        s0 = ml_csub(s1, s2);
        f1->r = (int16_t)(f0->r - (s3.r >> 1));  /* HALF_OF: arithmetic shift */
        f1->i = (int16_t)(f0->i - (s3.i >> 1));
        s0.r = ml_sround(s0.r * epi3.i);  /* C_MULBYSCALAR */
        s0.i = ml_sround(s0.i * epi3.i);
        *f0 = ml_cadd(*f0, s3);
        f2->r = (int16_t)(f1->r + s0.i);
        f2->i = (int16_t)(f1->i - s0.r);
        f1->r = (int16_t)(f1->r - s0.i);
        f1->i = (int16_t)(f1->i + s0.r);
    }
}

/* kf_bfly4 (forward) */
static void ml_bfly4(ml_cpx16 *f, int32_t fstride, const int16_t *tw, int32_t m)
{
    for (int32_t k = 0; k < m; ++k) {
        ml_cpx16 s0, s1, s2, s3, s4, s5;
        ml_cpx16 *f0 = &f[k], *f1 = &f[k + m], *f2 = &f[k + 2 * m], *f3 = &f[k + 3 * m];
        *f0 = ml_fixdiv(*f0, 4);
        *f1 = ml_fixdiv(*f1, 4);
        *f2 = ml_fixdiv(*f2, 4);
        *f3 = ml_fixdiv(*f3, 4);
        s0 = ml_cmul(*f1, ml_tw(tw, k * fstride));
        s1 = ml_cmul(*f2, ml_tw(tw, 2 * k * fstride));
        s2 = ml_cmul(*f3, ml_tw(tw, 3 * k * fstride));
        s5 = ml_csub(*f0, s1);
        *f0 = ml_cadd(*f0, s1);
        s3 = ml_cadd(s0, s2);
        s4 = ml_csub(s0, s2);
        *f2 = ml_csub(*f0, s3);
        *f0 = ml_cadd(*f0, s3);
        f1->r = (int16_t)(s5.r + s4.i);
        f1->i = (int16_t)(s5.i - s4.r);
        f3->r = (int16_t)(s5.r - s4.i);
        f3->i = (int16_t)(s5.i + s4.r);
    }
}

/* S_MUL(a, b) */
static int32_t ml_smul(int16_t a, int16_t b)
{
    return ml_sround(a * b);
}

/* kf_bfly5 */
static void ml_bfly5(ml_cpx16 *f, int32_t fstride, const int16_t *tw, int32_t m)
{
    const ml_cpx16 ya = ml_tw(tw, fstride * m);
    const ml_cpx16 yb = ml_tw(tw, fstride * 2 * m);
    for (int32_t u = 0; u < m; ++u) {
        ml_cpx16 s[13];
        ml_cpx16 *f0 = &f[u], *f1 = &f[u + m], *f2 = &f[u + 2 * m], *f3 = &f[u + 3 * m],
                 *f4 = &f[u + 4 * m];
        *f0 = ml_fixdiv(*f0, 5);
        *f1 = ml_fixdiv(*f1, 5);
        *f2 = ml_fixdiv(*f2, 5);
        *f3 = ml_fixdiv(*f3, 5);
        *f4 = ml_fixdiv(*f4, 5);
        s[0] = *f0;
        s[1] = ml_cmul(*f1, ml_tw(tw, u * fstride));
        s[2] = ml_cmul(*f2, ml_tw(tw, 2 * u * fstride));
        s[3] = ml_cmul(*f3, ml_tw(tw, 3 * u * fstride));
        s[4] = ml_cmul(*f4, ml_tw(tw, 4 * u * fstride));
        s[7] = ml_cadd(s[1], s[4]);
        s[10] = ml_csub(s[1], s[4]);
        s[8] = ml_cadd(s[2], s[3]);
        s[9] = ml_csub(s[2], s[3]);
        f0->r = (int16_t)(f0->r + (s[7].r + s[8].r));
        f0->i = (int16_t)(f0->i + (s[7].i + s[8].i));
        s[5].r = (int16_t)(s[0].r + ml_smul(s[7].r, ya.r) + ml_smul(s[8].r, yb.r));
        s[5].i = (int16_t)(s[0].i + ml_smul(s[7].i, ya.r) + ml_smul(s[8].i, yb.r));
        s[6].r = (int16_t)(ml_smul(s[10].i, ya.i) + ml_smul(s[9].i, yb.i));
        s[6].i = (int16_t)(-ml_smul(s[10].r, ya.i) - ml_smul(s[9].r, yb.i));
        *f1 = ml_csub(s[5], s[6]);
        *f4 = ml_cadd(s[5], s[6]);
        s[11].r = (int16_t)(s[0].r + ml_smul(s[7].r, yb.r) + ml_smul(s[8].r, ya.r));
        s[11].i = (int16_t)(s[0].i + ml_smul(s[7].i, yb.r) + ml_smul(s[8].i, ya.r));
        s[12].r = (int16_t)(-ml_smul(s[10].i, yb.i) + ml_smul(s[9].i, ya.i));
        s[12].i = (int16_t)(ml_smul(s[10].r, yb.i) - ml_smul(s[9].r, ya.i));
        *f2 = ml_cadd(s[11], s[12]);
        *f3 = ml_csub(s[11], s[12]);
    }
}

/* kiss_fft(cfg, in, out) for in != out: kf_work without recursion. */
static ml_status ml_kiss_fft(const ml_signal_rfft_params *params, const ml_cpx16 *in, ml_cpx16 *out)
{
    const int32_t nfft = params->fft_length / 2;
    const int32_t *fac = params->factors;
    const int32_t last = params->num_stages - 1;
    int32_t digit[ML_SIGNAL_RFFT_MAX_STAGES];
    int32_t stride[ML_SIGNAL_RFFT_MAX_STAGES];
    int32_t idx = 0;
    if (params->num_stages < 1 || params->num_stages > ML_SIGNAL_RFFT_MAX_STAGES) {
        return ML_ARG_ERROR;
    }
    /* kf_work's recursion copies input[sum_k q_k * (p_0 ... p_{k-1})] to output position
     * sum_k q_k * m_k, where q_k < p_k is the k-th mixed-radix digit of the position. The
     * digits are counted up (the last stage's fastest), so no division is needed. */
    for (int32_t s = 0; s <= last; ++s) {
        digit[s] = 0;
        stride[s] = s == 0 ? 1 : stride[s - 1] * fac[2 * (s - 1)];
    }
    for (int32_t o = 0; o < nfft; ++o) {
        out[o] = in[idx];
        for (int32_t s = last; s >= 0; --s) {
            idx += stride[s];
            if (++digit[s] < fac[2 * s]) {
                break;
            }
            idx -= fac[2 * s] * stride[s];
            digit[s] = 0;
        }
    }
    /* Then each stage recombines its p sub-transforms of length m, innermost stage first. */
    for (int32_t s = params->num_stages - 1; s >= 0; --s) {
        const int32_t p = fac[2 * s], m = fac[2 * s + 1];
        const int32_t fstride = stride[s];
        for (int32_t base = 0; base < nfft; base += p * m) {
            switch (p) {
            case 2: ml_bfly2(out + base, fstride, params->twiddles, m); break;
            case 3: ml_bfly3(out + base, fstride, params->twiddles, m); break;
            case 4: ml_bfly4(out + base, fstride, params->twiddles, m); break;
            case 5: ml_bfly5(out + base, fstride, params->twiddles, m); break;
            default: return ML_NO_IMPL;  /* TFLM's patched KISS FFT cannot run other radices */
            }
        }
    }
    return ML_OK;
}

/* kiss_fftr's split of the half-length complex FFT into the real FFT's N/2 + 1 bins. */
static void ml_kiss_fftr_split(const ml_signal_rfft_params *params, const ml_cpx16 *tmp, ml_cpx16 *freq)
{
    const int32_t ncfft = params->fft_length / 2;
    ml_cpx16 tdc = ml_fixdiv(tmp[0], 2);
    freq[0].r = (int16_t)(tdc.r + tdc.i);
    freq[ncfft].r = (int16_t)(tdc.r - tdc.i);
    freq[0].i = 0;
    freq[ncfft].i = 0;
    for (int32_t k = 1; k <= ncfft / 2; ++k) {
        ml_cpx16 fpk = tmp[k], fpnk, f1k, f2k, t;
        fpnk.r = tmp[ncfft - k].r;
        fpnk.i = (int16_t)(-tmp[ncfft - k].i);
        fpk = ml_fixdiv(fpk, 2);
        fpnk = ml_fixdiv(fpnk, 2);
        f1k = ml_cadd(fpk, fpnk);
        f2k = ml_csub(fpk, fpnk);
        t = ml_cmul(f2k, ml_tw(params->super_twiddles, k - 1));
        freq[k].r = (int16_t)((f1k.r + t.r) >> 1);
        freq[k].i = (int16_t)((f1k.i + t.i) >> 1);
        freq[ncfft - k].r = (int16_t)((f1k.r - t.r) >> 1);
        freq[ncfft - k].i = (int16_t)((t.i - f1k.i) >> 1);
    }
}

ml_status ml_signal_rfft_s16(const ml_signal_rfft_params *params, const int16_t *input,
                             int16_t *output, int16_t *scratch)
{
    const int32_t n = params->fft_length;
    ml_cpx16 *frame = (ml_cpx16 *)(void *)scratch;       /* the padded frame, as N/2 complex */
    ml_cpx16 *half = (ml_cpx16 *)(void *)(scratch + n);  /* its complex FFT */
    if (n < 4 || n % 2 != 0 || params->input_length < 0 || params->input_length > n) {
        return ML_ARG_ERROR;
    }
    for (int32_t f = 0; f < params->frames; ++f) {
        const int16_t *src = input + f * params->input_length;
        ml_status status;
        for (int32_t i = 0; i < n / 2; ++i) {
            const int32_t a = 2 * i, b = 2 * i + 1;
            frame[i].r = a < params->input_length ? src[a] : 0;
            frame[i].i = b < params->input_length ? src[b] : 0;
        }
        status = ml_kiss_fft(params, frame, half);
        if (status != ML_OK) {
            return status;
        }
        ml_kiss_fftr_split(params, half, (ml_cpx16 *)(void *)(output + f * (n + 2)));
    }
    return ML_OK;
}
