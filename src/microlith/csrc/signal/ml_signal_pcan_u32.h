#ifndef ML_SIGNAL_PCAN_U32_H
#define ML_SIGNAL_PCAN_U32_H

#include "ml_common.h"

/* TFLM's SignalPCAN (signal/micro/kernels/pcan.cc, signal/src/pcan_argc_fixed.cc):
 * per-channel automatic gain control. */
typedef struct {
    int32_t size;       /* channels */
    int32_t snr_shift;  /* in [0, 63] */
} ml_signal_pcan_params;

/*
 * gain = WideDynamicFunction(noise[i], gain_lut) (a piecewise quadratic from the 125-entry
 * lut, as int16 widened to uint32), snr = (input[i] * gain) >> snr_shift in uint64 kept as
 * uint32, output[i] = PcanShrink(snr).
 */
ml_status ml_signal_pcan_u32(const ml_signal_pcan_params *params, const uint32_t *input,
                             const uint32_t *noise, const int16_t *gain_lut, uint32_t *output);

#endif
