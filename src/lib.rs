//! haltpoint: a full-system RISC-V 64 emulator built for debugging.
//!
//! The crate is organised one module per concern:
//! - [`cpu`]: the RV64GC interpreter (decode, execute, CSRs, traps, MMU, FPU).
//! - [`bus`]: guest RAM, the MMIO device trait and the bus that routes accesses.
//! - [`irq`]: interrupt state owned by the machine (CLINT/PLIC outputs per hart).
//! - [`devstate`]: the device-state file (QEVM v3): all machine state but RAM.
//! - [`devices`]: the board's devices, each offset-relative behind the bus.
//! - [`machine`]: the `virt` board: memory map, device tree, loaders, run loop.
//! - [`cli`]: QEMU-compatible command-line parsing.
//! - [`dump`]: `dump-guest-memory`: ELF core and kdump-compressed dump writers.
//! - [`gdb`]: the GDB remote-protocol server (an adapter over `machine::debug`).
//! - [`disasm`]: capstone-backed disassembly for traces and monitors.
//! - [`logging`]: QEMU-style `-d` log categories.
//! - [`runstate`]: QEMU's run-state machine, actions and event queue, shared by gdb and QMP.
//! - [`qmp`]: the QMP server (QEMU's machine protocol).
//! - [`net`]: listening sockets (TCP, unix with mode 0600) for the servers.
//! - [`symbols`]: kernel symbols for panic detection.
//! - [`runner`]: the event loop that drives the machine and the servers.

pub mod bus;
pub mod cli;
pub mod clock;
pub mod console;
pub mod cpu;
pub mod devices;
pub mod devstate;
pub mod disasm;
pub mod dump;
pub mod gdb;
pub mod irq;
pub mod logging;
pub mod machine;
pub mod net;
pub mod qmp;
pub mod runner;
pub mod runstate;
pub mod symbols;
pub mod watch;
