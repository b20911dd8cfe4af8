//! The GDB remote-protocol server, on the `gdbstub` crate.
//!
//! One file per concern: [`arch`] (registers and the target description), [`target`]
//! (threads = harts, registers, memory, resume), [`breakpoints`], [`monitor`]
//! (`monitor` commands), [`conn`] (the socket side and packet framing) and [`server`]
//! (the listener and the state machine driven by the event loop). Everything is an
//! adapter over the machine's debug API, [`crate::machine::debug`].

pub mod arch;
pub mod breakpoints;
pub mod conn;
pub mod monitor;
pub mod server;
pub mod target;
