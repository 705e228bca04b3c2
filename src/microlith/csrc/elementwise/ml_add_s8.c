#include "ml_add_s8.h"

#include "ml_nn_broadcast.h"
#include "ml_nn_dsp.h"

/* |x + offset| <= 255, so (x + offset) << 20 stays below 2^28: no overflow. */
static inline int32_t ml_add_scale(int32_t x, int32_t offset, int32_t left_shift,
                                   int32_t multiplier, int32_t shift)
{
    return ml_nn_requantize((x + offset) * (1 << left_shift), multiplier, shift);
}

static inline int8_t ml_add_finish(const ml_add_params *p, int32_t a, int32_t b)
{
    const int32_t raw = p->subtract ? a - b : a + b;
    const int32_t out = ml_nn_requantize(raw, p->output_multiplier, p->output_shift) + p->output_offset;
    return ml_clamp_s8(out, p->act_min, p->act_max);
}

static int ml_add_same(const ml_dims *a, const ml_dims *b)
{
    return a->n == b->n && a->h == b->h && a->w == b->w && a->c == b->c;
}

static int ml_add_same3(const ml_dims *a, const ml_dims *b, const ml_dims *out)
{
    return ml_add_same(a, out) && ml_add_same(b, out);
}

/*
 * --- Same-shape operands with scratch (ML_ADD_S8_SCRATCH_BYTES): an int8 input has 256
 * values, so each input's rescaled value scaleK(x) is looked up in a table filled once per
 * call by the same reference arithmetic, and an element costs two loads, an add and the
 * output requantization instead of three requantizations. SUB stores -scale2(x) (exact:
 * |scale2| < 2^28), so both ops add. `twice` doubles every entry for the DSP output form,
 * which takes the doubled sum (|2 * sum| < 2^30).
 */
static void ml_add_fill_tables(const ml_add_params *p, int32_t *t1, int32_t *t2, int32_t twice)
{
    for (int32_t u = 0; u < 256; ++u) {
        const int32_t x = u < 128 ? u : u - 256;  /* the int8 value whose byte is u */
        const int32_t a = ml_add_scale(x, p->input1_offset, p->left_shift, p->input1_multiplier,
                                       p->input1_shift);
        int32_t b = ml_add_scale(x, p->input2_offset, p->left_shift, p->input2_multiplier,
                                 p->input2_shift);
        if (p->subtract) {
            b = -b;
        }
        t1[u] = twice ? 2 * a : a;
        t2[u] = twice ? 2 * b : b;
    }
}

#if defined(ML_NN_DSP)
/*
 * Same-shape operands on DSP cores: each requantization in SMMLAR form (see
 * ml_dsp_requantize): ml_nn_requantize(acc, m, -n) = SMMLAR(2 * acc, m, c) >> n with
 * c = 2^(n-1) - [acc < 0], for m >= 0, 1 <= n <= 30 and |acc| < 2^30. The rescaled inputs
 * have |acc| = |x + offset| * 2^20 < 2^28 and stay below 2^28 after the multiply, so their
 * sum or difference is below 2^29. The output offset rides in c as in the conv kernels
 * (ml_dsp_round_with_offset).
 *
 * The input with the larger scale has n = 0 and m = 2^30 (TFLM's 0.5), which this form lacks:
 * there ml_nn_requantize(acc, 2^30, 0) = floor((acc + 1) / 2) = acc / 2 (acc is even), and
 * m = 2^31 - 1, n = 1 gives SMMLAR(2 * acc, m, c) = c + acc + floor((2^31 - 2 * acc) / 2^32)
 * = c + acc (|2 * acc| < 2^29), then (acc + c) >> 1 = acc / 2 for c in {0, 1}. Any other
 * n = 0 takes the portable path.
 */
typedef struct {
    int32_t m, round, n;
} ml_add_rq;

/* max_n: 30 for the inputs; 22 for the output, whose offset (|2 * offset + 1| <= 257) times
 * 2^(n-1) in c must leave the high word below 2^31. */
