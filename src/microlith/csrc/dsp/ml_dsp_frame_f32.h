#ifndef ML_DSP_FRAME_F32_H
#define ML_DSP_FRAME_F32_H

#include "ml_dsp_common.h"

typedef struct {
    uint32_t frame_length;  /* samples taken from the input */
    uint32_t n_fft;         /* output length, >= frame_length; the tail is zero */
    float preemphasis;      /* a in y[i] = x[i] - a x[i-1]; 0 for none */
    const float *window;    /* frame_length values: the window times the scale (physical units per
                             * count), folded together when the table is generated */
} ml_dsp_frame_f32_params;

/*
 * out[i] = (x[i] - a * x[i-1]) * window[i] for i < frame_length, 0 up to n_fft.
 * prev is x[-1], the sample before the frame (0 at the start of a clip).
 */
ml_status ml_dsp_frame_f32(const ml_dsp_frame_f32_params *params, const int16_t *x, int16_t prev, float *out);

#endif
