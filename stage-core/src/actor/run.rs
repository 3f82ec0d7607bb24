//! One incarnation of an actor, as its supervisor runs it: make the state,
//! run the hooks, handle messages until it is stopped, killed or fails.

use core::any::Any;
use core::future::{poll_fn, Future};
use core::pin::{pin, Pin};
use core::task::{Context as TaskContext, Poll, Waker};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use super::addr::Addr;
use super::behaviour::{Actor, Cause, Restarted};
use super::cell::{Cell, Running, Start};
use super::context::Context;
use super::error::{ActorExit, AskError};
use super::reply::{Orphans, ReasonOnDrop, RestoreReason};
use crate::group::task::{mark_killed, mark_panicked};
use crate::group::{made_progress, Signal, StopSignal};
use crate::runtime::panic_message;
use crate::signal::Waiting;
use crate::supervisor::Ready;
use crate::sync::Arc;

/// Makes the handler's copy of a message the mailbox keeps.
pub(crate) type Copy<M> = fn(&M) -> M;

/// What every incarnation of an actor is made from.
pub(crate) struct Spec<A: Actor> {
    pub(crate) make: Box<dyn Fn() -> A + Send + Sync>,
    /// How the handler gets its copy of a message the mailbox keeps for
    /// redelivery; `None`: messages are handed over, at most once.
    pub(crate) redeliver: Option<Copy<A::Msg>>,
}

/// How an incarnation ended.
pub(crate) enum Outcome {
    /// It stopped: asked to (for good, or by its supervisor), or its
    /// actor had stopped for good already.
    Stopped,
    /// It was killed ([`Addr::kill`](super::Addr::kill)).
    Killed,
    /// It panicked: the panic, to carry on.
    Panicked(Box<dyn Any + Send>),
}

/// How a step (a hook, or the handling of a message) failed.
enum Failure {
    Panicked(Box<dyn Any + Send>),
    Killed,
}

/// A signal watched across many polls: its registration is polled (a
/// lock in `event-listener`) only when the task's waker changed since it
/// was registered, and never again once it fired.
struct Watch<'a> {
    waiting: Waiting<'a>,
    waker: Option<Waker>,
}

impl<'a> Watch<'a> {
    fn new(signal: &'a Signal) -> Self {
        Self {
            waiting: signal.requested(),
            waker: None,
        }
    }

    #[inline]
    fn is_requested(&self) -> bool {
        self.waiting.signal().is_requested()
    }

    /// Whether the signal fired; if not, the task is woken when it does.
    #[inline]
    fn fired(&mut self, cx: &mut TaskContext<'_>) -> bool {
        if self.is_requested() {
            return true;
        }
        if self
            .waker
            .as_ref()
            .is_some_and(|waker| waker.will_wake(cx.waker()))
        {
            return false;
        }
        if Pin::new(&mut self.waiting).poll(cx).is_ready() {
            return true;
        }
        self.waker = Some(cx.waker().clone());
        false
    }
}

/// Why an incarnation waiting for a message woke.
enum Wake<M> {
    Message(M),
    Halted,
    Killed,
}

/// Runs one incarnation of the actor of `cell` as a task of a supervision
/// tree or of a pool's group. It says how it ended (killed, or a panic it
/// caught) to its supervisor, which reads its exit that way, instead of
/// unwinding a second time (half the cost of a restart).
pub(crate) async fn run_child<A: Actor>(
    cell: Arc<Cell<A>>,
    spec: Arc<Spec<A>>,
    halt: StopSignal,
    ready: Ready,
) {
    let outcome = match run(&cell, &spec, halt.signal(), Some(&ready)) {
        Some(incarnation) => incarnation.await,
        None => Outcome::Stopped,
    };
    match outcome {
        Outcome::Stopped => {}
        Outcome::Killed => mark_killed(),
        Outcome::Panicked(payload) => {
            let message = panic_message(payload.as_ref()).map(str::to_owned);
            if !mark_panicked(message) {
                resume_unwind(payload); // not a supervised task: carry on
            }
            crate::runtime::drop_quietly(payload);
        }
    }
}