static int ml_add_rq_of(ml_add_rq *rq, int32_t multiplier, int32_t shift, int32_t offset,
                        int32_t max_n)
{
    if (shift == 0 && multiplier == (1 << 30) && offset == 0) {
        multiplier = INT32_MAX;
        shift = -1;
    }
    if (multiplier < 0 || shift > -1 || shift < -max_n) {
        return 0;
    }
    rq->m = multiplier;
    rq->n = -shift;
    rq->round = ml_dsp_round_with_offset(2 * offset + 1, shift);
    return 1;
}

ML_DSP_INLINE int32_t ml_add_rq_apply(int32_t acc, int32_t m, int32_t round, int32_t n)
{
    const int32_t c = round - (int32_t)((uint32_t)acc >> 31);
    return ml_dsp_smmlar((int32_t)((uint32_t)acc << 1), m, c) >> n;
}

#define ML_ADD_BLOCK 32

/* Elements in blocks: first input1's rescaled values into a small buffer, then input2's and
 * the output, so neither loop runs out of registers for its constants. */
static ML_NOINLINE int ml_add_s8_dsp(const ml_add_params *p, const int8_t *in1,
                                     const int8_t *in2, int8_t *out, int32_t count)
{
    ml_add_rq r1, r2, ro;
    if (p->left_shift != 20 || !ml_add_rq_of(&r1, p->input1_multiplier, p->input1_shift, 0, 30) ||
        !ml_add_rq_of(&r2, p->input2_multiplier, p->input2_shift, 0, 30) ||
        !ml_add_rq_of(&ro, p->output_multiplier, p->output_shift, p->output_offset, 22)) {
        return 0;
    }
    const int32_t lo = p->act_min;
    const int32_t hi = p->act_max;
    int32_t buf[ML_ADD_BLOCK];
    while (count > 0) {
        const int32_t k = count < ML_ADD_BLOCK ? count : ML_ADD_BLOCK;
        {
            const int32_t off = p->input1_offset;
            for (int32_t i = 0; i < k; ++i) {
                buf[i] = ml_add_rq_apply((in1[i] + off) * (1 << 20), r1.m, r1.round, r1.n);
            }
        }
        const int32_t off = p->input2_offset;
        if (p->subtract) {
            for (int32_t i = 0; i < k; ++i) {
                const int32_t b = ml_add_rq_apply((in2[i] + off) * (1 << 20), r2.m, r2.round, r2.n);
                out[i] = ml_clamp_s8(ml_add_rq_apply(buf[i] - b, ro.m, ro.round, ro.n), lo, hi);
            }
        } else {
            for (int32_t i = 0; i < k; ++i) {
                const int32_t b = ml_add_rq_apply((in2[i] + off) * (1 << 20), r2.m, r2.round, r2.n);
                out[i] = ml_clamp_s8(ml_add_rq_apply(buf[i] + b, ro.m, ro.round, ro.n), lo, hi);
            }
        }
        in1 += k;
        in2 += k;
        out += k;
        count -= k;
    }
    return 1;
}

/* The tables through the SMMLAR form of the input rescales where both allow it (as in
 * ml_add_s8_dsp), doubled: about a sixth of the reference's instructions per entry. */
static void ml_add_fill_tables_dsp(const ml_add_params *p, int32_t *t1, int32_t *t2)
{
    ml_add_rq r1, r2;
    if (!ml_add_rq_of(&r1, p->input1_multiplier, p->input1_shift, 0, 30) ||
        !ml_add_rq_of(&r2, p->input2_multiplier, p->input2_shift, 0, 30)) {
        ml_add_fill_tables(p, t1, t2, 1);
        return;
    }
    const int32_t sign = p->subtract ? -2 : 2;
    for (int32_t u = 0; u < 256; ++u) {
        const int32_t x = u < 128 ? u : u - 256;
        t1[u] = 2 * ml_add_rq_apply((x + p->input1_offset) * (1 << 20), r1.m, r1.round, r1.n);
        t2[u] = sign * ml_add_rq_apply((x + p->input2_offset) * (1 << 20), r2.m, r2.round, r2.n);
    }
}

