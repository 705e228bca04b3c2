/* Host check of ml_nn_m0.h's three-product requantization (ml_m0_rq3_ref, the steps the M0
 * assembly runs) against TFLM's (ml_nn_requantize via ml_m0_out_ref): every shift it takes,
 * multipliers at both ends of [2^30, 2^31) and random ones, output offsets and clamps at the
 * int8 limits (and that it refuses the shifts it cannot take), and accumulators at every output step, at the ties of both roundings, around
 * the +-2^19 guard and at the int32 limits, plus random ones. Prints the mismatch count. */
#include <stdio.h>
#include <stdint.h>

#include "ml_nn_m0.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static long checked, bad, accepted;

static void check(int32_t acc, int32_t m, int32_t shift, const ml_m0_rq3 *q, const ml_m0_act *act)
{
    const int32_t want = ml_m0_out_ref(acc, m, shift, act);
    const int32_t got = ml_m0_rq3_ref(acc, q, act);
    ++checked;
    if (want != got && bad++ < 10) {
        printf("acc=%ld m=%ld shift=%ld off=%ld [%ld,%ld]: want %ld got %ld\n", (long)acc, (long)m,
               (long)shift, (long)act->out_off, (long)act->act_min, (long)act->act_max,
               (long)want, (long)got);
    }
}

static void check_near(int64_t a, int32_t m, int32_t shift, const ml_m0_rq3 *q,
                       const ml_m0_act *act)
{
    for (int64_t d = -2; d <= 2; ++d) {
        const int64_t v = a + d;
        if (v >= INT32_MIN && v <= INT32_MAX) {
            check((int32_t)v, m, shift, q, act);
        }
    }
}

int main(void)
{
    static const int32_t offs[] = {-128, 127, 0, -1, 5, -77};
    for (int trial = 0; trial < 600; ++trial) {
        int32_t m;
        switch (trial % 4) {
        case 0: m = 1 << 30; break;
        case 1: m = INT32_MAX; break;
        default: m = (int32_t)((1u << 30) | (rng() & 0x3FFFFFFFu)); break;
        }
        const int32_t shift = 1 - (trial / 4) % 14;  /* 1 down to -12 */
        const int32_t n = -shift;
        ml_m0_act act;
        act.out_off = offs[trial % 6];
        switch ((trial / 6) % 3) {
        case 0: act.act_min = -128; act.act_max = 127; break;
        case 1: act.act_min = act.out_off; act.act_max = 127; break;      /* ReLU */
        default:
            act.act_min = act.out_off;
            act.act_max = act.out_off + 40 > 127 ? 127 : act.out_off + 40;  /* ReLU6-like */
            break;
        }
        ml_m0_rq3 q;
        if (!ml_m0_rq3_of(&q, m, shift, act.out_off)) {
            if (shift <= -1 && shift >= -10) {
                printf("rq3_of refused m=%ld shift=%ld\n", (long)m, (long)shift);
                return 1;
            }
            continue;  /* the kernels take their general path: nothing to compare */
        }
        ++accepted;
        /* Every output step z and every tie: acc near (k * 2^(31+n) + j * 2^30) / m. */
        for (int64_t k = -300; k <= 300; ++k) {
            for (int64_t j = -2; j <= 2; ++j) {
                const int64_t num = k * ((int64_t)1 << (31 + n)) + j * ((int64_t)1 << 30);
                check_near(num / m, m, shift, &q, &act);
            }
        }
        for (int32_t a = -3000; a <= 3000; ++a) {
            check(a, m, shift, &q, &act);
        }
        check_near(1 << 19, m, shift, &q, &act);
        check_near(-(1 << 19), m, shift, &q, &act);
        check_near(INT32_MIN + 2, m, shift, &q, &act);
        check_near(INT32_MAX - 2, m, shift, &q, &act);
        for (int i = 0; i < 3000; ++i) {
            check((int32_t)rng(), m, shift, &q, &act);
            check((int32_t)(rng() >> 11) - (1 << 20), m, shift, &q, &act);
        }
    }
    printf("checked %ld mismatched %ld channels %ld\n", checked, bad, accepted);
    return bad != 0;
}
