#ifndef ML_SIGNAL_SPECTRAL_SUBTRACTION_U32_H
#define ML_SIGNAL_SPECTRAL_SUBTRACTION_U32_H

#include "ml_common.h"

/* TFLM's SignalFilterBankSpectralSubtraction (signal/micro/kernels/
 * filter_bank_spectral_subtraction.cc, signal/src/filter_bank_spectral_subtraction.cc). */
typedef struct {
    int32_t num_channels;
    uint32_t smoothing;                      /* even channels */
    uint32_t one_minus_smoothing;
    uint32_t alternate_smoothing;            /* odd channels */
    uint32_t alternate_one_minus_smoothing;
    uint32_t min_signal_remaining;
    uint32_t smoothing_bits;                 /* in [0, 31] */
    uint32_t spectral_subtraction_bits;      /* in [0, 63] */
    uint32_t clamping;                       /* 1: the estimate never exceeds the signal */
} ml_signal_spectral_subtraction_params;

/*
 * Updates the running noise estimate `state` (num_channels uint32, kept across invokes, all
 * zero after a reset) and subtracts it from the signal, never below min_signal_remaining of
 * it. Writes the new estimate to noise_output too (TFLM's second output).
 */
ml_status ml_signal_spectral_subtraction_u32(const ml_signal_spectral_subtraction_params *params,
                                             const uint32_t *input, uint32_t *output,
                                             uint32_t *noise_output, uint32_t *state);

#endif
