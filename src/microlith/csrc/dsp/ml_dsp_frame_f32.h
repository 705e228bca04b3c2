#ifndef ML_DSP_FRAME_F32_H
#define ML_DSP_FRAME_F32_H

#include "ml_dsp_common.h"

typedef struct {
    uint32_t frame_length;  /* samples taken from the input */
    uint32_t n_fft;         /* output length, >= frame_length; the tail is zero */
    float preemphasis;      /* a in y[i] = x[i] - a x[i-1]; 0 for none */
    const float *window;    /* frame_length values: the window times the scale (physical units per
                             * count), folded together when the table is generated */
    const uint16_t *order;  /* NULL, or n_fft / 2 positions: see below */
} ml_dsp_frame_f32_params;

/*
 * y[i] = (x[i] - a * x[i-1]) * window[i] for i < frame_length, 0 up to n_fft.
 * prev is x[-1], the sample before the frame (0 at the start of a clip).
 * order NULL: out[i] = y[i]. Otherwise the pair (y[2j], y[2j+1]) goes to out[2 order[j]] and
 * out[2 order[j] + 1]: with order = the bit reversal of n_fft / 2 points this is the input an
 * rfft's inner complex FFT permutes to, so that FFT can skip its permutation pass (give it
 * a bitrev table with n_bitrev = 0).
 */
ml_status ml_dsp_frame_f32(const ml_dsp_frame_f32_params *params, const int16_t *x, int16_t prev, float *out);

#endif
