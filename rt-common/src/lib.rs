//! Placeholder: built in issue 3/6.
