/* SPDX-License-Identifier: GPL-2.0-or-later (see LICENSE in this folder) */
/*
 * microlith memory trace: a TCG plugin for qemu-system-arm 7.2 (plugin API version 1).
 *
 * It counts, for the measured stretch only (from the first executed block of the function
 * named by start= to the next block of the function named by stop=, the same stretch the
 * -d exec log route prices):
 *   - each translated block's executions and its successors (edge counts), so the host can
 *     rebuild the executed instruction stream's cost without a per-instruction log;
 *   - each instruction's data loads, split into flash (inside flash=LO:HI, outside
 *     sram_alias=LO:HI) and everything else (SRAM);
 *   - a model of the board's flash accelerator: instruction fetches from flash go through an
 *     instruction cache (icache=LINE_BYTES:SETS:WAYS:SECTOR_BYTES), data loads from flash
 *     through a data cache (dcache=...; unified=1 sends both through it), both LRU, a miss
 *     filling one sector (one flash read). With prefetch=1 a fetch of the sector right after
 *     the previous one overlaps the previous sector's instructions (ws=N wait states). Without
 *     a cache every flash read misses (fetches in fetch=BYTES units, one per unit entered).
 * With mark=SYMBOL, each entry into that function (from outside it) ends a phase: the counts
 * so far are written out and start again from zero, so the host can price the stretch between
 * two marks on its own (the per-layer firmware calls its timestamp function around every
 * layer). The mark function's own blocks are counted in the phase they start.
 * Everything is accumulated here; at each phase end one line per block, instruction and edge
 * that ran in it, and at exit one line per block and instruction translated, are written to
 * out=FILE, so the output stays small whatever the length of the run.
 *
 * Only the few API declarations this file calls are written out below, from the documented
 * interface (docs/devel/tcg-plugins.rst) and matching the C ABI of QEMU 7.2's
 * include/qemu/qemu-plugin.h, which is GPL-2.0-or-later and is not copied here; QEMU resolves
 * the functions when it loads the plugin. The plugin is a separate shared object that runs only
 * inside QEMU; it is kept in its own folder so its licence can be set apart if needed.
 * Build: cc -O2 -shared -fPIC -fvisibility=hidden -o ml_memtrace.so ml_memtrace.c
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the QEMU plugin API, version 1 (as in QEMU 7.2) ------------------------------------ */
#define ML_EXPORT __attribute__((visibility("default")))

typedef uint64_t qemu_plugin_id_t;
typedef uint32_t qemu_plugin_meminfo_t;
typedef struct qemu_info_t qemu_info_t;   /* only passed through */
struct qemu_plugin_tb;
struct qemu_plugin_insn;

enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS };
enum qemu_plugin_mem_rw { QEMU_PLUGIN_MEM_R = 1, QEMU_PLUGIN_MEM_W, QEMU_PLUGIN_MEM_RW };

typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_mem_cb_t)(unsigned int vcpu_index, qemu_plugin_meminfo_t info,
                                          uint64_t vaddr, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb,
                                          enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_mem_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_mem_cb_t cb,
                                      enum qemu_plugin_cb_flags flags, enum qemu_plugin_mem_rw rw,
                                      void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
char *qemu_plugin_insn_disas(const struct qemu_plugin_insn *insn);
const char *qemu_plugin_insn_symbol(const struct qemu_plugin_insn *insn);
bool qemu_plugin_mem_is_store(qemu_plugin_meminfo_t info);

ML_EXPORT int qemu_plugin_version = 1;
ML_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv);

/* ---- a small LRU cache of sectored lines --------------------------------------------------- */
typedef struct {
    uint32_t line_bytes, sets, ways, sector_bytes;
    uint64_t *tag;      /* sets x ways, UINT64_MAX = empty */
    uint64_t *used;     /* last-use stamp per way */
    uint32_t *valid;    /* sector bits per way */
    uint64_t clock;
} Cache;

static bool cache_init(Cache *c, const char *spec)
{
    if (sscanf(spec, "%u:%u:%u:%u", &c->line_bytes, &c->sets, &c->ways, &c->sector_bytes) != 4 ||
        c->line_bytes == 0 || c->sets == 0 || c->ways == 0 || c->sector_bytes == 0 ||
        c->line_bytes % c->sector_bytes != 0 || c->line_bytes / c->sector_bytes > 32) {
        return false;
    }
    size_t n = (size_t)c->sets * c->ways;
    c->tag = malloc(n * sizeof *c->tag);
    c->used = calloc(n, sizeof *c->used);
    c->valid = calloc(n, sizeof *c->valid);
    if (!c->tag || !c->used || !c->valid) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        c->tag[i] = UINT64_MAX;
    }
    return true;
}

