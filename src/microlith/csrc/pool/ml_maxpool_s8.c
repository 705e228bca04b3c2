#include "ml_maxpool_s8.h"
#include "ml_nn_dsp.h"

/* Size mode (ml_config.h) leaves out ml_maxpool_dsp_tile2 (about 1.4 KB on Cortex-M4): its
 * windows go through ml_maxpool_dsp_win instead, a few instructions more per window. */
#if defined(ML_NN_DSP) && !defined(ML_OPTIMIZE_SIZE)
#define ML_MAXPOOL_TILE2 1
#else
#define ML_MAXPOOL_TILE2 0
#endif
/* Its depth-32 two-row loop over four windows per turn instead of two: 0.75 instructions less
 * per window for about 0.5 KB; balanced mode leaves it out where that saves fewer instructions
 * than its bytes are worth (codegen/optimize.py, ML_MAXPOOL_S8_NO_QUADS). */
#if ML_MAXPOOL_TILE2 && !defined(ML_MAXPOOL_S8_NO_QUADS)
#define ML_MAXPOOL_QUADS 1
#else
#define ML_MAXPOOL_QUADS 0
#endif

/* ml_maxpool_dsp_s2w3, the rows of windows three cells wide at stride 2 (3x3/2, 2x3/2): left out
 * in size mode, and where no layer of the model takes it (codegen/optimize.py,
 * ML_MAXPOOL_S8_NO_S2W3: about 0.35 KB on Cortex-M4). */
#if defined(ML_NN_DSP) && !defined(ML_OPTIMIZE_SIZE) && !defined(ML_MAXPOOL_S8_NO_S2W3)
#define ML_MAXPOOL_S2W3 1
#else
#define ML_MAXPOOL_S2W3 0
#endif

/*
 * Channels run innermost, as they lie in memory: for each output pixel and group of channels
 * the window is walked once with the group's running maxima in registers. The maxima start at
 * -128, as TFLM's do, so a window with no cell inside the input yields the clamp of -128.
 */

/* The in-image part of one output pixel's window. */
typedef struct {
    const int8_t *first;  /* channel 0 of the first cell */
    int32_t rows, cols;   /* cells in range; rows = 0 when none */
    int32_t dy;           /* bytes between vertically adjacent cells */
} ml_pool_window;

#if defined(ML_NN_DSP)
/* Channels [0, c_end) in pairs of words, returning where it stopped: SSUB8 + SEL per word and
 * cell, the clamp the same way on the bytes {act_min} and {act_max}. */
static int32_t ml_maxpool_dsp(const ml_pool_window *win, int32_t depth, int32_t c_end, int32_t lo4,
                              int32_t hi4, int clamp, int8_t *out)
{
    int32_t c = 0;
    for (; c + 8 <= c_end; c += 8) {
        int32_t a = (int32_t)0x80808080u;
        int32_t b = (int32_t)0x80808080u;
        const int8_t *row = win->first + c;
        for (int32_t r = win->rows; r > 0; --r, row += win->dy) {
            const int8_t *q = row;
            for (int32_t k = win->cols; k > 0; --k, q += depth) {
                a = ml_dsp_max_s8x4(ml_dsp_read_s8x4(q), a);
                b = ml_dsp_max_s8x4(ml_dsp_read_s8x4(q + 4), b);
            }
        }
        if (clamp) {
            a = ml_dsp_min_s8x4(ml_dsp_max_s8x4(a, lo4), hi4);
            b = ml_dsp_min_s8x4(ml_dsp_max_s8x4(b, lo4), hi4);
        }
        ml_dsp_write_s8x4(out + c, a);
        ml_dsp_write_s8x4(out + c + 4, b);
    }
    return c;
}

/* r4-r7 = bytewise max(r4-r7, r8-r11), s the scratch register for the first difference. */
#define ML_MP_MAX4(s)                                                                           \
    "ssub8 " s ", r4, r8\n\t"                                                                    \
    "sel r4, r4, r8\n\t"                                                                         \
    "ssub8 r8, r5, r9\n\t"                                                                       \
    "sel r5, r5, r9\n\t"                                                                         \
    "ssub8 r8, r6, r10\n\t"                                                                      \
    "sel r6, r6, r10\n\t"                                                                        \
    "ssub8 r8, r7, r11\n\t"                                                                      \
    "sel r7, r7, r11\n\t"

#if ML_MAXPOOL_TILE2
typedef char ml_maxpool_tile_layout[offsetof(ml_maxpool_tile, rows_out) == 24 ? 1 : -1];

/* The rows of windows a tile describes, from in to out (both word aligned); returns ML_OK, so
 * that a kernel can end on it. */
ml_status ml_maxpool_dsp_tile2(const ml_maxpool_tile *tile, const int8_t *in, int8_t *out);

/* Two 16-channel groups of a 2x2 window: cells c0, c1 of the first row and d0, d1 of the
 * second, every pointer moved on by 32. */
#define ML_MP_2X2_GROUPS2(c0, c1, d0, d1)                                                       \
    "ldmia " c0 "!, {r4, r5, r6, r7}\n\t"                                                        \
    "ldmia " c1 "!, {r8, r9, r10, r11}\n\t" ML_MP_MAX4("r12")                                    \
    "ldmia " d0 "!, {r8, r9, r10, r11}\n\t" ML_MP_MAX4("r12")                                    \
    "ldmia " d1 "!, {r8, r9, r10, r11}\n\t" ML_MP_MAX4("r12")                                    \
    "stmia lr!, {r4, r5, r6, r7}\n\t"                                                            \
    "ldmia " c0 "!, {r4, r5, r6, r7}\n\t"                                                        \
    "ldmia " c1 "!, {r8, r9, r10, r11}\n\t" ML_MP_MAX4("r12")                                    \
    "ldmia " d0 "!, {r8, r9, r10, r11}\n\t" ML_MP_MAX4("r12")                                    \
    "ldmia " d1 "!, {r8, r9, r10, r11}\n\t" ML_MP_MAX4("r12")                                    \
    "stmia lr!, {r4, r5, r6, r7}\n\t"

/* Two 2x2 windows of 32 channels at labels a and b: r0, r2 the first one's first cells and r1,
 * r3 its second ones, then the roles swapped (the depth-32 two-row loop of the tile routine). */
#define ML_MP_2X2_WINDOWS2(a, b)                                                                \
    a ":\n\t" ML_MP_2X2_GROUPS2("r0", "r1", "r2", "r3")                                         \
    "add r0, r0, #64\n\t"                                                                       \
    "add r2, r2, #64\n"                                                                          \
    b ":\n\t" ML_MP_2X2_GROUPS2("r1", "r0", "r3", "r2")                                         \
    "add r1, r1, #64\n\t"                                                                       \
    "add r3, r3, #64\n\t"

/* The same for a one-row window (1x2), output through r2. */
#define ML_MP_1X2_GROUPS2(c0, c1)                                                               \
    "ldmia " c0 "!, {r4, r5, r6, r7}\n\t"                                                        \
    "ldmia " c1 "!, {r8, r9, r10, r11}\n\t" ML_MP_MAX4("r12")                                    \
    "stmia r2!, {r4, r5, r6, r7}\n\t"                                                            \
    "ldmia " c0 "!, {r4, r5, r6, r7}\n\t"                                                        \
    "ldmia " c1 "!, {r8, r9, r10, r11}\n\t" ML_MP_MAX4("r12")                                    \
    "stmia r2!, {r4, r5, r6, r7}\n\t"

