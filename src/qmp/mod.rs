//! The QMP server: QEMU's machine protocol, to the letter.
//!
//! - [`json`]: QEMU's JSON lexer, streamer, parser and writer (errors, quirks, limits).
//! - [`schema`]: the type language of the command table, argument checking with QEMU's
//!   texts, `query-qmp-schema`, and the generated reference.
//! - [`commands`]: the one table of commands and events, and the commands.
//! - [`hmp`]: the human-monitor subset behind `human-monitor-command`.
//! - [`fds`]: the descriptors a client passes with SCM_RIGHTS (`getfd`, `closefd`,
//!   `dump-guest-memory` `fd:NAME`).
//! - [`server`]: sockets, clients, negotiation, dispatch, event broadcast with QEMU's rate
//!   limits, all on the event loop's mio registry; unix-socket clients may pass
//!   descriptors.

pub mod commands;
pub mod fds;
pub mod hmp;
pub mod json;
pub mod schema;
pub mod server;

/// An I/O error as C's `strerror` spells it (QEMU's messages embed that text).
pub fn os_error_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    // Rust appends " (os error N)".
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
