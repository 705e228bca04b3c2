#ifndef ML_CONV2D_S8_H
#define ML_CONV2D_S8_H

#include "ml_common.h"

/* Output pixels that share one pass over the weights in the DSP path (at most). */
#define ML_CONV2D_S8_PIXELS 6

typedef struct {
    int32_t stride_h;       /* >= 1 */
    int32_t stride_w;
    int32_t dilation_h;     /* >= 1 */
    int32_t dilation_w;
    int32_t pad_h;          /* rows of implicit padding above the image, >= 0 */
    int32_t pad_w;          /* columns of implicit padding left of the image, >= 0 */
    int32_t input_offset;   /* -input zero point, in [-127, 128] */
    int32_t output_offset;  /* output zero point, in [-128, 127] */
    int32_t act_min;        /* fused activation clamp, in the output's int8 domain */
    int32_t act_max;
    int32_t acc_bounded;    /* 1 when every channel's |bias + sum of products| < 2^30 for any
                               input (the generator checks the weights); 0 when unknown */
    int32_t m0_layout;      /* ARMv6-M builds only, the generator's layouts (below), 0 elsewhere:
                               ML_CONV_M0_FOLDED, `bias` holds each channel's bias +
                               input_offset * sum of its weights; with ML_CONV_M0_PADDED too, each
                               channel's K weights (K odd) are followed by a zero in `filter`;
                               ML_CONV_M0_IN_RAM: `filter` lies in RAM (below) */
    int32_t scratch_kept;   /* 1 when this call continues the previous call's layer on the same
                               scratch, untouched since (the row stream sets it for every chunk
                               after a layer's first): what the kernel derived from the layer's
                               constants and left there is reused; 0 otherwise */
    int32_t filter_widened; /* 1 when `filter` is the copy ml_conv2d_s8_stage made with widen = 1
                               (--stage-weights; the generator sets both); ML_CONV2D_S8_PAIRED8
                               when it is the generator's channel-pair layout (below) */
    int32_t col_groups;     /* DSP builds: groups of ML_CONV2D_S8_PIXELS pixels whose columns are
                               built before the routine runs on each of them, so that its code
                               and the column builders' each stay in a small instruction cache
                               for that many groups (scratch: ML_CONV2D_S8_COL_GROUPS_BYTES more);
                               0 or 1: one group at a time */
} ml_conv_params;

/*
 * --optimize speed: DSP builds run a layer whose filter the generator laid out in channel pairs
 * (per pair of output channels and block of 4 values: channel 0's 4 int8 weights, then channel
 * 1's; each channel padded with zeros to a multiple of 4) through a routine of two output
 * channels by three pixels that reads each column word once for both. The generator passes the
 * filter as ML_CONV2D_S8_FILTER(paired, plain) and filter_widened = ML_CONV2D_S8_PAIRED8: builds
 * with that routine (ML_CONV2D_S8_PAIRED8_BUILD) reference the paired copy, every other build the
 * plain TFLite filter and 0, so each links one of them. Only for layers the DSP assembly runs
 * whole (clamp [-128, 127], no groups, a scratch, an even C_OUT, at least 3 pixels a call).
 */
#if ML_DSP_LAYOUTS && !defined(ML_OPTIMIZE_SIZE) && !defined(ML_COMPACT_CONV2D_S8) &&             \
    !defined(ML_CONV2D_S8_NO_PAIRS8)
#define ML_CONV2D_S8_PAIRED8_BUILD 1
#define ML_CONV2D_S8_PAIRED8 2
#define ML_CONV2D_S8_FILTER(paired, plain) ((void)(plain), (paired))
#else
#define ML_CONV2D_S8_PAIRED8_BUILD 0
#define ML_CONV2D_S8_PAIRED8 0
#define ML_CONV2D_S8_FILTER(paired, plain) (plain)  /* paired is not declared there */
#endif

/*
 * The bias operand of a layer the Cortex-M0 path runs (scratch, no groups): there the generator
 * passes bias + input_offset * sum(w) per output channel instead, so that the kernel need not
 * sum the weights again on every call (m0_layout = ML_CONV_M0_FOLDED). Other builds keep, and
 * link, only the plain bias.
 */
