/* A compact form (ml_config.h: size mode, or a model whose layers on this kernel are all small)
 * is also compiled for size; first, so that the inline helpers the headers define are too. */
#include "ml_config.h"
#if (defined(ML_OPTIMIZE_SIZE) || defined(ML_COMPACT_FULLY_CONNECTED_S8)) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("Os")
#endif
#include "ml_fully_connected_s8.h"
#include "ml_nn_dsp.h"
#include "ml_nn_m0.h"

/* The compact form (ml_config.h): size mode, or a model whose layers on this kernel are all small. */
#if defined(ML_OPTIMIZE_SIZE) || defined(ML_COMPACT_FULLY_CONNECTED_S8)
#define ML_COMPACT 1
#else
#define ML_COMPACT 0
#endif
/* The compact form sums one row at a time, unless size mode keeps the row groups for a model
 * whose fully connected layers do enough work to pay for them (ML_SPECIALISE_FC_ROWS). */
#if ML_COMPACT && !defined(ML_SPECIALISE_FC_ROWS)
#define ML_FC_ONE_ROW 1
#else
#define ML_FC_ONE_ROW 0
#endif

#if defined(ML_NN_DSP)
/*
 * DSP path, for symmetric weights with the input offset folded into the bias by the
 * generator (filter_offset and input_offset both 0): six (then four) output rows at a time
 * share each word of the input, and SMLAD does two multiply-accumulates.
 */
static ML_NOINLINE int32_t ml_fc_requant_ref(int32_t acc, int32_t multiplier, int32_t shift)
{
    return ml_nn_requantize(acc, multiplier, shift);
}

/* Requantization, output offset and clamp of output row o. */
static inline int8_t ml_fc_dsp_out(const ml_fc_params *params, const ml_per_channel_quant *quant,
                                   int32_t o, int32_t acc)
{
    const int32_t q = params->per_channel ? o : 0;
    const int32_t m = quant->multiplier[q];
    const int32_t sh = quant->shift[q];
    int32_t v;
    if ((uint32_t)(sh + 22) < 22u && m >= 0 && ml_dsp_requant_fits(acc)) {
        const int32_t odd = 2 * params->output_offset + 1;
        v = ml_dsp_requantize(acc, m, ml_dsp_round_with_offset(odd, sh), -sh);
    } else {
        v = ml_fc_requant_ref(acc, m, sh) + params->output_offset;
    }
    return ml_clamp_s8(v, params->act_min, params->act_max);
}

#if !ML_FC_ONE_ROW
/* The same with one multiplier and shift for every row, hoisted by the caller: the shift is
 * in [-22, -1], the multiplier >= 0 and the clamp [-128, 127]. */
ML_DSP_INLINE int8_t ml_fc_dsp_out_tensor(int32_t acc, int32_t m, int32_t sh, int32_t round,
                                          int32_t out_off)
{
    int32_t v;
    if (__builtin_expect(ml_dsp_requant_fits(acc), 1)) {
        v = ml_dsp_requantize(acc, m, round, -sh);
    } else {
        v = ml_fc_requant_ref(acc, m, sh) + out_off;
    }
    return (int8_t)ml_dsp_ssat8(v);
}
#endif

/* acc + the dot product of x and w over n values, from a multiple of four on. */
static int32_t ml_fc_dsp_dot(const int8_t *x, const int8_t *w, int32_t n, int32_t acc)
{
    for (; n >= 4; n -= 4) {
        const int32_t xv = ml_dsp_read_s8x4(x);
        const int32_t wv = ml_dsp_read_s8x4(w);
        acc = ml_dsp_smlad(ml_dsp_sxtb16(xv), ml_dsp_sxtb16(wv), acc);
        acc = ml_dsp_smlad(ml_dsp_sxtb16_ror8(xv), ml_dsp_sxtb16_ror8(wv), acc);
        x += 4;
        w += 4;
    }
    for (; n > 0; --n) {
        acc += (int32_t)*x++ * *w++;
    }
    return acc;
}

