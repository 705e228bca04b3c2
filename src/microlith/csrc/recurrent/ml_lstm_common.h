/*
 * Shared by the LSTM kernels (ml_lstm_s8, ml_lstm_s16): parameters, TFLM's int16 sigmoid and
 * tanh, the inter-gate multiplication and the cell update. Header only.
 */
#ifndef ML_LSTM_COMMON_H
#define ML_LSTM_COMMON_H

#include "ml_common.h"

/* One LSTM gate: gate = activation(FC(input) + FC(hidden state)), both FCs quantized to Q3.12
 * (scale 2^-12) and saturated to int16, their sum saturated to int16. */
typedef struct {
    const int8_t *input_weights;      /* [state_size, input_size] */
    const int8_t *recurrent_weights;  /* [state_size, state_size] */
    const int32_t *bias;              /* [state_size], added to the input FC (TFLM's only bias) */
    const int64_t *bias64;            /* the same for int16 activations (ml_lstm_s16), else NULL */
    const int32_t *recurrent_bias;    /* [state_size] or NULL: the generator's folded offsets */
    int32_t input_weight_offset;      /* -zero point of input_weights */
    int32_t recurrent_weight_offset;  /* -zero point of recurrent_weights */
    int32_t input_multiplier, input_shift;          /* input x input_weights -> Q3.12 */
    int32_t recurrent_multiplier, recurrent_shift;  /* hidden x recurrent_weights -> Q3.12 */
} ml_lstm_gate;

typedef struct {
    const ml_lstm_gate *forget_gate, *input_gate, *cell_gate, *output_gate;
    int32_t batches, time_steps, input_size, state_size;
    int32_t time_major;         /* 1: input [time, batch, input]; 0: [batch, time, input] */
    int32_t input_offset;       /* -input zero point */
    int32_t hidden_offset;      /* -hidden state zero point (the recurrent FCs' input) */
    int32_t hidden_zero_point;  /* of the hidden state (= the output) */
    int32_t forget_mul_multiplier, forget_mul_shift;  /* forget gate x cell -> cell */
    int32_t input_mul_multiplier, input_mul_shift;    /* input gate x cell gate -> cell */
    int32_t output_mul_multiplier, output_mul_shift;  /* tanh(cell) x output gate -> hidden */
    int32_t cell_clip;          /* |cell| is clipped to this (quantized); 0: no clipping */
    int32_t tanh_multiplier, tanh_shift;  /* the cell state's scale into tanh's Q3.12 input */
} ml_lstm_params;

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
static inline int16_t ml_lstm_sat16(int32_t x)
{
    return (int16_t)(x < INT16_MIN ? INT16_MIN : (x > INT16_MAX ? INT16_MAX : x));
}

/* TFLM reference_integer_ops::Logistic (int16) with input_multiplier 0 and shift 0: Q3.12 in,
 * Q0.15 out, by interpolating the table at steps of 1/24 (the input times 3, over 2^9). */
static inline int16_t ml_lstm_sigmoid(int16_t x)
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
static inline int16_t ml_lstm_tanh(int16_t x, int32_t multiplier, int32_t shift)
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

/* a * b requantized (TFLM MulElementwise, zero input offsets), offset and clamped. */
static inline int32_t ml_lstm_mul(int16_t a, int16_t b, int32_t multiplier, int32_t shift, int32_t offset,
                           int32_t lo, int32_t hi)
{
    const int32_t v = ml_nn_requantize((int32_t)a * (int32_t)b, multiplier, shift) + offset;
    return v < lo ? lo : (v > hi ? hi : v);
}

/* The sum of a gate's two FCs (in out and tmp), saturated, through its activation, into out:
 * sigmoid, or for the cell gate tanh of the Q3.12 sum (TFLM's Tanh(-12): multiplier 3, no shift). */
static inline void ml_lstm_activate(int16_t *out, const int16_t *tmp, int32_t n, int is_cell_gate)
{
    int32_t i;
    for (i = 0; i < n; ++i) {
        const int16_t sum = ml_lstm_sat16((int32_t)out[i] + (int32_t)tmp[i]);
        out[i] = is_cell_gate ? ml_lstm_tanh(sum, 0, 0) : ml_lstm_sigmoid(sum);
    }
}

/* cell = forget * cell + input * cell gate, saturated, then clipped (TFLM UpdateLstmCell). */
static inline void ml_lstm_update_cell(const ml_lstm_params *p, const int16_t *forget, const int16_t *in_gate,
                                       const int16_t *cell_gate, int16_t *c, int32_t n)
{
    int32_t i;
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
}

static inline int ml_lstm_params_ok(const ml_lstm_params *p)
{
    return p->batches >= 1 && p->time_steps >= 0 && p->input_size >= 1 && p->state_size >= 1;
}

#endif
