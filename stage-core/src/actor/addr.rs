//! An actor's address: how everyone else reaches it.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::behaviour::Actor;
use super::cell::{Cell, Clock};
use super::error::{ActorExit, AskError};
use super::reply::{reply, Answer, Reply};
use crate::group::deadline;
use crate::mailbox::{self, SendError, Stats, TrySendError};
use crate::sync::Arc;

/// The address of an actor: cloneable, and valid across its restarts (it
/// points at the actor's mailbox, not at one incarnation).
///
/// [`tell`](Addr::tell) sends a message and waits only for room in the
/// mailbox; [`ask`](Addr::ask) sends a request and waits for its answer,
/// within a time limit. [`stop`](Addr::stop) and [`kill`](Addr::kill) do
/// not queue behind the messages in the mailbox.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use stage::actor::{Actor, Addr, Context, Reply};
///
/// struct Doubler;
/// impl Actor for Doubler {
///     type Msg = (u64, Reply<u64>);
///     async fn handle(&mut self, (n, reply): Self::Msg, _: &mut Context<Self>) {
///         reply.send(2 * n);
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (doubler, child): (Addr<Doubler>, _) = stage::actor("doubler", || Doubler).child();
/// let tree = stage::supervisor().child(child).spawn();
///
/// let other = doubler.clone();
/// let n = tokio::spawn(async move { other.ask(|r| (21, r), Duration::from_secs(1)).await });
/// assert_eq!(n.await.unwrap(), Ok(42));
/// tree.stop().await.unwrap();
/// # }
/// ```
pub struct Addr<A: Actor> {
    pub(crate) cell: Arc<Cell<A>>,
}

impl<A: Actor> Addr<A> {
    /// Sends a message, waiting while the mailbox is full (backpressure).
    /// Fails, handing the message back, only if the actor has stopped for
    /// good.
    ///
    /// The message waits in the mailbox while the actor restarts: a tell
    /// to a crashed actor is handled by its next incarnation.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a tell dropped before it completes has not sent its
    /// message (it is dropped with the future).
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::actor::{Actor, Context};
    ///
    /// struct Sink;
    /// impl Actor for Sink {
    ///     type Msg = u32;
    ///     async fn handle(&mut self, _: u32, _: &mut Context<Self>) {}
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (sink, child) = stage::actor("sink", || Sink).child();
    /// let tree = stage::supervisor().child(child).spawn();
    /// sink.tell(1).await.unwrap();
    /// sink.stop();
    /// assert_eq!(sink.tell(2).await.unwrap_err().into_inner(), 2);
    /// tree.stop().await.unwrap();
    /// # }
    /// ```
    pub async fn tell(&self, msg: A::Msg) -> Result<(), SendError<A::Msg>> {
        self.cell.tx.send(msg).await
    }

    /// Sends a message if the mailbox has room now; otherwise hands it
    /// back: [`TrySendError::Full`], or [`TrySendError::Closed`] once the
    /// actor has stopped for good.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::actor::{Actor, Context};
    ///
    /// struct Sink;
    /// impl Actor for Sink {
    ///     type Msg = u32;
    ///     async fn handle(&mut self, _: u32, _: &mut Context<Self>) {}
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (sink, _child) = stage::actor("sink", || Sink).capacity(1).child();
    /// sink.try_tell(1).unwrap(); // nobody runs the actor: the mailbox fills
    /// assert!(sink.try_tell(2).unwrap_err().is_full());
    /// # }
    /// ```
    pub fn try_tell(&self, msg: A::Msg) -> Result<(), TrySendError<A::Msg>> {
        self.cell.tx.try_send(msg)
    }

