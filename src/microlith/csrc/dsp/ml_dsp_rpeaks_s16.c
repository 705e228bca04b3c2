#include "ml_dsp_rpeaks_s16.h"

typedef struct {
    const ml_dsp_rpeaks_params *p;
    int64_t *s1r;  /* m_lp: first moving sum */
    int64_t *lpr;  /* m_hp: low-passed */
    int64_t *sqr;  /* w: squared derivative */
    int64_t *mr;   /* hist: integrated, indexed by time */
    int32_t *xr;   /* m_lp: input */
    int32_t *bpr;  /* hist: band-passed, indexed by time */
    int64_t s1, lp, hpsum, mwi;
    int32_t i_lp, i_hp, i_w;
    uint32_t t;    /* samples fed, priming included */
} pt_state;

static void pt_reset(pt_state *s, const ml_dsp_rpeaks_params *p, void *work)
{
    s->p = p;
    s->s1r = (int64_t *)work;
    s->lpr = s->s1r + p->m_lp;
    s->sqr = s->lpr + p->m_hp;
    s->mr = s->sqr + p->w;
    s->xr = (int32_t *)(s->mr + p->hist);
    s->bpr = s->xr + p->m_lp;
    memset(work, 0, (size_t)ML_DSP_RPEAKS_WORK_BYTES(p->m_lp, p->m_hp, p->w, p->hist));
    s->s1 = s->lp = s->hpsum = s->mwi = 0;
    s->i_lp = s->i_hp = s->i_w = 0;
    s->t = 0;
}

/* One sample through band-pass, derivative, squaring and integration: exact integers,
 * running sums over rings that start at zero (numpy's filter_chain does the same sums). */
static void pt_step(pt_state *s, int32_t x)
{
    const ml_dsp_rpeaks_params *p = s->p;
    const uint32_t mask = (uint32_t)p->hist - 1U;
    s->s1 += x - s->xr[s->i_lp];
    s->xr[s->i_lp] = x;
    s->lp += s->s1 - s->s1r[s->i_lp];
    s->s1r[s->i_lp] = s->s1;
    s->i_lp = s->i_lp + 1 == p->m_lp ? 0 : s->i_lp + 1;
    s->hpsum += s->lp - s->lpr[s->i_hp];
    s->lpr[s->i_hp] = s->lp;
    const int64_t delayed = s->lpr[(s->i_hp + p->m_hp - p->d_hp) % p->m_hp];
    s->i_hp = s->i_hp + 1 == p->m_hp ? 0 : s->i_hp + 1;
    const int32_t bp = (int32_t)(((int64_t)p->m_hp * delayed - s->hpsum) >> p->s_bp);
    const uint32_t t = s->t;
    s->bpr[t & mask] = bp;
    const int64_t d = 2 * (int64_t)bp + s->bpr[(t - 1U) & mask] - s->bpr[(t - 3U) & mask] -
                      2 * (int64_t)s->bpr[(t - 4U) & mask];
    const int64_t sq = (d * d) >> p->s_sq;
    s->mwi += sq - s->sqr[s->i_w];
    s->sqr[s->i_w] = sq;
    s->i_w = s->i_w + 1 == p->w ? 0 : s->i_w + 1;
    s->mr[t & mask] = s->mwi;
    s->t = t + 1U;
}

static int64_t mwi_at(const pt_state *s, int32_t i)
{
    return s->mr[((uint32_t)i + (uint32_t)s->p->prime) & ((uint32_t)s->p->hist - 1U)];
}

static int64_t bp_at(const pt_state *s, int32_t i)
{
    return s->bpr[((uint32_t)i + (uint32_t)s->p->prime) & ((uint32_t)s->p->hist - 1U)];
}

static int64_t absbp_at(const pt_state *s, int32_t i)
{
    const int64_t v = bp_at(s, i);
    return v < 0 ? -v : v;
}

/* Max |derivative| over the integration window ending at p (i >= 0 reaches back into the
 * priming samples, which the ring still holds). */
static int64_t slope(const pt_state *s, int32_t p)
{
    int64_t best = 0;
    for (int32_t j = p - s->p->w + 1 < 0 ? 0 : p - s->p->w + 1; j <= p; ++j) {
        int64_t d = 2 * bp_at(s, j) + bp_at(s, j - 1) - bp_at(s, j - 3) - 2 * bp_at(s, j - 4);
        d = d < 0 ? -d : d;
        best = d > best ? d : best;
    }
    return best;
}

/* p is a candidate if mwi[p] > 0 and it is the maximum of [p - r, last], strictly over
 * everything before p. */
static int is_candidate(const pt_state *s, int32_t p, int32_t last)
{
    const int64_t v = mwi_at(s, p);
    if (v <= 0) {
        return 0;
    }
    const int32_t lo = p - s->p->r < 0 ? 0 : p - s->p->r;
    for (int32_t j = lo; j < p; ++j) {
        if (mwi_at(s, j) >= v) {
            return 0;
        }
    }
    for (int32_t j = p + 1; j <= last; ++j) {
        if (mwi_at(s, j) > v) {
            return 0;
        }
    }
    return 1;
}

static int32_t refine(const pt_state *s, int32_t p)
{
    const int32_t lo = p - s->p->w - 2 < 0 ? 0 : p - s->p->w - 2;
    int32_t best = lo;
    int64_t best_v = absbp_at(s, lo);
    for (int32_t j = lo + 1; j <= p; ++j) {
        const int64_t v = absbp_at(s, j);
        if (v > best_v) {
            best_v = v;
            best = j;
        }
    }
    return best - s->p->delay < 0 ? 0 : best - s->p->delay;
}

