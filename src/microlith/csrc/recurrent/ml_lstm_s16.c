#include "ml_lstm_s16.h"

/* TFLM's MultiplyByQuantizedMultiplier(int64_t x, ...) (common.cc): the multiplier rounded to 16
 * bits, one rounding shift by 15 - shift, the result truncated to int32. |x| < 2^47 (TFLM's
 * assumption, and the int64 product below stays exact). */
static int32_t ml_lstm_requantize64(int64_t x, int32_t multiplier, int32_t shift)
{
    const int64_t reduced = multiplier < 0x7FFF0000 ? (int64_t)((multiplier + (1 << 15)) >> 16) : 0x7FFF;
    const int32_t total_shift = 15 - shift;
    const int64_t r = (x * reduced + ((int64_t)1 << (total_shift - 1))) >> total_shift;
    return (int32_t)(uint32_t)(uint64_t)r;  /* TFLM's int64 -> int32 conversion keeps the low word */
}

/* One FC into Q3.12 (TFLM reference_integer_ops::FullyConnected<int16_t, int8_t, int16_t, int64_t>). */
static void ml_lstm16_fc(const int16_t *x, int32_t rows, int32_t n, int32_t x_offset, const int8_t *w,
                         int32_t w_offset, const int64_t *bias, int32_t state_size, int32_t multiplier,
                         int32_t shift, int16_t *out)
{
    int32_t r, s, i;
    for (r = 0; r < rows; ++r) {
        for (s = 0; s < state_size; ++s) {
            const int8_t *wr = w + s * n;
            int64_t acc = 0;
            for (i = 0; i < n; ++i) {
                acc += (int64_t)((int32_t)wr[i] + w_offset) * ((int64_t)x[r * n + i] + x_offset);
            }
            if (bias != NULL) {
                acc += bias[s];
            }
            out[r * state_size + s] = ml_lstm_sat16(ml_lstm_requantize64(acc, multiplier, shift));
        }
    }
}

static void ml_lstm16_gate_step(const ml_lstm_params *p, const ml_lstm_gate *g, const int16_t *x,
                                const int16_t *h, int32_t rows, int is_cell_gate, int16_t *out, int16_t *tmp)
{
    ml_lstm16_fc(x, rows, p->input_size, p->input_offset, g->input_weights, g->input_weight_offset, g->bias64,
                 p->state_size, g->input_multiplier, g->input_shift, out);
    ml_lstm16_fc(h, rows, p->state_size, p->hidden_offset, g->recurrent_weights, g->recurrent_weight_offset,
                 NULL, p->state_size, g->recurrent_multiplier, g->recurrent_shift, tmp);
    ml_lstm_activate(out, tmp, rows * p->state_size, is_cell_gate);
}

/* One time step on the given rows (TFLM lstm_internal::LstmStep). */
static void ml_lstm16_step(const ml_lstm_params *p, const int16_t *x, int16_t *h, int16_t *c, int32_t rows,
                           int16_t *scratch, int16_t *out)
{
    const int32_t n = rows * p->state_size;
    int16_t *const forget = scratch;
    int16_t *const in_gate = scratch + n;
    int16_t *const cell_gate = scratch + 2 * n;
    int16_t *const tmp = scratch + 3 * n;
    int32_t i;
    ml_lstm16_gate_step(p, p->forget_gate, x, h, rows, 0, forget, tmp);
    ml_lstm16_gate_step(p, p->input_gate, x, h, rows, 0, in_gate, tmp);
    ml_lstm16_gate_step(p, p->cell_gate, x, h, rows, 1, cell_gate, tmp);
    ml_lstm_update_cell(p, forget, in_gate, cell_gate, c, n);
    ml_lstm16_gate_step(p, p->output_gate, x, h, rows, 0, in_gate, tmp);  /* still the old h */
    for (i = 0; i < n; ++i) {
        const int16_t t = ml_lstm_tanh(c[i], p->tanh_multiplier, p->tanh_shift);
        h[i] = (int16_t)ml_lstm_mul(t, in_gate[i], p->output_mul_multiplier, p->output_mul_shift,
                                    p->hidden_zero_point, INT16_MIN, INT16_MAX);
    }
    memcpy(out, h, (size_t)n * sizeof(int16_t));
}

ml_status ml_lstm_s16(const ml_lstm_params *params, const int16_t *input, int16_t *hidden_state,
                      int16_t *cell_state, int16_t *scratch, int16_t *output)
{
    const ml_lstm_params *const p = params;
    const int32_t in_row = p->input_size, out_row = p->state_size;
    int32_t b, t;
    if (!ml_lstm_params_ok(p)) {
        return ML_ARG_ERROR;
    }
    if (p->time_major) {
        for (t = 0; t < p->time_steps; ++t) {
            ml_lstm16_step(p, input + t * p->batches * in_row, hidden_state, cell_state, p->batches, scratch,
                           output + t * p->batches * out_row);
        }
        return ML_OK;
    }
    for (b = 0; b < p->batches; ++b) {
        for (t = 0; t < p->time_steps; ++t) {
            ml_lstm16_step(p, input + (b * p->time_steps + t) * in_row, hidden_state + b * out_row,
                           cell_state + b * out_row, 1, scratch, output + (b * p->time_steps + t) * out_row);
        }
    }
    return ML_OK;
}