#if ML_M0_LAYOUTS
#define ML_CONV_M0_BIAS(bias, folded) ((void)(bias), (folded))
#define ML_CONV_M0_FOLDED 1
#else
#define ML_CONV_M0_BIAS(bias, folded) (bias)  /* folded is not even declared there */
#define ML_CONV_M0_FOLDED 0
#endif

/*
 * The filter operand of such a layer with K = KH * KW * C_IN odd: there the generator passes a
 * copy with a zero weight after each output channel's K (m0_layout = ML_CONV_M0_FOLDED |
 * ML_CONV_M0_PADDED), so that the channel-pair routine, which takes tap pairs, runs the layer
 * instead of C (a first layer's 3 x 3 x 3 window: K = 27). Other builds pass, and link, the
 * TFLite filter. ML_CONV_M0_PAD_BYTES: what the padding adds to a channel's bytes there.
 */
#if ML_M0_LAYOUTS
#define ML_CONV_M0_FILTER(filter, padded) ((void)(filter), (padded))
#define ML_CONV_M0_PADDED 2
#define ML_CONV_M0_PAD_BYTES 1
#else
#define ML_CONV_M0_FILTER(filter, padded) (filter)  /* padded is not even declared there */
#define ML_CONV_M0_PADDED 0
#define ML_CONV_M0_PAD_BYTES 0
#endif

/*
 * In a build generated for a board whose flash reads go through a cache (ML_CONV_M0_FILTER_CACHE
 * in ml_config.h), m0_layout also says ML_CONV_M0_IN_RAM where the call's filter lies in RAM (a
 * staged copy, or --weights-in-ram): its channels need no chunks for that cache.
 */
#if ML_M0_LAYOUTS
#define ML_CONV_M0_IN_RAM 4
#else
#define ML_CONV_M0_IN_RAM 0
#endif

/*
 * 2-D convolution, int8 activations and weights, int32 bias, per-output-channel
 * requantization (TFLM reference_integer_ops::ConvPerChannel, bit for bit).
 *
 * input_dims:  {N, H, W, C_IN}                     input:  NHWC
 * filter_dims: {C_OUT, KH, KW, C_IN / groups}      filter: [C_OUT][KH][KW][C_IN / groups]
 * output_dims: {N, OH, OW, C_OUT}                  output: NHWC
 * bias:        C_OUT int32 values, or NULL.
 * quant:       C_OUT multipliers and shifts (per-tensor weights repeat one entry).
 *
 * Output pixel (oy, ox) reads input rows oy * stride_h - pad_h + ky * dilation_h (and the
 * same for columns); taps outside the image contribute nothing, which is the same as padding
 * with the input zero point. The weights' zero point is ignored, as TFLM ignores it (the int8
 * spec makes it 0). groups = C_IN / filter_dims->c; each group of C_OUT / groups output
 * channels reads its own slice of C_IN / groups input channels.
 *
 * The int32 accumulator holds KH * KW * C_IN / groups products of at most 128 * 255 each
 * plus the bias: exact for up to 65,000 taps, the same limit TFLM has.
 *
 * scratch: ML_CONV2D_S8_SCRATCH_BYTES(input_dims, filter_dims) bytes aligned to 4, or NULL.
 * Cores with the DSP extension (__ARM_FEATURE_DSP) use it to widen up to ML_CONV2D_S8_PIXELS
 * output pixels' windows to int16 once (im2col; K = KH * KW * C_IN values in blocks of 4), plus
 * the raw window when C_IN is not a multiple of 4, and run SMLAD over them. Layers whose clamp
 * is [-128, 127] also keep 16 bytes of requantization constants per output channel there, and
 * a padded copy of the last channel's weights when K is not a multiple of 4
 * (ML_CONV2D_S8_SCRATCH_BYTES counts all of it; the generator passes
 * ML_CONV2D_S8_SCRATCH_BYTES_ANY to layers with a narrower clamp). With col_groups = G > 1 the
 * scratch holds the columns of G groups, ML_CONV2D_S8_COL_GROUPS_BYTES(filter_dims, G) more.
 * Other cores, grouped convolutions and a NULL scratch take the portable path, which ignores
 * it. The results are identical. The DSP path may compute an output pixel twice: the output
 * must not overlap the input, with one exception. In place, output == input: a pointwise layer
 * (1x1, stride 1, no padding) with C_OUT <= C_IN on the DSP path, given
 * ML_CONV2D_S8_IN_PLACE_SCRATCH_BYTES of scratch (it holds the last group of pixels' outputs
 * until the pixels they cover have been read); any other call with output == input returns
 * ML_ARG_ERROR.
 * Returns ML_ARG_ERROR when the dims do not fit together.
 */