/* true on a hit; on a miss the sector is filled (and the line allocated, LRU way evicted) */
static bool cache_access(Cache *c, uint64_t addr)
{
    const uint64_t line = addr / c->line_bytes;
    const uint32_t bit = 1u << (uint32_t)((addr % c->line_bytes) / c->sector_bytes);
    const size_t base = (size_t)(line % c->sets) * c->ways;
    size_t victim = base;
    c->clock++;
    for (size_t w = base; w < base + c->ways; w++) {
        if (c->tag[w] == line) {
            c->used[w] = c->clock;
            if (c->valid[w] & bit) {
                return true;
            }
            c->valid[w] |= bit;
            return false;
        }
        if (c->used[w] < c->used[victim]) {
            victim = w;
        }
    }
    c->tag[victim] = line;
    c->valid[victim] = bit;
    c->used[victim] = c->clock;
    return false;
}

/* ---- what is recorded -------------------------------------------------------------------- */
typedef struct Block Block;

typedef struct {
    uint64_t addr;
    uint32_t size;
    char *disas;
    uint64_t ld_flash, ld_flash_miss, ld_other;
} Insn;

typedef struct {
    Block *to;
    uint64_t n;
} Edge;

enum { ROLE_BODY, ROLE_START, ROLE_STOP, ROLE_MARK };

struct Block {
    uint64_t pc, end;
    uint32_t n_insns, id, role;
    char *symbol;
    Insn *insns;
    uint64_t *units;          /* flash fetch sectors the block touches, in order */
    uint32_t *unit_insns;     /* instructions that start in each */
    uint32_t n_units;
    uint64_t execs, i_fetches, i_misses, i_stall;
    Edge *edges;
    uint32_t n_edges, cap_edges;
    bool seen;                /* counted, or reached by an edge, in some phase */
    Block *next;              /* every translation, for the dump */
};

static struct {
    const char *out, *start, *stop, *mark;
    FILE *f;                  /* out=, open from install to exit */
    uint64_t flash_lo, flash_hi, alias_lo, alias_hi;
    bool has_icache, has_dcache, unified, prefetch;
    Cache icache, dcache;
    Cache *fetch_cache;       /* where instruction fetches go: icache, dcache when unified, or none */
    bool model;               /* ws= given: model flash timing (without a cache every read misses) */
    uint32_t ws, fetch_bytes;
    /* run state */
    bool active, done;
    uint32_t phase;
    Block *prev, *all;
    uint32_t n_blocks;
    uint64_t last_unit;       /* the fetch sector the core read last (its line buffer) */
    uint32_t last_unit_insns;
} S;

static bool in_flash(uint64_t a)
{
    return a >= S.flash_lo && a < S.flash_hi && !(a >= S.alias_lo && a < S.alias_hi);
}

static void add_edge(Block *from, Block *to)
{
    for (uint32_t i = 0; i < from->n_edges; i++) {
        if (from->edges[i].to == to) {
            from->edges[i].n++;
            return;
        }
    }
    if (from->n_edges == from->cap_edges) {
        from->cap_edges = from->cap_edges ? 2 * from->cap_edges : 4;
        from->edges = realloc(from->edges, from->cap_edges * sizeof *from->edges);
        if (!from->edges) {
            abort();
        }
    }
    from->edges[from->n_edges++] = (Edge){to, 1};
}

/* instruction fetch through the accelerator: one access per fetch sector the block enters */
static void fetch(Block *b)
{
    Cache *c = S.fetch_cache;
    for (uint32_t k = 0; k < b->n_units; k++) {
        const uint64_t u = b->units[k];
        if (u == S.last_unit) {
            S.last_unit_insns += b->unit_insns[k];
            continue;
        }
        b->i_fetches++;
        if (!c || !cache_access(c, u * S.fetch_bytes)) {
            b->i_misses++;
            /* prefetch: the next sequential sector was read while the previous one's
             * instructions ran, each at least one cycle */
            uint32_t stall = S.ws;
            if (S.prefetch && u == S.last_unit + 1) {
                stall = S.last_unit_insns >= S.ws + 1 ? 0 : S.ws + 1 - S.last_unit_insns;
            }
            b->i_stall += stall;
        }
        S.last_unit = u;
        S.last_unit_insns = b->unit_insns[k];
    }
}

