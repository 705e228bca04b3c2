/*
 * microlith measurement firmware: vector table, reset and fault handlers, semihosting.
 * One file for every Cortex-M core (ARMv6-M to ARMv8-M Mainline): plain C plus the two
 * instructions that need assembly. QEMU boots from the vector table at the start of flash,
 * so the linker script keeps .isr_vector first.
 */
#include <stdint.h>
#include <string.h>

extern uint32_t __ml_stack_top[];
extern uint32_t __ml_data_load[], __ml_data_start[], __ml_data_end[];
extern uint32_t __ml_bss_start[], __ml_bss_end[];

int main(void);
void ml_fw_reset(void);
void ml_fw_fault(void);
void ml_fw_exit(int failed);
void ml_fw_write(const char *text);

typedef void (*ml_fw_vector)(void);

/* Initial stack pointer, reset, then every system exception to the fault handler. */
__attribute__((section(".isr_vector"), used))
const ml_fw_vector ml_fw_vectors[16] = {
    (ml_fw_vector)(uintptr_t)__ml_stack_top,
    ml_fw_reset,
    ml_fw_fault, ml_fw_fault, ml_fw_fault, ml_fw_fault, ml_fw_fault, ml_fw_fault,
    ml_fw_fault, ml_fw_fault, ml_fw_fault, ml_fw_fault, ml_fw_fault, ml_fw_fault,
    ml_fw_fault, ml_fw_fault,
};

/* ARM semihosting: operation in r0, argument in r1, result in r0. Needs QEMU's
 * -semihosting-config enable=on; without it BKPT is a fault and the core locks up. */
static int ml_fw_semihost(int op, const void *arg)
{
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile(".syntax unified\n\tbkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void ml_fw_write(const char *text)
{
    (void)ml_fw_semihost(0x04, text);   /* SYS_WRITE0 */
}

void ml_fw_exit(int failed)
{
    /* SYS_EXIT: ApplicationExit makes QEMU exit 0, RunTimeErrorUnknown makes it exit 1. */
    (void)ml_fw_semihost(0x18, (const void *)(uintptr_t)(failed ? 0x20023u : 0x20026u));
    for (;;) {
    }
}

void ml_fw_fault(void)
{
    ml_fw_write("\nML:fault\n");
    ml_fw_exit(1);
}

void ml_fw_reset(void)
{
#if defined(__ARM_FP)
    /* CPACR: full access to CP10/CP11 before any floating-point instruction. */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    uint32_t *src = __ml_data_load;
    for (uint32_t *dst = __ml_data_start; dst < __ml_data_end; ) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = __ml_bss_start; dst < __ml_bss_end; ) {
        *dst++ = 0u;
    }
    ml_fw_exit(main() != 0);
}
