/* demo.h - the demo guest's crash mode (crash.c). */
#ifndef HALTPOINT_DEMO_H
#define HALTPOINT_DEMO_H

/* True when the kernel command line (/chosen/bootargs) has the word "panic". */
int demo_crash_mode(u64 dtb);
/* Registers a vmcoreinfo note through fw_cfg and panics through pvpanic;
 * returns only if the panic action lets the guest go on (0) or a device is
 * missing (non-zero). */
int demo_crash(u64 dtb);

#endif