    /// Sends a request made by `request` around a new [`Reply`] port, and
    /// waits for the answer, at most `timeout` (waiting for room in the
    /// mailbox included). [`Duration::MAX`] waits as long as it takes.
    ///
    /// The error says why there is no answer: the actor crashed on this
    /// request (with the panic's message and the attempts), dead-lettered
    /// it, stopped before handling it, dropped the port unanswered, or the
    /// time ran out ([`AskError`]). A request queued behind a crash waits
    /// for the next incarnation; one the actor redelivers is answered by
    /// the attempt that succeeds.
    ///
    /// The time limit sleeps on the asker's runtime. Asked from a thread
    /// outside any runtime, it sleeps on the runtime the actor was built on
    /// (on tokio: `stage::runtime::Tokio::current_or_here`); an
    /// actor built outside any runtime, or whose runtime has shut down,
    /// cannot time an ask from such a thread (tokio panics: it has no timer
    /// there): ask from a task, or with [`Duration::MAX`]. Its timer fires
    /// only while that runtime runs (worker threads, or a `block_on` in
    /// progress): a current_thread runtime nobody drives times nothing out,
    /// as it runs no actor either.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe in that nothing is lost but the answer: dropped before
    /// the request is in the mailbox, it is not sent; dropped after, the
    /// actor still handles it, and its answer is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use stage::actor::{Actor, AskError, Context, Reply};
    ///
    /// struct Divider;
    /// enum Msg {
    ///     Div(u32, u32, Reply<u32>),
    /// }
    /// impl Actor for Divider {
    ///     type Msg = Msg;
    ///     async fn handle(&mut self, Msg::Div(a, b, reply): Msg, _: &mut Context<Self>) {
    ///         reply.send(a / b); // panics when b is 0
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (divider, child) = stage::actor("divider", || Divider).child();
    /// let tree = stage::supervisor().child(child).spawn();
    /// let second = Duration::from_secs(1);
    ///
    /// assert_eq!(divider.ask(|r| Msg::Div(6, 3, r), second).await, Ok(2));
    /// let crashed = divider.ask(|r| Msg::Div(1, 0, r), second).await;
    /// assert!(matches!(crashed, Err(AskError::Crashed { attempts: 1, .. })));
    /// // Restarted, at the same address:
    /// assert_eq!(divider.ask(|r| Msg::Div(9, 3, r), second).await, Ok(3));
    /// tree.stop().await.unwrap();
    /// # }
    /// ```
    pub fn ask<T: Send + 'static>(
        &self,
        request: impl FnOnce(Reply<T>) -> A::Msg,
        timeout: Duration,
    ) -> impl Future<Output = Result<T, AskError>> + Send + '_ {
        let (port, answer) = reply();
        Asking {
            send: Some(self.cell.tx.send(request(port))),
            answer,
            timer: if timeout >= deadline::NEVER {
                Timer::Never // no clock to read
            } else {
                Timer::Unset(&*self.cell.clock, timeout)
            },
            timeout,
        }
    }

    /// Asks the actor to stop for good. The message it is handling is
    /// finished; no other is handled after it. Those queued are dropped,
    /// and their asks fail with [`AskError::Stopped`]; later tells and
    /// asks fail at once. Then [`Actor::stopped`] runs, and the actor ends:
    /// its supervisor does not restart it. This does not wait: see
    /// [`stopped`](Addr::stopped).
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::actor::{Actor, ActorExit, Context};
    ///
    /// struct Idle;
    /// impl Actor for Idle {
    ///     type Msg = ();
    ///     async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (idle, child) = stage::actor("idle", || Idle).child();
    /// let tree = stage::supervisor().child(child).spawn();
    /// idle.stop();
    /// assert_eq!(idle.stopped().await, ActorExit::Stopped);
    /// tree.stop().await.unwrap();
    /// # }
    /// ```
    pub fn stop(&self) {
        self.cell.stop();
    }

    /// Kills the running incarnation where it is: the message it handles
    /// is abandoned (or, if the actor redelivers, put back for another
    /// attempt), [`Actor::stopped`] does not run, and its supervisor sees
    /// a failure ([`ChildExit::Killed`](crate::supervisor::ChildExit::Killed)),
    /// restarting it as its restart type, strategy and intensity say.
    /// Returns `false` if no incarnation was running.
    ///
    /// A handler busy without awaiting is killed at its next `.await`.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::actor::{Actor, Context};
    ///
    /// struct Stuck;
    /// impl Actor for Stuck {
    ///     type Msg = ();
    ///     async fn handle(&mut self, _: (), _: &mut Context<Self>) {
    ///         std::future::pending::<()>().await; // never done
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (stuck, child) = stage::actor("stuck", || Stuck).child();
    /// let tree = stage::supervisor().child(child).spawn();
    /// tree.ready().await.unwrap();
    /// stuck.tell(()).await.unwrap();
    /// assert!(stuck.kill());
    /// tree.stop().await.unwrap();
    /// # }
    /// ```
    pub fn kill(&self) -> bool {
        self.cell.kill()
    }

    /// Waits until the actor has ended for good, and says how (OTP's
    /// monitor): stopped on request, failed without a restart, or its
    /// supervisor ended.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only watches.
    ///
    /// # Examples
    ///
    /// See [`stop`](Addr::stop).
    pub async fn stopped(&self) -> ActorExit {
        self.cell.ended().await
    }

    /// How the actor ended for good, if it has.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::actor::{Actor, ActorExit, Context};
    ///
    /// struct Idle;
    /// impl Actor for Idle {
    ///     type Msg = ();
    ///     async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    /// }
    ///
    /// let (idle, child) = stage::actor("idle", || Idle).child();
    /// assert_eq!(idle.exit(), None);
    /// drop(child); // its supervisor would have ended
    /// assert_eq!(idle.exit(), Some(ActorExit::Shutdown));
    /// ```
    pub fn exit(&self) -> Option<ActorExit> {
        self.cell.exit()
    }

    /// The actor's name.
    ///
    /// # Examples
    ///
    /// ```
    /// # use stage::actor::{Actor, Context};
    /// # struct Idle;
    /// # impl Actor for Idle {
    /// #     type Msg = ();
    /// #     async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    /// # }
    /// let (idle, _child) = stage::actor("idle", || Idle).child();
    /// assert_eq!(idle.name(), "idle");
    /// ```
    pub fn name(&self) -> &str {
        &self.cell.name
    }

    /// How many messages wait in the actor's mailbox.
    ///
    /// # Examples
    ///
    /// ```
    /// # use stage::actor::{Actor, Context};
    /// # struct Idle;
    /// # impl Actor for Idle {
    /// #     type Msg = ();
    /// #     async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    /// # }
    /// let (idle, _child) = stage::actor("idle", || Idle).child();
    /// idle.try_tell(()).unwrap();
    /// assert_eq!(idle.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.cell.tx.len()
    }

    /// Whether the actor's mailbox is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// # use stage::actor::{Actor, Context};
    /// # struct Idle;
    /// # impl Actor for Idle {
    /// #     type Msg = ();
    /// #     async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    /// # }
    /// let (idle, _child) = stage::actor("idle", || Idle).child();
    /// assert!(idle.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.cell.tx.is_empty()
    }

    /// The mailbox's statistics: how many messages were put back for
    /// another attempt, and how many became dead letters.
    ///
    /// # Examples
    ///
    /// ```
    /// # use stage::actor::{Actor, Context};
    /// # struct Idle;
    /// # impl Actor for Idle {
    /// #     type Msg = ();
    /// #     async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    /// # }
    /// let (idle, _child) = stage::actor("idle", || Idle).child();
    /// assert_eq!(idle.mailbox_stats().dead_letters, 0);
    /// ```
    pub fn mailbox_stats(&self) -> Stats {
        self.cell.tx.stats()
    }
}

