#ifndef ML_SIGNAL_FILTER_BANK_SQRT_U64_H
#define ML_SIGNAL_FILTER_BANK_SQRT_U64_H

#include "ml_common.h"

/* TFLM's SignalFilterBankSquareRoot (signal/micro/kernels/filter_bank_square_root.cc,
 * signal/src/filter_bank_square_root.cc, square_root_64.cc). */
typedef struct {
    int32_t size;  /* channels */
} ml_signal_filter_bank_sqrt_params;

/*
 * output[i] = Sqrt64(input[i]) >> *scale_bits (uint32). TFLM's shift is undefined outside
 * [0, 31]; its x86 build (the oracle) shifts by the count's low 5 bits, and so does this.
 */
ml_status ml_signal_filter_bank_sqrt_u64(const ml_signal_filter_bank_sqrt_params *params,
                                         const uint64_t *input, const int32_t *scale_bits,
                                         uint32_t *output);

#endif
