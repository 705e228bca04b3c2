#ifndef ML_SIGNAL_WINDOW_S16_H
#define ML_SIGNAL_WINDOW_S16_H

#include "ml_common.h"

/* TFLM's SignalWindow (signal/micro/kernels/window.cc, signal/src/window.cc). */
typedef struct {
    int32_t size;         /* input (and output) elements: a whole number of windows */
    int32_t window_size;  /* elements of the weights, >= 1 */
    int32_t shift;        /* in [0, 31] */
} ml_signal_window_params;

/*
 * For each frame of window_size samples:
 *   output[i] = clamp((input[i] * weights[i]) >> shift, -32768, 32767)
 * (product in int32, arithmetic shift). input, weights and output are int16.
 */
ml_status ml_signal_window_s16(const ml_signal_window_params *params, const int16_t *input,
                               const int16_t *weights, int16_t *output);

#endif
