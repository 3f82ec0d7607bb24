//! The reply port of an [`ask`](super::Addr::ask): a one-shot slot the
//! actor answers through, and the asker's side of it, which learns *why*
//! when no answer comes.
//!
//! A port dropped unanswered resolves the asker with an [`AskError`]. The
//! reason is not the port's to know — a port is a field of the user's
//! message — so the actor's loop says it, for the ports dropped while it
//! drops a message: [`dropping_with`] names the reason for everything
//! dropped inside it, and a port dropped while a handler panics waits in
//! this thread's list of orphans until the loop has caught the panic and
//! knows its message ([`Orphans`]).

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::cell::{Cell, RefCell};

use super::error::AskError;
use crate::answer;
use crate::sync::Arc;

/// Where an answer goes (see `crate::answer`): the value, or the error
/// that says why there is none.
type Slot<T> = answer::Slot<Result<T, AskError>>;

/// The port an actor answers an [`ask`](super::Addr::ask) through: put it
/// in a variant of the actor's message, and [`send`](Reply::send) the
/// answer from the handler.
///
/// A port dropped without an answer is not a hang: the asker gets an
/// [`AskError`] that says why — the actor crashed on the request, stopped
/// before handling it, dead-lettered it, or handled it without answering
/// ([`AskError::Unanswered`]).
///
/// A port is cloned with the message when the actor redelivers messages
/// (the mailbox keeps the original while the handler takes a copy; see
/// [`Builder::redeliver`](super::Builder::redeliver)). Clones share one
/// slot: the first answer is the one the asker gets, and the asker hears
/// of a failure only once every clone is gone unanswered.
///
/// # Examples
///
/// ```
/// use stage::actor::{Actor, Context, Reply};
///
/// struct Greeter;
///
/// enum Msg {
///     Greet(String, Reply<String>),
/// }
///
/// impl Actor for Greeter {
///     type Msg = Msg;
///
///     async fn handle(&mut self, msg: Msg, _ctx: &mut Context<Self>) {
///         match msg {
///             Msg::Greet(name, reply) => reply.send(format!("hello, {name}")),
///         }
///     }
/// }
/// ```
pub struct Reply<T> {
    slot: Arc<Slot<T>>,
    /// Sent: the send counted this port out already.
    sent: bool,
    /// The slot as an [`Orphan`] (made where `T: 'static` is known).
    orphan: fn(Arc<Slot<T>>) -> Arc<dyn Orphan>,
}

/// The asker's side of a [`Reply`]: completes with the answer or the
/// reason there is none.
pub(crate) struct Answer<T> {
    slot: Arc<Slot<T>>,
    /// It completed, and closed the slot then.
    done: bool,
}

/// A port and the answer it will give.
pub(crate) fn reply<T: Send + 'static>() -> (Reply<T>, Answer<T>) {
    let slot = Arc::new(Slot::new());
    (
        Reply {
            slot: Arc::clone(&slot),
            sent: false,
            orphan: erase::<T>,
        },
        Answer { slot, done: false },
    )
}

impl<T> Reply<T> {
    /// Answers the asker. Only the first answer of a port and its clones
    /// counts; if the asker stopped waiting (its time ran out, or it
    /// dropped the ask), the value is dropped (see
    /// [`is_closed`](Reply::is_closed) to know before computing it).
    ///
    /// # Examples
    ///
    /// See [`Reply`].
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use stage::actor::{Actor, Context, Reply};
    ///
    /// struct Echo;
    /// impl Actor for Echo {
    ///     type Msg = (u32, Reply<u32>);
    ///     async fn handle(&mut self, (n, reply): Self::Msg, _: &mut Context<Self>) {
    ///         reply.send(n);
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (echo, child) = stage::actor("echo", || Echo).child();
    /// let tree = stage::supervisor().child(child).spawn();
    /// let n = echo.ask(|reply| (7, reply), Duration::from_secs(1)).await;
    /// assert_eq!(n, Ok(7));
    /// tree.stop().await.unwrap();
    /// # }
    /// ```
    pub fn send(mut self, value: T) {
        // Refused (answered already, or the asker left): dropped here.
        let _refused = self.slot.settle(Ok(value));
        self.slot.drop_port();
        self.sent = true; // its drop has nothing left to do
    }