/// Begins one incarnation of the actor of `cell`: the future that runs it
/// until `halt` is raised, the actor is stopped for good or killed, or it
/// panics; `ready`, if anyone waits for it, is notified once it has
/// started. `None` if the actor was stopped for good (it has ended then,
/// and `ready` is notified): no future is made for an actor stopped
/// before its task first ran (a caller that boxes it boxes nothing).
pub(crate) fn run<'a, A: Actor>(
    cell: &'a Arc<Cell<A>>,
    spec: &'a Spec<A>,
    halt: &'a Signal,
    ready: Option<&'a Ready>,
) -> Option<impl Future<Output = Outcome> + Send + 'a> {
    let Some(Start { running, restarted }) = cell.begin(crate::group::task::current_index()) else {
        // Stopped for good: its queue is dropped and it ends at once.
        finish_stopping(cell);
        ready.inspect(|ready| ready.notify());
        return None;
    };
    // An `async` block, not an `async fn`: an `async fn` copies its
    // arguments into locals of its own, which makes the future larger.
    Some(async move {
        let life = Life {
            cell,
            running: &running,
            told: false,
        };
        let mut kill = Watch::new(&running.kill);
        let mut halt = Watch::new(halt);

        let mut state = match catch_unwind(AssertUnwindSafe(|| (spec.make)())) {
            Ok(state) => state,
            Err(payload) => return life.panicked(payload, None),
        };
        let mut ctx = Context::new(Addr {
            cell: Arc::clone(cell),
        });
        // `restarted` moves into the hooks' future, which is a temporary:
        // neither takes room in the future for the rest of the incarnation.
        if let Err(failure) = start(&mut state, &mut ctx, &mut kill, restarted).await {
            return life
                .fail(failure, None, &mut state, &mut ctx, &mut kill)
                .await;
        }
        ready.inspect(|ready| ready.notify());

        let mut progressed = false;
        // Messages handled since the last wait. A wait after one message
        // (requests and answers, in turn) registers at once: yielding first
        // would only hold up the requester just answered. A wait after a run
        // of them (a stream of tells) yields to the executor a few times
        // first, as any mailbox receive does: the next ones usually arrive
        // meanwhile, and no wakeup is needed.
        let mut streak = 0u32;
        loop {
            if cell.is_stopping() || halt.is_requested() {
                break;
            }
            let attempt;
            let handled = match spec.redeliver {
                None => {
                    let message = match cell.rx.try_recv() {
                        Ok(message) => message,
                        Err(error) if error.is_closed() => break,
                        Err(_) => {
                            let next = if core::mem::take(&mut streak) > 1 {
                                cell.rx.recv_or_closed()
                            } else {
                                cell.rx.recv_or_closed_registering()
                            };
                            match wait(next, &mut halt, &mut kill).await {
                                Wake::Message(Ok(message)) => message,
                                Wake::Message(Err(_)) | Wake::Halted => break,
                                Wake::Killed => return life.killed(None),
                            }
                        }
                    };
                    attempt = 1;
                    ctx.set_attempt(attempt);
                    // `step`, inline: the hot path awaits no future of its own.
                    let _restore = RestoreReason;
                    let mut handling = pin!(state.handle(message, &mut ctx));
                    let mut reason = ReasonOnDrop::armed(attempt);
                    let outcome =
                        poll_fn(|cx| poll_step(handling.as_mut(), cx, &mut kill, attempt)).await;
                    settle(&mut reason, &outcome);
                    outcome
                }
                Some(copy) => {
                    let mut delivery = match cell.rx.try_recv_guarded() {
                        Ok(delivery) => delivery,
                        Err(error) if error.is_closed() => break,
                        Err(_) => {
                            let next = if core::mem::take(&mut streak) > 1 {
                                cell.rx.recv_guarded_or_closed()
                            } else {
                                cell.rx.recv_guarded_or_closed_registering()
                            };
                            match wait(next, &mut halt, &mut kill).await {
                                Wake::Message(Ok(delivery)) => delivery,
                                Wake::Message(Err(_)) | Wake::Halted => break,
                                Wake::Killed => return life.killed(None),
                            }
                        }
                    };
                    attempt = delivery.attempt();
                    ctx.set_attempt(attempt);
                    // The message's `clone` is the user's code too: a panic in
                    // it fails this attempt as a panic in the handler would.
                    let handled = match catch_unwind(AssertUnwindSafe(|| copy(&delivery))) {
                        Ok(message) => {
                            let handling = state.handle(message, &mut ctx);
                            step(handling, &mut kill, Some(attempt)).await
                        }
                        Err(payload) => Err(Failure::Panicked(payload)),
                    };
                    match handled {
                        // The kept message is dropped: its `Drop` is the
                        // user's code too, and a panic in it fails the
                        // incarnation as one in the handler does (the
                        // message was handled: it is not delivered again).
                        Ok(()) => catch_unwind(AssertUnwindSafe(|| delivery.ack()))
                            .map_err(Failure::Panicked),
                        Err(Failure::Panicked(payload)) => {
                            // Put back (or dead-lettered) with why it failed.
                            delivery.record_panic(panic_message(payload.as_ref()));
                            drop(delivery);
                            Err(Failure::Panicked(payload))
                        }
                        Err(Failure::Killed) => {
                            drop(delivery);
                            Err(Failure::Killed)
                        }
                    }
                }
            };
            if let Err(failure) = handled {
                return life
                    .fail(failure, Some(attempt), &mut state, &mut ctx, &mut kill)
                    .await;
            }
            streak += 1;
            if !progressed {
                // Handled a message: a crash after this is not a crash loop.
                progressed = true;
                made_progress();
            }
        }
        ctx.set_attempt(0);
        if cell.is_stopping() {
            cell.drain();
        }
        stopped_hook(&mut state, &mut ctx, &mut kill).await;
        life.end(None, None);
        Outcome::Stopped
    })
}