/* The table loop with the output in SMMLAR form (tables doubled): 2 * sum's sign gives the
 * rounding term, and the output offset rides in it. Four elements per iteration from one word
 * of each input: a byte's extract (UXTB, UBFX, LSR) is one instruction where its LDRB took a
 * load, and the loop's end test is paid once per four (12.5 -> 11.5 instructions per element on
 * Cortex-M4, ResNet-8's adds with their table fills). The output may be an input (in place): each word of the inputs is read before
 * its four outputs are written. */
ML_DSP_INLINE int32_t ml_add_table_out(int32_t s, int32_t m, int32_t round, int32_t n)
{
    return ml_dsp_ssat8(ml_dsp_smmlar(s, m, round - (int32_t)((uint32_t)s >> 31)) >> n);
}

static ML_NOINLINE void ml_add_s8_table_dsp(const int32_t *t1, const int32_t *t2,
                                            const uint8_t *a, const uint8_t *b, int8_t *out,
                                            int32_t count, const ml_add_rq *ro, int32_t lo,
                                            int32_t hi)
{
    const int32_t m = ro->m;
    const int32_t round = ro->round;
    const int32_t n = ro->n;
    if (lo <= -128 && hi >= 127) {
        for (; count >= 4; count -= 4, a += 4, b += 4, out += 4) {
            const uint32_t wa = (uint32_t)ml_dsp_read_s8x4((const int8_t *)a);
            const uint32_t wb = (uint32_t)ml_dsp_read_s8x4((const int8_t *)b);
            out[0] = (int8_t)ml_add_table_out(t1[wa & 0xffu] + t2[wb & 0xffu], m, round, n);
            out[1] = (int8_t)ml_add_table_out(t1[(wa >> 8) & 0xffu] + t2[(wb >> 8) & 0xffu], m,
                                              round, n);
            out[2] = (int8_t)ml_add_table_out(t1[(wa >> 16) & 0xffu] + t2[(wb >> 16) & 0xffu], m,
                                              round, n);
            out[3] = (int8_t)ml_add_table_out(t1[wa >> 24] + t2[wb >> 24], m, round, n);
        }
    }
    for (; count > 0; --count, ++a, ++b, ++out) {
        const int32_t s = t1[*a] + t2[*b];
        const int32_t v = ml_dsp_smmlar(s, m, round - (int32_t)((uint32_t)s >> 31)) >> n;
        *out = ml_clamp_s8(ml_dsp_ssat8(v), lo, hi);
    }
}

#endif

#if ML_M0_PATHS
#include "ml_nn_m0.h"
/*
 * --- Cortex-M0/M0+ (ARMv6-M, no 32 x 32 -> 64 multiply): same-shape operands. An input's
 * rescale is ml_nn_requantize(v * 2^ls, m, -n) with v = x + offset, |v| <= 255. Its rounding
 * high multiply floor((v * m * 2^ls + 2^30) / 2^31) is floor((v * m + 2^(e-1)) / 2^e) with
 * e = 31 - ls, and with m = mh * 2^e + ml (ml < 2^e) that is exactly
 * v * mh + floor((v * ml + 2^(e-1)) / 2^e): two 32-bit products, |v * mh| < 2^(8 + ls) and
 * |v * ml| < 2^(39 - ls), so for 8 <= ls <= 22 nothing overflows (TFLM's ls is 20). The
 * output's requantization is ml_m0_out_s8. Three libgcc 64-bit multiplies per element become
 * four MULS and one short assembly call.
 */
typedef struct {
    int32_t mh, ml, e, half, n;
    int32_t round;     /* 2^(n-1), or 0 for n = 0 */
    uint32_t neg;      /* 1 for n > 0: the [y < 0] term; 0 for n = 0 (y passes unchanged) */
} ml_add_m0_in;

