#ifndef ML_LSTM_S8_H
#define ML_LSTM_S8_H

#include "ml_lstm_common.h"

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
