//! stage: fault tolerance for async Rust on tokio.
//!
//! Tasks that heal themselves, mailboxes that survive their consumers,
//! supervision trees and actors — taken in three degrees, from a drop-in for
//! `tokio::spawn` to a full actor system. See the README for the tour.
//!
//! This crate binds the executor-agnostic [`stage_core`] to tokio.
//!
//! # Examples
//!
//! A mailbox keeps its messages when a consumer dies:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let (tx, rx) = stage::mailbox(16);
//!
//! let consumer = tokio::spawn({
//!     let rx = rx.clone();
//!     async move {
//!         let _m: u32 = rx.recv().await;
//!         panic!("the consumer crashed");
//!     }
//! });
//! tx.send(1).await.unwrap();
//! tx.send(2).await.unwrap();
//! assert!(consumer.await.unwrap_err().is_panic());
//!
//! // The mailbox is still open, and the second message is still there.
//! tx.send(3).await.unwrap();
//! assert_eq!(rx.recv().await, 2);
//! assert_eq!(rx.recv().await, 3);
//! # }
//! ```

#![warn(missing_docs)]

pub use stage_core::mailbox;

// Every code block of the README compiles and runs as a doc test.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// The names most stage programs use: `use stage::prelude::*;`.
///
/// # Examples
///
/// ```
/// use stage::prelude::*;
///
/// fn consumer_count<T>(rx: &Receiver<T>) -> usize {
///     rx.len()
/// }
/// # let (_tx, rx) = stage::mailbox::<()>(1);
/// # assert_eq!(consumer_count(&rx), 0);
/// ```
pub mod prelude {
    pub use crate::mailbox::{Receiver, Sender};
}
