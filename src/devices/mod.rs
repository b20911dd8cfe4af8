//! Devices of the `virt` board (being written).