#if !ML_COMPACT
/*
 * Six rows at a time, from the filter laid out at code generation (dsp_rows6): per block of
 * four inputs, one input word widened by two SXTB16 serves six rows, whose six weight words
 * come in two LDMs of three from one stream; each row then costs two SXTB16 and two SMLAD:
 * 29 instructions per 24 MACs (the row-major layout took a load per row, 33). Six sums, the
 * input word's halves, three weight words, a scratch register and the two pointers take all
 * fourteen registers; the loop end is compared with a copy on the stack. Four blocks per
 * iteration, entered at job->entry (TBB) so any block count runs without a remainder loop.
 * Any alignment of the input (LDR); the weights are word aligned (LDM). The compact form
 * leaves it out (its 784 bytes on Cortex-M4), with the other row-group paths.
 */
typedef struct {
    const int8_t *x;      /* 0 */
    const int8_t *w;      /* 4: the next group's first block (advanced by the routine) */
    int32_t depth;        /* 8: inputs per row */
    const int8_t *x_end;  /* 12: x + 4 * blocks, blocks >= 1 */
    int32_t entry;        /* 16: (4 - blocks % 4) % 4 */
    const int32_t *bias;  /* 20: the next group's six biases (advanced) */
    int8_t *out;          /* 24: NULL, or the next group's outputs (advanced) */
    int32_t multiplier;   /* 28: one multiplier for every row, >= 0 */
    int32_t round;        /* 32: ml_dsp_round_with_offset(2 * output_offset + 1, shift) */
    int32_t n;            /* 36: -shift, in [1, 22] */
    int32_t groups;       /* 40: groups of six rows to run, >= 1 */
    int32_t *acc;         /* 44: where a group's six sums go when the routine stops early */
} ml_fc_dsp_job;

/*
 * Runs job->groups groups: each group's sums start from its biases; with job->out set, when
 * every sum is below 2^30 in magnitude, they are requantized (ml_dsp_requantize, the output
 * offset in `round`), SSAT and stored as six bytes (eight instructions a row). Returns the
 * number of groups so finished; when that is short of job->groups, the next group's sums are
 * in job->acc (job->out NULL, or a sum too large), and job->w, bias and out point past it.
 */
int32_t ml_fc_dsp_rows6(ml_fc_dsp_job *job);

#define ML_FC_OUT6(a)                                                                           \
    "eors r10, " a ", " a ", lsl #1\n\t"                                                          \
    "bmi.w .Lml_fc_rows6_sums\n\t"                                                               \
    "sub r10, r3, " a ", lsr #31\n\t"                                                            \
    "lsl r11, " a ", #1\n\t"                                                                     \
    "smmlar r11, r11, r2, r10\n\t"                                                               \
    "asr r11, r11, r12\n\t"                                                                      \
    "ssat r11, #8, r11\n\t"                                                                      \
    "strb r11, [r1], #1\n\t"

/* Row sum a += the block's four products with the weight word in w (r10, r11: the input's
 * halves; lr scratch). */
#define ML_FC_ROW6(w, a)                                                                        \
    "sxtb16 lr, " w ", ror #8\n\t"                                                               \
    "sxtb16 " w ", " w "\n\t"                                                                    \
    "smlad " a ", r10, " w ", " a "\n\t"                                                          \
    "smlad " a ", r11, lr, " a "\n\t"
#define ML_FC_BLOCK6                                                                            \
    "ldr r10, [r0], #4\n\t"                                                                      \
    "sxtb16 r11, r10, ror #8\n\t"                                                                \
    "sxtb16 r10, r10\n\t"                                                                        \
    "ldmia r1!, {r2, r3, r12}\n\t"                                                               \
    ML_FC_ROW6("r2", "r4") ML_FC_ROW6("r3", "r5") ML_FC_ROW6("r12", "r6")                        \
    "ldmia r1!, {r2, r3, r12}\n\t"                                                               \
    ML_FC_ROW6("r2", "r7") ML_FC_ROW6("r3", "r8") ML_FC_ROW6("r12", "r9")

