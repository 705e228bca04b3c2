#ifndef ML_SIGNAL_ENERGY_S16_H
#define ML_SIGNAL_ENERGY_S16_H

#include "ml_common.h"

/* TFLM's SignalEnergy (signal/micro/kernels/energy.cc, signal/src/energy.cc). */
typedef struct {
    int32_t start_index;  /* first bin written, >= 0 */
    int32_t end_index;    /* one past the last bin written, <= output size and input bins */
    int32_t size;         /* output elements */
} ml_signal_energy_params;

/*
 * output[i] = re[i]^2 + im[i]^2 for start_index <= i < end_index, computed as TFLM does in
 * int32 (which wraps to 2^31 for a bin of -32768 - 32768i) and stored as uint32. TFLM leaves
 * the other bins unwritten (whatever the arena held); this kernel writes 0 there.
 * input: complex int16 (re, im) pairs.
 */
ml_status ml_signal_energy_s16(const ml_signal_energy_params *params, const int16_t *input,
                               uint32_t *output);

#endif
