//! What an actor's addresses and incarnations share: the mailbox, the
//! record of how incarnations ended, and how the actor ended for good.

use core::future::Future;
use core::pin::Pin;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use super::behaviour::{Actor, Cause, Restarted};
use super::error::{ActorExit, AskError};
use super::jobs::Job;
use super::name::Name;
use super::reply::dropping_with;
use crate::group::Signal;
use crate::mailbox::{Receiver, Sender};
use crate::runtime::{AbortHandle, Runtime, Task};
use crate::sync::Arc;

/// The runtime's clock, with the runtime's type erased, so that addresses
/// and contexts are not generic over it.
pub(crate) trait Clock: Send + Sync + 'static {
    fn now(&self) -> Instant;
    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Future<Output = ()> + Send>>;
    /// Spawns a job of an incarnation (detached; aborted through the
    /// handle).
    fn spawn(&self, job: Job) -> Box<dyn AbortHandle>;
}

impl<R: Runtime> Clock for R {
    fn now(&self) -> Instant {
        Runtime::now(self)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Runtime::sleep_until_boxed(self, deadline)
    }

    fn spawn(&self, job: Job) -> Box<dyn AbortHandle> {
        Box::new(Runtime::spawn(self, job).abort_handle())
    }
}

/// Waits until `clock` reads `deadline` (a runtime may end a sleep early:
/// the clock is read after each sleep, not before the first).
pub(crate) async fn sleep_until(clock: &dyn Clock, deadline: Instant) {
    loop {
        clock.sleep_until(deadline).await;
        if clock.now() >= deadline {
            return;
        }
    }
}

/// One running incarnation, as others reach it: its kill switch.
pub(crate) struct Running {
    pub(crate) kill: Signal,
    /// Which worker of a pool runs it (0 for an actor of one): its
    /// restart learns how that worker's previous incarnation ended.
    worker: usize,
}

/// How the latest incarnation ended, as far as it said.
enum Last {
    /// None ran yet.
    Never,
    /// One runs, and none ended yet.
    Running,
    /// It was aborted (by its supervisor, or with its runtime) before it
    /// could say how it ended.
    Aborted,
    /// It was stopped, and ran its `stopped` hook.
    Stopped,
    /// It panicked.
    Panicked(Option<String>),
    /// It was killed.
    Killed,
}

struct Record {
    last: Last,
    /// What the next incarnation of each worker (by its index; one for an
    /// actor that is not a pool) learns of the one before it.
    pending: HashMap<usize, (Cause, Option<u32>)>,
    /// Incarnations started.
    started: u64,
    restarts: u64,
    /// The running incarnations (several, in a pool), by the address of
    /// their `Running`: removed in O(1) however large the pool.
    running: HashMap<usize, Arc<Running>>,
    /// Set once the actor ended for good.
    exit: Option<ActorExit>,
}

impl Record {
    /// Keeps how worker `worker`'s incarnation ended, for its next one (in
    /// place of what an earlier one left, if none started since).
    fn pend(&mut self, worker: usize, cause: Cause, attempt: Option<u32>) {
        self.pending.insert(worker, (cause, attempt));
    }
}

pub(crate) struct Cell<A: Actor> {
    /// Its name, within its path.
    pub(crate) name: Name,
    pub(crate) tx: Sender<A::Msg>,
    pub(crate) rx: Receiver<A::Msg>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Asked to stop for good; the mailbox is closed too.
    stopping: AtomicBool,
    record: Mutex<Record>,
    /// Raised once `exit` is set.
    ended: Signal,
    /// Raised by the shutdown of the system that spawned it (a tree's
    /// actor is halted by its tree instead): its incarnation stops as a
    /// tree stops its child, and it is not restarted.
    pub(crate) halt: Signal,
}

/// What an incarnation starts with.
pub(crate) struct Start {
    pub(crate) running: Arc<Running>,
    pub(crate) restarted: Option<Restarted>,
}

