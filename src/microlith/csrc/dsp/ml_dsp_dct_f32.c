#include "ml_dsp_dct_f32.h"

ml_status ml_dsp_dct_f32(const ml_dsp_dct_f32_params *params, const float *in, float *out)
{
    const uint32_t n = params->n_in;
    const uint32_t n_out = params->n_out;
    const uint32_t h = n / 2;              /* pairs (m, n-1-m) */
    const uint32_t w = (n + 1U) / 2;       /* stored values per row */
    const float *row = params->matrix;
    const float *hi = in + n - 1;
    uint32_t j = 0;
    for (; j + 1U < n_out; j += 2, row += 2 * w) {
        const float *odd = row + w;
        float even_acc = 0.0f;
        float odd_acc = 0.0f;
        for (uint32_t m = 0; m < h; ++m) {
            const float lo_v = in[m];
            const float hi_v = hi[-(int32_t)m];
            even_acc += row[m] * (lo_v + hi_v);
            odd_acc += odd[m] * (lo_v - hi_v);
        }
        if (w != h) {
            even_acc += row[h] * in[h];  /* the middle of an odd length; 0 in the odd row */
        }
        out[j] = even_acc;
        out[j + 1] = odd_acc;
    }
    if (j < n_out) {  /* a last even row on its own */
        float acc = 0.0f;
        for (uint32_t m = 0; m < h; ++m) {
            acc += row[m] * (in[m] + hi[-(int32_t)m]);
        }
        if (w != h) {
            acc += row[h] * in[h];
        }
        out[j] = acc;
    }
    return ML_OK;
}
