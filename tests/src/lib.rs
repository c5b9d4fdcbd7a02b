//! Placeholder: the cross-runtime suite arrives with issue 3.
