#ifndef ML_SIGNAL_FFT_AUTO_SCALE_S16_H
#define ML_SIGNAL_FFT_AUTO_SCALE_S16_H

#include "ml_common.h"

/* TFLM's SignalFftAutoScale (signal/micro/kernels/fft_auto_scale_kernel.cc,
 * signal/src/fft_auto_scale.cc, max_abs.cc). */
typedef struct {
    int32_t size;  /* elements of input and output */
} ml_signal_fft_auto_scale_params;

/*
 * Shifts the frame left by as many bits as its largest magnitude allows and returns that
 * count in *scale_bits. The largest magnitude is TFLM's MaxAbs16, which keeps it in int16:
 * -32768 wraps to itself, and any later sample then counts as larger.
 * output[i] = (int16_t)(input[i] << scale_bits), wrapping like TFLM.
 */
ml_status ml_signal_fft_auto_scale_s16(const ml_signal_fft_auto_scale_params *params,
                                       const int16_t *input, int16_t *output, int32_t *scale_bits);

#endif