static int ml_add_m0_in_of(ml_add_m0_in *q, int32_t ls, int32_t m, int32_t shift)
{
    if (ls < 8 || ls > 22 || m < 0 || shift > 0 || shift < -31) {
        return 0;
    }
    q->e = 31 - ls;
    q->mh = m >> q->e;
    q->ml = m & (int32_t)((1u << q->e) - 1u);
    q->half = (int32_t)(1u << (q->e - 1));
    q->n = -shift;
    q->round = q->n > 0 ? (int32_t)(1u << (q->n - 1)) : 0;
    q->neg = q->n > 0 ? 1u : 0u;
    return 1;
}

/* RoundingDivideByPOT(y, n) as (y + 2^(n-1) - [y < 0]) >> n for n > 0 (|y| < 2^28, so no
 * overflow), y itself for n = 0. */
static inline int32_t ml_add_m0_scale(int32_t v, const ml_add_m0_in *q)
{
    const int32_t y = v * q->mh + ((v * q->ml + q->half) >> q->e);
    return (y + q->round - (int32_t)(((uint32_t)y >> 31) & q->neg)) >> q->n;
}

static int ml_add_s8_m0(const ml_add_params *p, const int8_t *a, const int8_t *b, int8_t *out,
                        int32_t count)
{
    ml_add_m0_in q1, q2;
    if (!ml_add_m0_in_of(&q1, p->left_shift, p->input1_multiplier, p->input1_shift) ||
        !ml_add_m0_in_of(&q2, p->left_shift, p->input2_multiplier, p->input2_shift)) {
        return 0;
    }
    ml_m0_act act;
    act.out_off = p->output_offset;
    act.act_min = p->act_min;
    act.act_max = p->act_max;
    const int32_t m = p->output_multiplier;
    const int32_t shift = p->output_shift;
    const int32_t off1 = p->input1_offset;
    const int32_t off2 = p->input2_offset;
    ml_m0_rq rq;
    if (ml_m0_rq_of(&rq, m, shift)) {
        for (int32_t i = 0; i < count; ++i) {
            const int32_t sa = ml_add_m0_scale(a[i] + off1, &q1);
            const int32_t sb = ml_add_m0_scale(b[i] + off2, &q2);
            out[i] = (int8_t)ml_m0_rq_apply(p->subtract ? sa - sb : sa + sb, &rq, &act);
        }
        return 1;
    }
    for (int32_t i = 0; i < count; ++i) {
        const int32_t sa = ml_add_m0_scale(a[i] + off1, &q1);
        const int32_t sb = ml_add_m0_scale(b[i] + off2, &q2);
        out[i] = ml_m0_out_s8(p->subtract ? sa - sb : sa + sb, m, shift, &act);
    }
    return 1;
}
#endif

/* The table loop without the DSP form: the output through the reference requantization
 * (on Cortex-M0, its ARMv6-M form when the multiplier allows). */
static ML_NOINLINE void ml_add_s8_table(const ml_add_params *p, const int32_t *t1,
                                        const int32_t *t2, const uint8_t *a, const uint8_t *b,
                                        int8_t *out, int32_t count)
{
#if ML_M0_PATHS
    ml_m0_rq rq;
    if (ml_m0_rq_of(&rq, p->output_multiplier, p->output_shift)) {
        ml_m0_act act;
        act.out_off = p->output_offset;
        act.act_min = p->act_min;
        act.act_max = p->act_max;
        for (int32_t i = 0; i < count; ++i) {
            out[i] = (int8_t)ml_m0_rq_apply(t1[a[i]] + t2[b[i]], &rq, &act);
        }
        return;
    }
#endif
    for (int32_t i = 0; i < count; ++i) {
        const int32_t v = ml_nn_requantize(t1[a[i]] + t2[b[i]], p->output_multiplier,
                                           p->output_shift) + p->output_offset;
        out[i] = ml_clamp_s8(v, p->act_min, p->act_max);
    }
}

