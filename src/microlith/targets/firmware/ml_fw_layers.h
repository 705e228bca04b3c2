/*
 * Forced into the model's translation unit (-include) when per-layer counts are asked for:
 * the generated code calls these around every layer. Each costs one timer read and one store,
 * which the harness measures on a spare slot and the host subtracts.
 */
#ifndef ML_FW_LAYERS_H
#define ML_FW_LAYERS_H

#include "ml_fw.h"

#define ML_LAYER_BEGIN(layer) (ml_fw_layer_begin[(layer)] = ml_fw_now())
#define ML_LAYER_END(layer, data, bytes) (ml_fw_layer_end[(layer)] = ml_fw_now())

#endif /* ML_FW_LAYERS_H */
