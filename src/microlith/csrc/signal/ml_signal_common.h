/*
 * Integer helpers shared by the signal-library kernels (TFLM signal/src/msb_*.cc,
 * square_root_*.cc), written as TFLM's host build (gcc/clang) computes them.
 */
#ifndef ML_SIGNAL_COMMON_H
#define ML_SIGNAL_COMMON_H

#include "ml_common.h"

/* TFLM's MostSignificantBit32: the 1-based position of the highest set bit. Its gcc/clang
 * build (the oracle's) returns 32 for x == 0 (not 0, as its portable loop would). */
static inline uint32_t ml_signal_msb32(uint32_t x)
{
    uint32_t n = 0;
    if (x == 0u) {
        return 32u;
    }
    while (x != 0u) {
        x >>= 1;
        ++n;
    }
    return n;
}

/* TFLM's MostSignificantBit64, with the same 64 for x == 0. */
static inline uint32_t ml_signal_msb64(uint64_t x)
{
    uint32_t n = 0;
    if (x == 0u) {
        return 64u;
    }
    while (x != 0u) {
        x >>= 1;
        ++n;
    }
    return n;
}

/* TFLM's Sqrt32: the square root rounded to nearest (bit by bit), at most 0xFFFF. */
static inline uint16_t ml_signal_sqrt32(uint32_t num)
{
    uint32_t res = 0;
    uint32_t bit;
    int32_t max_bit_number;
    int32_t iterations;
    if (num == 0u) {
        return 0;
    }
    max_bit_number = (int32_t)(32u - ml_signal_msb32(num)) | 1;
    bit = 1u << (31 - max_bit_number);
    iterations = (31 - max_bit_number) / 2 + 1;
    while (iterations-- > 0) {
        if (num >= res + bit) {
            num -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    if (num > res && res != 0xFFFFu) {
        ++res;
    }
    return (uint16_t)res;
}

/* TFLM's Sqrt64: Sqrt32 below 2^32, else the same bitwise root in 64 bits, at most 0xFFFFFFFF. */
static inline uint32_t ml_signal_sqrt64(uint64_t num)
{
    uint64_t res = 0;
    uint64_t bit;
    int32_t max_bit_number;
    int32_t iterations;
    if ((num >> 32) == 0u) {
        return ml_signal_sqrt32((uint32_t)num);
    }
    max_bit_number = (int32_t)(64u - ml_signal_msb64(num)) | 1;
    bit = (uint64_t)1u << (63 - max_bit_number);
    iterations = (63 - max_bit_number) / 2 + 1;
    while (iterations-- > 0) {
        if (num >= res + bit) {
            num -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    if (num > res && res != 0xFFFFFFFFu) {
        ++res;
    }
    return (uint32_t)res;
}

#endif
