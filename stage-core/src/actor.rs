//! Actors: state owned by one task, changed only by the messages it
//! handles, supervised as a child of a [supervision tree](crate::supervisor).
//!
//! An [`Actor`] is a type whose value is the actor's state, with one
//! message type and an async handler taking `&mut self`. An
//! [`actor::Builder`](Builder) names it and gives the factory of its
//! state; [`Builder::child`] makes it a child of a supervision tree and
//! hands out its [`Addr`]. Through the address, anyone [tells](Addr::tell)
//! it messages and [asks](Addr::ask) it requests, whose answers come back
//! through a typed [`Reply`] port.
//!
//! # Failure
//!
//! A panic in the actor fails its incarnation, and its supervisor restarts
//! it with fresh state from the factory, by its strategy and intensity. The
//! mailbox is not the incarnation's: the address stays valid, and the
//! messages queued behind the crash wait for the next incarnation. The
//! message the actor crashed on is dropped (at most once), or, with
//! [`Builder::redeliver`], handled again first (at least once, up to a
//! number of attempts, then a dead letter). An ask never hangs on a crash:
//! it fails with an [`AskError`] that says what happened to the request.
//!
//! [`Addr::stop`] and [`Addr::kill`] do not queue behind the mailbox.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//!
//! use stage::actor::{Actor, AskError, Context, Reply};
//!
//! #[derive(Default)]
//! struct Account {
//!     balance: u64,
//! }
//!
//! enum Msg {
//!     Deposit(u64),
//!     Withdraw(u64, Reply<u64>),
//! }
//!
//! impl Actor for Account {
//!     type Msg = Msg;
//!
//!     async fn handle(&mut self, msg: Msg, _ctx: &mut Context<Self>) {
//!         match msg {
//!             Msg::Deposit(amount) => self.balance += amount,
//!             Msg::Withdraw(amount, reply) => {
//!                 // Overdrawn: a bug, and a panic. The supervisor restarts
//!                 // the account, and the asker learns why.
//!                 self.balance = self.balance.checked_sub(amount).expect("overdrawn");
//!                 reply.send(self.balance);
//!             }
//!         }
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let (account, child) = stage::actor("account", Account::default).child();
//! let tree = stage::supervisor().child(child).spawn();
//! let second = Duration::from_secs(1);
//!
//! account.tell(Msg::Deposit(10)).await.unwrap();
//! assert_eq!(account.ask(|r| Msg::Withdraw(4, r), second).await, Ok(6));
//! let overdrawn = account.ask(|r| Msg::Withdraw(7, r), second).await;
//! assert!(matches!(overdrawn, Err(AskError::Crashed { .. })));
//! // The same address, a fresh state:
//! account.tell(Msg::Deposit(1)).await.unwrap();
//! assert_eq!(account.ask(|r| Msg::Withdraw(1, r), second).await, Ok(0));
//! tree.stop().await.unwrap();
//! # }
//! ```

mod addr;
mod behaviour;
mod builder;
mod cell;
mod context;
mod error;
mod jobs;
mod name;
mod reply;
mod run;
mod system;

pub use addr::Addr;
pub use behaviour::{Actor, Cause, Restarted};
pub use builder::{Builder, DEFAULT_CAPACITY};
pub use context::Context;
pub use error::{ActorExit, AskError};
pub use jobs::JobId;
pub use reply::Reply;
pub use system::{LookupError, SpawnError, System, SystemHandle};
