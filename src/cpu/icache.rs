//! icache