/* Frame: [sp] x_end, [sp, #4] job, [sp, #8] groups finished. */
__asm__(ML_DSP_ASM_FUNCTION("ml_fc_dsp_rows6")
        "push {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n\t"
        "sub sp, sp, #12\n\t"
        "str r0, [sp, #4]\n\t"
        "ldr r12, [r0, #12]\n\t"
        "str r12, [sp]\n\t"
        "movs r1, #0\n\t"
        "str r1, [sp, #8]\n"
        ".Lml_fc_rows6_group:\n\t"
        "ldr r12, [r0, #20]\n\t"
        "ldmia r12!, {r4, r5, r6, r7, r8, r9}\n\t"
        "str r12, [r0, #20]\n\t"
        "ldr r1, [r0, #4]\n\t"
        "ldr r10, [r0, #16]\n\t"
        "ldr r0, [r0, #0]\n\t"
        "tbb [pc, r10]\n"
        ".Lml_fc_rows6_tab:\n\t"
        ".byte (.Lml_fc_rows6_b0 - .Lml_fc_rows6_tab) / 2\n\t"
        ".byte (.Lml_fc_rows6_b1 - .Lml_fc_rows6_tab) / 2\n\t"
        ".byte (.Lml_fc_rows6_b2 - .Lml_fc_rows6_tab) / 2\n\t"
        ".byte (.Lml_fc_rows6_b3 - .Lml_fc_rows6_tab) / 2\n\t"
        ".balign 2\n"
        ".Lml_fc_rows6_b0:\n\t" ML_FC_BLOCK6
        ".Lml_fc_rows6_b1:\n\t" ML_FC_BLOCK6
        ".Lml_fc_rows6_b2:\n\t" ML_FC_BLOCK6
        ".Lml_fc_rows6_b3:\n\t" ML_FC_BLOCK6
        "ldr r12, [sp]\n\t"
        "cmp r0, r12\n\t"
        "bne.w .Lml_fc_rows6_b0\n\t"
        "ldr r0, [sp, #4]\n\t"
        "str r1, [r0, #4]\n\t"      /* w: past the group's 6 * depth bytes */
        "ldr r1, [r0, #24]\n\t"
        "cmp r1, #0\n\t"
        "beq.w .Lml_fc_rows6_sums\n\t"
        "ldr r2, [r0, #28]\n\t"
        "ldr r3, [r0, #32]\n\t"
        "ldr r12, [r0, #36]\n\t"
        ML_FC_OUT6("r4") ML_FC_OUT6("r5") ML_FC_OUT6("r6")
        ML_FC_OUT6("r7") ML_FC_OUT6("r8") ML_FC_OUT6("r9")
        "str r1, [r0, #24]\n\t"
        "ldr r1, [sp, #8]\n\t"
        "adds r1, r1, #1\n\t"
        "str r1, [sp, #8]\n\t"
        "ldr r2, [r0, #40]\n\t"
        "cmp r1, r2\n\t"
        "bne.w .Lml_fc_rows6_group\n\t"
        "mov r0, r1\n\t"
        "add sp, sp, #12\n\t"
        "pop {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n"
        ".Lml_fc_rows6_sums:\n\t"
        "ldr r0, [sp, #4]\n\t"
        "ldr r1, [r0, #24]\n\t"
        "cmp r1, #0\n\t"
        "itt ne\n\t"
        "addne r1, r1, #6\n\t"
        "strne r1, [r0, #24]\n\t"
        "ldr r0, [r0, #44]\n\t"
        "stmia r0, {r4, r5, r6, r7, r8, r9}\n\t"
        "ldr r0, [sp, #8]\n\t"
        "add sp, sp, #12\n\t"
        "pop {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n\t"
        ".size ml_fc_dsp_rows6, .-ml_fc_dsp_rows6");
#endif /* !ML_COMPACT */

#if ML_COMPACT
/* acc[r] += the dot products of rows r = 0..5 of one group of the dsp_rows6 layout (`blocks`
 * blocks of six words at w) with x: what ml_fc_dsp_rows6 sums, for a compact build of a folder
 * whose layer the generator laid out for speed (its ml_config.h overridden, say by
 * -DML_OPTIMIZE_SIZE). */
static void ml_fc_rows6_c(const int8_t *x, const int8_t *w, int32_t blocks, int32_t acc[6])
{
    for (; blocks > 0; --blocks, x += 4) {
        const int32_t xv = ml_dsp_read_s8x4(x);
        const int32_t xl = ml_dsp_sxtb16(xv);
        const int32_t xh = ml_dsp_sxtb16_ror8(xv);
        for (int32_t r = 0; r < 6; ++r, w += 4) {
            const int32_t wv = ml_dsp_read_s8x4(w);
            acc[r] = ml_dsp_smlad(xh, ml_dsp_sxtb16_ror8(wv), ml_dsp_smlad(xl, ml_dsp_sxtb16(wv), acc[r]));
        }
    }
}

/* The six-row groups of the dsp_rows6 layout in C; returns the rows done (the rest follow
 * row-major). */
