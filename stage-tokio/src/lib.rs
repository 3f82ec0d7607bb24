//! The tokio adapter of stage.
//!
//! stage's core (`stage-core`) knows no executor. This crate binds it to
//! tokio: spawning, panic capture through `JoinError`, abort handles and
//! `tokio::time` (so that a paused clock drives supervision in tests). Its
//! runtime seam lands with task groups; the mailbox needs no adapter, as it
//! works on any executor.

#![warn(missing_docs)]
