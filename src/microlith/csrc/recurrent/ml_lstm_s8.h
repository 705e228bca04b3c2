#ifndef ML_LSTM_S8_H
#define ML_LSTM_S8_H

#include "ml_common.h"

/* One LSTM gate: gate = activation(FC(input) + FC(hidden state)), both FCs quantized to Q3.12
 * (scale 2^-12) and saturated to int16, their sum saturated to int16. */
typedef struct {
    const int8_t *input_weights;      /* [state_size, input_size] */
    const int8_t *recurrent_weights;  /* [state_size, state_size] */
    const int32_t *bias;              /* [state_size], added to the input FC (TFLM's only bias) */
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

/*
 * UNIDIRECTIONAL_SEQUENCE_LSTM, int8 activations and weights, int16 gates and cell state, int32
 * bias (TFLM EvalLstm<int8_t, int8_t, int16_t, int32_t>, lstm_eval.h): for each time step (each
 * batch in turn when batch-major, all batches at once when time-major) the forget, input and
 * cell gates from the input and the previous hidden state; cell = forget * cell + input * cell
 * gate (saturated, clipped); the output gate; hidden = tanh(cell) * output gate, which is also
 * that step's output row. hidden_state [batches, state_size] and cell_state (as many int16)
 * are updated in place and carry over to the next call. scratch: 4 * batches * state_size int16.
 * No peephole, projection or layer norm: TFLM's integer LSTM has none.
 * With every offset of a product 0 (the generator folds the input offsets into the biases,
 * sum (x + o) w = sum x w + o sum w modulo 2^32) its dot product runs on the DSP extension.
 */
ml_status ml_lstm_s8(const ml_lstm_params *params, const int8_t *input, int8_t *hidden_state,
                     int16_t *cell_state, int16_t *scratch, int8_t *output);

#endif
