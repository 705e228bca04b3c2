#ifndef ML_SIGNAL_FILTER_BANK_U32_H
#define ML_SIGNAL_FILTER_BANK_U32_H

#include "ml_common.h"

/* TFLM's SignalFilterBank (signal/micro/kernels/filter_bank.cc, signal/src/filter_bank.cc). */
typedef struct {
    int32_t num_channels;               /* outputs; the tables below hold num_channels + 1 */
    const int16_t *frequency_starts;    /* first input bin of each channel */
    const int16_t *weight_starts;       /* first weight of each channel */
    const int16_t *widths;              /* bins of each channel */
    const int16_t *weights;
    const int16_t *unweights;
} ml_signal_filter_bank_params;

/*
 * Triangular filters: channel i accumulates weights[w + j] * input[f + j] (uint64, modulo
 * 2^64, a negative weight sign-extended as TFLM converts it), plus what channel i - 1 left
 * with its unweights; channel 0 only feeds channel 1. The generator checked every table
 * index against the tensors' sizes. input: uint32, output: num_channels uint64.
 */
ml_status ml_signal_filter_bank_u32(const ml_signal_filter_bank_params *params, const uint32_t *input,
                                    uint64_t *output);

#endif