static int32_t ml_fc_rows6_groups(const ml_fc_params *params, const ml_per_channel_quant *quant,
                                  const int8_t *x, const int8_t *w, int32_t depth,
                                  int32_t out_depth, const int32_t *bias, int8_t *out)
{
    int32_t o = 0;
    for (; o + 6 <= out_depth; o += 6, w += 6 * depth) {
        int32_t acc[6];
        for (int32_t r = 0; r < 6; ++r) {
            acc[r] = bias[o + r];
        }
        ml_fc_rows6_c(x, w, depth >> 2, acc);
        for (int32_t r = 0; r < 6; ++r) {
            out[o + r] = ml_fc_dsp_out(params, quant, o + r, acc[r]);
        }
    }
    return o;
}
#endif

#if ML_FC_ONE_ROW
/*
 * The compact form: one row at a time (ml_fc_dsp_dot) and one requantization routine, for
 * layers the generator judged small, and in size mode unless the model's fully connected
 * layers pay for the row groups. On Cortex-M4 at -Os the kernel and its helpers take 638
 * bytes where the row-group paths took 1,370, for 2.2 k more instructions on KWS's 12 x 64
 * classifier (3 per byte, below what balanced keeps code for).
 */
static void ml_fc_dsp(const ml_fc_params *params, const ml_per_channel_quant *quant,
                      int32_t batches, int32_t depth, int32_t out_depth, const int8_t *input,
                      const int8_t *filter, const int32_t *bias, int8_t *output)
{
    for (int32_t b = 0; b < batches; ++b) {
        const int8_t *x = input + b * depth;
        int8_t *out = output + b * out_depth;
        const int8_t *w = filter;
        int32_t o = 0;
        if (params->dsp_rows6) {
            o = ml_fc_rows6_groups(params, quant, x, w, depth, out_depth, bias, out);
            w += o * depth;
        }
        for (; o < out_depth; ++o, w += depth) {
            const int32_t acc = ml_fc_dsp_dot(x, w, depth, bias != NULL ? bias[o] : 0);
            out[o] = ml_fc_dsp_out(params, quant, o, acc);
        }
    }
}
#else
static void ml_fc_dsp(const ml_fc_params *params, const ml_per_channel_quant *quant,
                      int32_t batches, int32_t depth, int32_t out_depth, const int8_t *input,
                      const int8_t *filter, const int32_t *bias, int8_t *output)
{
    const int32_t blocks = depth >> 2;
    const int32_t done = 4 * blocks;
    const int32_t m = quant->multiplier[0];
    const int32_t sh = quant->shift[0];
    const int32_t out_off = params->output_offset;
    const int32_t round = ml_dsp_round_with_offset(2 * out_off + 1, sh);
    const int tensor_fast = ML_SPECIALISE && !params->per_channel && (uint32_t)(sh + 22) < 22u &&
                            m >= 0 && params->act_min <= -128 && params->act_max >= 127;
    for (int32_t b = 0; b < batches; ++b) {
        const int8_t *x = input + b * depth;
        int8_t *out = output + b * out_depth;
        const int8_t *w = filter;
        int32_t o = 0;
        if (blocks > 0) {
#if !ML_COMPACT
            if (params->dsp_rows6) {  /* checked by the caller: bias, out_depth >= 6, done == depth */
                /* The routine requantizes itself when nothing is left to add and the
                 * requantization is the per-tensor fast one; otherwise it hands over each
                 * group's sums. */
                ml_fc_dsp_job job;
                int32_t acc[6];
                job.x = x;
                job.w = w;
                job.depth = depth;
                job.x_end = x + done;
                job.entry = (4 - blocks % 4) % 4;
                job.bias = bias;
                job.out = tensor_fast && done == depth ? out : NULL;
                job.multiplier = m;
                job.round = round;
                job.n = -sh;
                job.acc = acc;
                const int32_t groups = out_depth / 6;
                for (int32_t g = 0; g < groups;) {
                    job.groups = groups - g;
                    g += ml_fc_dsp_rows6(&job);
                    if (g == groups) {
                        break;
                    }
                    /* group g's sums are in acc (the layout leaves no tail): finish it here */
                    const int32_t og = 6 * g;
                    for (int32_t r = 0; r < 6; ++r) {
                        const int32_t a = acc[r];
                        out[og + r] = tensor_fast ? ml_fc_dsp_out_tensor(a, m, sh, round, out_off)
                                                  : ml_fc_dsp_out(params, quant, og + r, a);
                    }
                    ++g;
                }
                o = 6 * groups;
                w += o * depth;
            }
#else
            if (params->dsp_rows6) {  /* the layout without the routine: the same sums in C */
                o = ml_fc_rows6_groups(params, quant, x, w, depth, out_depth, bias, out);
                w += o * depth;
            }
#endif
            for (; o + 4 <= out_depth; o += 4) {
                int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
                if (bias != NULL) {
                    a0 = bias[o];
                    a1 = bias[o + 1];
                    a2 = bias[o + 2];
                    a3 = bias[o + 3];
                }
                ml_dsp_dot_4rows(x, w, depth, blocks, &a0, &a1, &a2, &a3);
                if (done < depth) {
                    a0 = ml_fc_dsp_dot(x + done, w + done, depth - done, a0);
                    a1 = ml_fc_dsp_dot(x + done, w + depth + done, depth - done, a1);
                    a2 = ml_fc_dsp_dot(x + done, w + 2 * depth + done, depth - done, a2);
                    a3 = ml_fc_dsp_dot(x + done, w + 3 * depth + done, depth - done, a3);
                }
                if (tensor_fast) {
                    out[o] = ml_fc_dsp_out_tensor(a0, m, sh, round, out_off);
                    out[o + 1] = ml_fc_dsp_out_tensor(a1, m, sh, round, out_off);
                    out[o + 2] = ml_fc_dsp_out_tensor(a2, m, sh, round, out_off);
                    out[o + 3] = ml_fc_dsp_out_tensor(a3, m, sh, round, out_off);
                } else {
                    out[o] = ml_fc_dsp_out(params, quant, o, a0);
                    out[o + 1] = ml_fc_dsp_out(params, quant, o + 1, a1);
                    out[o + 2] = ml_fc_dsp_out(params, quant, o + 2, a2);
                    out[o + 3] = ml_fc_dsp_out(params, quant, o + 3, a3);
                }
                w += 4 * depth;
            }
        }
        for (; o < out_depth; ++o) {
            const int32_t acc = ml_fc_dsp_dot(x, w, depth, bias != NULL ? bias[o] : 0);
            out[o] = ml_fc_dsp_out(params, quant, o, acc);
            w += depth;
        }
    }
}
#endif /* ML_FC_ONE_ROW */
#endif /* ML_NN_DSP */