/* Write the current phase's counts (only what ran) and zero them for the next phase. */
static void end_phase(void)
{
    fprintf(S.f, "P %u\n", S.phase++);
    for (Block *b = S.all; b; b = b->next) {
        if (b->execs) {
            fprintf(S.f, "C %u %llu %llu %llu %llu\n", b->id, (unsigned long long)b->execs,
                    (unsigned long long)b->i_fetches, (unsigned long long)b->i_misses,
                    (unsigned long long)b->i_stall);
            b->seen = true;
        }
        for (uint32_t i = 0; i < b->n_insns; i++) {
            Insn *in = &b->insns[i];
            if (in->ld_flash || in->ld_other) {
                fprintf(S.f, "L %u %u %llu %llu %llu\n", b->id, i, (unsigned long long)in->ld_flash,
                        (unsigned long long)in->ld_flash_miss, (unsigned long long)in->ld_other);
                b->seen = true;
            }
            in->ld_flash = in->ld_flash_miss = in->ld_other = 0;
        }
        for (uint32_t e = 0; e < b->n_edges; e++) {
            if (b->edges[e].n) {
                fprintf(S.f, "E %u %u %llu\n", b->id, b->edges[e].to->id, (unsigned long long)b->edges[e].n);
                b->seen = b->edges[e].to->seen = true;
                b->edges[e].n = 0;
            }
        }
        b->execs = b->i_fetches = b->i_misses = b->i_stall = 0;
    }
}

static void on_exec(unsigned int vcpu, void *userdata)
{
    Block *b = userdata;
    (void)vcpu;
    if (!S.active) {
        if (S.done || b->role != ROLE_START) {
            return;
        }
        S.active = true;
        S.prev = NULL;
    } else if (b->role == ROLE_STOP) {
        add_edge(S.prev, b);
        S.active = false;
        S.done = true;
        end_phase();
        return;
    } else if (b->role == ROLE_MARK && S.prev && S.prev->role != ROLE_MARK) {
        add_edge(S.prev, b);   /* the call into the mark ends the phase */
        end_phase();
        S.prev = NULL;
    }
    if (S.prev) {
        add_edge(S.prev, b);
    }
    b->execs++;
    S.prev = b;
    if (S.model && b->n_units) {
        fetch(b);
    }
}

static void on_load(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t vaddr, void *userdata)
{
    Insn *in = userdata;
    (void)vcpu;
    if (!S.active || qemu_plugin_mem_is_store(info)) {
        return;
    }
    if (!in_flash(vaddr)) {
        in->ld_other++;
        return;
    }
    in->ld_flash++;
    if (S.model && (!S.has_dcache || !cache_access(&S.dcache, vaddr))) {
        in->ld_flash_miss++;
    }
}

static char *dup_text(const char *s)
{
    s = s ? s : "";
    char *d = malloc(strlen(s) + 1);
    if (!d) {
        abort();
    }
    return strcpy(d, s);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    const size_t n = qemu_plugin_tb_n_insns(tb);
    if (n == 0) {
        return;
    }
    Block *b = calloc(1, sizeof *b);
    if (!b) {
        abort();
    }
    b->insns = calloc(n, sizeof *b->insns);
    b->units = calloc(2 * n, sizeof *b->units);
    b->unit_insns = calloc(2 * n, sizeof *b->unit_insns);
    if (!b->insns || !b->units || !b->unit_insns) {
        abort();
    }
    b->n_insns = (uint32_t)n;
    b->id = S.n_blocks++;
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *qi = qemu_plugin_tb_get_insn(tb, i);
        Insn *in = &b->insns[i];
        in->addr = qemu_plugin_insn_vaddr(qi);
        in->size = (uint32_t)qemu_plugin_insn_size(qi);
        char *text = qemu_plugin_insn_disas(qi);
        in->disas = dup_text(text);
        free(text);
        if (i == 0) {
            b->pc = in->addr;
            b->symbol = dup_text(qemu_plugin_insn_symbol(qi));
        }
        b->end = in->addr + in->size;
        /* every access, stores filtered in on_load: on QEMU 7.2 a QEMU_PLUGIN_MEM_R filter
         * was seen to deliver the stores and drop the loads */
        qemu_plugin_register_vcpu_mem_cb(qi, on_load, QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_RW, in);
        if (S.model && in_flash(in->addr)) {
            /* the sectors this instruction's bytes lie in (a 32-bit one can straddle two) */
            for (uint64_t u = in->addr / S.fetch_bytes; u <= (in->addr + in->size - 1) / S.fetch_bytes; u++) {
                if (b->n_units == 0 || b->units[b->n_units - 1] != u) {
                    b->units[b->n_units] = u;
                    b->unit_insns[b->n_units] = u == in->addr / S.fetch_bytes ? 1 : 0;
                    b->n_units++;
                } else if (u == in->addr / S.fetch_bytes) {
                    b->unit_insns[b->n_units - 1]++;
                }
            }
        }
    }
    b->role = strcmp(b->symbol, S.start) == 0  ? ROLE_START
              : strcmp(b->symbol, S.stop) == 0 ? ROLE_STOP
              : S.mark && strcmp(b->symbol, S.mark) == 0 ? ROLE_MARK
                                                         : ROLE_BODY;
    b->next = S.all;
    S.all = b;
    qemu_plugin_register_vcpu_tb_exec_cb(tb, on_exec, QEMU_PLUGIN_CB_NO_REGS, b);
}

