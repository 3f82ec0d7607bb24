//! Loom models of stage live in `tests/`; this library is empty.