/*
 * Rows of n windows of 1 or 2 rows by 2 cells side by side, each window starting where the
 * last ended (stride 2 along the row: the 2x2/2 and 1x2/2 pools), all channels, no clamp. Per
 * 16 channels a cell costs one LDM and four SSUB8 + SEL, so the floor is 9 instructions per 16
 * inputs after a window's first cell, 29 per 64 inputs of a 2x2 window with its store (0.45
 * per input); the loops add:
 * - depth 16: a window row's two cells are 32 contiguous bytes, one LDM of eight registers,
 *   and the pointers only move forward: 30 instructions per 2x2 window, 12 per 1x2.
 * - depth 32: a pointer per cell, two groups unrolled; after a window the second cell's
 *   pointer stands at the next window's first cell, so the pointers swap roles from window to
 *   window and only the other one moves on (by 64). One row: two windows per loop turn, 24
 *   instructions per 1x2 window. Two rows: four windows per turn (ML_MAXPOOL_QUADS; else two),
 *   entered at the window that leaves a multiple of four (n % 4 chosen once per call, the
 *   entry's address kept on the stack), 60.75 per 2x2 window (0.475 per input; 61.5 with two
 *   per turn), and the rows follow one another here in 16 instructions each.
 * - 1 row, other depths: a pointer per cell, a group counter reloaded per window; when the
 *   groups are even in number, two per loop turn: 12 per group and 6 per window.
 * - 2 rows, other depths: four cell pointers, the output and the scratch take all fourteen
 *   registers, so the group loop ends on a compare with its end kept on the stack: 32 per
 *   group and 9 per window.
 * A routine of its own, not inline assembly: fourteen registers, which gcc cannot give an
 * asm statement in a function that keeps a frame pointer. The stack: [sp] the 2-row loop's
 * group end, [sp, #4] the row's output end, [sp, #8] the row's input, [sp, #12] the rows left,
 * [sp, #16] the row's output, [sp, #20] the tile; the depth-32 2-row path reuses [sp], [sp, #8]
 * and [sp, #12] to [sp, #24] as it says there.
 */
__asm__(ML_DSP_ASM_FUNCTION("ml_maxpool_dsp_tile2")
        "push {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n\t"
        "sub sp, sp, #28\n\t"
        "ldr r3, [r0, #4]\n\t"   /* depth */
        "ldr r4, [r0, #12]\n\t"  /* rows */
        "cmp r3, #32\n\t"
        "it eq\n\t"
        "cmpeq r4, #2\n\t"
        "beq 40f\n\t"
        "str r0, [sp, #20]\n\t"
        "str r1, [sp, #8]\n\t"
        "str r2, [sp, #16]\n\t"
        "ldr r4, [r0, #24]\n\t"   /* rows_out */
        "str r4, [sp, #12]\n"
        "1:\n\t"
        "ldr r12, [sp, #20]\n\t"
        "ldr r3, [r12, #4]\n\t"   /* depth */
        "ldr r2, [sp, #16]\n\t"   /* out */
        "ldr lr, [r12, #0]\n\t"   /* n */
        "ldr r1, [r12, #8]\n\t"   /* dy */
        "ldr r0, [sp, #8]\n\t"    /* in */
        "mul r4, lr, r3\n\t"
        "add r4, r4, r2\n\t"
        "str r4, [sp, #4]\n\t"
        "ldr r4, [r12, #12]\n\t"  /* rows */
        "cmp r4, #1\n\t"
        "bne 20f\n\t"
        /* one row: r0 in, r2 out, r3 depth, lr n */
        "cmp r3, #16\n\t"
        "beq 10f\n\t"
        "add r1, r0, r3\n\t"
        "cmp r3, #32\n\t"
        "beq 14f\n\t"
        "b 11f\n"
        "10:\n\t"
        "ldmia r0!, {r4, r5, r6, r7, r8, r9, r10, r11}\n\t" ML_MP_MAX4("r12")
        "stmia r2!, {r4, r5, r6, r7}\n\t"
        "subs lr, lr, #1\n\t"
        "bne 10b\n\t"
        "b 80f\n"
        /* depth 32: r0 and r1 the cells, then r1 and r0; two windows per turn, an odd count
         * starting with the second half */
        "14:\n\t"
        "tst lr, #1\n\t"
        "beq 15f\n\t"
        "mov r12, r0\n\t"
        "mov r0, r1\n\t"
        "mov r1, r12\n\t"
        "add lr, lr, #1\n\t"
        "b 16f\n"
        "15:\n\t"
        ML_MP_1X2_GROUPS2("r0", "r1")
        "add r0, r0, #64\n"
        "16:\n\t"
        ML_MP_1X2_GROUPS2("r1", "r0")
        "add r1, r1, #64\n\t"
        "subs lr, lr, #2\n\t"
        "bne 15b\n\t"
        "b 80f\n"
        /* r0 a0, r1 a1 (the cells), r2 out, r3 groups left, lr windows left; a1 - a0 is the
         * depth */
        "11:\n\t"
        "lsr r3, r3, #4\n\t"
        "tst r3, #1\n\t"
        "beq 13f\n"
        "12:\n\t"
        "ldmia r0!, {r4, r5, r6, r7}\n\t"
        "ldmia r1!, {r8, r9, r10, r11}\n\t" ML_MP_MAX4("r12")
        "stmia r2!, {r4, r5, r6, r7}\n\t"
        "subs r3, r3, #1\n\t"
        "bne 12b\n\t"
        "sub r12, r1, r0\n\t"
        "mov r0, r1\n\t"
        "add r1, r1, r12\n\t"
        "lsr r3, r12, #4\n\t"
        "subs lr, lr, #1\n\t"
        "bne 12b\n\t"
        "b 80f\n"
        "13:\n\t"
        ML_MP_1X2_GROUPS2("r0", "r1")
        "subs r3, r3, #2\n\t"
        "bne 13b\n\t"
        "sub r12, r1, r0\n\t"
        "mov r0, r1\n\t"
        "add r1, r1, r12\n\t"
        "lsr r3, r12, #4\n\t"
        "subs lr, lr, #1\n\t"
        "bne 13b\n\t"
        "b 80f\n"
        /* two rows */
        "20:\n\t"
        "cmp r3, #16\n\t"
        "bne 22f\n\t"
        "add r1, r0, r1\n"
        "21:\n\t"
        "ldmia r0!, {r4, r5, r6, r7, r8, r9, r10, r11}\n\t" ML_MP_MAX4("r12")
        "ldmia r1!, {r8, r9, r10, r11}\n\t" ML_MP_MAX4("r12")
        "ldmia r1!, {r8, r9, r10, r11}\n\t" ML_MP_MAX4("r12")
        "stmia r2!, {r4, r5, r6, r7}\n\t"
        "subs lr, lr, #1\n\t"
        "bne 21b\n\t"
        "b 80f\n"
        /* depth 32 (from the routine's start: r0 the tile, r1 in, r2 out): four windows per
         * turn (30 to 33), the roles swapping from one to the next; a row of n windows enters
         * at 30, 33, 32 or 31 for n % 4 = 0, 1, 2 or 3, the odd entries with r1 and r3 the
         * first cells (without ML_MAXPOOL_QUADS two per turn, 32 and 33, entered at 32 or 33
         * for an even or odd n). Every row ends after 33 with r0 and r2 at the next window's first
         * cells, r1 and r3 at its second, so the next row's pointers are these plus one step,
         * and 32 more or less where the roles swap. The stack: [sp] and [sp, #8] those steps
         * for r0 and r2, and for r1 and r3; [sp, #4] the row's output end; [sp, #12] the last
         * row's; [sp, #16] out_row; [sp, #20] the output's step from a row's end to the next
         * row's start; [sp, #24] the entry. */
        "40:\n\t"
        "ldr r12, [r0, #0]\n\t"        /* n */
        "ldr r5, [r0, #16]\n\t"        /* in_row */
        "ldr r6, [r0, #20]\n\t"        /* out_row */
        "ldr r7, [r0, #24]\n\t"        /* rows_out */
        "ldr r11, [r0, #8]\n\t"        /* dy */
        "sub r5, r5, r12, lsl #6\n\t"  /* in_row - 64 n */
        "str r6, [sp, #16]\n\t"
        "sub r4, r6, r12, lsl #5\n\t"
        "str r4, [sp, #20]\n\t"
        "mov lr, r2\n\t"
        "add r8, r2, r12, lsl #5\n\t"
        "str r8, [sp, #4]\n\t"
        "subs r7, r7, #1\n\t"
        "mla r7, r7, r6, r8\n\t"
        "str r7, [sp, #12]\n\t"
#if ML_MAXPOOL_QUADS
        "and r7, r12, #3\n\t"
        "movs r9, #0\n\t"
        "adr r8, 30f\n\t"
        "cmp r7, #2\n\t"
        "blo 35f\n\t"
        "bne 34f\n\t"
        "adr r8, 32f\n\t"
        "b 36f\n"
        "34:\n\t"
        "adr r8, 31f\n\t"
        "movs r9, #32\n\t"
        "b 36f\n"
        "35:\n\t"
        "cbz r7, 36f\n\t"
        "adr r8, 33f\n\t"
        "movs r9, #32\n"
#else
        "movs r9, #0\n\t"
        "adr r8, 32f\n\t"
        "tst r12, #1\n\t"
        "beq 36f\n\t"
        "adr r8, 33f\n\t"
        "movs r9, #32\n"
#endif
        "36:\n\t"
        "str r8, [sp, #24]\n\t"
        "add r4, r5, r9\n\t"
        "str r4, [sp]\n\t"
        "sub r4, r5, r9\n\t"
        "str r4, [sp, #8]\n\t"
        "rsb r10, r9, #32\n\t"
        "add r0, r1, r9\n\t"
        "add r2, r0, r11\n\t"
        "add r1, r1, r10\n\t"
        "add r3, r1, r11\n\t"
        "mov pc, r8\n"
#if ML_MAXPOOL_QUADS
        ML_MP_2X2_WINDOWS2("30", "31")
#endif
        ML_MP_2X2_WINDOWS2("32", "33")
        "ldr r12, [sp, #4]\n\t"
        "cmp lr, r12\n\t"
#if ML_MAXPOOL_QUADS
        "bne 30b\n\t"
#else
        "bne 32b\n\t"
#endif
        "ldr r12, [sp, #12]\n\t"
        "cmp lr, r12\n\t"
        "beq 90f\n\t"
        "ldr r4, [sp, #16]\n\t"
        "ldr r5, [sp, #20]\n\t"
        "add r12, lr, r4\n\t"
        "str r12, [sp, #4]\n\t"
        "add lr, lr, r5\n\t"
        "ldr r12, [sp]\n\t"
        "ldr r4, [sp, #8]\n\t"
        "add r0, r0, r12\n\t"
        "add r2, r2, r12\n\t"
        "add r1, r1, r4\n\t"
        "add r3, r3, r4\n\t"
        "ldr r12, [sp, #24]\n\t"
        "mov pc, r12\n"
        /* r0 a0, r1 a1, r2 b0, r3 b1 (the cells), lr out */
        "22:\n\t"
        "mov lr, r2\n\t"
        "add r2, r0, r1\n\t"
        "add r1, r0, r3\n\t"
        "add r3, r2, r3\n\t"
        "str r1, [sp]\n"
        "23:\n\t"
        "ldmia r0!, {r4, r5, r6, r7}\n\t"
        "ldmia r1!, {r8, r9, r10, r11}\n\t" ML_MP_MAX4("r12")
        "ldmia r2!, {r8, r9, r10, r11}\n\t" ML_MP_MAX4("r12")
        "ldmia r3!, {r8, r9, r10, r11}\n\t" ML_MP_MAX4("r12")
        "stmia lr!, {r4, r5, r6, r7}\n\t"
        "ldr r12, [sp]\n\t"
        "cmp r0, r12\n\t"
        "bne 23b\n\t"
        "sub r12, r1, r0\n\t"
        "mov r0, r1\n\t"
        "add r1, r1, r12\n\t"
        "mov r2, r3\n\t"
        "add r3, r3, r12\n\t"
        "str r1, [sp]\n\t"
        "ldr r12, [sp, #4]\n\t"
        "cmp lr, r12\n\t"
        "bne 23b\n"
        /* the next row of windows */
        "80:\n\t"
        "ldr r12, [sp, #20]\n\t"
        "ldr r0, [sp, #8]\n\t"
        "ldr r1, [r12, #16]\n\t"
        "add r0, r0, r1\n\t"
        "str r0, [sp, #8]\n\t"
        "ldr r0, [sp, #16]\n\t"
        "ldr r1, [r12, #20]\n\t"
        "add r0, r0, r1\n\t"
        "str r0, [sp, #16]\n\t"
        "ldr r0, [sp, #12]\n\t"
        "subs r0, r0, #1\n\t"
        "str r0, [sp, #12]\n\t"
        "bne 1b\n"
        "90:\n\t"
        "movs r0, #0\n\t"  /* ML_OK */
        "add sp, sp, #28\n\t"
        "pop {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n\t"
        ".size ml_maxpool_dsp_tile2, .-ml_maxpool_dsp_tile2");