#if defined(__ARM_ARCH_6M__) && defined(__GNUC__)
/*
 * Cortex-M0/M0+ (ARMv6-M), symmetric weights with the input offset folded into the bias
 * (both offsets 0): four rows at a time share each input value, 15 instructions per four
 * MACs. acc[r] += sum over k < depth of x[k] * w[r * depth + k], modulo 2^32; the sums live
 * in r8-r11, the five data pointers mark the ends of their runs and share one negative index
 * (LDRSB has only the register-offset form). depth >= 1.
 */
void ml_fc_m0_dot_4rows(const int8_t *x, const int8_t *w, int32_t depth, int32_t acc[4]);

__asm__(ML_M0_ASM_FUNCTION("ml_fc_m0_dot_4rows")
    "push {r4, r5, r6, r7, lr}\n\t"
    "mov r4, r8\n\t"
    "mov r5, r9\n\t"
    "mov r6, r10\n\t"
    "mov r7, r11\n\t"
    "push {r4, r5, r6, r7}\n\t"
    "mov lr, r3\n\t"                /* acc */
    "ldr r4, [r3, #0]\n\t"
    "mov r8, r4\n\t"
    "ldr r4, [r3, #4]\n\t"
    "mov r9, r4\n\t"
    "ldr r4, [r3, #8]\n\t"
    "mov r10, r4\n\t"
    "ldr r4, [r3, #12]\n\t"
    "mov r11, r4\n\t"
    "adds r0, r0, r2\n\t"           /* end of x */
    "adds r1, r1, r2\n\t"           /* end of row 0 */
    "adds r3, r1, r2\n\t"           /* end of row 1 */
    "adds r7, r3, r2\n\t"           /* end of row 2 */
    "adds r6, r7, r2\n\t"           /* end of row 3 */
    "mov ip, r6\n\t"
    "rsbs r4, r2, #0\n\t"
    "mov r2, ip\n"
    "1:\n\t"
    "ldrsb r5, [r0, r4]\n\t"
    "ldrsb r6, [r1, r4]\n\t"
    "muls r6, r5\n\t"
    "add r8, r6\n\t"
    "ldrsb r6, [r3, r4]\n\t"
    "muls r6, r5\n\t"
    "add r9, r6\n\t"
    "ldrsb r6, [r7, r4]\n\t"
    "muls r6, r5\n\t"
    "add r10, r6\n\t"
    "ldrsb r6, [r2, r4]\n\t"
    "muls r6, r5\n\t"
    "add r11, r6\n\t"
    "adds r4, r4, #1\n\t"
    "bne 1b\n\t"
    "mov r3, lr\n\t"
    "mov r4, r8\n\t"
    "str r4, [r3, #0]\n\t"
    "mov r4, r9\n\t"
    "str r4, [r3, #4]\n\t"
    "mov r4, r10\n\t"
    "str r4, [r3, #8]\n\t"
    "mov r4, r11\n\t"
    "str r4, [r3, #12]\n\t"
    "pop {r4, r5, r6, r7}\n\t"
    "mov r8, r4\n\t"
    "mov r9, r5\n\t"
    "mov r10, r6\n\t"
    "mov r11, r7\n\t"
    "pop {r4, r5, r6, r7, pc}\n\t"
    ".size ml_fc_m0_dot_4rows, .-ml_fc_m0_dot_4rows");

