/* C interface to common/runtime.S for the haltpoint guest programs. */
#ifndef HALTPOINT_GUEST_RUNTIME_H
#define HALTPOINT_GUEST_RUNTIME_H

#include "csr.h"

typedef unsigned long u64;
typedef long i64;
typedef unsigned int u32;

void uart_putc(int c);
void uart_puts(const char *s);
void uart_puthex(u64 v);
void uart_putdec(u64 v);
void group_start(const char *name);
void group_end(void);
__attribute__((noreturn)) void pass(void);
__attribute__((noreturn)) void fail(u64 code);
__attribute__((noreturn)) void check_failed(u64 n, u64 got, u64 expected);
__attribute__((noreturn)) void test_done(u64 nchecks, const char *name);

/* trap bookkeeping (see runtime.S) */
extern volatile u64 trap_cause, trap_epc, trap_tval, trap_status, trap_count;
extern volatile u64 trap_level, trap_recover, trap_to_m;
extern volatile u64 strap_cause, strap_epc, strap_tval, strap_status, strap_count;
extern volatile u64 strap_recover;
/* hook(frame, cause): frame[i] = saved x[i]; return non-zero if handled */
typedef u64 (*trap_hook_fn)(u64 *frame, u64 cause);
extern volatile trap_hook_fn trap_hook, strap_hook;

/* Checks are numbered at run time in execution order. */
extern u64 check_no;
#define CHECK(got, expected) do {                                  \
        u64 _g = (u64)(got), _e = (u64)(expected);                 \
        ++check_no;                                                \
        if (_g != _e) check_failed(check_no, _g, _e);              \
    } while (0)

#define csr_read(csr) ({ u64 _v; __asm__ volatile("csrr %0, " #csr : "=r"(_v)); _v; })
#define csr_write(csr, v) __asm__ volatile("csrw " #csr ", %0" :: "r"((u64)(v)) : "memory")
#define csr_set(csr, v) __asm__ volatile("csrs " #csr ", %0" :: "r"((u64)(v)) : "memory")
#define csr_clear(csr, v) __asm__ volatile("csrc " #csr ", %0" :: "r"((u64)(v)) : "memory")

static inline u64 mmio_read64(u64 a) { return *(volatile u64 *)a; }
static inline void mmio_write64(u64 a, u64 v) { *(volatile u64 *)a = v; }
static inline u32 mmio_read32(u64 a) { return *(volatile u32 *)a; }
static inline void mmio_write32(u64 a, u32 v) { *(volatile u32 *)a = v; }

#endif
