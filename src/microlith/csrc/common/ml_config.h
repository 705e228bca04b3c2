/*
 * How the kernels of a generated folder are built. `microlith compile --optimize MODE` writes
 * this file into each folder it generates; this copy (mode speed: no macro defined) is what the
 * kernels see when they are compiled straight from microlith's source tree.
 *
 *   ML_OPTIMIZE_SIZE   one generic instance per kernel family: the shape-specialised variants,
 *                      which only save instructions, are left out (ML_SPECIALISE is 0), and with
 *                      GCC the kernels and the model compile for size (as with -Os) whatever
 *                      flags the build passes.
 *
 *   ML_NO_FALLBACK_<KERNEL>   (size and balanced) every layer of the model that uses the
 *                      kernel takes its DSP-extension path on a core that has one, so DSP builds
 *                      leave the portable path out; a call that would need it returns ML_NO_IMPL.
 *   ML_NO_FALLBACK_M0_<KERNEL>   (size and balanced) the same for the M0 assembly paths
 *                      (ML_M0_PATHS: Cortex-M0/M0+ and M3): every layer that uses the kernel
 *                      takes its assembly path there, so those builds leave the portable path
 *                      out; a call that would need it returns ML_NO_IMPL.
 *   ML_ONLY_RELU, ML_NO_RELU   (every mode) every convolution and depthwise layer of the
 *                      model clamps at its output zero point (a fused ReLU), or none does: the
 *                      ARMv6-M routines are built in that form only (ml_nn_m0.h), and with
 *                      ML_ONLY_RELU the DSP routines' requantization drops the rounding term
 *                      that no output of such a layer depends on (ml_nn_dsp.h
 *                      ML_DSP_RELU_FORM); a layer of the other kind takes a slower path to the
 *                      same bytes.
 *   ML_NO_DW_3X3_PLANES   (size and balanced) no depthwise layer of the model has its DSP data
 *                      in the 3x3 plane layout (ML_DW_LAYOUT_3X3 or _3X3_T), so that path is
 *                      left out; a layer that asks for it returns ML_NO_IMPL.
 *   ML_NO_DW_3X3_DERIVE   (size and balanced) every depthwise layer with the 3x3 plane layout has
 *                      its data laid out at code generation (none has ML_DW_LAYOUT_DERIVE), so the
 *                      code that derives it per call is left out; a layer that asks for it
 *                      returns ML_NO_IMPL.
 *   ML_NO_DW_GROUPS    (size and balanced) every depthwise layer that a DSP core would run
 *                      through the four-channel group path has the 3x3 plane layout instead, so
 *                      the group path is left out; its calls go to the portable path (or
 *                      ML_NO_IMPL without it).
 *   ML_SPECIALISE_<VARIANT>   keeps one variant in size mode (it saves far more than its bytes).
 *   ML_<KERNEL>_ONLY_<VARIANT>  (size and balanced) every layer of the model that uses the
 *                      kernel (or its path) takes this variant, so its other loops are left out;
 *                      the kernel checks the variant's conditions on each call and returns
 *                      ML_NO_IMPL when they fail.
 *   ML_CONV2D_S8_NO_SEGMENTS, ML_CONV2D_S8_NO_WINDOWS27, ML_CONV2D_S8_NO_BLOCK_ROWS  (size and
 *                      balanced) no CONV_2D layer builds its columns by output-row segments,
 *                      from 3x3x3 windows, or from window rows of whole blocks, so
 *                      ml_conv2d_s8 leaves that builder out; its per-pixel im2col gives the same
 *                      columns for any layer.
 *   ML_CONV2D_S8_NO_IN_PLACE  (size and balanced) no CONV_2D layer runs in one call with its
 *                      output over its input on DSP cores, so that path (about 0.7 KB on
 *                      Cortex-M4) is left out; such a call returns ML_ARG_ERROR.
 *   ML_CONV2D_S8_NO_PAIRS  (every mode) no CONV_2D layer has its filter staged widened to int16
 *                      (--stage-weights, ml_conv2d_s8_stage), so the two-channel routine that
 *                      reads such filters is left out; staged copies are then plain bytes.
 *   ML_CONV2D_S8_NO_PAIRS8  (every mode) no CONV_2D layer has its filter laid out in channel
 *                      pairs (--optimize speed, ML_CONV2D_S8_PAIRED8), so the two-channel routine
 *                      over int8 weights is left out.
 *   ML_CONV2D_S8_NO_COL_GROUPS  (every mode) no CONV_2D layer has col_groups > 1 (the columns of
 *                      several pixel groups built before the routine runs on each), so that loop
 *                      is left out.
 *
 * A generated ml_config.h applies only while ML_CONFIG_MIXED is not defined: a build whose
 * models have different ml_config.h defines it for the shared kernels (the generated CMake and
 * microlith's firmware builder do), which then carry every path and serve every model.
 */
#ifndef ML_CONFIG_H
#define ML_CONFIG_H

#endif /* ML_CONFIG_H */