ml_status ml_add_s8(const ml_add_params *params, void *scratch,
                    const ml_dims *input1_dims, const int8_t *input1,
                    const ml_dims *input2_dims, const int8_t *input2,
                    const ml_dims *output_dims, int8_t *output)
{
    const int32_t count = output_dims->n * output_dims->h * output_dims->w * output_dims->c;
    if (scratch != NULL && params->left_shift == 20 &&
        ml_add_same3(input1_dims, input2_dims, output_dims)) {
        int32_t *t1 = (int32_t *)scratch;
        int32_t *t2 = t1 + 256;
        const uint8_t *a = (const uint8_t *)input1;
        const uint8_t *b = (const uint8_t *)input2;
#if defined(ML_NN_DSP)
        ml_add_rq ro;
        if (ml_add_rq_of(&ro, params->output_multiplier, params->output_shift,
                         params->output_offset, 22)) {
            ml_add_fill_tables_dsp(params, t1, t2);
            ml_add_s8_table_dsp(t1, t2, a, b, output, count, &ro, params->act_min,
                                params->act_max);
            return ML_OK;
        }
#endif
        ml_add_fill_tables(params, t1, t2, 0);
        ml_add_s8_table(params, t1, t2, a, b, output, count);
        return ML_OK;
    }
#if defined(ML_NN_DSP)
    if (ml_add_same3(input1_dims, input2_dims, output_dims) &&
        ml_add_s8_dsp(params, input1, input2, output, count)) {
        return ML_OK;
    }
#elif ML_M0_PATHS
    if (ml_add_same3(input1_dims, input2_dims, output_dims) &&
        ml_add_s8_m0(params, input1, input2, output, count)) {
        return ML_OK;
    }
#endif
    int32_t s1[4], s2[4];
    if (ml_nn_broadcast_strides(input1_dims, output_dims, s1) != ML_OK ||
        ml_nn_broadcast_strides(input2_dims, output_dims, s2) != ML_OK) {
        return ML_ARG_ERROR;
    }
    const ml_add_params *p = params;
    const int32_t depth = output_dims->c;
    int8_t *out = output;
    for (int32_t n = 0; n < output_dims->n; ++n) {
        for (int32_t h = 0; h < output_dims->h; ++h) {
            for (int32_t w = 0; w < output_dims->w; ++w) {
                const int8_t *a = input1 + n * s1[0] + h * s1[1] + w * s1[2];
                const int8_t *b = input2 + n * s2[0] + h * s2[1] + w * s2[2];
                /* A repeated operand is rescaled once per row: the result is the same
                 * for every element, and this halves the work of x + constant. */
                if (s1[3] == 0) {
                    const int32_t sa = ml_add_scale(a[0], p->input1_offset, p->left_shift,
                                                    p->input1_multiplier, p->input1_shift);
                    for (int32_t c = 0; c < depth; ++c) {
                        out[c] = ml_add_finish(p, sa, ml_add_scale(b[c * s2[3]], p->input2_offset,
                                                                   p->left_shift, p->input2_multiplier,
                                                                   p->input2_shift));
                    }
                } else if (s2[3] == 0) {
                    const int32_t sb = ml_add_scale(b[0], p->input2_offset, p->left_shift,
                                                    p->input2_multiplier, p->input2_shift);
                    for (int32_t c = 0; c < depth; ++c) {
                        out[c] = ml_add_finish(p, ml_add_scale(a[c], p->input1_offset, p->left_shift,
                                                               p->input1_multiplier, p->input1_shift),
                                               sb);
                    }
                } else {
                    for (int32_t c = 0; c < depth; ++c) {
                        out[c] = ml_add_finish(p,
                                               ml_add_scale(a[c], p->input1_offset, p->left_shift,
                                                            p->input1_multiplier, p->input1_shift),
                                               ml_add_scale(b[c], p->input2_offset, p->left_shift,
                                                            p->input2_multiplier, p->input2_shift));
                    }
                }
                out += depth;
            }
        }
    }
    return ML_OK;
}