#define ml_fc_dot_4rows ml_fc_m0_dot_4rows
#define ML_FC_ROWS4 1
#elif defined(__ARM_ARCH_7M__) && defined(__GNUC__) && defined(__OPTIMIZE__)
/*
 * Cortex-M3 (ARMv7-M without DSP), both offsets 0 as above: four rows share each input
 * value, post-indexed loads and MLA, two steps per iteration (20 instructions per 8 MACs).
 * acc[r] += sum over k < depth of x[k] * w[r * depth + k], modulo 2^32. Unoptimized builds
 * keep the portable loop (too few free registers).
 */
#define ML_FC_M3_STEP                                                                            \
    "ldrsb %[t0], [%[x]], #1\n\t"                                                                \
    "ldrsb %[t1], [%[w0]], #1\n\t"                                                               \
    "mla %[a0], %[t0], %[t1], %[a0]\n\t"                                                         \
    "ldrsb %[t1], [%[w1]], #1\n\t"                                                               \
    "mla %[a1], %[t0], %[t1], %[a1]\n\t"                                                         \
    "ldrsb %[t1], [%[w2]], #1\n\t"                                                               \
    "mla %[a2], %[t0], %[t1], %[a2]\n\t"                                                         \
    "ldrsb %[t1], [%[w3]], #1\n\t"                                                               \
    "mla %[a3], %[t0], %[t1], %[a3]\n\t"

#define ML_FC_M3_OPERANDS                                                                        \
    : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [x] "+r"(x), [w0] "+r"(w0),   \
      [w1] "+r"(w1), [w2] "+r"(w2), [w3] "+r"(w3), [t0] "=&r"(t0), [t1] "=&r"(t1)              \
    : [end] "r"(end)                                                                             \
    : "cc", "memory"

static ML_NOINLINE void ml_fc_m3_dot_4rows(const int8_t *x, const int8_t *w0, int32_t depth,
                                           int32_t acc[4])
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    const int8_t *w1 = w0 + depth;
    const int8_t *w2 = w1 + depth;
    const int8_t *w3 = w2 + depth;
    const int8_t *const end = x + (depth & ~1);
    int32_t t0, t1;
    if (depth >= 2) {
        __asm__ volatile("1:\n\t" ML_FC_M3_STEP ML_FC_M3_STEP
                         "cmp %[x], %[end]\n\t"
                         "bne 1b" ML_FC_M3_OPERANDS);
    }
    if (depth & 1) {
        __asm__ volatile(ML_FC_M3_STEP ML_FC_M3_OPERANDS);
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}
#define ml_fc_dot_4rows ml_fc_m3_dot_4rows
#define ML_FC_ROWS4 1
#endif /* __ARM_ARCH_6M__ */

#if defined(ML_FC_ROWS4)
/* Requantization, output offset and clamp of output row o (the portable path's arithmetic). */
static inline int8_t ml_fc_rows4_out(const ml_fc_params *params,
                                     const ml_per_channel_quant *quant, int32_t o, int32_t acc)
{
    const int32_t q = params->per_channel ? o : 0;
    acc = ML_NN_REQUANTIZE(acc, quant->multiplier[q], quant->shift[q]) + params->output_offset;
    return ml_clamp_s8(acc, params->act_min, params->act_max);
}