static void on_exit(qemu_plugin_id_t id, void *userdata)
{
    (void)id;
    (void)userdata;
    FILE *f = S.f;
    if (!f) {
        return;
    }
    for (Block *b = S.all; b; b = b->next) {
        if (!b->seen) {
            continue;
        }
        fprintf(f, "B %u 0x%llx 0x%llx %u %u %s\n", b->id, (unsigned long long)b->pc,
                (unsigned long long)b->end, b->n_insns, b->role, b->symbol[0] ? b->symbol : "?");
        for (uint32_t i = 0; i < b->n_insns; i++) {
            const Insn *in = &b->insns[i];
            fprintf(f, "I 0x%llx %u %s\n", (unsigned long long)in->addr, in->size, in->disas);
        }
    }
    fprintf(f, "ML-MEMTRACE 2 done=%d phases=%u\n", S.done ? 1 : 0, S.phase);
    fclose(f);
    S.f = NULL;
}

static bool range_arg(const char *v, uint64_t *lo, uint64_t *hi)
{
    unsigned long long a, b;
    if (sscanf(v, "%llx:%llx", &a, &b) != 2 || b < a) {
        return false;
    }
    *lo = a;
    *hi = b;
    return true;
}

int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    (void)info;
    S.start = "";
    S.stop = "";
    S.fetch_bytes = 8;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = strchr(a, '=');
        if (!v) {
            fprintf(stderr, "ml_memtrace: argument '%s' is not key=value\n", a);
            return 1;
        }
        v++;
        bool ok = true;
        if (!strncmp(a, "out=", 4)) {
            S.out = v;
        } else if (!strncmp(a, "start=", 6)) {
            S.start = v;
        } else if (!strncmp(a, "stop=", 5)) {
            S.stop = v;
        } else if (!strncmp(a, "mark=", 5)) {
            S.mark = v;
        } else if (!strncmp(a, "flash=", 6)) {
            ok = range_arg(v, &S.flash_lo, &S.flash_hi);
        } else if (!strncmp(a, "sram_alias=", 11)) {
            ok = range_arg(v, &S.alias_lo, &S.alias_hi);
        } else if (!strncmp(a, "icache=", 7)) {
            ok = S.has_icache = cache_init(&S.icache, v);
        } else if (!strncmp(a, "dcache=", 7)) {
            ok = S.has_dcache = cache_init(&S.dcache, v);
        } else if (!strncmp(a, "unified=", 8)) {
            S.unified = atoi(v) != 0;
        } else if (!strncmp(a, "fetch=", 6)) {
            S.fetch_bytes = (uint32_t)strtoul(v, NULL, 10);
            ok = S.fetch_bytes > 0;
        } else if (!strncmp(a, "prefetch=", 9)) {
            S.prefetch = atoi(v) != 0;
        } else if (!strncmp(a, "ws=", 3)) {
            S.ws = (uint32_t)strtoul(v, NULL, 10);
            S.model = true;
        } else {
            ok = false;
        }
        if (!ok) {
            fprintf(stderr, "ml_memtrace: bad argument '%s'\n", a);
            return 1;
        }
    }
    if (!S.out || !S.start[0] || !S.stop[0] || (S.unified && !S.has_dcache)) {
        fprintf(stderr, "ml_memtrace: needs out=, start= and stop= (and dcache= when unified=1)\n");
        return 1;
    }
    S.fetch_cache = S.unified ? &S.dcache : S.has_icache ? &S.icache : NULL;
    if (S.fetch_cache) {
        S.fetch_bytes = S.fetch_cache->sector_bytes;
    }
    S.last_unit = UINT64_MAX - 1;
    S.f = fopen(S.out, "w");
    if (!S.f) {
        fprintf(stderr, "ml_memtrace: cannot write %s\n", S.out);
        return 1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_exit, NULL);
    return 0;
}
