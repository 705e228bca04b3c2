#ifndef ML_LSTM_S16_H
#define ML_LSTM_S16_H

#include "ml_lstm_common.h"

/*
 * UNIDIRECTIONAL_SEQUENCE_LSTM with int16 activations (input, hidden state, output), int8
 * weights, int16 gates and cell state, int64 bias (TFLM EvalLstm<int16_t, int8_t, int16_t,
 * int64_t>, TFLM's 16x8 mode): ml_lstm_s8 with int16 in and out, the FCs accumulating in int64
 * and requantizing with TFLM's 64-bit MultiplyByQuantizedMultiplier (a 16-bit multiplier),
 * the gates' bias in ml_lstm_gate.bias64. scratch: 4 * batches * state_size int16.
 */
ml_status ml_lstm_s16(const ml_lstm_params *params, const int16_t *input, int16_t *hidden_state,
                      int16_t *cell_state, int16_t *scratch, int16_t *output);

#endif
