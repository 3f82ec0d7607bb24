//! The guarded receive of stage's mailbox over a Redis Streams consumer
//! group: at-least-once delivery that survives the crash of a whole
//! process, not only of a task. Reached as `stage::redis` with the `stage`
//! crate's `redis` feature.
//!
//! The in-process [mailbox](mod@stage_core::mailbox) keeps a message whose
//! handler crashed, but not across the death of its process. When a
//! service outgrows one process, its mailbox can move into Redis: a
//! [`Sender`] adds each message to a stream (`XADD`), and a [`Receiver`] is
//! a consumer of a consumer group, with the mailbox's receive API. The code
//! of the group that consumes it does not change:
//!
//! ```no_run
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // In one process: the mailbox.
//! let (orders, inbox) = stage::mailbox::<u32>(64);
//! # drop(orders);
//!
//! // Across processes: the same receive, from Redis.
//! let stream = stage::redis::Stream::open("redis://127.0.0.1/", "orders")?;
//! let orders = stream.sender::<u32>().connect().await?;
//! let inbox = stream.receiver::<u32>("billing", "worker-1").connect().await?;
//!
//! // Either way, the same group:
//! let group = stage::group().tasks(4).spawn(move || {
//!     let inbox = inbox.clone();
//!     async move {
//!         loop {
//!             let order = inbox.recv_guarded().await;
//!             order
//!                 .process(async |id: &mut u32| {
//!                     println!("order {id}"); // a panic here puts it back
//!                 })
//!                 .await;
//!         }
//!     }
//! });
//! orders.send(7).await?;
//! # group.stop().await?;
//! # Ok(())
//! # }
//! ```
//!
//! The receive calls and the handler code carry over; the mailbox's pool
//! helpers (`group().consume`, `Worker::serve`, `Child::pool`) take an
//! in-process receiver, so a group fed from Redis loops over
//! `recv_guarded` itself, as above.
//!
//! # Shutting down
//!
//! Stop the consumers first (the group), so that no delivery is in flight;
//! then [`close`](Receiver::close) the receiver, which stops reading; then
//! [`flush`](Receiver::flush), which waits until the acknowledgements are
//! written. Entries read ahead and not handed out stay pending for the
//! consumer's name: taken back at once by the next start under that name,
//! claimed by the group's other consumers after the claim time.
//!
//! ```no_run
//! # async fn run(group: stage::group::Group, inbox: stage::redis::Receiver<u32>) {
//! group.shutdown(std::time::Duration::from_secs(5)).await.ok();
//! inbox.close();
//! inbox.flush().await; // before the process exits
//! # }
//! ```
//!
//! # What it guarantees
//!
//! - **At least once, across process deaths.** An entry stays pending in
//!   Redis until its [`Delivery`] is acknowledged (`XACK`; the stream is
//!   trimmed, a batch at a time, below the oldest entry that any consumer
//!   group still needs, so it stays short and several groups can share
//!   it). A
//!   delivery dropped unacknowledged (a panic, an abort) is handed out
//!   again, first, by this process. Entries left pending by a consumer whose
//!   process died are claimed by the live consumers once idle for the
//!   [claim time](ReceiverBuilder::claim_after) (`XAUTOCLAIM`), with the
//!   delivery counts Redis kept; a process that starts again under the same
//!   consumer name takes back its own at once.
//! - **Dead letters.** After [`max_attempts`](ReceiverBuilder::max_attempts)
//!   deliveries an entry goes to a dead-letter stream, with its attempts and
//!   the last panic message, and is acknowledged. So does an entry that
//!   does not decode: a bad message is not a crash.
//! - **Batches.** A receiver reads entries ahead in batches, and writes
//!   acknowledgements in batches (a group commit: while one batch travels,
//!   the next gathers), so that a round trip is not paid per message.
//! - **Backpressure.** A sender with [`max_len`](SenderBuilder::max_len)
//!   waits while that many entries are not yet acknowledged (by the group
//!   furthest behind); it never trims an unread one.
//! - **Faults of the connection.** A lost connection or a Redis restart is
//!   retried with a growing pause, counted in the stats and logged through
//!   `tracing`: never a panic, a busy loop, or a lost acknowledged message
//!   (with a server that persists its writes).
//!
//! # Where Redis does not allow the mailbox's guarantees
//!
//! - An acknowledgement is written after the handler returns, in the next
//!   batch: a process killed in between has its entry handled again
//!   elsewhere. [`Receiver::flush`] waits for the writes, before a planned
//!   exit. To make a handler's effect and its acknowledgement one, write the
//!   effect to Redis idempotently (keyed by [`Delivery::id`]).
//! - Redis counts a delivery when an entry is read, so entries read ahead by
//!   a process that dies count an attempt each though no handler ran.
//! - A send retried after its connection failed may add its message twice.
//! - A consumer group deleted while its consumers run (`XGROUP DESTROY`, a
//!   stream deleted, a server restarted without its data) is made again
//!   from the stream's start: what is still in the stream (kept for another
//!   group, say) is delivered again rather than skipped.
//! - One receiver per consumer name in a process (clone it to share it);
//!   across processes, each needs a name of its own.
//! - Order: see [`Receiver`].
//!
//! # Format
//!
//! An entry holds one field, `m`, the message encoded by the [`Codec`]:
//! JSON through serde by default ([`Json`] says why); pluggable.

mod codec;
mod delivery;
mod error;
mod fetch;
mod link;
mod panics;
mod receiver;
mod reply;
mod scripts;
mod sender;
mod server;
mod shared;
mod stats;
mod stream;
mod write;

pub use codec::{Codec, CodecError, Json};
pub use delivery::Delivery;
pub use error::{ConnectError, SendError};
pub use receiver::{
    Receiver, ReceiverBuilder, DEFAULT_BATCH, DEFAULT_CLAIM_AFTER, DEFAULT_MAX_ATTEMPTS,
    MIN_CLAIM_AFTER,
};
pub use sender::{Sender, SenderBuilder, SenderStats};
pub use server::LocalServer;
pub use stats::Stats;
pub use stream::Stream;

/// The errors of the receive calls, the in-process mailbox's own.
pub use stage_core::mailbox::{RecvError, TryRecvError};

/// The `redis` crate this is built on (its client, for
/// [`Stream::new`], and its commands, to read a dead-letter stream),
/// re-exported so that its version matches.
pub use redis;