/// Runs the hooks an incarnation starts with: `restarted` (unless it is
/// the first), then `started`.
async fn start<A: Actor>(
    state: &mut A,
    ctx: &mut Context<A>,
    kill: &mut Watch<'_>,
    restarted: Option<Restarted>,
) -> Result<(), Failure> {
    if let Some(why) = &restarted {
        step(state.restarted(why, ctx), kill, None).await?;
    }
    step(state.started(ctx), kill, None).await
}

/// Waits for the next message, or for the incarnation to be halted or
/// killed, whichever comes first.
async fn wait<M>(
    next: impl Future<Output = M>,
    halt: &mut Watch<'_>,
    kill: &mut Watch<'_>,
) -> Wake<M> {
    let mut next = pin!(next);
    poll_fn(|cx| {
        if kill.fired(cx) {
            return Poll::Ready(Wake::Killed);
        }
        if halt.fired(cx) {
            return Poll::Ready(Wake::Halted);
        }
        next.as_mut().poll(cx).map(Wake::Message)
    })
    .await
}

/// Runs `future` (a hook, or a handler on a message's `attempt`), catching
/// its panic and watching for a kill. Ports to askers dropped on the way
/// out fail with [`AskError::Crashed`]: when it panics, with the panic's
/// message; when it is killed, or the whole incarnation is aborted
/// mid-step, without one.
async fn step<T>(
    future: impl Future<Output = T>,
    kill: &mut Watch<'_>,
    attempt: Option<u32>,
) -> Result<T, Failure> {
    let attempts = attempt.unwrap_or(1);
    // Around the future: see `ReasonOnDrop`.
    let _restore = RestoreReason;
    let mut future = pin!(future);
    let mut reason = ReasonOnDrop::armed(attempts);
    let outcome = poll_fn(|cx| poll_step(future.as_mut(), cx, kill, attempts)).await;
    settle(&mut reason, &outcome);
    outcome
}