    /// Whether the asker has stopped waiting: an answer sent now is
    /// dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::actor::{Actor, Context, Reply};
    ///
    /// struct Slow;
    /// impl Actor for Slow {
    ///     type Msg = Reply<u64>;
    ///     async fn handle(&mut self, reply: Reply<u64>, _: &mut Context<Self>) {
    ///         if !reply.is_closed() {
    ///             reply.send(expensive());
    ///         }
    ///     }
    /// }
    /// # fn expensive() -> u64 { 42 }
    /// ```
    pub fn is_closed(&self) -> bool {
        self.slot.is_closed()
    }
}

impl<T> Clone for Reply<T> {
    fn clone(&self) -> Self {
        self.slot.add_port();
        Self {
            slot: Arc::clone(&self.slot),
            sent: false,
            orphan: self.orphan,
        }
    }
}

impl<T> Drop for Reply<T> {
    fn drop(&mut self) {
        if self.sent || !self.slot.drop_port() {
            return; // answered, or another port lives on
        }
        if let Some(reason) = REASON.try_with(|r| r.borrow().clone()).ok().flatten() {
            let _ = self.slot.settle(Err(reason));
        } else if !std::thread::panicking()
            || !Orphans::adopt((self.orphan)(Arc::clone(&self.slot)))
        {
            let _ = self.slot.settle(Err(AskError::Unanswered));
        }
    }
}

impl<T> fmt::Debug for Reply<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply")
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl<T> Future for Answer<T> {
    type Output = Result<T, AskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let answered = self.slot.poll(cx);
        // Answered: the slot closed itself (a later answer is refused), and
        // the drop has nothing left to do.
        self.done = answered.is_ready();
        answered
    }
}

impl<T> Drop for Answer<T> {
    fn drop(&mut self) {
        if !self.done {
            self.slot.close();
        }
    }
}

/// A slot with its type erased: settled with an error later.
trait Orphan {
    fn fail(&self, error: AskError);
}

fn erase<T: 'static>(slot: Arc<Slot<T>>) -> Arc<dyn Orphan> {
    slot
}

impl<T> Orphan for Slot<T> {
    fn fail(&self, error: AskError) {
        let _ = self.settle(Err(error));
    }
}