/// Two addresses are equal if they reach the same actor.
///
/// # Examples
///
/// ```
/// # use stage::actor::{Actor, Context};
/// # struct Idle;
/// # impl Actor for Idle {
/// #     type Msg = ();
/// #     async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
/// # }
/// let (a, _child) = stage::actor("a", || Idle).child();
/// let (b, _other) = stage::actor("a", || Idle).child();
/// assert_eq!(a, a.clone());
/// assert_ne!(a, b); // the same name, another actor
/// ```
impl<A: Actor> PartialEq for Addr<A> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.cell, &other.cell)
    }
}

impl<A: Actor> Eq for Addr<A> {}

impl<A: Actor> core::hash::Hash for Addr<A> {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        core::ptr::hash(Arc::as_ptr(&self.cell), state);
    }
}

// An address is a handle: what it reaches is behind locks that recover
// from poisoning, and a panic while holding one leaves nothing half-done
// that another caller could see.
impl<A: Actor> std::panic::UnwindSafe for Addr<A> {}
impl<A: Actor> std::panic::RefUnwindSafe for Addr<A> {}

impl<A: Actor> Clone for Addr<A> {
    fn clone(&self) -> Self {
        Self {
            cell: Arc::clone(&self.cell),
        }
    }
}

impl<A: Actor> fmt::Debug for Addr<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Addr")
            .field("name", &self.name())
            .field("len", &self.len())
            .field("exit", &self.exit())
            .finish()
    }
}

