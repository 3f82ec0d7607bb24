//! The executor-agnostic core of [stage]: [mailboxes](mod@mailbox) that survive
//! their consumers, the [runtime seam](runtime) that says what supervision
//! needs from an executor, and self-healing task [groups](group) built on
//! them.
//!
//! This crate depends on no executor. Most users reach it through the `stage`
//! crate, which binds it to tokio.
//!
//! [stage]: https://docs.rs/stage

#![warn(missing_docs)]

// Groups run on an executor and are tested on two of them; loom models
// cover the lock-free mailbox only, so loom builds leave groups out.
#[cfg(not(loom))]
pub mod actor;
#[cfg(not(loom))]
pub mod group;
// Public (hidden) in loom builds only, for its models in loom-tests.
#[cfg(loom)]
#[doc(hidden)]
pub mod answer;
#[cfg(not(loom))]
mod answer;
pub mod mailbox;
pub mod runtime;
// Public (hidden) in loom builds only, for its model in loom-tests.
#[cfg(loom)]
#[doc(hidden)]
pub mod signal;
#[cfg(not(loom))]
mod signal;
#[cfg(not(loom))]
pub mod supervisor;
mod sync;

pub use mailbox::mailbox;