std::thread_local! {
    /// Why the ports dropped now go unanswered, if the loop said.
    static REASON: RefCell<Option<AskError>> = const { RefCell::new(None) };
    /// Whether `REASON` was set by a [`ReasonOnDrop`], for the
    /// [`RestoreReason`] after it to clear: one cheap read per step.
    static NAMED: Cell<bool> = const { Cell::new(false) };
    /// How many handler polls are under way on this thread (one inside
    /// another's poll only if a handler blocks on a nested executor).
    static HANDLING: Cell<u32> = const { Cell::new(0) };
    /// Ports dropped while a handler panics, until the poll that caught
    /// the panic fails them (each poll takes those past where it began).
    static ORPHANS: RefCell<Vec<Arc<dyn Orphan>>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` (which drops messages) with `reason` as the error of every
/// port dropped unanswered inside it.
pub(crate) fn dropping_with<T>(reason: AskError, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<AskError>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            let _ = REASON.try_with(|r| *r.borrow_mut() = previous);
        }
    }
    let previous = REASON.try_with(|r| r.borrow_mut().replace(reason));
    let _restore = Restore(previous.ok().flatten());
    f()
}

/// Names the reason for the ports dropped with the values of a scope,
/// when the scope ends by unwinding or by being dropped (a future
/// aborted mid-step), not by a call: the request crashed, on `attempt`,
/// with `panic` if it panicked. Declared *after* those values, it is
/// dropped first, and names its reason (if armed) until the
/// [`RestoreReason`] declared *before* them is dropped, after them.
/// Disarmed, its drop is a branch.
pub(crate) struct ReasonOnDrop {
    armed: bool,
    attempt: u32,
    panic: Option<String>,
}

impl ReasonOnDrop {
    /// Armed for a crash on `attempt` without a panic (an abort, a kill).
    pub(crate) fn armed(attempt: u32) -> Self {
        Self {
            armed: true,
            attempt,
            panic: None,
        }
    }

    /// Armed for a panic with `message`.
    pub(crate) fn panicked(&mut self, message: Option<String>) {
        self.armed = true;
        self.panic = message;
    }

    pub(crate) fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for ReasonOnDrop {
    fn drop(&mut self) {
        if self.armed {
            let reason = AskError::Crashed {
                panic: self.panic.take(),
                attempts: self.attempt,
            };
            let _ = REASON.try_with(|r| *r.borrow_mut() = Some(reason));
            let _ = NAMED.try_with(|named| named.set(true));
        }
    }
}

/// Clears the reason a [`ReasonOnDrop`] named: see there. Costs one
/// thread-local read when nothing was named.
pub(crate) struct RestoreReason;

impl Drop for RestoreReason {
    fn drop(&mut self) {
        if NAMED
            .try_with(|named| named.replace(false))
            .unwrap_or(false)
        {
            let _ = REASON.try_with(|r| r.borrow_mut().take());
        }
    }
}

/// Marks a poll of a handler on this thread: the ports dropped while it
/// panics wait until [`fail`](Orphans::fail) names the panic. Two
/// thread-local counter updates per poll; the list is touched only during
/// a panic.
pub(crate) struct Orphans {
    /// Where this poll's orphans begin in the list.
    from: usize,
}

impl Orphans {
    /// Starts collecting.
    pub(crate) fn collect() -> Self {
        let _ = HANDLING.try_with(|depth| depth.set(depth.get() + 1));
        // The list is empty unless a panic is being caught right now.
        let from = ORPHANS.try_with(|o| o.borrow().len()).unwrap_or(0);
        Self { from }
    }

    /// Takes a port dropped during a panic; `false` if no handler is
    /// polled on this thread.
    fn adopt(slot: Arc<dyn Orphan>) -> bool {
        if HANDLING.try_with(Cell::get).unwrap_or(0) == 0 {
            return false;
        }
        ORPHANS.try_with(|o| o.borrow_mut().push(slot)).is_ok()
    }

    /// Stops collecting; fails what was collected with `error`.
    pub(crate) fn fail(self, error: impl Fn() -> AskError) {
        for orphan in self.take() {
            orphan.fail(error());
        }
    }

    fn take(&self) -> Vec<Arc<dyn Orphan>> {
        ORPHANS
            .try_with(|o| {
                let mut orphans = o.borrow_mut();
                if orphans.len() > self.from {
                    orphans.split_off(self.from)
                } else {
                    Vec::new()
                }
            })
            .unwrap_or_default()
    }
}

impl Drop for Orphans {
    fn drop(&mut self) {
        let _ = HANDLING.try_with(|depth| depth.set(depth.get().saturating_sub(1)));
        // Whatever was not failed on purpose went unanswered.
        if ORPHANS
            .try_with(|o| o.borrow().len() > self.from)
            .unwrap_or(false)
        {
            for orphan in self.take() {
                orphan.fail(AskError::Unanswered);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::{reply, AskError};

    #[test]
    fn the_first_answer_of_a_port_and_its_clones_wins() {
        let (port, answer) = reply::<u32>();
        let clone = port.clone();
        clone.send(1);
        port.send(2); // too late: dropped
        assert_eq!(answer.now_or_never(), Some(Ok(1)));
    }

    #[test]
    fn an_answered_asker_closes_the_ports_left() {
        let (port, mut answer) = reply::<u32>();
        let late = port.clone();
        assert!(!late.is_closed());
        port.send(3);
        assert_eq!((&mut answer).now_or_never(), Some(Ok(3)));
        assert!(late.is_closed(), "the asker has its answer");
        drop(answer);
        late.send(4); // dropped, nobody to tell
    }

    #[test]
    fn the_last_port_dropped_unanswered_fails_the_ask() {
        let (port, answer) = reply::<u32>();
        let clone = port.clone();
        drop(port);
        let mut answer = Box::pin(answer);
        assert_eq!(answer.as_mut().now_or_never(), None, "a clone still lives");
        drop(clone);
        assert_eq!(answer.now_or_never(), Some(Err(AskError::Unanswered)));
    }

    #[test]
    fn a_dropped_ask_closes_its_port() {
        let (port, answer) = reply::<String>();
        drop(answer);
        assert!(port.is_closed());
        port.send("dropped".into());
    }
}