#endif

/* One call of ml_maxpool_dsp_win. */
typedef struct {
    const int8_t *in;  /* 0: the first window's first cell, word aligned */
    int8_t *out;       /* 4: its outputs, word aligned */
    int32_t n;         /* 8: windows, >= 1 */
    int32_t depth;     /* 12: a multiple of 8 */
    int32_t rows;      /* 16: the window's rows, >= 1 */
    int32_t cols;      /* 20: the window's cells in a row, >= 1 */
    int32_t dy;        /* 24: bytes between the window's rows */
    int32_t step;      /* 28: bytes from a window to the next */
} ml_maxpool_win_job;

typedef char ml_maxpool_win_job_layout[offsetof(ml_maxpool_win_job, step) == 28 ? 1 : -1];

void ml_maxpool_dsp_win(const ml_maxpool_win_job *job);

/*
 * n windows of rows x cols cells, all inside the input, all channels in groups of 16, no clamp:
 * the windows the tile2 routine does not take (3x3, 1x3, ...) and the edges' clipped ones, one
 * window at a time. Per group of 16 channels and cell after the first: LDM, the step to the
 * next cell, SSUB8 + SEL on four words and the loop, 12 instructions for 16 inputs (11 at depth
 * 16, whose cells in a row are contiguous); a row costs 5 more, a group 14 and a window 12.
 * Registers: r0 the cell, r1 cells left in the row, r2 rows left, r3 depth - 16, lr the output;
 * the stack: [sp] the window, [sp, #4] the group's first cell, [sp, #8] groups left, [sp, #12]
 * rows, [sp, #16] cols, [sp, #20] dy - cols * depth, [sp, #24] step, [sp, #28] windows left,
 * [sp, #32] groups.
 */