#define ML_CONV2D_S8_BLOCKS(filter_dims)                                                         \
    (((filter_dims)->h * (filter_dims)->w * (filter_dims)->c + 3) / 4)
#define ML_CONV2D_S8_SCRATCH_BYTES_ANY(input_dims, filter_dims)                                  \
    (ML_CONV2D_S8_BLOCKS(filter_dims) *                                                          \
     (4 * 2 * ML_CONV2D_S8_PIXELS +                                                              \
      ((input_dims)->c % 4 != 0 && (filter_dims)->h * (filter_dims)->w > 1 ? 4 : 0)))
#define ML_CONV2D_S8_SCRATCH_BYTES(input_dims, filter_dims)                                      \
    (ML_CONV2D_S8_SCRATCH_BYTES_ANY(input_dims, filter_dims) +                                   \
     (filter_dims)->n * 16 +                                                                     \
     (((filter_dims)->h * (filter_dims)->w * (filter_dims)->c) % 4 != 0                          \
          ? 4 * ML_CONV2D_S8_BLOCKS(filter_dims) : 0))

/* What col_groups = G adds to ML_CONV2D_S8_SCRATCH_BYTES: the columns of G - 1 more groups. */
#define ML_CONV2D_S8_COL_GROUPS_BYTES(filter_dims, groups)                                       \
    ((groups) > 1 ? ((groups) - 1) * ML_CONV2D_S8_BLOCKS(filter_dims) * 4 * 2 * ML_CONV2D_S8_PIXELS \
                  : 0)

#define ML_CONV2D_S8_IN_PLACE_SCRATCH_BYTES(input_dims, filter_dims)                             \
    (ML_CONV2D_S8_SCRATCH_BYTES(input_dims, filter_dims) + ML_CONV2D_S8_PIXELS * (filter_dims)->n)

ml_status ml_conv2d_s8(const ml_conv_params *params, const ml_per_channel_quant *quant,
                       void *scratch,
                       const ml_dims *input_dims, const int8_t *input,
                       const ml_dims *filter_dims, const int8_t *filter, const int32_t *bias,
                       const ml_dims *output_dims, int8_t *output);

/*
 * --stage-weights: copy a layer's filter (out_c channels of k values) into dst in the arena
 * before the layer runs, so that its kernel reads SRAM instead of flash. With widen = 1 (the
 * generator sets it, and the layer's filter_widened, for layers whose clamp is [-128, 127], with
 * an even out_c and at least 3 output pixels) builds that run the DSP assembly store the
 * weights already widened to int16 for the two-channel routine (ml_conv2d_s8.c), channel pairs
 * interleaved block by block, each channel padded with zeros to a multiple of 4; every other
 * build (and widen = 0) copies the bytes as they are and zeroes the 4 after them, so that no
 * word read of the last channel meets another buffer's bytes. dst: ML_CONV2D_S8_STAGE_BYTES
 * bytes (the widened copy is twice the filter), aligned to 4.
 */
#define ML_CONV2D_S8_STAGE_BYTES(out_c, k, widen)                                                \
    ((widen) ? 8 * (out_c) * (((k) + 3) / 4) : (out_c) * (k) + 4)
void ml_conv2d_s8_stage(int8_t *dst, const int8_t *filter, int32_t out_c, int32_t k, int32_t widen);

#endif