impl<A: Actor> Cell<A> {
    pub(crate) fn new(
        name: Name,
        (tx, rx): (Sender<A::Msg>, Receiver<A::Msg>),
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            name,
            tx,
            rx,
            clock,
            stopping: AtomicBool::new(false),
            record: Mutex::new(Record {
                last: Last::Never,
                pending: HashMap::new(),
                started: 0,
                restarts: 0,
                running: HashMap::new(),
                exit: None,
            }),
            ended: Signal::default(),
            halt: Signal::default(),
        }
    }

    fn record(&self) -> MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the actor was asked to stop for good.
    pub(crate) fn is_stopping(&self) -> bool {
        // Acquire: pairs with the Release in `stop`.
        self.stopping.load(Ordering::Acquire)
    }

    /// Registers an incarnation of worker `worker` (0 for an actor that is
    /// not a pool); `None` if the actor is stopping, or ended.
    pub(crate) fn begin(&self, worker: usize) -> Option<Start> {
        let mut record = self.record();
        if self.is_stopping() || record.exit.is_some() {
            return None;
        }
        record.started += 1;
        if matches!(record.last, Last::Never) {
            record.last = Last::Running;
        }
        let restarted = record.pending.remove(&worker).map(|(cause, attempt)| {
            record.restarts += 1;
            Restarted {
                cause,
                attempt,
                restarts: record.restarts,
            }
        });
        let running = Arc::new(Running {
            kill: Signal::default(),
            worker,
        });
        record.running.insert(key(&running), Arc::clone(&running));
        Some(Start { running, restarted })
    }

    /// An incarnation ended, as `how` says (`None`: stopped, or, if
    /// `attempt` is `Some`, aborted by its supervisor mid-message). Returns
    /// whether none runs now.
    pub(crate) fn end(
        &self,
        running: &Arc<Running>,
        how: Option<Cause>,
        attempt: Option<u32>,
    ) -> bool {
        let mut record = self.record();
        record.running.remove(&key(running));
        let cause = how.unwrap_or(Cause::Stopped);
        record.last = match &cause {
            Cause::Stopped => Last::Stopped,
            Cause::Panicked(message) => Last::Panicked(message.clone()),
            Cause::Killed => Last::Killed,
        };
        record.pend(running.worker, cause, attempt);
        record.running.is_empty()
    }

    /// An incarnation went away without saying how: it was aborted. Returns
    /// whether none runs now.
    pub(crate) fn vanish(&self, running: &Arc<Running>) -> bool {
        let mut record = self.record();
        record.running.remove(&key(running));
        record.last = Last::Aborted;
        record.pend(running.worker, Cause::Killed, None);
        record.running.is_empty()
    }

    /// Asks the actor to stop for good: no message is taken from now on;
    /// those queued are dropped (their asks fail with
    /// [`AskError::Stopped`]) once the running incarnation has finished
    /// the message it handles.
    pub(crate) fn stop(&self) {
        // Release: see `is_stopping`.
        self.stopping.store(true, Ordering::Release);
        // Closing wakes an incarnation that waits for a message, and makes
        // every later send fail.
        self.tx.close();
        if self.record().running.is_empty() {
            // Nobody runs to drain the queue: do it here. An incarnation
            // starting meanwhile finds `stopping` and drains too.
            self.drain();
            self.finish(ActorExit::Stopped);
        }
    }

    /// Kills the running incarnations; `false` if none runs.
    pub(crate) fn kill(&self) -> bool {
        let running: Vec<_> = self.record().running.values().cloned().collect();
        for incarnation in &running {
            incarnation.kill.request();
        }
        !running.is_empty()
    }

    /// Drops what is queued, failing its asks with [`AskError::Stopped`].
    /// A message whose drop panics is dropped all the same, and the drain
    /// goes on (it may run in the caller of [`Addr::stop`](super::Addr::stop)).
    /// A message put back after it crashed the actor (it gave up on it
    /// with the rest) fails its asks with [`AskError::Crashed`] instead, as
    /// the request the actor crashed on is.
    pub(crate) fn drain(&self) {
        if self.rx.is_empty() {
            return; // most stops: without a guarded receive's set-up
        }
        while let Ok(delivery) = self.rx.try_recv_guarded() {
            let failed = delivery.attempt() - 1;
            let reason = if failed == 0 {
                AskError::Stopped
            } else {
                AskError::Crashed {
                    panic: delivery.last_panic().map(str::to_owned),
                    attempts: failed,
                }
            };
            let message = delivery.into_inner();
            if dropping_with(reason, || crate::runtime::drop_quietly(message)) {
                tracing::error!(
                    actor = &*self.name,
                    "a queued message panicked when dropped; the drain goes on"
                );
            }
        }
    }

    /// The actor ended for good: its supervisor will not start it again.
    /// How is read from the last incarnation's end, unless it was stopped
    /// for good.
    pub(crate) fn retire(&self, supervisor_ended: bool) {
        let exit = match &self.record().last {
            _ if self.is_stopping() => ActorExit::Stopped,
            Last::Panicked(message) => ActorExit::Failed(message.clone()),
            Last::Killed => ActorExit::Failed(None),
            // Aborted or stopped on the supervisor's way out.
            Last::Running | Last::Aborted | Last::Stopped | Last::Never if supervisor_ended => {
                ActorExit::Shutdown
            }
            Last::Running | Last::Aborted => ActorExit::Failed(None),
            Last::Stopped | Last::Never => ActorExit::Stopped,
        };
        self.tx.close();
        self.drain();
        self.finish(exit);
    }

    /// Records how the actor ended for good, once; wakes its watchers.
    pub(crate) fn finish(&self, exit: ActorExit) {
        let mut record = self.record();
        if record.exit.is_none() {
            record.exit = Some(exit);
            drop(record);
            self.ended.request();
        }
    }

    /// Its generation, as a report shows a child's: 1 for the first start,
    /// one more per restart (a pool's workers start together as one).
    pub(crate) fn generation(&self) -> u64 {
        let record = self.record();
        if record.started == 0 {
            0
        } else {
            record.restarts + 1
        }
    }

    /// How many restarts so far.
    pub(crate) fn restarts(&self) -> u64 {
        self.record().restarts
    }

    /// How the latest incarnation ended, as a supervisor reports a child.
    pub(crate) fn last_exit(&self) -> Option<crate::supervisor::ChildExit> {
        use crate::supervisor::ChildExit;
        match &self.record().last {
            Last::Never | Last::Running => None,
            Last::Stopped => Some(ChildExit::Returned),
            Last::Panicked(message) => Some(ChildExit::Panicked(message.clone())),
            Last::Killed => Some(ChildExit::Killed),
            Last::Aborted => Some(ChildExit::Aborted),
        }
    }

    /// How many incarnations run now.
    pub(crate) fn running(&self) -> usize {
        self.record().running.len()
    }

    /// Whether the actor ended for good.
    pub(crate) fn has_ended(&self) -> bool {
        self.record().exit.is_some()
    }

    /// How the actor ended for good, once it has.
    pub(crate) fn exit(&self) -> Option<ActorExit> {
        self.record().exit.clone()
    }

    /// Waits until the actor has ended for good.
    pub(crate) async fn ended(&self) -> ActorExit {
        self.ended.requested().await;
        self.exit()
            .expect("the ended signal is raised once the exit is set")
    }
}

/// The key of a running incarnation in its cell's record.
fn key(running: &Arc<Running>) -> usize {
    Arc::as_ptr(running) as usize
}

/// The tree's share of an actor: when the last copy of its factory goes
/// (the child was removed, or its supervisor ended), the actor has ended
/// for good.
pub(crate) struct Owner<A: Actor> {
    pub(crate) cell: Arc<Cell<A>>,
}

impl<A: Actor> Drop for Owner<A> {
    fn drop(&mut self) {
        self.cell.retire(true);
    }
}
