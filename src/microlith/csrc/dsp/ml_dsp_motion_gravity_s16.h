#ifndef ML_DSP_MOTION_GRAVITY_S16_H
#define ML_DSP_MOTION_GRAVITY_S16_H

#include "ml_dsp_common.h"

typedef struct {
    uint32_t n;          /* time steps per window, 4 .. 16384 */
    uint32_t axes;       /* interleaved int16 values per time step (3 or 6) */
    int32_t alpha_q30;   /* low-pass coefficient 1 - exp(-2 pi fc / fs), Q30, 0 < alpha < 2^30 */
} ml_dsp_motion_gravity_params;

/*
 * Gravity removal on one axis of an interleaved IMU window x[i * axes + axis], exactly as
 * microlith.dsp.motion.gravity_split: X = x * 2^15, g starts at round_half_up(mean X),
 * g += round_half_up(alpha_q30 (X[i] - g) / 2^30), d[i] = X[i] - g (Q15 counts, |d| < 2^31).
 * Integers only, so the float and fixed-point kernels see the same d as numpy.
 */
ml_status ml_dsp_motion_gravity_s16(const ml_dsp_motion_gravity_params *params, const int16_t *x,
                                    uint32_t axis, int32_t *d);

#endif
