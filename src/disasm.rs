//! Disassembly (being written).