__asm__(ML_DSP_ASM_FUNCTION("ml_maxpool_dsp_win")
        "push {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n\t"
        "sub sp, sp, #40\n\t"
        "ldr r1, [r0, #0]\n\t"
        "str r1, [sp, #0]\n\t"
        "ldr lr, [r0, #4]\n\t"
        "ldr r1, [r0, #8]\n\t"
        "str r1, [sp, #28]\n\t"
        "ldr r3, [r0, #12]\n\t"
        "lsr r1, r3, #4\n\t"
        "str r1, [sp, #32]\n\t"
        "and r1, r3, #8\n\t"
        "str r1, [sp, #36]\n\t"
        "ldr r1, [r0, #16]\n\t"
        "str r1, [sp, #12]\n\t"
        "ldr r1, [r0, #20]\n\t"
        "str r1, [sp, #16]\n\t"
        "ldr r2, [r0, #24]\n\t"
        "mul r1, r1, r3\n\t"
        "sub r2, r2, r1\n\t"
        "str r2, [sp, #20]\n\t"
        "ldr r1, [r0, #28]\n\t"
        "str r1, [sp, #24]\n\t"
        "sub r3, r3, #16\n"
        /* a window */
        "1:\n\t"
        "ldr r1, [sp, #32]\n\t"
        "str r1, [sp, #8]\n\t"
        "ldr r0, [sp, #0]\n\t"
        "cmp r1, #0\n\t"
        "beq 13f\n"
        /* a group: its first cell, then the rest of the first row */
        "2:\n\t"
        "str r0, [sp, #4]\n\t"
        "ldmia r0!, {r4, r5, r6, r7}\n\t"
        "add r0, r0, r3\n\t"
        "ldr r2, [sp, #12]\n\t"
        "ldr r1, [sp, #16]\n\t"
        "subs r1, r1, #1\n\t"
        "beq 4f\n\t"
        "cmp r3, #0\n\t"
        "beq 8f\n"
        "3:\n\t"
        "ldmia r0!, {r8, r9, r10, r11}\n\t"
        "add r0, r0, r3\n\t" ML_MP_MAX4("r12")
        "subs r1, r1, #1\n\t"
        "bne 3b\n"
        "4:\n\t"
        "subs r2, r2, #1\n\t"
        "beq 5f\n\t"
        "ldr r12, [sp, #20]\n\t"
        "add r0, r0, r12\n\t"
        "ldr r1, [sp, #16]\n\t"
        "b 3b\n"
        /* depth 16: a row's cells are contiguous; three of them (3x3, 1x3) unrolled */
        "8:\n\t"
        "cmp r1, #2\n\t"
        "bne 6f\n\t"
        "ldmia r0!, {r8, r9, r10, r11}\n\t" ML_MP_MAX4("r12")
        "ldmia r0!, {r8, r9, r10, r11}\n\t" ML_MP_MAX4("r12")
        "9:\n\t"
        "subs r2, r2, #1\n\t"
        "beq 5f\n\t"
        "ldr r12, [sp, #20]\n\t"
        "add r0, r0, r12\n\t"
        "ldmia r0!, {r8, r9, r10, r11}\n\t" ML_MP_MAX4("r12")
        "ldmia r0!, {r8, r9, r10, r11}\n\t" ML_MP_MAX4("r12")
        "ldmia r0!, {r8, r9, r10, r11}\n\t" ML_MP_MAX4("r12")
        "b 9b\n"
        "6:\n\t"
        "ldmia r0!, {r8, r9, r10, r11}\n\t" ML_MP_MAX4("r12")
        "subs r1, r1, #1\n\t"
        "bne 6b\n\t"
        "subs r2, r2, #1\n\t"
        "beq 5f\n\t"
        "ldr r12, [sp, #20]\n\t"
        "add r0, r0, r12\n\t"
        "ldr r1, [sp, #16]\n\t"
        "b 6b\n"
        "5:\n\t"
        "stmia lr!, {r4, r5, r6, r7}\n\t"
        "ldr r0, [sp, #4]\n\t"
        "add r0, r0, #16\n\t"
        "ldr r12, [sp, #8]\n\t"
        "subs r12, r12, #1\n\t"
        "str r12, [sp, #8]\n\t"
        "bne 2b\n"
        /* the last 8 channels, two words a cell */
        "13:\n\t"
        "ldr r1, [sp, #36]\n\t"
        "cmp r1, #0\n\t"
        "beq 14f\n\t"
        "add r3, r3, #8\n\t"
        "ldmia r0!, {r4, r5}\n\t"
        "add r0, r0, r3\n\t"
        "ldr r2, [sp, #12]\n\t"
        "ldr r1, [sp, #16]\n\t"
        "subs r1, r1, #1\n\t"
        "beq 16f\n"
        "15:\n\t"
        "ldmia r0!, {r8, r9}\n\t"
        "add r0, r0, r3\n\t"
        "ssub8 r12, r4, r8\n\t"
        "sel r4, r4, r8\n\t"
        "ssub8 r8, r5, r9\n\t"
        "sel r5, r5, r9\n\t"
        "subs r1, r1, #1\n\t"
        "bne 15b\n"
        "16:\n\t"
        "subs r2, r2, #1\n\t"
        "beq 17f\n\t"
        "ldr r12, [sp, #20]\n\t"
        "add r0, r0, r12\n\t"
        "ldr r1, [sp, #16]\n\t"
        "b 15b\n"
        "17:\n\t"
        "stmia lr!, {r4, r5}\n\t"
        "sub r3, r3, #8\n"
        /* the next window */
        "14:\n\t"
        "ldr r0, [sp, #0]\n\t"
        "ldr r12, [sp, #24]\n\t"
        "add r0, r0, r12\n\t"
        "str r0, [sp, #0]\n\t"
        "ldr r12, [sp, #28]\n\t"
        "subs r12, r12, #1\n\t"
        "str r12, [sp, #28]\n\t"
        "bne 1b\n\t"
        "add sp, sp, #40\n\t"
        "pop {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n\t"
        ".size ml_maxpool_dsp_win, .-ml_maxpool_dsp_win");

/* One call of ml_maxpool_dsp_row. */
typedef struct {
    const int8_t *in;  /* 0: the first window's first cell, word aligned */
    int8_t *out;       /* 4: its outputs, word aligned */
    int32_t n;         /* 8: windows, >= 1 */
    int32_t depth;     /* 12: a multiple of 8, >= 16 */
    int32_t last;      /* 16: bytes from a window's first cell to its last, depth or 2 depth */
    int32_t step;      /* 20: bytes from a window to the next */
} ml_maxpool_row_job;

typedef char ml_maxpool_row_job_layout[offsetof(ml_maxpool_row_job, step) == 20 ? 1 : -1];

void ml_maxpool_dsp_row(const ml_maxpool_row_job *job);

/*
 * n one-row windows of 2 or 3 cells inside the input (1x3, 1x2 at stride 1...), all channels: a
 * pointer per cell, so that every load is an LDM with writeback and a window of 3 cells costs
 * 23 instructions per 16 channels, 12 for a last 8, and 9 to move on (2 cells: 14, 7 and 8);
 * ml_maxpool_dsp_win's loops cost about twice that on windows this small. Registers: r0-r2 the
 * cells, r3 windows left, lr the output; the stack: [sp] where the first cell's groups end,
 * [sp, #4] step - depth, [sp, #8] 16 x groups, [sp, #12] depth & 8.
 */
__asm__(ML_DSP_ASM_FUNCTION("ml_maxpool_dsp_row")
        "push {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n\t"
        "sub sp, sp, #16\n\t"
        "ldr r12, [r0, #12]\n\t"
        "and r1, r12, #8\n\t"
        "str r1, [sp, #12]\n\t"
        "bic r1, r12, #15\n\t"
        "str r1, [sp, #8]\n\t"
        "ldr r2, [r0, #20]\n\t"
        "sub r2, r2, r12\n\t"
        "str r2, [sp, #4]\n\t"
        "ldr lr, [r0, #4]\n\t"
        "ldr r3, [r0, #8]\n\t"
        "ldr r2, [r0, #16]\n\t"
        "ldr r0, [r0, #0]\n\t"
        "add r1, r0, r12\n\t"
        "cmp r2, r12\n\t"
        "add r2, r0, r2\n\t"
        "beq 11f\n"
        "1:\n\t"
        "ldr r12, [sp, #8]\n\t"
        "add r12, r12, r0\n\t"
        "str r12, [sp]\n"
        "2:\n\t"
        "ldmia r0!, {r4, r5, r6, r7}\n\t"
        "ldmia r1!, {r8, r9, r10, r11}\n\t" ML_MP_MAX4("r12")
        "ldmia r2!, {r8, r9, r10, r11}\n\t" ML_MP_MAX4("r12")
        "stmia lr!, {r4, r5, r6, r7}\n\t"
        "ldr r12, [sp]\n\t"
        "cmp r0, r12\n\t"
        "bne 2b\n\t"
        "ldr r12, [sp, #12]\n\t"
        "cmp r12, #0\n\t"
        "beq 3f\n\t"
        "ldmia r0!, {r4, r5}\n\t"
        "ldmia r1!, {r8, r9}\n\t"
        "ssub8 r12, r4, r8\n\t"
        "sel r4, r4, r8\n\t"
        "ssub8 r8, r5, r9\n\t"
        "sel r5, r5, r9\n\t"
        "ldmia r2!, {r8, r9}\n\t"
        "ssub8 r12, r4, r8\n\t"
        "sel r4, r4, r8\n\t"
        "ssub8 r8, r5, r9\n\t"
        "sel r5, r5, r9\n\t"
        "stmia lr!, {r4, r5}\n"
        "3:\n\t"
        "ldr r12, [sp, #4]\n\t"
        "add r0, r0, r12\n\t"
        "add r1, r1, r12\n\t"
        "add r2, r2, r12\n\t"
        "subs r3, r3, #1\n\t"
        "bne 1b\n\t"
        "b 19f\n"
        /* two cells: r0 and r1 alone, 14 instructions per 16 channels */
        "11:\n\t"
        "ldr r12, [sp, #8]\n\t"
        "add r12, r12, r0\n\t"
        "str r12, [sp]\n"
        "12:\n\t"
        "ldmia r0!, {r4, r5, r6, r7}\n\t"
        "ldmia r1!, {r8, r9, r10, r11}\n\t" ML_MP_MAX4("r12")
        "stmia lr!, {r4, r5, r6, r7}\n\t"
        "ldr r12, [sp]\n\t"
        "cmp r0, r12\n\t"
        "bne 12b\n\t"
        "ldr r12, [sp, #12]\n\t"
        "cmp r12, #0\n\t"
        "beq 13f\n\t"
        "ldmia r0!, {r4, r5}\n\t"
        "ldmia r1!, {r8, r9}\n\t"
        "ssub8 r12, r4, r8\n\t"
        "sel r4, r4, r8\n\t"
        "ssub8 r8, r5, r9\n\t"
        "sel r5, r5, r9\n\t"
        "stmia lr!, {r4, r5}\n"
        "13:\n\t"
        "ldr r12, [sp, #4]\n\t"
        "add r0, r0, r12\n\t"
        "add r1, r1, r12\n\t"
        "subs r3, r3, #1\n\t"
        "bne 11b\n"
        "19:\n\t"
        "add sp, sp, #16\n\t"
        "pop {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n\t"
        ".size ml_maxpool_dsp_row, .-ml_maxpool_dsp_row");

