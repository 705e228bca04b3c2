#include "ml_lstm_s8.h"
#include "ml_nn_dsp.h"

/* TFLM's sigmoid_table_uint16 (tensorflow/lite/kernels/internal/common.h, Apache-2.0):
 * sigmoid(i / 24) in unsigned Q0.16, which its int16 Logistic and Tanh interpolate. The values
 * are data, not a formula (44 of them differ by one from round(65536 sigmoid(i / 24))). */
static const uint16_t ml_lstm_sigmoid_table[256] = {
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149,
    40794, 41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369,
    47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169,
    53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
    57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370,
    60565, 60753, 60935, 61110, 61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302,
    62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186, 63279, 63368, 63454, 63536,
    63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
    64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786,
    64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079,
    65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234, 65246, 65258,
    65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
    65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433,
    65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474,
    65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498,
    65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
    65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522,
    65523, 65523, 65524, 65524, 65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528,
    65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530, 65530, 65530, 65531, 65531,
    65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
    65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534,
    65534, 65534, 65534, 65535,
};

/* gemmlowp-free saturation to int16. */
static int16_t ml_lstm_sat16(int32_t x)
{
    return (int16_t)(x < INT16_MIN ? INT16_MIN : (x > INT16_MAX ? INT16_MAX : x));
}

/* TFLM reference_integer_ops::Logistic (int16) with input_multiplier 0 and shift 0: Q3.12 in,
 * Q0.15 out, by interpolating the table at steps of 1/24 (the input times 3, over 2^9). */
static int16_t ml_lstm_sigmoid(int16_t x)
{
    const int32_t in = (int32_t)x * 3;
    const uint32_t mag = (uint32_t)(in < 0 ? -in : in);
    const uint32_t uh = mag >> 9;
    uint32_t r;
    if (uh >= 255u) {
        r = 0x7FFFu << 10;
    } else {
        const uint32_t ua = ml_lstm_sigmoid_table[uh];
        const uint32_t ub = ml_lstm_sigmoid_table[uh + 1u];
        r = (ua << 9) + (mag & 0x1FFu) * (ub - ua);
    }
    r = in >= 0 ? r + (1u << 9) : (1u << 25) - r + (1u << 9) - 1u;
    return (int16_t)(r >> 10);
}

/* TFLM reference_integer_ops::Tanh (int16): tanh(x) = 2 sigmoid(2x) - 1 on the same table,
 * after scaling the input by multiplier / 2^shift (multiplier 0: 3 * 2^shift, no shift). */
static int16_t ml_lstm_tanh(int16_t x, int32_t multiplier, int32_t shift)
{
    int32_t round, in, r;
    uint32_t mag, uh;
    if (multiplier == 0) {
        multiplier = 3 << shift;
        shift = 0;
    }
    round = shift > 0 ? (int32_t)1 << (shift - 1) : 0;  /* after the power-of-two case, as TFLM */
    in = ((int32_t)x * multiplier + round) >> shift;
    mag = (uint32_t)(in < 0 ? -in : in);
    uh = mag >> 8;
    if (uh >= 255u) {
        r = 0xFFFF << 8;
    } else {
        const uint32_t ua = ml_lstm_sigmoid_table[uh];
        const uint32_t ub = ml_lstm_sigmoid_table[uh + 1u];
        r = (int32_t)((ua << 8) + (mag & 0xFFu) * (ub - ua));
    }
    r = in >= 0 ? r - (1 << 23) + (1 << 7) : -r + (1 << 23) + (1 << 7) - 1;
    return (int16_t)(r >> 8);
}

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
    const int32_t n = rows * p->state_size;
    int32_t i;
    ml_lstm_fc(x, rows, p->input_size, p->input_offset, g->input_weights, g->input_weight_offset, g->bias,
               p->state_size, g->input_multiplier, g->input_shift, out);
    ml_lstm_fc(h, rows, p->state_size, p->hidden_offset, g->recurrent_weights, g->recurrent_weight_offset,
               g->recurrent_bias, p->state_size, g->recurrent_multiplier, g->recurrent_shift, tmp);
    for (i = 0; i < n; ++i) {
        const int16_t sum = ml_lstm_sat16((int32_t)out[i] + (int32_t)tmp[i]);
        /* the cell gate's tanh takes Q3.12 directly: TFLM's Tanh(-12), multiplier 3, no shift */
        out[i] = is_cell_gate ? ml_lstm_tanh(sum, 0, 0) : ml_lstm_sigmoid(sum);
    }
}

/* a * b requantized (TFLM MulElementwise, zero input offsets), offset and clamped. */
static int32_t ml_lstm_mul(int16_t a, int16_t b, int32_t multiplier, int32_t shift, int32_t offset,
                           int32_t lo, int32_t hi)
{
    const int32_t v = ml_nn_requantize((int32_t)a * (int32_t)b, multiplier, shift) + offset;
    return v < lo ? lo : (v > hi ? hi : v);
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
    for (i = 0; i < n; ++i) {
        const int32_t kept = ml_lstm_mul(forget[i], c[i], p->forget_mul_multiplier, p->forget_mul_shift, 0,
                                         INT16_MIN, INT16_MAX);
        const int32_t added = ml_lstm_mul(in_gate[i], cell_gate[i], p->input_mul_multiplier,
                                          p->input_mul_shift, 0, INT16_MIN, INT16_MAX);
        int16_t v = ml_lstm_sat16(kept + added);
        if (p->cell_clip > 0) {
            v = (int16_t)(v > p->cell_clip ? p->cell_clip : (v < -p->cell_clip ? -p->cell_clip : v));
        }
        c[i] = v;
    }
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
    if (p->batches < 1 || p->time_steps < 0 || p->input_size < 1 || p->state_size < 1) {
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
