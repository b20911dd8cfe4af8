//! Command-line parsing (being written).