#if ML_MAXPOOL_S2W3
#define ML_MAXPOOL_LEFT 1   /* column 0, the first window's first cell, is padding */
#define ML_MAXPOOL_RIGHT 2  /* after the n whole windows, one whose third column is padding */

/* One call of ml_maxpool_dsp_s2w3: rows_out output rows of windows three cells wide at stride 2,
 * each over two or three input rows. A row's window columns are k = 0 .. 2n (+ 2 with
 * ML_MAXPOOL_RIGHT), window j covering k = 2j, 2j + 1, 2j + 2. */
typedef struct {
    const int8_t *in;  /* 0: column k = 1 in the first window's top row, word aligned */
    int8_t *out;       /* 4: the first window's outputs, word aligned */
    int32_t n;         /* 8: windows per row whose three columns lie inside the input, >= 0 */
    int32_t depth;     /* 12: a multiple of 8 */
    int32_t dy;        /* 16: bytes from the window's top row to its second */
    int32_t dy2;       /* 20: from the second to the third: dy, or 0 for two rows (the second
                        * read twice, which leaves the maximum as it is) */
    int32_t edges;     /* 24: ML_MAXPOOL_LEFT | ML_MAXPOOL_RIGHT */
    int32_t rows_out;  /* 28: output rows, >= 1 */
    int32_t in_row;    /* 32: input bytes from one output row's windows to the next's */
    int32_t out_row;   /* 36: output bytes from one row to the next */
} ml_maxpool_s2w3_job;

typedef char ml_maxpool_s2w3_job_layout[offsetof(ml_maxpool_s2w3_job, out_row) == 36 ? 1 : -1];

void ml_maxpool_dsp_s2w3(const ml_maxpool_s2w3_job *job);

/* r{d0}, r{d1} = bytewise max of themselves and s0, s1 (r10 takes SSUB8's unused difference). */
#define ML_MP_MAX2(d0, d1, s0, s1)                                                              \
    "ssub8 r10, " d0 ", " s0 "\n\t"                                                              \
    "sel " d0 ", " d0 ", " s0 "\n\t"                                                             \
    "ssub8 r10, " d1 ", " s1 "\n\t"                                                              \
    "sel " d1 ", " d1 ", " s1 "\n\t"
/* d0, d1 = the column at r0 (8 channels) over the window's rows; r0 on to the next column. */
#define ML_MP_COL(d0, d1)                                                                       \
    "ldrd " d0 ", " d1 ", [r0]\n\t"                                                              \
    "add r11, r0, r1\n\t"                                                                        \
    "ldrd r8, r9, [r11]\n\t" ML_MP_MAX2(d0, d1, "r8", "r9")                                      \
    "add r11, r11, r12\n\t"                                                                      \
    "ldrd r8, r9, [r11]\n\t" ML_MP_MAX2(d0, d1, "r8", "r9")                                      \
    "add r0, r0, r2\n\t"

/* A window: max(carry c, column 2j + 1, column 2j + 2) stored, the last column (in o) the next
 * window's carry. */
#define ML_MP_WINDOW(c0, c1, o0, o1)                                                            \
    ML_MP_COL(o0, o1) ML_MP_MAX2(c0, c1, o0, o1) ML_MP_COL(o0, o1)                               \
    "ssub8 r10, " c0 ", " o0 "\n\t"                                                             \
    "sel r8, " c0 ", " o0 "\n\t"                                                                \
    "ssub8 r10, " c1 ", " o1 "\n\t"                                                             \
    "sel r9, " c1 ", " o1 "\n\t"                                                                \
    "strd r8, r9, [lr]\n\t"                                                                     \
    "add lr, lr, r2\n\t"

/*
 * Separably, 8 channels at a time: each window column's maximum over the rows is taken once and
 * serves the two windows that share it (the third column of one is the first of the next, kept
 * in registers as the carry), where ml_maxpool_dsp_win walks every window's nine cells: per
 * window and 8 channels two columns of three loads and two pairwise maxima (14 instructions
 * each), the two maxima with the carry, the store and its step, and the loop's test once per
 * two windows (unrolled, the carry's registers and the column's swapping roles): 39
 * instructions for 48 inputs read (the 16-channel window loop spends about 130 on a 3x3 window
 * of 16 channels). The
 * padding at a row's ends is a carry of -128 (left) and a last window of two columns (right),
 * so the clipped windows need no call of their own, and the rows whose windows lie inside
 * vertically go in one call. Registers: r0 the column, r1 dy, r12 dy2, r2 depth, r3 windows
 * left, lr the output, r4/r5 the carry, r6/r7 a column, r8/r9 loads, r10 SSUB8's scratch, r11
 * the rows; the stack: [sp] the group's input, [sp, #4] its output, [sp, #8] the row's output
 * end, [sp, #12] n, [sp, #16] the edges, [sp, #20] rows left, [sp, #24] in_row - depth,
 * [sp, #28] out_row.
 */
