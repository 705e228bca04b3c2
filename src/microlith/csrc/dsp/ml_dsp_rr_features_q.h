#ifndef ML_DSP_RR_FEATURES_Q_H
#define ML_DSP_RR_FEATURES_Q_H

#include "ml_dsp_rr_stats.h"

/* ml_dsp_rr_features_f32's features in Q(params->frac_bits), integers only (ml_dsp_xq arithmetic). */
ml_status ml_dsp_rr_features_q(const ml_dsp_rr_params *params, const int32_t *peaks, uint32_t n_peaks,
                               int32_t *out);

#endif