typedef struct {
    int64_t spki, npki, thr1, thr2;
    int32_t last;          /* candidate index of the last QRS, -1 before the first */
    int64_t last_slope;
    int32_t rr[8];
    int32_t rr_count;      /* up to 8 */
    int32_t rr_next;
    int32_t have_best;
    int64_t best_v;
    int32_t best_p, best_r;
    int64_t best_slope;
    int32_t *peaks;
    uint32_t max_peaks, count;
    int overflow;
} pt_detector;

static void thresholds(pt_detector *d)
{
    d->thr1 = d->npki + ((d->spki - d->npki) >> 2);
    d->thr2 = d->thr1 >> 1;
}

static void accept(pt_detector *d, int32_t p, int32_t r, int64_t qrs_slope)
{
    if (d->count < d->max_peaks) {
        d->peaks[d->count] = r;
        ++d->count;
    } else {
        d->overflow = 1;
    }
    if (d->last >= 0) {
        d->rr[d->rr_next] = p - d->last;
        d->rr_next = (d->rr_next + 1) & 7;
        d->rr_count = d->rr_count < 8 ? d->rr_count + 1 : 8;
    }
    d->last = p;
    d->last_slope = qrs_slope;
    d->have_best = 0;
}

static void on_candidate(pt_detector *d, const pt_state *s, int32_t p)
{
    const int64_t v = mwi_at(s, p);
    if (d->have_best && d->rr_count > 0) {
        int64_t total = 0;
        for (int32_t k = 0; k < d->rr_count; ++k) {
            total += d->rr[k];
        }
        if (p - d->last > (total / d->rr_count) * 166 / 100) {  /* search back */
            d->spki = (d->best_v + 3 * d->spki) >> 2;
            accept(d, d->best_p, d->best_r, d->best_slope);
            thresholds(d);
        }
    }
    if (d->last >= 0 && p - d->last < s->p->refractory) {
        return;
    }
    const int64_t sp = slope(s, p);
    const int t_wave = d->last >= 0 && p - d->last < s->p->t_wave && 10 * sp < s->p->t_slope * d->last_slope;
    if (v > d->thr1 && !t_wave) {
        d->spki = (v + 7 * d->spki) >> 3;
        accept(d, p, refine(s, p), sp);
    } else {
        d->npki = (v + 7 * d->npki) >> 3;
        if (v > d->thr2 && !t_wave && (!d->have_best || v > d->best_v)) {
            d->have_best = 1;
            d->best_v = v;
            d->best_p = p;
            d->best_r = refine(s, p);
            d->best_slope = sp;
        }
    }
    thresholds(d);
}

ml_status ml_dsp_rpeaks_s16(const ml_dsp_rpeaks_params *params, const int16_t *x, uint32_t n,
                            int32_t *peaks, uint32_t max_peaks, uint32_t *n_peaks, void *work)
{
    const ml_dsp_rpeaks_params *p = params;
    if (p->hist < 2 * p->r + 1 || p->hist < p->r + p->w + 5 || !ml_dsp_is_pow2((uint32_t)p->hist) ||
        p->m_lp < 1 || p->m_hp < 1 || p->w < 1 || p->r < 1 || n > (uint32_t)INT32_MAX) {
        return ML_ARG_ERROR;
    }
    *n_peaks = 0;
    if (n == 0U) {
        return ML_OK;
    }
    pt_state s;
    /* learning phase: threshold estimates from the first 2 s, the signal level from the
     * smaller of the maxima of its two halves */
    pt_reset(&s, p, work);
    for (int32_t k = 0; k < p->prime; ++k) {
        pt_step(&s, x[0]);
    }
    const uint32_t learn = n < (uint32_t)p->learn ? n : (uint32_t)p->learn;
    const uint32_t half = learn / 2U;
    int64_t peak[2] = { 0, 0 };
    int64_t total = 0;
    for (uint32_t i = 0; i < learn; ++i) {
        pt_step(&s, x[i]);
        const int64_t v = mwi_at(&s, (int32_t)i);
        const int h = half > 0U && i >= half;
        peak[h] = v > peak[h] ? v : peak[h];
        total += v;
    }
    pt_detector d;
    memset(&d, 0, sizeof d);
    d.spki = (half == 0U ? peak[0] : (peak[0] < peak[1] ? peak[0] : peak[1])) / 3;
    d.npki = (total / (int64_t)learn) / 2;
    d.last = -1;
    d.peaks = peaks;
    d.max_peaks = max_peaks;
    thresholds(&d);
    /* detection: candidate p is decided once mwi[p + r] is known */
    pt_reset(&s, p, work);
    for (int32_t k = 0; k < p->prime; ++k) {
        pt_step(&s, x[0]);
    }
    const int32_t last = (int32_t)n - 1;
    for (int32_t i = 0; i <= last; ++i) {
        pt_step(&s, x[i]);
        const int32_t c = i - p->r;
        if (c >= 0 && is_candidate(&s, c, i)) {
            on_candidate(&d, &s, c);
        }
    }
    for (int32_t c = (int32_t)n - p->r < 0 ? 0 : (int32_t)n - p->r; c <= last; ++c) {
        if (is_candidate(&s, c, last)) {
            on_candidate(&d, &s, c);
        }
    }
    *n_peaks = d.count;
    return d.overflow ? ML_ARG_ERROR : ML_OK;
}
