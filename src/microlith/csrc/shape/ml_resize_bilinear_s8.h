#ifndef ML_RESIZE_BILINEAR_S8_H
#define ML_RESIZE_BILINEAR_S8_H

#include "ml_common.h"

typedef struct {
    int32_t height_scale_10;     /* input/output height ratio in Q10, as TFLM rounds it */
    int32_t width_scale_10;      /* likewise for the width */
    int32_t half_pixel_centers;  /* 0 or 1 */
} ml_resize_bilinear_params;

/*
 * RESIZE_BILINEAR on int8 (TFLM reference_ops::ResizeBilinearInteger): each output value is
 * the Q10 x Q10 weighted sum of four input neighbours, rounded half away from zero from Q20
 * (TFLM's default build, without TFLITE_SINGLE_ROUNDING). The input and output share their
 * quantization in effect: TFLM does not rescale. align_corners only changes the scales,
 * which the generator computes.
 */
ml_status ml_resize_bilinear_s8(const ml_resize_bilinear_params *params,
                                const ml_dims *input_dims, const int8_t *input,
                                const ml_dims *output_dims, int8_t *output);

#endif
