#ifndef ML_DSP_RPEAKS_S16_H
#define ML_DSP_RPEAKS_S16_H

#include "ml_dsp_common.h"

/* Integer parameters of the detector, from microlith.dsp.ecg.PanTompkins.for_rate(fs). */
typedef struct {
    int32_t m_lp;        /* low-pass moving-sum length (two in cascade) */
    int32_t m_hp;        /* high-pass moving-sum length, odd */
    int32_t d_hp;        /* (m_hp - 1) / 2 */
    int32_t s_bp;        /* right shift after the band-pass */
    int32_t s_sq;        /* right shift after squaring */
    int32_t w;           /* moving-window integration length */
    int32_t r;           /* half width of the candidate neighbourhood */
    int32_t refractory;  /* samples */
    int32_t t_wave;      /* samples after a QRS in which a less steep candidate is a T wave */
    int32_t t_slope;     /* ... less steep: slope * 10 < t_slope * the QRS's slope */
    int32_t learn;       /* samples of the learning phase (2 s) */
    int32_t hist;        /* ring length, a power of two >= max(2 r + 1, r + w + 5) */
    int32_t delay;       /* band-pass delay m_lp - 1 + d_hp */
    int32_t prime;       /* samples of x[0] fed before the record */
} ml_dsp_rpeaks_params;

/* Bytes of work memory (8-byte aligned) for ml_dsp_rpeaks_s16. */
#define ML_DSP_RPEAKS_WORK_BYTES(m_lp, m_hp, w, hist) \
    (8 * ((m_lp) + (m_hp) + (w) + (hist)) + 4 * ((m_lp) + (hist)))

/*
 * R-peak sample indices of an ECG record of n int16 samples, integer Pan-Tompkins; the
 * algorithm, bit for bit, is microlith.dsp.ecg.rpeaks (its docstring describes the stages).
 * Streams over the record twice (learning phase, detection) with ring buffers in work,
 * so memory does not grow with n. peaks receives at most max_peaks ascending indices
 * (n / refractory + 1 always suffices); *n_peaks their count. ML_ARG_ERROR if more are found.
 */
ml_status ml_dsp_rpeaks_s16(const ml_dsp_rpeaks_params *params, const int16_t *x, uint32_t n,
                            int32_t *peaks, uint32_t max_peaks, uint32_t *n_peaks, void *work);

#endif
