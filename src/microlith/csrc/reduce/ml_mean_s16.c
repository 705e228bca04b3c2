#include "ml_mean_s16.h"

#include "ml_nn_s16.h"

ml_status ml_mean_s16(const ml_mean_params *params,
                      const ml_shape_nd *input_shape, const int16_t *input,
                      const ml_shape_nd *output_shape, int16_t *output)
{
    int32_t in_strides[ML_MAX_RANK];
    if (!ml_shape_nd_strides(input_shape, in_strides)) {
        return ML_ARG_ERROR;
    }
    /* Split the input dimensions into kept ones (walked by the output) and reduced ones
     * (walked for each output element); the innermost reduced one gets a tight loop. */
    int32_t kept_n[ML_MAX_RANK], kept_s[ML_MAX_RANK], red_n[ML_MAX_RANK], red_s[ML_MAX_RANK];
    int32_t n_kept = 0, n_red = 0, num_out = 1, count = 1;
    for (int32_t i = 0; i < input_shape->rank; ++i) {
        if (params->reduce_mask & (1 << i)) {
            red_n[n_red] = input_shape->dims[i];
            red_s[n_red++] = in_strides[i];
            count *= input_shape->dims[i];
        } else {
            kept_n[n_kept] = input_shape->dims[i];
            kept_s[n_kept++] = in_strides[i];
            num_out *= input_shape->dims[i];
        }
    }
    if (num_out != ml_shape_nd_size(output_shape) || count <= 0) {
        return ML_ARG_ERROR;
    }
    const int32_t inner_n = n_red > 0 ? red_n[n_red - 1] : 1;
    const int32_t inner_s = n_red > 0 ? red_s[n_red - 1] : 0;
    const int32_t outer_count = count / inner_n;

    int32_t kept_idx[ML_MAX_RANK] = {0};
    int32_t base = 0;
    for (int32_t o = 0; o < num_out; ++o) {
        int32_t red_idx[ML_MAX_RANK] = {0};
        int32_t offset = base;
        int32_t sum = 0;
        for (int32_t r = 0; r < outer_count; ++r) {
            const int16_t *p = input + offset;
            for (int32_t k = 0; k < inner_n; ++k) {
                sum += p[k * inner_s];
            }
            for (int32_t d = n_red - 2; d >= 0; --d) {
                offset += red_s[d];
                if (++red_idx[d] < red_n[d]) {
                    break;
                }
                offset -= red_n[d] * red_s[d];
                red_idx[d] = 0;
            }
        }
        const int32_t value = ml_nn_requantize(sum - params->input_zero_point * count,
                                               params->multiplier, params->shift);
        output[o] = ml_clamp_s16(value + params->output_zero_point, INT16_MIN, INT16_MAX);
        for (int32_t d = n_kept - 1; d >= 0; --d) {
            base += kept_s[d];
            if (++kept_idx[d] < kept_n[d]) {
                break;
            }
            base -= kept_n[d] * kept_s[d];
            kept_idx[d] = 0;
        }
    }
    return ML_OK;
}
