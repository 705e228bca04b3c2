#ifndef ML_SIGNAL_DELAY_S16_H
#define ML_SIGNAL_DELAY_S16_H

#include "ml_common.h"

/* TFLM's SignalDelay (signal/micro/kernels/delay.cc, signal/src/circular_buffer.cc). */
typedef struct {
    int32_t rows;          /* independent signals: the input's size over its last dimension */
    int32_t frame_size;    /* samples per row and invoke: the last dimension */
    int32_t delay_length;  /* samples of delay, >= 0 */
} ml_signal_delay_params;

/*
 * Each row's output is its input stream delayed by delay_length samples, the first ones zero.
 * `state` (rows x delay_length int16, kept across invokes, all zero after a reset) holds the
 * samples still owed: output = (state ++ input)[0 : frame_size] and the new state is the rest,
 * as TFLM's circular buffer of frame_size + delay_length samples gives them.
 */
ml_status ml_signal_delay_s16(const ml_signal_delay_params *params, const int16_t *input,
                              int16_t *output, int16_t *state);

#endif