__asm__(ML_DSP_ASM_FUNCTION("ml_maxpool_dsp_s2w3")
        "push {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n\t"
        "sub sp, sp, #36\n\t"
        "ldm r0, {r1, r2, r3, r4, r5, r6, r7, r8, r9, r10}\n\t"
        "str r1, [sp, #0]\n\t"   /* in */
        "str r2, [sp, #4]\n\t"   /* out */
        "add r2, r2, r4\n\t"
        "str r2, [sp, #8]\n\t"   /* out + depth */
        "str r3, [sp, #12]\n\t"  /* n */
        "str r7, [sp, #16]\n\t"  /* edges */
        "str r8, [sp, #20]\n\t"  /* rows_out */
        "sub r9, r9, r4\n\t"
        "str r9, [sp, #24]\n\t"  /* in_row - depth */
        "str r10, [sp, #28]\n\t" /* out_row */
        "mov r2, r4\n\t"
        "mov r1, r5\n\t"
        "mov r12, r6\n"
        /* a group of 8 channels: the carry is column 0's maximum, or -128 where it is padding */
        "1:\n\t"
        "ldr r0, [sp, #0]\n\t"
        "ldr lr, [sp, #4]\n\t"
        "ldr r3, [sp, #12]\n\t"
        "ldr r10, [sp, #16]\n\t"
        "tst r10, #1\n\t"
        "bne 2f\n\t"
        "sub r0, r0, r2\n\t" ML_MP_COL("r4", "r5")
        "b 3f\n"
        "2:\n\t"
        "mov r4, #0x80808080\n\t"
        "mov r5, r4\n"
        "3:\n\t"
        "tst r3, #1\n\t"
        "beq 9f\n\t"
        "add r3, r3, #1\n\t"  /* an odd count enters at the second window, the carry moved */
        "mov r6, r4\n\t"
        "mov r7, r5\n\t"
        "b 10f\n"
        "9:\n\t"
        "cmp r3, #0\n\t"
        "beq 5f\n"
        /* two windows a turn, the carry's registers and the column's swapping roles */
        "4:\n\t"
        ML_MP_WINDOW("r4", "r5", "r6", "r7")
        "10:\n\t"
        ML_MP_WINDOW("r6", "r7", "r4", "r5")
        "subs r3, r3, #2\n\t"
        "bne 4b\n"
        /* a last window without its third column (the carry in r4, r5 on every path here) */
        "5:\n\t"
        "ldr r10, [sp, #16]\n\t"
        "tst r10, #2\n\t"
        "beq 6f\n\t" ML_MP_COL("r6", "r7") ML_MP_MAX2("r4", "r5", "r6", "r7")
        "strd r4, r5, [lr]\n"
        /* the next group, or the next row */
        "6:\n\t"
        "ldr r0, [sp, #0]\n\t"
        "add r0, r0, #8\n\t"
        "ldr lr, [sp, #4]\n\t"
        "add lr, lr, #8\n\t"
        "ldr r10, [sp, #8]\n\t"
        "cmp lr, r10\n\t"
        "bne 7f\n\t"
        "ldr r3, [sp, #20]\n\t"
        "subs r3, r3, #1\n\t"
        "beq 8f\n\t"
        "str r3, [sp, #20]\n\t"
        "ldrd r3, r4, [sp, #24]\n\t"
        "add r0, r0, r3\n\t"
        "sub lr, lr, r2\n\t"
        "add lr, lr, r4\n\t"
        "add r10, r10, r4\n\t"
        "str r10, [sp, #8]\n"
        "7:\n\t"
        "str r0, [sp, #0]\n\t"
        "str lr, [sp, #4]\n\t"
        "b 1b\n"
        "8:\n\t"
        "add sp, sp, #36\n\t"
        "pop {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n\t"
        ".size ml_maxpool_dsp_s2w3, .-ml_maxpool_dsp_s2w3");
#endif

#if ML_MAXPOOL_S2W3
/* Set-up code that runs once per call or row, compiled for size with GCC (the routine does the
 * work): at -O2 this one took 468 bytes. */
#if defined(__GNUC__) && !defined(__clang__)
#define ML_MAXPOOL_SETUP __attribute__((optimize("Os")))
#else
#define ML_MAXPOOL_SETUP
#endif

/*
 * The whole layer through ml_maxpool_dsp_s2w3 when its windows are three cells wide at stride 2
 * and two or three tall, with at most one padding column at each end of a row (SAME pads such
 * windows by at most one each side), over channels in eights without a clamp; returns 0 when it
 * does not apply. A call per batch for the rows whose windows lie inside vertically, one per
 * row for the others (a row with a single input row under its windows reads it three times:
 * dy = dy2 = 0).
 */
ML_NOINLINE ML_MAXPOOL_SETUP static int ml_maxpool_s2w3_all(const ml_maxpool_params *params,
                                                           const ml_dims *input_dims,
                                                           const int8_t *input,
                                                           const ml_dims *output_dims, int8_t *output)
{
    const int32_t depth = input_dims->c;
    const int32_t in_h = input_dims->h;
    const int32_t out_h = output_dims->h;
    const int32_t out_w = output_dims->w;
    const int32_t sh = params->stride_h;
    const int32_t dy = input_dims->w * depth;
    /* the last window's third column past the input's last: 0, or -1 and less when inside */
    const int32_t over = 2 * out_w - params->pad_w - input_dims->w;
    if (params->act_min > INT8_MIN || params->act_max < INT8_MAX || params->filter_h > 3 ||
        params->pad_w > 1 || over > 0 || (depth & 7) != 0 || params->pad_h >= params->filter_h ||
        (out_h - 1) * sh - params->pad_h >= in_h ||
        (((uintptr_t)input | (uintptr_t)output) & 3u) != 0) {
        return 0;  /* (the last two: a row of windows with no input row under it) */
    }
    /* output rows [oy_lo, oy_hi) have every window row inside the input */
    const int32_t oy_lo = (params->pad_h + sh - 1) / sh;
    const int32_t span = in_h - params->filter_h + params->pad_h;
    const int32_t oy_hi = span < 0 ? 0 : ml_min_i32(out_h, span / sh + 1);
    ml_maxpool_s2w3_job job;
    job.n = over == 0 ? out_w - 1 : out_w;
    job.depth = depth;
    job.edges = (params->pad_w ? ML_MAXPOOL_LEFT : 0) | (over == 0 ? ML_MAXPOOL_RIGHT : 0);
    job.in_row = sh * dy;
    job.out_row = out_w * depth;
    for (int32_t b = 0; b < input_dims->n; ++b) {
        const int8_t *in_batch = input + b * in_h * dy;
        int8_t *out_batch = output + b * out_h * job.out_row;
        for (int32_t oy = 0; oy < out_h; oy += job.rows_out) {
            const int32_t y0 = oy * sh - params->pad_h;
            const int32_t fy_start = ml_max_i32(0, -y0);
            const int32_t rows = ml_min_i32(params->filter_h, in_h - y0) - fy_start;
            job.in = in_batch + (y0 + fy_start) * dy + (1 - params->pad_w) * depth;
            job.out = out_batch + oy * job.out_row;
            job.dy = rows >= 2 ? dy : 0;
            job.dy2 = rows == 3 ? dy : 0;
            job.rows_out = oy >= oy_lo && oy < oy_hi ? oy_hi - oy : 1;
            ml_maxpool_dsp_s2w3(&job);
        }
    }
    return 1;
}
#endif


#if ML_MAXPOOL_TILE2
/*
 * ml_maxpool_dsp_tile2 on outputs [ox_lo, ox_hi) of output row oy (o: its output ox_lo) and,
 * when its windows lie wholly inside the input vertically, of every such row after it in one
 * call; returns the rows done.
 */
ML_NOINLINE static int32_t ml_maxpool_tile2_rows(const ml_maxpool_params *params,
                                                 const ml_dims *input_dims,
                                                 const ml_dims *output_dims,
                                                 const int8_t *in_batch, int8_t *o, int32_t oy,
                                                 int32_t ox_lo, int32_t ox_hi)
{
    const int32_t depth = input_dims->c;
    const int32_t in_w = input_dims->w;
    const int32_t sh = params->stride_h;
    const int32_t y0 = oy * sh - params->pad_h;
    const int32_t fy_start = ml_max_i32(0, -y0);
    const int32_t fy_end = ml_min_i32(params->filter_h, input_dims->h - y0);
    int32_t rows_out = 1;
    if (fy_start == 0 && fy_end == params->filter_h) {
        /* the last row with the window inside: (in_h - filter_h + pad_h) / stride_h */
        const int32_t oy_hi = ml_min_i32(output_dims->h,
                                         (input_dims->h - params->filter_h + params->pad_h) / sh + 1);
        rows_out = oy_hi - oy;
    }
    ml_maxpool_tile tile;
    tile.n = ox_hi - ox_lo;
    tile.depth = depth;
    tile.dy = in_w * depth;
    tile.rows = fy_end - fy_start;
    tile.in_row = sh * in_w * depth;
    tile.out_row = output_dims->w * depth;
    tile.rows_out = rows_out;
    ml_maxpool_dsp_tile2(&tile, in_batch + ((y0 + fy_start) * in_w + ox_lo * params->stride_w -
                                          params->pad_w) * depth, o);
    return rows_out;
}

/*
 * The whole layer through ml_maxpool_dsp_tile2 when every window lies inside the input (no
 * padding reaches it: the VALID pools), one call per image; returns 0 when it does not apply.
 * Checked before anything else, so that such a layer skips the general loop's setup.
 */
