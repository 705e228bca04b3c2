#ifndef ML_DSP_RR_FEATURES_F32_H
#define ML_DSP_RR_FEATURES_F32_H

#include "ml_dsp_rr_stats.h"

/*
 * out = {mean_rr_ms, sdnn_ms, rmssd_ms, pnn50, cv, nrmssd, tpr, shannon, hr_bpm} of the RR
 * intervals between n_peaks ascending R-peak indices; definitions in microlith.dsp.ecg.
 * Sums are exact integers (RR <= 65535 samples, n_peaks <= 32768); only the last steps
 * are float. Features that need more intervals than there are are 0.
 */
ml_status ml_dsp_rr_features_f32(const ml_dsp_rr_params *params, const int32_t *peaks, uint32_t n_peaks,
                                 float *out);

#endif
