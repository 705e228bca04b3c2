#ifndef ML_ADD_S16_H
#define ML_ADD_S16_H

#include "ml_common.h"
#include "ml_add_s8.h"

/*
 * int16 ADD and SUB: TFLM's reference_ops::Add (general scale, pot_scale false) /
 * BroadcastAdd4DSlow and reference_ops::Sub / BroadcastQuantSubSlow for int16, which run the
 * int8 algorithm (ml_add_s8) with left_shift 15 and int16 clamps. The parameters are
 * ml_add_params; offsets are -zero points in [-32767, 32768], so
 * (x + offset) << 15 stays within int32.
 * Broadcasting as ml_add_s8: each input dimension equals the output's or is 1.
 */
ml_status ml_add_s16(const ml_add_params *params,
                     const ml_dims *input1_dims, const int16_t *input1,
                     const ml_dims *input2_dims, const int16_t *input2,
                     const ml_dims *output_dims, int16_t *output);

#endif