static int ml_maxpool_tile2_all(const ml_maxpool_params *params, const ml_dims *input_dims,
                                const int8_t *input, const ml_dims *output_dims, int8_t *output)
{
    const int32_t depth = input_dims->c;
    const int32_t out_h = output_dims->h;
    const int32_t out_w = output_dims->w;
    const int32_t dy = input_dims->w * depth;
    if (params->act_min > INT8_MIN || params->act_max < INT8_MAX || params->filter_w != 2 ||
        params->stride_w != 2 || params->filter_h > 2 || (depth & 15) != 0 ||
        (((uintptr_t)input | (uintptr_t)output) & 3u) != 0 || params->pad_h != 0 ||
        params->pad_w != 0 || 2 * out_w > input_dims->w ||
        (out_h - 1) * params->stride_h + params->filter_h > input_dims->h) {
        return 0;
    }
    ml_maxpool_tile tile;
    tile.n = out_w;
    tile.depth = depth;
    tile.dy = dy;
    tile.rows = params->filter_h;
    tile.in_row = params->stride_h * dy;
    tile.out_row = out_w * depth;
    tile.rows_out = out_h;
    for (int32_t b = 0; b < input_dims->n; ++b) {
        ml_maxpool_dsp_tile2(&tile, input + b * input_dims->h * dy, output + b * out_h * tile.out_row);
    }
    return 1;
}
#endif
#endif

/*
 * Four int8 lanes of a word at a time without SIMD instructions (Cortex-M0/M3, the host): a
 * lane's signed a >= b is given by the sign bits where they differ (b negative, a not), else
 * by the top bit of (a | 0x80) - (b & 0x7F), which is 0x80 + a - b on the low seven bits and
 * cannot borrow from the next lane. Its top bits spread to whole lanes select a or b: about
 * 12 instructions for four maxima, where one compare and select per byte take 16 and four
 * loads. DSP builds use SSUB8 + SEL instead.
 */
#if !defined(ML_NN_DSP)
static inline uint32_t ml_maxpool_ge4(uint32_t a, uint32_t b)
{
    const uint32_t h = 0x80808080u;
    const uint32_t d = (a | h) - (b & ~h);
    const uint32_t ge = ((b & ~a) | (d & ~(a ^ b))) & h;
    return (ge >> 7) * 0xFFu;  /* 0xFF in the lanes where a >= b */
}
#endif

/* Bytewise signed max and min of four lanes. */
static inline uint32_t ml_maxpool_max4(uint32_t a, uint32_t b)
{
#if defined(ML_NN_DSP)
    return (uint32_t)ml_dsp_max_s8x4((int32_t)a, (int32_t)b);
#else
    return b ^ ((a ^ b) & ml_maxpool_ge4(a, b));
#endif
}

static inline uint32_t ml_maxpool_min4(uint32_t a, uint32_t b)
{
#if defined(ML_NN_DSP)
    return (uint32_t)ml_dsp_min_s8x4((int32_t)a, (int32_t)b);
#else
    return a ^ ((a ^ b) & ml_maxpool_ge4(a, b));
#endif
}

/* A word of four channels at p and its store, word aligned (checked by the caller: Cortex-M0
 * has no unaligned loads). */
static inline uint32_t ml_maxpool_word(const int8_t *p)
{
    uint32_t v;
    memcpy(&v, ML_ASSUME_ALIGNED4(p), sizeof v);
    return v;
}

static inline void ml_maxpool_put_word(int8_t *p, uint32_t v)
{
    memcpy(ML_ASSUME_ALIGNED4(p), &v, sizeof v);
}

/* Channels [c, c_end) four at a time (c_end - c a multiple of 4), portable C. When the window's
 * cells, their strides and the output are word aligned, whole words, cell by cell with the
 * running maxima in the output (a small window's cells and rows are too few to pay for a loop
 * nest per word: 2x2 windows on Cortex-M0 in about 20 instructions per word and cell); else byte
 * by byte. */
static void ml_maxpool_c4(const ml_pool_window *win, int32_t depth, int32_t c, int32_t c_end,
                          const ml_maxpool_params *params, int8_t *out)
{
    if ((((uintptr_t)(win->first + c) | (uintptr_t)(out + c) | (uint32_t)depth |
          (uint32_t)win->dy) & 3u) == 0) {
        int8_t *const o_end = out + c_end;
        const int8_t *v = win->first + c;
        for (int8_t *o = out + c; o < o_end; o += 4, v += 4) {
            /* the first cell, or TFLM's start of -128 when no cell is inside */
            ml_maxpool_put_word(o, win->rows > 0 ? ml_maxpool_word(v) : 0x80808080u);
        }
        const int8_t *row = win->first + c;
        for (int32_t r = win->rows; r > 0; --r, row += win->dy) {
            const int8_t *q = row;
            for (int32_t k = win->cols; k > 0; --k, q += depth) {
                if (q == win->first + c) {
                    continue;  /* the first cell, copied above */
                }
                v = q;
                for (int8_t *o = out + c; o < o_end; o += 4, v += 4) {
                    const uint32_t m = ml_maxpool_word(o);  /* first: gcc's loop is 1% shorter on M0 */
                    ml_maxpool_put_word(o, ml_maxpool_max4(ml_maxpool_word(v), m));
                }
            }
        }
        if (params->act_min > INT8_MIN || params->act_max < INT8_MAX) {
            const uint32_t lo4 = (uint32_t)(uint8_t)params->act_min * 0x01010101u;
            const uint32_t hi4 = (uint32_t)(uint8_t)params->act_max * 0x01010101u;
            for (int8_t *o = out + c; o < o_end; o += 4) {
                ml_maxpool_put_word(o, ml_maxpool_min4(ml_maxpool_max4(ml_maxpool_word(o), lo4), hi4));
            }
        }
        return;
    }
    for (; c < c_end; c += 4) {
        int32_t m0 = INT8_MIN, m1 = INT8_MIN, m2 = INT8_MIN, m3 = INT8_MIN;
        const int8_t *row = win->first + c;
        for (int32_t r = win->rows; r > 0; --r, row += win->dy) {
            const int8_t *q = row;
            for (int32_t k = win->cols; k > 0; --k, q += depth) {
                m0 = q[0] > m0 ? q[0] : m0;
                m1 = q[1] > m1 ? q[1] : m1;
                m2 = q[2] > m2 ? q[2] : m2;
                m3 = q[3] > m3 ? q[3] : m3;
            }
        }
        out[c] = ml_clamp_s8(m0, params->act_min, params->act_max);
        out[c + 1] = ml_clamp_s8(m1, params->act_min, params->act_max);
        out[c + 2] = ml_clamp_s8(m2, params->act_min, params->act_max);
        out[c + 3] = ml_clamp_s8(m3, params->act_min, params->act_max);
    }
}

/* Channels [c, depth) one at a time. */
static void ml_maxpool_c1(const ml_pool_window *win, int32_t depth, int32_t c,
                          const ml_maxpool_params *params, int8_t *out)
{
    for (; c < depth; ++c) {
        int32_t m = INT8_MIN;
        const int8_t *row = win->first + c;
        for (int32_t r = win->rows; r > 0; --r, row += win->dy) {
            const int8_t *q = row;
            for (int32_t k = win->cols; k > 0; --k, q += depth) {
                m = *q > m ? *q : m;
            }
        }
        out[c] = ml_clamp_s8(m, params->act_min, params->act_max);
    }
}

/* Any layer, window by window (with the assembly routines on the runs where they apply); beside
 * the tile2 early path, out of line under another name, so that the early path stays small. */
#if ML_MAXPOOL_TILE2
ML_NOINLINE static ml_status ml_maxpool_any(const ml_maxpool_params *params,
                                            const ml_dims *input_dims, const int8_t *input,
                                            const ml_dims *output_dims, int8_t *output)
#else
ml_status ml_maxpool_s8(const ml_maxpool_params *params,
                        const ml_dims *input_dims, const int8_t *input,
                        const ml_dims *output_dims, int8_t *output)
