#ifndef ML_SIGNAL_FILTER_BANK_LOG_U32_H
#define ML_SIGNAL_FILTER_BANK_LOG_U32_H

#include "ml_common.h"

/* TFLM's SignalFilterBankLog (signal/micro/kernels/filter_bank_log.cc,
 * signal/src/filter_bank_log.cc, log.cc). */
typedef struct {
    int32_t size;               /* channels */
    uint32_t correction_bits;   /* input_correction_bits, in [0, 31] */
    uint32_t output_scale;      /* TFLM's int32 option as uint32 */
} ml_signal_filter_bank_log_params;

/*
 * scaled = input[i] << correction_bits (uint32); output[i] = min(Log32(scaled, output_scale),
 * 32767) when scaled > 1, else 0. Log32 is TFLM's fixed-point natural log (a 129-entry
 * correction table for log2's fraction, then times ln 2 and the scale, each rounded).
 */
ml_status ml_signal_filter_bank_log_u32(const ml_signal_filter_bank_log_params *params,
                                        const uint32_t *input, int16_t *output);

#endif
