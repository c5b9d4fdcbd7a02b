//! Performance notes (being written).
