//! The executor-agnostic core of [stage]: mailboxes that survive their
//! consumers, and (as the project grows) the runtime seam, task groups,
//! supervisors and actors built on it.
//!
//! This crate depends on no executor. Most users reach it through the `stage`
//! crate, which binds it to tokio.
//!
//! [stage]: https://docs.rs/stage

#![warn(missing_docs)]

// Groups run on an executor and are tested on two of them; loom models
// cover the lock-free mailbox only, so loom builds leave groups out.
#[cfg(not(loom))]
pub mod group;
pub mod mailbox;
pub mod runtime;
mod sync;

pub use mailbox::mailbox;
