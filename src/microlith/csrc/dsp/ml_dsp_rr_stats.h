/* Exact integer statistics of RR intervals, shared by ml_dsp_rr_features_f32 and _q. */
#ifndef ML_DSP_RR_STATS_H
#define ML_DSP_RR_STATS_H

#include "ml_dsp_common.h"

#define ML_DSP_RR_FEATURES 9
#define ML_DSP_RR_BINS 16

typedef struct {
    int32_t fs;         /* sample rate of the peak indices, Hz */
    int32_t frac_bits;  /* output Q format of ml_dsp_rr_features_q (unused by _f32) */
} ml_dsp_rr_params;

typedef struct {
    int64_t n;        /* intervals */
    int64_t sum;      /* sum rr */
    int64_t var_num;  /* n sum rr^2 - (sum rr)^2 = n (n - 1) var */
    int64_t diff_sq;  /* sum of squared successive differences */
    int64_t nn50;     /* successive differences over 50 ms */
    int64_t turns;    /* strict local extrema among inner intervals */
    int32_t hist[ML_DSP_RR_BINS];  /* bin = (rr - min) * 16 / (max - min + 1) */
} ml_dsp_rr_stats;

ml_status ml_dsp_rr_stats_compute(const ml_dsp_rr_params *params, const int32_t *peaks, uint32_t n_peaks,
                                  ml_dsp_rr_stats *st);

#endif
