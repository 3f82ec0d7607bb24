//! What an actor is: the [`Actor`] trait, and what a restarted actor
//! learns of the incarnation before it ([`Restarted`]).

use core::fmt;
use core::future::Future;

use super::context::Context;

/// An actor: state (`self`) that one task owns, changed only by the
/// messages it handles, one at a time.
///
/// # One message type, typed replies
///
/// An actor has one message type, usually an enum; a request that wants an
/// answer carries a [`Reply`](super::Reply) port for it, typed by the
/// variant (`Get(Reply<u64>)`). The handler is one `match`, which the
/// compiler checks is exhaustive. This is the design of ractor, and of
/// hand-written tokio actors; actix and kameo instead implement a
/// `Handler<M>` per message type, which boxes every message into a
/// trait object. One enum costs no allocation per message and no dynamic
/// call, so a tell is a mailbox send; it is also what makes
/// [redelivery](super::Builder::redeliver) possible: the mailbox can keep a
/// copy of a plain value, not of a boxed closure.
///
/// # Lifecycle
///
/// The state is made by the factory given to [`stage::actor`] at every
/// start of the actor, its *incarnations*:
///
/// 1. [`restarted`](Actor::restarted), if an incarnation ran before (with
///    why it ended), then [`started`](Actor::started). The actor is
///    *ready* once `started` returns: its supervisor starts the next child
///    only then.
/// 2. [`handle`](Actor::handle), for each message, in the order sent.
/// 3. [`stopped`](Actor::stopped), when the actor is stopped (for good, or
///    by its supervisor) and after a panic in any of the above, on the
///    state the panic left. It does not run when the incarnation is killed
///    ([`Addr::kill`](super::Addr::kill)) or aborted.
///
/// The old incarnation's `stopped` has returned before the new one's
/// state is made. A panic anywhere fails the incarnation; the supervisor
/// restarts it by its restart type, strategy and intensity, with the
/// mailbox, and the messages queued in it, intact.
///
/// The futures are `Send` (actors run on a multi-threaded runtime), and
/// written as `async fn` in the `impl`.
///
/// [`stage::actor`]: https://docs.rs/stage/latest/stage/fn.actor.html
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use stage::actor::{Actor, Context, Reply};
///
/// #[derive(Default)]
/// struct Counter {
///     count: u64,
/// }
///
/// enum CounterMsg {
///     Add(u64),
///     Get(Reply<u64>),
/// }
///
/// impl Actor for Counter {
///     type Msg = CounterMsg;
///
///     async fn handle(&mut self, msg: CounterMsg, _ctx: &mut Context<Self>) {
///         match msg {
///             CounterMsg::Add(n) => self.count += n,
///             CounterMsg::Get(reply) => reply.send(self.count),
///         }
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (counter, child) = stage::actor("counter", Counter::default).child();
/// let tree = stage::supervisor().child(child).spawn();
///
/// counter.tell(CounterMsg::Add(2)).await.unwrap();
/// let count = counter.ask(CounterMsg::Get, Duration::from_secs(1)).await;
/// assert_eq!(count, Ok(2));
/// tree.stop().await.unwrap();
/// # }
/// ```
pub trait Actor: Send + Sized + 'static {
    /// The messages the actor handles.
    type Msg: Send + 'static;

    /// Handles one message. The next is handled once this returns.
    ///
    /// # Examples
    ///
    /// See [`Actor`].
    fn handle(
        &mut self,
        msg: Self::Msg,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = ()> + Send;

    /// Runs when an incarnation starts, before its first message (after
    /// [`restarted`](Actor::restarted) on a restart). The actor counts as
    /// ready once it returns. By default it does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::actor::{Actor, Context};
    ///
    /// struct Db {
    ///     connected: bool,
    /// }
    ///
    /// impl Actor for Db {
    ///     type Msg = ();
    ///     async fn started(&mut self, _ctx: &mut Context<Self>) {
    ///         self.connected = true; // connect here
    ///     }
    ///     async fn handle(&mut self, _msg: (), _ctx: &mut Context<Self>) {}
    /// }
    /// ```
    fn started(&mut self, ctx: &mut Context<Self>) -> impl Future<Output = ()> + Send {
        let _ = ctx;
        async {}
    }

    /// Runs on a new incarnation's fresh state, before
    /// [`started`](Actor::started), when an incarnation ran before it:
    /// `why` says how that one ended. By default it does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::actor::{Actor, Context, Restarted};
    ///
    /// struct Parser {
    ///     strict: bool,
    /// }
    ///
    /// impl Actor for Parser {
    ///     type Msg = String;
    ///     async fn restarted(&mut self, why: &Restarted, _ctx: &mut Context<Self>) {
    ///         // Crashed on a message twice: parse leniently from now on.
    ///         self.strict = why.attempt() < Some(2);
    ///     }
    ///     async fn handle(&mut self, _line: String, _ctx: &mut Context<Self>) {}
    /// }
    /// ```
    fn restarted(
        &mut self,
        why: &Restarted,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = ()> + Send {
        let _ = (why, ctx);
        async {}
    }

    /// Runs when the incarnation ends: stopped (for good, or by its
    /// supervisor), or after a panic, on the state the panic left. Not
    /// when it is killed or aborted. A panic in it is logged and the
    /// incarnation ends as it was going to. By default it does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::actor::{Actor, Context};
    ///
    /// struct Batcher {
    ///     pending: Vec<u32>,
    /// }
    ///
    /// impl Actor for Batcher {
    ///     type Msg = u32;
    ///     async fn handle(&mut self, n: u32, _ctx: &mut Context<Self>) {
    ///         self.pending.push(n);
    ///     }
    ///     async fn stopped(&mut self, _ctx: &mut Context<Self>) {
    ///         let _flushed = std::mem::take(&mut self.pending); // flush here
    ///     }
    /// }
    /// ```
    fn stopped(&mut self, ctx: &mut Context<Self>) -> impl Future<Output = ()> + Send {
        let _ = ctx;
        async {}
    }
}

/// How the incarnation before a restarted one ended: given to
/// [`Actor::restarted`].
///
/// # Examples
///
/// See [`Actor::restarted`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restarted {
    pub(crate) cause: Cause,
    pub(crate) attempt: Option<u32>,
    pub(crate) restarts: u64,
}