/// One poll of a step (see [`step`]), for the loop to await without a
/// future of its own around it: the handler is polled inside
/// `catch_unwind`, with the ports it drops while panicking collected.
#[inline]
fn poll_step<T>(
    future: Pin<&mut impl Future<Output = T>>,
    cx: &mut TaskContext<'_>,
    kill: &mut Watch<'_>,
    attempts: u32,
) -> Poll<Result<T, Failure>> {
    let orphans = Orphans::collect();
    match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
        Ok(Poll::Ready(output)) => return Poll::Ready(Ok(output)),
        Ok(Poll::Pending) => drop(orphans),
        Err(payload) => {
            let message = panic_message(payload.as_ref()).map(str::to_owned);
            orphans.fail(|| AskError::Crashed {
                panic: message.clone(),
                attempts,
            });
            return Poll::Ready(Err(Failure::Panicked(payload)));
        }
    }
    if kill.fired(cx) {
        return Poll::Ready(Err(Failure::Killed));
    }
    Poll::Pending
}

/// Arms `reason` for how a step ended: a step that panicked names its
/// panic for the ports still in its future; one killed, none; one done,
/// nothing at all.
#[inline]
fn settle<T>(reason: &mut ReasonOnDrop, outcome: &Result<T, Failure>) {
    match outcome {
        Ok(_) => reason.disarm(),
        Err(Failure::Panicked(payload)) => {
            reason.panicked(panic_message(payload.as_ref()).map(str::to_owned));
        }
        Err(Failure::Killed) => {}
    }
}

/// Runs the `stopped` hook; a panic in it is logged, not raised, and a
/// kill cuts it short.
async fn stopped_hook<A: Actor>(state: &mut A, ctx: &mut Context<A>, kill: &mut Watch<'_>) {
    let name = ctx.addr().cell.name.clone();
    match step(state.stopped(ctx), kill, None).await {
        Ok(()) => {}
        Err(Failure::Killed) => {
            tracing::warn!(actor = &*name, "the actor was killed in its stopped hook");
        }
        Err(Failure::Panicked(payload)) => {
            tracing::error!(
                actor = &*name,
                panic = panic_message(payload.as_ref()).unwrap_or("<non-string payload>"),
                "the actor's stopped hook panicked"
            );
            crate::runtime::drop_quietly(payload);
        }
    }
}

/// The actor stopped for good: its queue is dropped, and it has ended.
fn finish_stopping<A: Actor>(cell: &Cell<A>) {
    if cell.is_stopping() {
        cell.drain();
        cell.finish(ActorExit::Stopped);
    }
}

/// An incarnation's registration with its cell: it says how it ended, or,
/// dropped without saying (aborted), lets the next incarnation find out.
struct Life<'a, A: Actor> {
    cell: &'a Cell<A>,
    running: &'a Arc<Running>,
    told: bool,
}

impl<A: Actor> Life<'_, A> {
    /// Records how the incarnation ended (`None`: stopped).
    fn end(mut self, how: Option<Cause>, attempt: Option<u32>) {
        self.told = true;
        // After `end`: a stop that found this incarnation running left the
        // queue to the last of them to end.
        if self.cell.end(self.running, how, attempt) {
            finish_stopping(self.cell);
        }
    }

    /// Ends the incarnation with `failure`, on a message's `attempt` or
    /// not: after a panic, `stopped` runs and the panic carries on.
    async fn fail(
        self,
        failure: Failure,
        attempt: Option<u32>,
        state: &mut A,
        ctx: &mut Context<A>,
        kill: &mut Watch<'_>,
    ) -> Outcome {
        match failure {
            Failure::Killed => self.killed(attempt),
            Failure::Panicked(payload) => {
                ctx.set_attempt(0);
                stopped_hook(state, ctx, kill).await;
                self.panicked(payload, attempt)
            }
        }
    }

    fn panicked(self, payload: Box<dyn Any + Send>, attempt: Option<u32>) -> Outcome {
        let message = panic_message(payload.as_ref()).map(str::to_owned);
        self.end(Some(Cause::Panicked(message)), attempt);
        Outcome::Panicked(payload)
    }

    fn killed(self, attempt: Option<u32>) -> Outcome {
        self.end(Some(Cause::Killed), attempt);
        Outcome::Killed
    }
}

impl<A: Actor> Drop for Life<'_, A> {
    fn drop(&mut self) {
        if !self.told && self.cell.vanish(self.running) {
            finish_stopping(self.cell);
        }
    }
}
