//! The `virt` board (being written).
pub mod layout;