/// Why an incarnation ended, as a restarted one learns it.
///
/// # Examples
///
/// ```
/// use stage::actor::Cause;
///
/// let cause = Cause::Panicked(Some("bad input".into()));
/// assert_eq!(cause.to_string(), "panicked: bad input");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cause {
    /// It panicked, with the panic's message if it was a string.
    Panicked(Option<String>),
    /// It was killed ([`Addr::kill`](super::Addr::kill), a supervisor's
    /// `kill_child`) or aborted (a stop past its grace period).
    Killed,
    /// It was stopped by its supervisor (a sibling's failure, or a
    /// `restart_child`), not by a failure of its own.
    Stopped,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Panicked(Some(message)) => write!(f, "panicked: {message}"),
            Self::Panicked(None) => f.write_str("panicked"),
            Self::Killed => f.write_str("killed"),
            Self::Stopped => f.write_str("stopped by its supervisor"),
        }
    }
}

impl Restarted {
    /// Why the previous incarnation ended.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::actor::{Actor, Cause, Context, Restarted};
    ///
    /// struct Worker;
    /// impl Actor for Worker {
    ///     type Msg = ();
    ///     async fn restarted(&mut self, why: &Restarted, _: &mut Context<Self>) {
    ///         if let Cause::Panicked(Some(message)) = why.cause() {
    ///             eprintln!("restarted after a panic: {message}");
    ///         }
    ///     }
    ///     async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    /// }
    /// ```
    pub fn cause(&self) -> &Cause {
        &self.cause
    }

    /// The message of the panic that ended the previous incarnation, if it
    /// panicked with a string.
    ///
    /// # Examples
    ///
    /// See [`Actor::restarted`].
    ///
    /// ```
    /// # use stage::actor::{Actor, Context, Restarted};
    /// # struct Worker;
    /// # impl Actor for Worker {
    /// #     type Msg = ();
    /// async fn restarted(&mut self, why: &Restarted, _: &mut Context<Self>) {
    ///     eprintln!("after: {}", why.panic_message().unwrap_or("no panic"));
    /// }
    /// #     async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    /// # }
    /// ```
    pub fn panic_message(&self) -> Option<&str> {
        match &self.cause {
            Cause::Panicked(message) => message.as_deref(),
            _ => None,
        }
    }

    /// Which delivery of the message the previous incarnation was handling
    /// when it ended was (1 the first time), or `None` if it was between
    /// messages.
    ///
    /// # Examples
    ///
    /// See [`Actor::restarted`].
    ///
    /// ```
    /// # use stage::actor::{Actor, Context, Restarted};
    /// # struct Worker;
    /// # impl Actor for Worker {
    /// #     type Msg = ();
    /// async fn restarted(&mut self, why: &Restarted, _: &mut Context<Self>) {
    ///     if why.attempt() == Some(3) {
    ///         eprintln!("a message crashed us three times");
    ///     }
    /// }
    /// #     async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    /// # }
    /// ```
    pub fn attempt(&self) -> Option<u32> {
        self.attempt
    }

    /// How many times the actor has been restarted, this restart included.
    ///
    /// # Examples
    ///
    /// ```
    /// # use stage::actor::{Actor, Context, Restarted};
    /// # struct Worker;
    /// # impl Actor for Worker {
    /// #     type Msg = ();
    /// async fn restarted(&mut self, why: &Restarted, _: &mut Context<Self>) {
    ///     assert!(why.restarts() >= 1);
    /// }
    /// #     async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    /// # }
    /// ```
    pub fn restarts(&self) -> u64 {
        self.restarts
    }
}
