/*
 * microlith measurement firmware: runs the compiled model on every embedded sample and
 * reports over semihosting, one line per fact, each starting with "ML:":
 *   ML:begin <samples> <layers> <one timer read's ticks> <layer-hook calibration ticks>
 *   ML:run <sample> <status> <ticks> <stack bytes used>
 *   ML:out <sample> <output index> <hex bytes>
 *   ML:layer <layer> <ticks>            (sample 0, when the build times layers)
 *   ML:end
 * The stack is painted before each inference and scanned after it for the high-water mark.
 */
#include <stdint.h>

#include "ml_fw.h"
#include "ml_fw_layers.h"

#define ML_FW_PAINT 0xC5A1C5A1u

extern uint32_t __ml_stack_limit[], __ml_stack_top[];
void ml_fw_write(const char *text);

static char ml_fw_line[160];
static uint32_t ml_fw_len;

static void ml_fw_flush(void)
{
    ml_fw_line[ml_fw_len] = '\0';
    ml_fw_write(ml_fw_line);
    ml_fw_len = 0;
}

static void ml_fw_put(const char *s)
{
    while (*s) {
        if (ml_fw_len + 1 >= sizeof ml_fw_line) {
            ml_fw_flush();
        }
        ml_fw_line[ml_fw_len++] = *s++;
    }
}

static void ml_fw_put_digits(uint32_t v)
{
    char text[11];
    int n = (int)sizeof text - 1;
    text[n] = '\0';
    do {
        text[--n] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u);
    ml_fw_put(&text[n]);
}

static void ml_fw_put_u32(uint32_t v)
{
    ml_fw_put(" ");
    ml_fw_put_digits(v);
}

static void ml_fw_put_i32(int32_t v)
{
    ml_fw_put(v < 0 ? " -" : " ");
    ml_fw_put_digits(v < 0 ? 0u - (uint32_t)v : (uint32_t)v);
}

static void ml_fw_put_hex(const uint8_t *data, uint32_t bytes)
{
    static const char hex[] = "0123456789abcdef";
    ml_fw_put(" ");
    for (uint32_t i = 0; i < bytes; i++) {
        char pair[3] = {hex[data[i] >> 4], hex[data[i] & 15u], '\0'};
        ml_fw_put(pair);
    }
}

static uint32_t *ml_fw_sp(void)
{
    uint32_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    return sp;
}

/* Paints from the stack limit up to this function's own frame: everything below is free. */
__attribute__((noinline)) static void ml_fw_paint(void)
{
    uint32_t *const sp = ml_fw_sp();
    for (volatile uint32_t *p = __ml_stack_limit; p < sp; p++) {
        *p = ML_FW_PAINT;
    }
}

/* Bytes between the stack top and the lowest word that lost its paint. */
__attribute__((noinline)) static uint32_t ml_fw_stack_used(void)
{
    const volatile uint32_t *p = __ml_stack_limit;
    while (p < __ml_stack_top && *p == ML_FW_PAINT) {
        p++;
    }
    return (uint32_t)((uintptr_t)__ml_stack_top - (uintptr_t)p);
}

/* The layer hooks' timer read, out of line so a cycle trace can split the run at its calls. */
__attribute__((noinline)) uint32_t ml_fw_stamp(void)
{
    return ml_fw_now();
}

/* Two timer reads with nothing between them, in a function of their own so that nothing
 * else is scheduled there: the ticks one read costs. ml_fw_run's timed stretch holds one read
 * and the call of NAME_invoke, so the host adds the call's one instruction. */
__attribute__((noinline)) static uint32_t ml_fw_read_ticks(void)
{
    const uint32_t t0 = ml_fw_now();
    const uint32_t t1 = ml_fw_now();
    return t1 - t0;
}

int main(void)
{
    ml_fw_timer_start();

    /* Cost of the measurement itself. */
    const uint32_t read_ticks = ml_fw_read_ticks();
    ML_LAYER_BEGIN(ml_fw_layers);
    ML_LAYER_END(ml_fw_layers, 0, 0);
    const uint32_t hook = ml_fw_layer_end[ml_fw_layers] - ml_fw_layer_begin[ml_fw_layers];

    ml_fw_put("ML:begin");
    ml_fw_put_u32(ml_fw_samples);
    ml_fw_put_u32(ml_fw_layers);
    ml_fw_put_u32(read_ticks);
    ml_fw_put_u32(hook);
    ml_fw_put("\n");
    ml_fw_flush();

    int failed = 0;
    for (uint32_t s = 0; s < ml_fw_samples; s++) {
        uint32_t ticks = 0;
        ml_fw_paint();
        const int status = ml_fw_run(s, &ticks);
        const uint32_t used = ml_fw_stack_used();
        ml_fw_put("ML:run");
        ml_fw_put_u32(s);
        ml_fw_put_i32(status);
        ml_fw_put_u32(ticks);
        ml_fw_put_u32(used);
        ml_fw_put("\n");
        for (uint32_t k = 0; k < ml_fw_n_outputs; k++) {
            ml_fw_put("ML:out");
            ml_fw_put_u32(s);
            ml_fw_put_u32(k);
            ml_fw_put_hex((const uint8_t *)ml_fw_outputs[k].data, ml_fw_outputs[k].bytes);
            ml_fw_put("\n");
        }
        if (s == 0u) {
            for (uint32_t l = 0; l < ml_fw_layers; l++) {
                ml_fw_put("ML:layer");
                ml_fw_put_u32(l);
                ml_fw_put_u32(ml_fw_layer_end[l] - ml_fw_layer_begin[l]);
                ml_fw_put("\n");
            }
        }
        ml_fw_flush();
        failed |= status != 0;
    }
    ml_fw_put("ML:end\n");
    ml_fw_flush();
    return failed;
}
