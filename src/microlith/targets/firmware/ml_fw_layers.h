/*
 * Forced into the model's translation unit (-include) when per-layer counts are asked for:
 * the generated code calls these around every layer. Each costs a call of ml_fw_stamp (one
 * timer read) and one store, which the harness measures on a spare slot and the host
 * subtracts. The call is what the cycle trace splits the run at (its plugin's mark=): every
 * entry into ml_fw_stamp ends one layer's stretch or the glue between two layers.
 */
#ifndef ML_FW_LAYERS_H
#define ML_FW_LAYERS_H

#include "ml_fw.h"

uint32_t ml_fw_stamp(void);

#define ML_LAYER_BEGIN(layer) (ml_fw_layer_begin[(layer)] = ml_fw_stamp())
#define ML_LAYER_END(layer, data, bytes) (ml_fw_layer_end[(layer)] = ml_fw_stamp())

#endif /* ML_FW_LAYERS_H */
