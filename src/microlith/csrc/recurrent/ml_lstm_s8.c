#include "ml_lstm_s8.h"
#include "ml_nn_dsp.h"

/* acc + sum x[i] w[i] over n, modulo 2^32 (TFLM's int32 sums wrap the same way). */
static uint32_t ml_lstm_dot(const int8_t *x, const int8_t *w, int32_t n, uint32_t acc)
{
    int32_t i = 0;
#if defined(ML_NN_DSP)
    int32_t a = (int32_t)acc;
    for (; i + 4 <= n; i += 4) {  /* SMLAD on halfwords {x0, x2} . {w0, w2}, then {x1, x3} . {w1, w3} */
        const int32_t xv = ml_dsp_read_s8x4(x + i);
        const int32_t wv = ml_dsp_read_s8x4(w + i);
        a = ml_dsp_smlad(ml_dsp_sxtb16(xv), ml_dsp_sxtb16(wv), a);
        a = ml_dsp_smlad(ml_dsp_sxtb16_ror8(xv), ml_dsp_sxtb16_ror8(wv), a);
    }
    acc = (uint32_t)a;
#endif
    for (; i < n; ++i) {
        acc += (uint32_t)((int32_t)x[i] * (int32_t)w[i]);
    }
    return acc;
}

/* One fully connected layer into Q3.12: rows x [n] by weights [state_size, n], to int16
 * (TFLM reference_integer_ops::FullyConnected, output offset 0, int16 range). */
static void ml_lstm_fc(const int8_t *x, int32_t rows, int32_t n, int32_t x_offset, const int8_t *w,
                       int32_t w_offset, const int32_t *bias, int32_t state_size, int32_t multiplier,
                       int32_t shift, int16_t *out)
{
    int32_t r, s, i;
    for (r = 0; r < rows; ++r) {
        for (s = 0; s < state_size; ++s) {
            const int8_t *wr = w + s * n;
            uint32_t acc = bias != NULL ? (uint32_t)bias[s] : 0u;  /* int32 sums wrap, as TFLM's */
            if (x_offset == 0 && w_offset == 0) {
                acc = ml_lstm_dot(x + r * n, wr, n, acc);
            } else {
                for (i = 0; i < n; ++i) {
                    acc += (uint32_t)(((int32_t)wr[i] + w_offset) * ((int32_t)x[r * n + i] + x_offset));
                }
            }
            out[r * state_size + s] = ml_lstm_sat16(ml_nn_requantize((int32_t)acc, multiplier, shift));
        }
    }
}

/* gate = activation(FC(x) + FC(h)), into out; tmp holds the recurrent FC. */
static void ml_lstm_gate_step(const ml_lstm_params *p, const ml_lstm_gate *g, const int8_t *x, const int8_t *h,
                              int32_t rows, int is_cell_gate, int16_t *out, int16_t *tmp)
{
    ml_lstm_fc(x, rows, p->input_size, p->input_offset, g->input_weights, g->input_weight_offset, g->bias,
               p->state_size, g->input_multiplier, g->input_shift, out);
    ml_lstm_fc(h, rows, p->state_size, p->hidden_offset, g->recurrent_weights, g->recurrent_weight_offset,
               g->recurrent_bias, p->state_size, g->recurrent_multiplier, g->recurrent_shift, tmp);
    ml_lstm_activate(out, tmp, rows * p->state_size, is_cell_gate);
}

/* One time step on the given rows (TFLM lstm_internal::LstmStep). */
static void ml_lstm_step(const ml_lstm_params *p, const int8_t *x, int8_t *h, int16_t *c, int32_t rows,
                         int16_t *scratch, int8_t *out)
{
    const int32_t n = rows * p->state_size;
    int16_t *const forget = scratch;
    int16_t *const in_gate = scratch + n;
    int16_t *const cell_gate = scratch + 2 * n;
    int16_t *const tmp = scratch + 3 * n;
    int32_t i;
    ml_lstm_gate_step(p, p->forget_gate, x, h, rows, 0, forget, tmp);
    ml_lstm_gate_step(p, p->input_gate, x, h, rows, 0, in_gate, tmp);
    ml_lstm_gate_step(p, p->cell_gate, x, h, rows, 1, cell_gate, tmp);
    ml_lstm_update_cell(p, forget, in_gate, cell_gate, c, n);
    /* the output gate still reads the previous hidden state: it changes only below */
    ml_lstm_gate_step(p, p->output_gate, x, h, rows, 0, in_gate, tmp);
    for (i = 0; i < n; ++i) {
        const int16_t t = ml_lstm_tanh(c[i], p->tanh_multiplier, p->tanh_shift);
        h[i] = (int8_t)ml_lstm_mul(t, in_gate[i], p->output_mul_multiplier, p->output_mul_shift,
                                   p->hidden_zero_point, INT8_MIN, INT8_MAX);
    }
    memcpy(out, h, (size_t)n);
}

ml_status ml_lstm_s8(const ml_lstm_params *params, const int8_t *input, int8_t *hidden_state,
                     int16_t *cell_state, int16_t *scratch, int8_t *output)
{
    const ml_lstm_params *const p = params;
    const int32_t in_row = p->input_size, out_row = p->state_size;
    int32_t b, t;
    if (!ml_lstm_params_ok(p)) {
        return ML_ARG_ERROR;
    }
    if (p->time_major) {  /* every batch in one step */
        for (t = 0; t < p->time_steps; ++t) {
            ml_lstm_step(p, input + t * p->batches * in_row, hidden_state, cell_state, p->batches, scratch,
                         output + t * p->batches * out_row);
        }
        return ML_OK;
    }
    for (b = 0; b < p->batches; ++b) {  /* one batch at a time, each with its own state row */
        for (t = 0; t < p->time_steps; ++t) {
            ml_lstm_step(p, input + (b * p->time_steps + t) * in_row, hidden_state + b * out_row,
                         cell_state + b * out_row, 1, scratch, output + (b * p->time_steps + t) * out_row);
        }
    }
    return ML_OK;
}