#endif
{
    const int32_t batches = input_dims->n;
    const int32_t in_h = input_dims->h;
    const int32_t in_w = input_dims->w;
    const int32_t depth = input_dims->c;
    const int32_t out_h = output_dims->h;
    const int32_t out_w = output_dims->w;
    if (output_dims->n != batches || output_dims->c != depth) {
        return ML_ARG_ERROR;
    }
#if ML_MAXPOOL_S2W3
    if (params->filter_w == 3 && params->stride_w == 2 && params->filter_h >= 2 &&
        ml_maxpool_s2w3_all(params, input_dims, input, output_dims, output)) {
        return ML_OK;
    }
#endif
    const int32_t c4 = depth & ~3;
#if defined(ML_NN_DSP)
    const int32_t lo4 = (int32_t)((uint32_t)(uint8_t)params->act_min * 0x01010101u);
    const int32_t hi4 = (int32_t)((uint32_t)(uint8_t)params->act_max * 0x01010101u);
    const int clamp = params->act_min > INT8_MIN || params->act_max < INT8_MAX;
    /* ml_maxpool_dsp_win's conditions: every window inside the input, and each clipped one at
     * the edges. */
    const int32_t fw = params->filter_w;
    const int win8 = !clamp && (depth & 7) == 0 &&
                     (((uintptr_t)input | (uintptr_t)output) & 3u) == 0;
#if ML_MAXPOOL_TILE2
    /* ml_maxpool_dsp_tile2's: windows of two cells side by side, one after another. */
    const int tile2 = win8 && fw == 2 && params->stride_w == 2 && (depth & 15) == 0;
#endif
    /* Outputs [ox_lo, ox_hi) have every window column inside the input. */
    const int32_t ox_lo = (params->pad_w + params->stride_w - 1) / params->stride_w;
    const int32_t ox_hi = ml_min_i32(out_w, (in_w - fw + params->pad_w) / params->stride_w + 1);
#endif
    ml_pool_window win;
    win.dy = in_w * depth;
    for (int32_t b = 0; b < batches; ++b) {
        const int8_t *in_batch = input + b * in_h * in_w * depth;
#if ML_MAXPOOL_TILE2
        int32_t done_until = 0;  /* output rows whose inside windows are done */
#endif
        for (int32_t oy = 0; oy < out_h; ++oy) {
            const int32_t y0 = oy * params->stride_h - params->pad_h;
            const int32_t fy_start = ml_max_i32(0, -y0);
            const int32_t fy_end = ml_min_i32(params->filter_h, in_h - y0);
#if ML_MAXPOOL_TILE2
            if (oy < done_until && ox_lo == 0 && ox_hi == out_w) {
                continue;  /* done with the rows before it */
            }
#endif
            for (int32_t ox = 0; ox < out_w; ++ox) {
#if defined(ML_NN_DSP)
                if (win8 && ox == ox_lo && ox_hi > ox_lo && fy_end > fy_start) {
                    const int32_t x0 = ox * params->stride_w - params->pad_w;
                    int8_t *o = output + ((b * out_h + oy) * out_w + ox) * depth;
#if ML_MAXPOOL_TILE2
                    if (tile2 && fy_end - fy_start <= 2) {
                        if (oy >= done_until) {
                            done_until = oy + ml_maxpool_tile2_rows(params, input_dims, output_dims,
                                                                    in_batch, o, oy, ox_lo, ox_hi);
                        }
                        if (ox_lo == 0 && ox_hi == out_w) {
                            break;  /* the whole row */
                        }
                        ox = ox_hi - 1;
                        continue;
                    }
#endif
                    if (fy_end - fy_start == 1 && (fw == 2 || fw == 3) && depth >= 16) {
                        ml_maxpool_row_job rjob;
                        rjob.in = in_batch + (y0 + fy_start) * win.dy + x0 * depth;
                        rjob.out = o;
                        rjob.n = ox_hi - ox_lo;
                        rjob.depth = depth;
                        rjob.last = (fw - 1) * depth;
                        rjob.step = params->stride_w * depth;
                        ml_maxpool_dsp_row(&rjob);
                        ox = ox_hi - 1;
                        continue;
                    }
                    ml_maxpool_win_job job;
                    job.in = in_batch + ((y0 + fy_start) * in_w + x0) * depth;
                    job.out = o;
                    job.n = ox_hi - ox_lo;
                    job.depth = depth;
                    job.rows = fy_end - fy_start;
                    job.cols = fw;
                    job.dy = win.dy;
                    job.step = params->stride_w * depth;
                    ml_maxpool_dsp_win(&job);
                    ox = ox_hi - 1;
                    continue;
                }
#endif
                const int32_t x0 = ox * params->stride_w - params->pad_w;
                const int32_t fx_start = ml_max_i32(0, -x0);
                const int32_t fx_end = ml_min_i32(params->filter_w, in_w - x0);
                int8_t *out = output + ((b * out_h + oy) * out_w + ox) * depth;
                win.rows = fy_end > fy_start && fx_end > fx_start ? fy_end - fy_start : 0;
                win.cols = fx_end - fx_start;
                win.first = in_batch + ((y0 + fy_start) * in_w + x0 + fx_start) * depth;
#if defined(ML_NN_DSP)
                if (win8 && win.rows > 0) {
                    ml_maxpool_win_job job;
                    job.in = win.first;
                    job.out = out;
                    job.n = 1;
                    job.depth = depth;
                    job.rows = win.rows;
                    job.cols = win.cols;
                    job.dy = win.dy;
                    job.step = 0;
                    ml_maxpool_dsp_win(&job);
                    continue;
                }
#endif
                if (win.cols == in_w) {  /* whole rows: one run of cells */
                    win.cols *= win.rows;
                    win.rows = win.rows > 0;
                }
                int32_t c = 0;
#if defined(ML_NN_DSP)
                c = ml_maxpool_dsp(&win, depth, c4, lo4, hi4, clamp, out);
#endif
                ml_maxpool_c4(&win, depth, c, c4, params, out);
                ml_maxpool_c1(&win, depth, c4, params, out);
            }
        }
    }
    return ML_OK;
}

#if ML_MAXPOOL_TILE2
/* A layer without the compiler's tile: checked for one first (before the general loop's
 * setup, which would cost a small layer more than its windows), out of line so that the tiled
 * path saves no registers for it. */
ML_NOINLINE static ml_status ml_maxpool_untiled(const ml_maxpool_params *params,
                                                const ml_dims *input_dims, const int8_t *input,
                                                const ml_dims *output_dims, int8_t *output)
{
    if (output_dims->n == input_dims->n && output_dims->c == input_dims->c &&
        output_dims->h > 0 && output_dims->w > 0 &&
        ml_maxpool_tile2_all(params, input_dims, input, output_dims, output)) {
        return ML_OK;
    }
    return ml_maxpool_any(params, input_dims, input, output_dims, output);
}

/* The compiler's tile (ops/pool.py, which made ml_maxpool_tile2_all's checks at build time):
 * nothing else to set up. */
ML_NOINLINE static ml_status ml_maxpool_tiled(const ml_maxpool_tile *tile, int32_t batches,
                                              int32_t in_h, const int8_t *input, int8_t *output)
{
    for (;;) {
        ml_maxpool_dsp_tile2(tile, input, output);
        if (--batches <= 0) {
            return ML_OK;
        }
        input += in_h * tile->dy;
        output += tile->rows_out * tile->out_row;
    }
}

ml_status ml_maxpool_s8(const ml_maxpool_params *params,
                        const ml_dims *input_dims, const int8_t *input,
                        const ml_dims *output_dims, int8_t *output)
{
    /* Each way on with a tail call, so that none saves registers for another. */
    if (params->tile.n > 0 && (((uintptr_t)input | (uintptr_t)output) & 3u) == 0) {
        if (input_dims->n == 1) {
            return ml_maxpool_dsp_tile2(&params->tile, input, output);
        }
        return ml_maxpool_tiled(&params->tile, input_dims->n, input_dims->h, input, output);
    }
    if (params->tile.n < 0) {  /* the compiler found no tile applies */
        return ml_maxpool_any(params, input_dims, input, output_dims, output);
    }
    return ml_maxpool_untiled(params, input_dims, input, output_dims, output);
}
#endif
