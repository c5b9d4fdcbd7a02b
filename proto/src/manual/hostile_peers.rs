//! The catalogue of hostile peers (being written).