/// An ask in flight: the request on its way into the mailbox, then the
/// answer awaited, both under the time limit. One future, not a `select`
/// of nested ones: an ask is the hot path of a request/reply actor.
struct Asking<'a, M, T> {
    /// `None` once the request is in the mailbox.
    send: Option<mailbox::Send<'a, M>>,
    answer: Answer<T>,
    timer: Timer<'a>,
    timeout: Duration,
}

/// The time limit of an ask, started at its first wait.
enum Timer<'a> {
    Never,
    Unset(&'a dyn Clock, Duration),
    Set {
        clock: &'a dyn Clock,
        at: Instant,
        sleep: Pin<Box<dyn Future<Output = ()> + Send>>,
    },
}

impl Timer<'_> {
    /// Whether the time is up; if not, the task is woken when it is.
    #[inline]
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        if let Self::Never = self {
            return false; // the common case, without the call below
        }
        self.expired_slow(cx)
    }

    fn expired_slow(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            match self {
                Self::Never => return false,
                Self::Unset(clock, timeout) => {
                    let clock = *clock;
                    match deadline::after(clock.now(), *timeout) {
                        None => *self = Self::Never,
                        Some(at) => {
                            *self = Self::Set {
                                clock,
                                at,
                                sleep: clock.sleep_until(at),
                            }
                        }
                    }
                }
                Self::Set { clock, at, sleep } => {
                    if sleep.as_mut().poll(cx).is_pending() {
                        return false;
                    }
                    // A runtime may end a sleep early: the clock says.
                    if clock.now() >= *at {
                        return true;
                    }
                    *sleep = clock.sleep_until(*at);
                }
            }
        }
    }
}

impl<M, T> Future for Asking<'_, M, T> {
    type Output = Result<T, AskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Some(send) = &mut this.send {
            match Pin::new(send).poll(cx) {
                Poll::Ready(Ok(())) => this.send = None,
                Poll::Ready(Err(SendError(message))) => {
                    drop(message);
                    return Poll::Ready(Err(AskError::Stopped));
                }
                Poll::Pending => return this.expired(cx),
            }
        }
        if let Poll::Ready(answered) = Pin::new(&mut this.answer).poll(cx) {
            return Poll::Ready(answered);
        }
        this.expired(cx)
    }
}

impl<M, T> Asking<'_, M, T> {
    /// `Pending`, or the time-out once the time is up.
    fn expired(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, AskError>> {
        if self.timer.expired(cx) {
            Poll::Ready(Err(AskError::TimedOut(self.timeout)))
        } else {
            Poll::Pending
        }
    }
}
