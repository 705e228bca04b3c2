#include "ml_fully_connected_s8.h"
#include "ml_nn_dsp.h"

#if defined(ML_NN_DSP)
/*
 * DSP path, for symmetric weights with the input offset folded into the bias by the
 * generator (filter_offset and input_offset both 0): four output rows at a time share each
 * word of the input, and SMLAD does two multiply-accumulates.
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
    const int tensor_fast = !params->per_channel && (uint32_t)(sh + 22) < 22u && m >= 0 &&
                            params->act_min <= -128 && params->act_max >= 127;
    for (int32_t b = 0; b < batches; ++b) {
        const int8_t *x = input + b * depth;
        int8_t *out = output + b * out_depth;
        const int8_t *w = filter;
        int32_t o = 0;
        if (blocks > 0) {
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
#endif /* ML_NN_DSP */

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
    if (params->filter_offset == 0 && params->input_offset == 0) {
        ml_fc_dsp(params, quant, batches, depth, out_depth, input, filter, bias, output);
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
            acc = ml_nn_requantize(acc, quant->multiplier[q], quant->shift[q]);
            acc += params->output_offset;
            output[b * out_depth + o] = ml_clamp_s8(acc, params->act_min, params->act_max);
        }
    }
    return ML_OK;
}