/* M0 and M3 with both offsets 0: four rows at a time, then the leftover rows one by one. */
static void ml_fc_rows4(const ml_fc_params *params, const ml_per_channel_quant *quant,
                        int32_t batches, int32_t depth, int32_t out_depth, const int8_t *input,
                        const int8_t *filter, const int32_t *bias, int8_t *output)
{
    for (int32_t b = 0; b < batches; ++b) {
        const int8_t *x = input + b * depth;
        int8_t *out = output + b * out_depth;
        const int8_t *w = filter;
        int32_t o = 0;
        for (; o + 4 <= out_depth; o += 4) {
            /* Element by element: an initializer list becomes a memset call on Cortex-M0. */
            int32_t acc[4];
            acc[0] = 0;
            acc[1] = 0;
            acc[2] = 0;
            acc[3] = 0;
            if (bias != NULL) {
                acc[0] = bias[o];
                acc[1] = bias[o + 1];
                acc[2] = bias[o + 2];
                acc[3] = bias[o + 3];
            }
            ml_fc_dot_4rows(x, w, depth, acc);
            for (int32_t r = 0; r < 4; ++r) {
                out[o + r] = ml_fc_rows4_out(params, quant, o + r, acc[r]);
            }
            w += 4 * depth;
        }
        for (; o < out_depth; ++o) {
            int32_t acc = bias != NULL ? bias[o] : 0;
            for (int32_t d = 0; d < depth; ++d) {
                acc += (int32_t)x[d] * w[d];
            }
            out[o] = ml_fc_rows4_out(params, quant, o, acc);
            w += depth;
        }
    }
}
#endif /* ML_FC_ROWS4 */

ml_status ml_fully_connected_s8(const ml_fc_params *params, const ml_per_channel_quant *quant,
                                const ml_dims *input_dims, const int8_t *input,
                                const ml_dims *filter_dims, const int8_t *filter, const int32_t *bias,
                                const ml_dims *output_dims, int8_t *output)
{
    const int32_t batches = input_dims->w;
    const int32_t depth = input_dims->c;
    const int32_t out_depth = filter_dims->w;
    if (filter_dims->c != depth || output_dims->w != batches || output_dims->c != out_depth) {
        return ML_ARG_ERROR;
    }
#if defined(ML_NN_DSP)
    if (params->dsp_rows6) {  /* only the six-row paths read this layout */
        if (params->filter_offset != 0 || params->input_offset != 0 || bias == NULL ||
            out_depth < 6 || (depth & 3) != 0 || depth == 0) {
            return ML_ARG_ERROR;
        }
    }
    if (params->filter_offset == 0 && params->input_offset == 0) {
        ml_fc_dsp(params, quant, batches, depth, out_depth, input, filter, bias, output);
        return ML_OK;
    }
#if defined(ML_NO_FALLBACK_FULLY_CONNECTED_S8)
    return ML_NO_IMPL;  /* --optimize size: the generator saw every layer take the DSP path */
#endif
#endif
#if defined(ML_FC_ROWS4)
    if (params->filter_offset == 0 && params->input_offset == 0 && depth > 0) {
        ml_fc_rows4(params, quant, batches, depth, out_depth, input, filter, bias, output);
        return ML_OK;
    }
#endif
    for (int32_t b = 0; b < batches; ++b) {
        const int8_t *in_row = input + b * depth;
        for (int32_t o = 0; o < out_depth; ++o) {
            const int8_t *w_row = filter + o * depth;
            /* |acc| <= depth * 255 * 255 + |bias|: exact in int32 for depth < 33000. */
            int32_t acc = 0;
            for (int32_t d = 0; d < depth; ++d) {
                acc += ((int32_t)in_row[d] + params->input_offset) *
                       ((int32_t)w_row[d] + params->filter_offset);
            }
            if (bias != NULL) {
                acc += bias[o];
            }
            const int32_t q = params->per_channel ? o : 0;
            acc = ML_NN_REQUANTIZE(acc, quant->multiplier[q], quant->shift[q]);
            acc += params->output_offset;
            output[b * out_depth + o] = ml_clamp_s8(acc, params->act_min, params->act_max);
        }
    }
    return ML_OK;
}
