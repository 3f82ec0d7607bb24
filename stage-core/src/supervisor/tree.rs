//! The task that runs a supervisor's children and restarts them by
//! strategy.
//!
//! One loop, as an async function: it starts, in order, the children that
//! wait to start (each once the one before is ready), then waits for the
//! next event — a request to stop, a child's exit, a restart whose backoff
//! has passed, a command about a child by name — and handles it to the end
//! before taking the next. Stopping children is part of handling an event
//! (a strategy stops the affected children, one at a time, in reverse start
//! order, and waits for each to end before the next): exits of other
//! children that arrive meanwhile wait in `pending`, and are handled next,
//! in order.
//!
//! Every child has an id that never changes (its position does, when a
//! child before it is removed), and every start of it a generation: an exit
//! or a backoff for an id and generation that no longer run is stale, and
//! dropped. A child waiting out its backoff has its deadline in `timers`
//! under its id; whatever else happens to it (stopped, restarted or removed
//! on purpose) takes the deadline out first.
//!
//! Every running child is a boxed future of how it ends, in one
//! `FuturesUnordered`: a worker's task (aborted if dropped), a group (which
//! stops if dropped), a child supervisor (likewise). Whatever ends this
//! supervisor — even its future being dropped — ends its children.

use core::future::Future;
use core::pin::{pin, Pin};
use core::task::{Context, Poll};
use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_core::Stream;
use futures_util::stream::FuturesUnordered;
use futures_util::FutureExt as _;

use super::child::{BoxFuture, Child, Kind};
use super::error::{
    ChildError, ChildExit, ChildReport, Restarted, ShutdownReport, SupervisorError,
};
use super::ready::Ready;
use super::reply::Reply;
use super::strategy::{AutoShutdown, StopMode, Strategy};
use super::view::{ChildState, ChildView, Inside, TreeStats, Views};
use super::Supervisor;
use crate::group::control::{Control, Request};
use crate::group::deadline::{self, Deadline};
use crate::group::task::{Incarnation, Supervised};
use crate::group::timers::Timers;
use crate::group::{self, Backoff, GroupHandle, Restart, StopSignal};
use crate::runtime::{
    drop_exit, drop_quietly, panic_message, AbortHandle, OwnedTask, Runtime, Task,
};
use crate::sync::Arc;

/// State shared by a supervisor's handles, its task, and its parent.
pub(crate) struct Shared<R: Runtime> {
    /// The supervisor's path (`app/pipeline`).
    pub(crate) path: Arc<str>,
    pub(crate) control: Control,
    /// Commands about children by name; `None` once the task has ended.
    commands: Mutex<Option<VecDeque<Command<R>>>>,
    /// How it ended, when there is something to take.
    pub(crate) ending: Mutex<Option<Ending>>,
    /// Raised once every child has started and been ready once.
    pub(crate) ready: StopSignal,
    /// Raised once the supervisor has ended, however it ended.
    pub(crate) ended: StopSignal,
    /// What its children are doing, for snapshots and stats.
    pub(crate) views: Views<R>,
    /// Its runtime, whose clock snapshots read.
    pub(crate) runtime: R,
}

impl<R: Runtime> Shared<R> {
    pub(crate) fn new(path: Arc<str>, views: Views<R>, runtime: R) -> Self {
        Self {
            path,
            views,
            runtime,
            control: Control::new(0, 0),
            commands: Mutex::new(Some(VecDeque::new())),
            ending: Mutex::new(None),
            ready: StopSignal::default(),
            ended: StopSignal::default(),
        }
    }

    /// Queues a command for the task and wakes it; drops the command (so
    /// its reply says nothing) if the task has ended.
    pub(crate) fn submit(&self, command: Command<R>) {
        let refused = {
            let mut commands = self.commands.lock().unwrap_or_else(|e| e.into_inner());
            match &mut *commands {
                Some(queue) => {
                    queue.push_back(command);
                    None
                }
                None => Some(command),
            }
        };
        match refused {
            // Dropped outside the lock: a child's factory may own anything.
            Some(command) => {
                drop_user(command, &self.path);
            }
            None => self.control.wake(),
        }
    }

    /// Takes the kills out of the queue of commands.
    fn take_kills(&self) -> Vec<(String, Reply<Result<(), ChildError>>)> {
        let mut commands = self.commands.lock().unwrap_or_else(|e| e.into_inner());
        let Some(queue) = commands.as_mut() else {
            return Vec::new();
        };
        if !queue.iter().any(|c| matches!(c, Command::Kill(..))) {
            return Vec::new();
        }
        let (kills, others): (VecDeque<_>, VecDeque<_>) = core::mem::take(queue)
            .into_iter()
            .partition(|c| matches!(c, Command::Kill(..)));
        *queue = others;
        kills
            .into_iter()
            .filter_map(|c| match c {
                Command::Kill(name, reply) => Some((name, reply)),
                _ => None,
            })
            .collect()
    }

    fn next_command(&self) -> Option<Command<R>> {
        self.commands
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
            .and_then(VecDeque::pop_front)
    }
}

/// A request about a child by name, with where to answer.
pub(crate) enum Command<R: Runtime> {
    Start(Box<Child<R>>, Reply<Result<u64, ChildError>>),
    Stop(String, Reply<Result<(), ChildError>>),
    Restart(String, Reply<Result<u64, ChildError>>),
    Remove(String, Reply<Result<(), ChildError>>),
    Kill(String, Reply<Result<(), ChildError>>),
}

pub(crate) enum Ending {
    Failed(SupervisorError),
    ShutDown(ShutdownReport),
}

/// How a child's future ends: its exit, and the reports of what was inside
/// it (a group's tasks, a child supervisor's children).
pub(crate) struct Ended {
    pub(crate) exit: ChildExit,
    pub(crate) inside: Vec<ChildReport>,
}

/// A child's id and generation, and how that incarnation ended.
type Exited = (usize, u64, Ended);

/// A running child's future, tagged with its id and generation.
struct Tagged {
    id: usize,
    generation: u64,
    future: BoxFuture<Ended>,
}

impl Future for Tagged {
    type Output = Exited;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Exited> {
        let ended = core::task::ready!(self.future.as_mut().poll(cx));
        Poll::Ready((self.id, self.generation, ended))
    }
}

type AbortHandleOf<R> = <<R as Runtime>::Task as Task>::AbortHandle;

/// How to stop a running child.
enum Stopper<R: Runtime> {
    Worker {
        abort: AbortHandleOf<R>,
        signal: StopSignal,
    },
    Group(GroupHandle<R>),
    Supervisor(Arc<Shared<R>>),
    /// A child that ended as it started (a group whose builder panicked).
    Nothing,
}

impl<R: Runtime> Stopper<R> {
    /// What runs inside the child, for its view.
    fn inside(&self) -> Inside<R> {
        match self {
            Self::Worker { .. } | Self::Nothing => Inside::Nothing,
            Self::Group(handle) => Inside::Group(handle.clone()),
            Self::Supervisor(shared) => Inside::Supervisor(Arc::clone(shared)),
        }
    }

    /// Asks the child to stop within `grace` (zero: abort at once).
    fn stop(&self, grace: Duration) {
        match self {
            Self::Worker { abort, signal } if grace.is_zero() => {
                signal.request();
                abort.abort();
            }
            Self::Worker { signal, .. } => signal.request(),
            Self::Group(handle) if grace.is_zero() => handle.request_stop(),
            Self::Group(handle) => handle.request_shutdown(grace),
            Self::Supervisor(shared) if grace.is_zero() => shared.control.request(Request::Stop),
            Self::Supervisor(shared) => shared.control.request(Request::Shutdown { grace }),
            Self::Nothing => {}
        }
    }
}

/// When a child waiting to start starts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// As soon as the children before it are ready.
    Now,
    /// When its backoff has passed (its deadline is in `timers`).
    Until(Instant),
    /// Never (a backoff too long to come): until the supervisor stops.
    Forever,
}

enum State<R: Runtime> {
    Running {
        stopper: Stopper<R>,
        /// What says it is ready, until it is.
        ready: Option<StopSignal>,
    },
    Waiting(Wait),
    /// Stopped on purpose: started again only on request.
    Stopped,
    /// Ended, and not restarted (its restart type said so).
    Ended,
}

struct Slot<R: Runtime> {
    id: usize,
    spec: Child<R>,
    path: Arc<str>,
    /// Starts so far.
    generation: u64,
    /// Restarts after a failure, in all.
    restarts: u64,
    /// Restarts in a row without a quiet period between them.
    consecutive: u32,
    /// When its running incarnation became ready, if it did: a quiet
    /// period counts from then.
    ready_at: Option<Instant>,
    /// Whether it has been ready once (or will never start again).
    settled: bool,
    last_exit: Option<ChildExit>,
    /// A worker's running incarnation, which says whether it called
    /// [`made_progress`](crate::group::made_progress).
    incarnation: Option<Arc<Incarnation>>,
    /// Whether its running incarnation was killed on request: its exit,
    /// however it comes, is then [`ChildExit::Killed`].
    killed: bool,
    /// A caller waiting for this start, and whether its child was added by
    /// that call (removed again if the start fails).
    caller: Option<(Reply<Result<u64, ChildError>>, bool)>,
    state: State<R>,
}

/// Why the loop ended.
enum End {
    Stop,
    Shutdown(Duration),
    /// Its significant children ended.
    Finished,
    Failed(SupervisorError),
}

enum Event<R: Runtime> {
    Request(Request),
    Exit(Exited),
    Command(Command<R>),
    /// Children whose backoff passed, by id.
    Due(Vec<usize>),
}

/// Raises the supervisor's `ended` signal however it ends (its future
/// dropped, even before it was first polled, included), after refusing
/// further commands, so that a parent or a handle waiting for it wakes.
pub(crate) struct Closing<R: Runtime>(pub(crate) Arc<Shared<R>>);

impl<R: Runtime> Drop for Closing<R> {
    fn drop(&mut self) {
        let queued = self
            .0
            .commands
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        drop_user(queued, &self.0.path);
        // However it ended (its runtime gone, say), nothing of it runs.
        let inside = self.0.views.update(|views| {
            for index in 0..views.children.len() {
                let state = views.children[index].state;
                if !matches!(state, ChildState::Ended | ChildState::Stopped) {
                    Views::set_state(views, index, ChildState::Ended);
                }
            }
            let children = views.children.iter_mut();
            children
                .map(|child| core::mem::replace(&mut child.inside, Inside::Nothing))
                .collect::<Vec<_>>()
        });
        drop(inside);
        self.0.ended.request();
        self.0.views.stats.close();
    }
}

pub(crate) struct Tree<R: Runtime> {
    pub(crate) runtime: R,
    pub(crate) closing: Closing<R>,
    pub(crate) strategy: Strategy,
    pub(crate) auto_shutdown: AutoShutdown,
    pub(crate) backoff: Backoff,
    pub(crate) children: Vec<Child<R>>,
}

/// The loop's state.
struct Running<R: Runtime> {
    shared: Arc<Shared<R>>,
    slots: Vec<Slot<R>>,
    /// Position of each child by id.
    positions: HashMap<usize, usize>,
    /// Id of each child by name.
    names: HashMap<Arc<str>, usize>,
    next_id: usize,
    running: FuturesUnordered<Tagged>,
    /// Exits that arrived while other children were being stopped or
    /// started.
    pending: VecDeque<Exited>,
    /// A request to stop or shut down, taken and not yet acted on (a stop
    /// wins over a shutdown).
    deferred: Option<Request>,
    /// The earliest deadline a shutdown request gave, once one came.
    shutdown_by: Option<Instant>,
    /// Whether a child waits to start now.
    to_start: bool,
    /// No child before this index waits to start now (`usize::MAX`: none
    /// does), so that a start sweep in a tree of many children does not
    /// look at every one of them each time one is added.
    start_from: usize,
    /// Children not yet settled (ready once, or never starting again).
    unsettled: usize,
    timers: Timers<R>,
    /// The restarts in the intensity window (at most as many as it allows),
    /// with when they were made, for the error that gives up.
    history: VecDeque<(Instant, Restarted)>,
    /// Set when its significant children have ended.
    finished: bool,
}

impl<R: Runtime> Running<R> {
    fn position(&self, id: usize) -> Option<usize> {
        self.positions.get(&id).copied()
    }

    fn named(&self, name: &str) -> Option<usize> {
        self.position(*self.names.get(name)?)
    }

    /// Adds a child after the others, waiting to start.
    fn add(&mut self, spec: Child<R>, parent: &str) -> usize {
        let id = self.next_id;
        self.next_id += 1;
        self.positions.insert(id, self.slots.len());
        self.names.insert(Arc::clone(&spec.name), id);
        let path: Arc<str> = Arc::from(format!("{parent}/{}", spec.name));
        let view = ChildView {
            name: Arc::clone(&spec.name),
            path: Arc::clone(&path),
            kind: spec.view_kind(),
            state: ChildState::Starting,
            generation: 0,
            restarts: 0,
            last_exit: None,
            inside: Inside::Nothing,
            mailbox: spec.mailbox.clone(),
        };
        self.shared.views.update(|views| {
            views.children.push(view);
            views.stats.children += 1;
            views.stats.starting += 1;
        });
        self.slots.push(Slot {
            id,
            path,
            spec,
            restarts: 0,
            generation: 0,
            consecutive: 0,
            ready_at: None,
            settled: false,
            incarnation: None,
            killed: false,
            last_exit: None,
            caller: None,
            state: State::Waiting(Wait::Now),
        });
        self.to_start = true;
        self.unsettled += 1;
        self.start_from = self.start_from.min(self.slots.len() - 1);
        self.slots.len() - 1
    }

    /// Removes a child that does not run.
    fn remove(&mut self, index: usize) -> Slot<R> {
        let slot = self.slots.remove(index);
        self.shared.views.update(|views| {
            let view = views.children.remove(index);
            views.stats.children -= 1;
            *views.stats.gauge(view.state) -= 1;
        });
        self.positions.remove(&slot.id);
        self.names.remove(&slot.spec.name);
        if self.start_from != usize::MAX && self.start_from > index {
            self.start_from -= 1;
        }
        for (position, later) in self.slots.iter().enumerate().skip(index) {
            self.positions.insert(later.id, position);
        }
        if !slot.settled {
            self.unsettled -= 1;
        }
        slot
    }

    /// Marks a child as settled: ready once, or never starting again.
    fn settle(&mut self, index: usize) {
        let slot = &mut self.slots[index];
        if !slot.settled {
            slot.settled = true;
            self.unsettled -= 1;
        }
    }

    /// Sets a child that does not run to wait, cancelling the backoff it
    /// was waiting out.
    fn set_waiting(&mut self, index: usize, wait: Wait) {
        let slot = &mut self.slots[index];
        if let State::Waiting(Wait::Until(at)) = slot.state {
            self.timers.remove(at, slot.id);
        }
        if let Wait::Until(at) = wait {
            self.timers.insert(at, slot.id);
        }
        if wait == Wait::Now {
            self.to_start = true;
            self.start_from = self.start_from.min(index);
        }
        self.set(index, State::Waiting(wait));
    }

    /// Moves child `index` to `state`, and publishes it.
    fn set(&mut self, index: usize, state: State<R>) {
        self.set_counting(index, state, |_| {});
    }

    /// Moves child `index` to `state`, and publishes it, with `count`
    /// applied to the stats.
    fn set_counting(&mut self, index: usize, state: State<R>, count: impl FnOnce(&mut TreeStats)) {
        self.slots[index].state = state;
        self.publish(index, count);
    }

    /// Publishes child `index` as it is, with `count` applied to the stats.
    fn publish(&self, index: usize, count: impl FnOnce(&mut TreeStats)) {
        let slot = &self.slots[index];
        let (published, inside) = match &slot.state {
            State::Running { stopper, ready } => {
                let published = if ready.is_some() {
                    ChildState::Starting
                } else {
                    ChildState::Running
                };
                (published, stopper.inside())
            }
            State::Waiting(Wait::Now) => (ChildState::Starting, Inside::Nothing),
            State::Waiting(Wait::Until(at)) => (ChildState::BackingOff(Some(*at)), Inside::Nothing),
            State::Waiting(Wait::Forever) => (ChildState::BackingOff(None), Inside::Nothing),
            State::Stopped => (ChildState::Stopped, Inside::Nothing),
            State::Ended => (ChildState::Ended, Inside::Nothing),
        };
        self.shared.views.update(|views| {
            Views::set_state(views, index, published);
            let view = &mut views.children[index];
            view.generation = slot.generation;
            view.restarts = slot.restarts;
            view.last_exit.clone_from(&slot.last_exit);
            view.inside = inside;
            count(&mut views.stats);
        });
    }

    /// Publishes that child `index` is being stopped.
    fn stopping(&self, index: usize) {
        self.shared
            .views
            .update(|views| Views::set_state(views, index, ChildState::Stopping));
    }
}

fn restarts(restart: Restart, exit: &ChildExit) -> bool {
    match restart {
        Restart::Always => true,
        Restart::OnFailure => exit.is_failure(),
        Restart::Never => false,
    }
}

impl<R: Runtime> Tree<R> {
    pub(crate) async fn run(self) {
        let Self {
            runtime,
            closing,
            strategy,
            auto_shutdown,
            backoff,
            children,
        } = self;
        let shared = &closing.0;
        let mut tree = Running {
            shared: Arc::clone(shared),
            slots: Vec::with_capacity(children.len()),
            positions: HashMap::with_capacity(children.len()),
            names: HashMap::with_capacity(children.len()),
            next_id: 0,
            running: FuturesUnordered::new(),
            pending: VecDeque::new(),
            deferred: None,
            shutdown_by: None,
            to_start: false,
            start_from: usize::MAX,
            unsettled: 0,
            timers: Timers::new(),
            history: VecDeque::new(),
            finished: false,
        };
        let this = Loop {
            runtime: &runtime,
            shared,
            strategy,
            auto_shutdown,
            backoff,
        };
        if let Some(error) = this.invalid(&children) {
            tracing::error!(supervisor = &*shared.path, %error, "not started");
            drop_user(children, &shared.path);
            *shared.ending.lock().unwrap_or_else(|e| e.into_inner()) = Some(Ending::Failed(error));
            return;
        }
        for child in children {
            tree.add(child, &shared.path);
        }
        tracing::debug!(
            supervisor = &*shared.path,
            children = tree.slots.len(),
            "starting"
        );
        let end = loop {
            if tree.finished {
                break End::Finished;
            }
            let event = if let Some(request) = tree.deferred.take() {
                Event::Request(request)
            } else if let Some(exited) = tree.pending.pop_front() {
                Event::Exit(exited)
            } else if tree.to_start {
                // What has come already (a request, a command, a backoff
                // passed) goes first: children failing to start over and
                // over starve nothing.
                match this.next_event(&mut tree).now_or_never() {
                    Some(event) => event,
                    None => {
                        this.start_waiting(&mut tree).await;
                        continue;
                    }
                }
            } else {
                if tree.unsettled == 0 && !shared.ready.is_requested() {
                    tracing::debug!(supervisor = &*shared.path, "ready");
                    shared.ready.request();
                }
                this.next_event(&mut tree).await
            };
            match event {
                Event::Request(Request::Stop) => break End::Stop,
                Event::Request(Request::Shutdown { grace }) => break End::Shutdown(grace),
                Event::Request(Request::Release) => {}
                Event::Due(ids) => {
                    for id in ids {
                        if let Some(index) = tree.position(id) {
                            // Its deadline has left the timers already.
                            tree.slots[index].state = State::Stopped;
                            tree.set_waiting(index, Wait::Now);
                        }
                    }
                }
                Event::Exit(exited) => {
                    if let Err(error) = this.child_ended(exited, &mut tree).await {
                        break End::Failed(error);
                    }
                }
                Event::Command(command) => this.command(command, &mut tree).await,
            }
        };
        let ending = match end {
            End::Stop => Ending::ShutDown(this.stop_all(Some(runtime.now()), &mut tree).await),
            End::Shutdown(grace) => {
                tracing::info!(supervisor = &*shared.path, ?grace, "shutting down");
                let deadline = tree.shutdown_by;
                Ending::ShutDown(this.stop_all(deadline, &mut tree).await)
            }
            End::Finished => {
                tracing::info!(
                    supervisor = &*shared.path,
                    "significant children ended; shutting down"
                );
                Ending::ShutDown(this.stop_all(None, &mut tree).await)
            }
            End::Failed(error) => {
                tracing::error!(supervisor = &*shared.path, %error, "giving up");
                this.stop_all(None, &mut tree).await;
                Ending::Failed(error)
            }
        };
        // What the children were made of (their factories own anything)
        // goes first, quietly: a panic in a drop loses no report.
        drop_user(tree, &shared.path);
        *shared.ending.lock().unwrap_or_else(|e| e.into_inner()) = Some(ending);
        tracing::debug!(supervisor = &*shared.path, "ended");
    }
}

/// The loop's settings, borrowed while it runs.
struct Loop<'a, R: Runtime> {
    runtime: &'a R,
    shared: &'a Arc<Shared<R>>,
    strategy: Strategy,
    auto_shutdown: AutoShutdown,
    backoff: Backoff,
}

/// How a child's start went.
enum Started {
    Ready,
    /// It ended first, or was not ready in time: its exit is in `pending`.
    Failed,
    /// A request to stop came first (kept in `deferred`).
    Interrupted,
}

impl<R: Runtime> Loop<'_, R> {
    /// The error of a supervisor given children it cannot have.
    fn invalid(&self, children: &[Child<R>]) -> Option<SupervisorError> {
        let supervisor = self.shared.path.to_string();
        let mut names = std::collections::HashSet::with_capacity(children.len());
        for child in children {
            let reason = if !names.insert(&*child.name) {
                Some("two children have this name")
            } else {
                child.invalid(self.auto_shutdown)
            };
            if let Some(reason) = reason {
                return Some(SupervisorError::InvalidChild {
                    supervisor,
                    child: child.name.to_string(),
                    reason,
                });
            }
        }
        None
    }

    /// Takes a request to stop or shut down, if one came, into `deferred`
    /// (a stop wins over a shutdown), and a shutdown's deadline into
    /// `shutdown_by` (the earliest wins: a later, shorter shutdown cuts a
    /// longer one short).
    fn take_request(&self, tree: &mut Running<R>) {
        let Some(request) = self.shared.control.take_request() else {
            return;
        };
        if let Request::Shutdown { grace } = request {
            if let Some(by) = deadline::after(self.runtime.now(), grace) {
                tree.shutdown_by = Some(tree.shutdown_by.map_or(by, |was| was.min(by)));
            }
        }
        tree.deferred = match (tree.deferred, request) {
            (Some(Request::Stop), _) => Some(Request::Stop),
            (_, request) => Some(request),
        };
    }

    async fn next_event(&self, tree: &mut Running<R>) -> Event<R> {
        core::future::poll_fn(|cx| {
            self.shared.control.register(cx.waker());
            self.take_request(tree);
            if let Some(request) = tree.deferred.take() {
                return Poll::Ready(Event::Request(request));
            }
            if let Poll::Ready(Some(exited)) = Pin::new(&mut tree.running).poll_next(cx) {
                return Poll::Ready(Event::Exit(exited));
            }
            let mut due = Vec::new();
            if tree
                .timers
                .poll_due(self.runtime, cx, |id| due.push(id))
                .is_ready()
            {
                return Poll::Ready(Event::Due(due));
            }
            if let Some(command) = self.shared.next_command() {
                return Poll::Ready(Event::Command(command));
            }
            Poll::Pending
        })
        .await
    }

    /// Starts, in order, every child waiting to start now, each once the
    /// one before it is ready. Stops at a child that failed to start (its
    /// exit waits in `pending`, and the sweep goes on after it is handled)
    /// or at a request to stop.
    async fn start_waiting(&self, tree: &mut Running<R>) {
        tree.to_start = false;
        let mut index = core::mem::replace(&mut tree.start_from, usize::MAX);
        while index < tree.slots.len() {
            if matches!(tree.slots[index].state, State::Waiting(Wait::Now)) {
                // A tree asked to stop starts nothing more.
                self.take_request(tree);
                if tree.deferred.is_some() {
                    tree.start_from = tree.start_from.min(index);
                    return;
                }
                self.start(index, tree);
                match self.until_ready(index, tree).await {
                    Started::Ready => self.ready(index, tree),
                    Started::Failed => {
                        tree.to_start = true; // the rest, once it is handled
                        tree.start_from = tree.start_from.min(index + 1);
                        return;
                    }
                    Started::Interrupted => {
                        tree.start_from = tree.start_from.min(index + 1);
                        return;
                    }
                }
            }
            index += 1;
        }
    }

    /// Starts the next incarnation of child `index`.
    fn start(&self, index: usize, tree: &mut Running<R>) {
        let slot = &mut tree.slots[index];
        slot.generation += 1;
        slot.ready_at = None;
        slot.killed = false;
        let (id, generation, path) = (slot.id, slot.generation, Arc::clone(&slot.path));
        let (stopper, ready, future): (Stopper<R>, Option<StopSignal>, BoxFuture<Ended>) =
            match &mut slot.spec.kind {
                Kind::Worker {
                    factory, announces, ..
                } => {
                    let (signal, ready) = (StopSignal::default(), Ready::default());
                    // A factory that panics fails the worker, not the supervisor.
                    let made = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        factory.make(signal.clone(), ready.clone())
                    }));
                    let (task, me) = match made {
                        Ok(future) => {
                            let me = Arc::new(Incarnation::child(Arc::clone(&path), generation));
                            slot.incarnation = Some(Arc::clone(&me));
                            let task = self.runtime.spawn(Supervised::new(future, Arc::clone(&me)));
                            (task, Some(me))
                        }
                        Err(payload) => {
                            let task = self
                                .runtime
                                .spawn(async move { std::panic::resume_unwind(payload) });
                            (task, None)
                        }
                    };
                    let abort = task.abort_handle();
                    let task = OwnedTask::new(task);
                    let future = Box::pin(async move {
                        let exit = task.await;
                        // How the worker said it ended (an actor that was
                        // killed, or caught its panic), for every reader of
                        // its exit: its start, its stop, its restart.
                        let (exit, killed) = match me {
                            Some(me) => (me.own_word(exit), me.was_killed()),
                            None => (exit, false),
                        };
                        let ended = if killed {
                            ChildExit::Killed
                        } else {
                            ChildExit::from_exit(&exit)
                        };
                        drop_exit(exit);
                        Ended {
                            exit: ended,
                            inside: Vec::new(),
                        }
                    });
                    let ready = announces.then(|| ready.signal().clone());
                    (Stopper::Worker { abort, signal }, ready, future)
                }
                Kind::Group {
                    builder, factory, ..
                } => {
                    let mut factory = factory.clone_box();
                    // A builder that panics (a size it refuses) fails the
                    // group, not the supervisor.
                    let spawned = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        builder
                            .clone()
                            .name(&*path)
                            .spawn_graceful(move |stop| factory.make(stop, Ready::default()))
                    }));
                    match spawned {
                        Ok(group) => {
                            let handle = group.handle();
                            let future = Box::pin(async move {
                                match group.wait_report().await {
                                    Ok(report) => Ended {
                                        exit: ChildExit::Returned,
                                        inside: report
                                            .map(|report| group_task_reports(&path, report))
                                            .unwrap_or_default(),
                                    },
                                    Err(error) => Ended {
                                        exit: ChildExit::GaveUp(error),
                                        inside: Vec::new(),
                                    },
                                }
                            });
                            (Stopper::Group(handle), None, future)
                        }
                        Err(payload) => {
                            let message = panic_message(&*payload).map(str::to_owned);
                            drop_quietly(payload);
                            let exit = ChildExit::Panicked(message);
                            let future = Box::pin(core::future::ready(Ended {
                                exit,
                                inside: Vec::new(),
                            }));
                            (Stopper::Nothing, None, future)
                        }
                    }
                }
                Kind::Supervisor(builder) => {
                    let mut child = builder.clone().under(&self.shared.path).spawn();
                    let shared = Arc::clone(&child.handle.shared);
                    let ready = shared.ready.clone();
                    let future = Box::pin(async move { supervisor_ended(&mut child).await });
                    (Stopper::Supervisor(shared), Some(ready), future)
                }
            };
        tracing::debug!(child = &*slot.path, generation, "child started");
        tree.set_counting(index, State::Running { stopper, ready }, |stats| {
            stats.started += 1
        });
        tree.running.push(Tagged {
            id,
            generation,
            future,
        });
    }

    /// Waits until child `index`, just started, is ready.
    async fn until_ready(&self, index: usize, tree: &mut Running<R>) -> Started {
        let slot = &tree.slots[index];
        let State::Running {
            ready: Some(signal),
            ..
        } = &slot.state
        else {
            return Started::Ready;
        };
        let (id, generation, timeout) = (slot.id, slot.generation, slot.spec.start_timeout);
        let signal = signal.clone();
        let mut ready = pin!(signal.requested());
        let mut deadline = deadline::after(self.runtime.now(), timeout).map(Deadline::<R>::new);
        enum Outcome {
            Ready,
            Exited(bool),
            Request,
            TimedOut,
        }
        let outcome = core::future::poll_fn(|cx| {
            if ready.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Outcome::Ready);
            }
            self.shared.control.register(cx.waker());
            self.take_request(tree);
            if tree.deferred.is_some() {
                return Poll::Ready(Outcome::Request);
            }
            self.serve_kills(tree);
            while let Poll::Ready(Some(exited)) = Pin::new(&mut tree.running).poll_next(cx) {
                let own = (exited.0, exited.1) == (id, generation);
                let returned = !exited.2.exit.is_failure();
                tree.pending.push_back(exited);
                if own {
                    return Poll::Ready(Outcome::Exited(returned));
                }
            }
            if deadline
                .as_mut()
                .is_some_and(|d| d.poll(self.runtime, cx).is_ready())
            {
                return Poll::Ready(Outcome::TimedOut);
            }
            Poll::Pending
        })
        .await;
        match outcome {
            // A child that returned before it said so has done its start.
            Outcome::Ready | Outcome::Exited(true) => Started::Ready,
            Outcome::Exited(false) => Started::Failed,
            Outcome::Request => Started::Interrupted,
            Outcome::TimedOut => {
                let path = &*tree.slots[index].path;
                tracing::warn!(
                    child = path,
                    generation,
                    ?timeout,
                    "child not ready in time; aborting it"
                );
                if let State::Running { stopper, .. } = &tree.slots[index].state {
                    stopper.stop(Duration::ZERO);
                }
                let mut ended = self.wait_exit(id, generation, None, tree).await;
                ended.exit = ChildExit::StartTimedOut(timeout);
                tree.pending.push_back((id, generation, ended));
                Started::Failed
            }
        }
    }

    /// Child `index` is ready: answers whoever waits for it.
    fn ready(&self, index: usize, tree: &mut Running<R>) {
        tree.settle(index);
        let slot = &mut tree.slots[index];
        slot.ready_at = Some(self.runtime.now());
        if let Some((reply, _)) = slot.caller.take() {
            reply.send(Ok(slot.generation));
        }
        let was_starting = match &mut slot.state {
            State::Running { ready, .. } => ready.take().is_some(),
            _ => false,
        };
        if was_starting {
            tree.publish(index, |_| {});
        }
    }

    /// Handles a child's exit: restarts it and the children the strategy
    /// says, or gives up.
    async fn child_ended(
        &self,
        (id, generation, ended): Exited,
        tree: &mut Running<R>,
    ) -> Result<(), SupervisorError> {
        let Some(index) = tree.position(id) else {
            return Ok(()); // stale: removed meanwhile
        };
        let slot = &mut tree.slots[index];
        if slot.generation != generation || !matches!(slot.state, State::Running { .. }) {
            return Ok(()); // stale: stopped or restarted on purpose meanwhile
        }
        let exit = if slot.killed {
            ChildExit::Killed
        } else {
            ended.exit
        };
        let child = &*slot.path;
        slot.last_exit = Some(exit.clone());
        if exit == ChildExit::Aborted {
            // The tree aborts only children it stops, and this one ran: its
            // task was aborted by its runtime, which is shutting down, and
            // this supervisor's own task with it. Restarting would only
            // spawn tasks the runtime cancels at once (and end in `GaveUp`,
            // a false account of what happened), so the tree ends as if its
            // own task had been aborted first.
            tracing::debug!(child, generation, "child aborted by its runtime; ending");
            return Err(SupervisorError::SupervisorAborted {
                supervisor: self.shared.path.to_string(),
            });
        }
        if exit.is_failure() {
            tree.shared.views.update(|views| views.stats.failures += 1);
        }
        if let Some((reply, added)) = slot.caller.take() {
            // A start someone waits for failed: theirs to handle.
            tracing::warn!(child, generation, %exit, "child failed to start");
            reply.send(Err(ChildError::StartFailed {
                path: child.to_owned(),
                exit,
            }));
            if added {
                drop_user(tree.remove(index), &self.shared.path);
            } else {
                tree.set(index, State::Stopped);
                tree.settle(index);
            }
            return Ok(());
        }
        if !restarts(slot.spec.restart, &exit) {
            if exit.is_failure() {
                tracing::warn!(child, generation, %exit, "child failed; not restarted");
            } else {
                tracing::debug!(child, generation, "child returned; not restarted");
            }
            let significant = slot.spec.significant;
            if let Kind::Worker { factory, .. } | Kind::Group { factory, .. } = &mut slot.spec.kind
            {
                factory.ended();
            }
            tree.set(index, State::Ended);
            tree.settle(index);
            if significant {
                tree.finished |= match self.auto_shutdown {
                    AutoShutdown::Never => false,
                    AutoShutdown::AnySignificant => true,
                    AutoShutdown::AllSignificant => tree
                        .slots
                        .iter()
                        .filter(|slot| slot.spec.significant)
                        .all(|slot| matches!(slot.state, State::Ended)),
                };
            }
            return Ok(());
        }
        let now = self.runtime.now();
        let views = &self.shared.views;
        let (admitted, restarts, within) = views.update(|views| {
            let intensity = &mut views.intensity;
            (
                intensity.admit(now),
                intensity.restarts(),
                intensity.within(),
            )
        });
        if !admitted {
            let error = SupervisorError::GaveUp {
                supervisor: self.shared.path.to_string(),
                child: child.to_owned(),
                exit,
                restarts,
                within,
                history: tree
                    .history
                    .iter()
                    .filter(|&&(at, _)| now.checked_sub(within).is_none_or(|start| at > start))
                    .map(|(_, restart)| restart.clone())
                    .collect(),
            };
            tree.set(index, State::Ended);
            return Err(error);
        }
        let progressed = slot.incarnation.take().is_some_and(|me| me.made_progress());
        let quiet = slot
            .ready_at
            .is_some_and(|at| now.saturating_duration_since(at) >= self.backoff.quiet_period());
        if progressed || quiet {
            slot.consecutive = 0; // a new series of restarts
        }
        let delay = self
            .backoff
            .delay(slot.consecutive, ((id as u64) << 32) ^ generation);
        slot.consecutive = slot.consecutive.saturating_add(1);
        slot.restarts += 1;
        tracing::warn!(child, generation, %exit, ?delay, strategy = ?self.strategy, "child failed; restarting");
        tree.history.push_back((
            now,
            Restarted {
                child: child.to_owned(),
                generation,
                exit: exit.without_histories(),
            },
        ));
        // Those in the window, at most as many as the intensity allows, and
        // the last HISTORY of them.
        let window_start = now.checked_sub(within);
        while tree.history.len() > (restarts as usize).min(super::HISTORY)
            || tree
                .history
                .front()
                .is_some_and(|&(at, _)| window_start.is_some_and(|start| at <= start))
        {
            tree.history.pop_front();
        }
        tree.set_counting(index, State::Stopped, |stats| stats.restarts += 1);
        // The affected children (but those stopped on purpose, or ended for
        // good) stop, in reverse start order, each fully before the next;
        // then they all wait for the same moment to start again, in order.
        let affected: Vec<usize> = self
            .strategy
            .affected(index, tree.slots.len())
            .filter(|&other| {
                other == index
                    || matches!(
                        tree.slots[other].state,
                        State::Running { .. } | State::Waiting(_)
                    )
            })
            .collect();
        for &other in affected.iter().rev() {
            if matches!(tree.slots[other].state, State::Running { .. }) {
                self.stop_child(other, None, tree).await;
            }
        }
        let wait = match deadline::after(now, delay) {
            _ if delay.is_zero() => Wait::Now,
            Some(until) => Wait::Until(until),
            None => Wait::Forever,
        };
        for other in affected {
            tree.set_waiting(other, wait);
        }
        Ok(())
    }

    /// Handles a command about a child by name.
    async fn command(&self, command: Command<R>, tree: &mut Running<R>) {
        let supervisor = || self.shared.path.to_string();
        let not_found = |name: String| ChildError::NotFound {
            supervisor: supervisor(),
            name,
        };
        match command {
            Command::Start(child, reply) => {
                let name = child.name.to_string();
                if tree.named(&name).is_some() {
                    drop_user(child, &self.shared.path); // its factory may own anything
                    reply.send(Err(ChildError::NameTaken {
                        supervisor: supervisor(),
                        name,
                    }));
                } else if let Some(reason) = child.invalid(self.auto_shutdown) {
                    drop_user(child, &self.shared.path);
                    reply.send(Err(ChildError::Invalid {
                        supervisor: supervisor(),
                        name,
                        reason,
                    }));
                } else {
                    let index = tree.add(*child, &self.shared.path);
                    tree.slots[index].caller = Some((reply, true));
                }
            }
            Command::Stop(name, reply) => match tree.named(&name) {
                None => reply.send(Err(not_found(name))),
                Some(index) => {
                    self.stop_on_purpose(index, tree).await;
                    reply.send(Ok(()));
                }
            },
            Command::Restart(name, reply) => match tree.named(&name) {
                None => reply.send(Err(not_found(name))),
                Some(index) => {
                    self.stop_on_purpose(index, tree).await;
                    tree.set_waiting(index, Wait::Now);
                    tree.slots[index].caller = Some((reply, false));
                }
            },
            Command::Kill(name, reply) => self.kill(name, reply, tree),
            Command::Remove(name, reply) => match tree.named(&name) {
                None => reply.send(Err(not_found(name))),
                Some(index) => {
                    self.stop_on_purpose(index, tree).await;
                    let removed = tree.remove(index);
                    let generation = removed.generation;
                    tracing::debug!(child = &*removed.path, generation, "child removed");
                    drop_user(removed, &self.shared.path);
                    reply.send(Ok(()));
                }
            },
        }
    }

    /// Kills a child by name: aborts it, and marks its exit as a kill.
    fn kill(&self, name: String, reply: Reply<Result<(), ChildError>>, tree: &mut Running<R>) {
        let Some(index) = tree.named(&name) else {
            return reply.send(Err(ChildError::NotFound {
                supervisor: self.shared.path.to_string(),
                name,
            }));
        };
        let slot = &mut tree.slots[index];
        if let State::Running { stopper, .. } = &slot.state {
            tracing::debug!(
                child = &*slot.path,
                generation = slot.generation,
                "killing child"
            );
            slot.killed = true;
            stopper.stop(Duration::ZERO);
        }
        reply.send(Ok(()));
    }

    /// Serves the kills waiting among the commands at once, ahead of the
    /// others: while a child starts or stops, other commands wait, but a
    /// kill is how a stuck child is ended.
    fn serve_kills(&self, tree: &mut Running<R>) {
        for (name, reply) in self.shared.take_kills() {
            self.kill(name, reply, tree);
        }
    }

    /// Stops child `index` on purpose, whatever it was doing: by its stop
    /// mode if it runs, cancelling its backoff if it waits.
    async fn stop_on_purpose(&self, index: usize, tree: &mut Running<R>) {
        match tree.slots[index].state {
            State::Running { .. } => {
                self.stop_child(index, None, tree).await;
            }
            State::Waiting(_) => tree.set_waiting(index, Wait::Forever),
            State::Stopped | State::Ended => {}
        }
        tree.set(index, State::Stopped);
        tree.settle(index);
        let slot = &tree.slots[index];
        let generation = slot.generation;
        tracing::debug!(child = &*slot.path, generation, "child stopped on request");
    }

    /// Stops running child `index` by its stop mode, within `overall` if
    /// given, and waits until it has ended; exits of other children that
    /// arrive meanwhile wait in `pending`. Leaves it `Stopped`, with its
    /// last exit, and returns how it ended.
    async fn stop_child(
        &self,
        index: usize,
        overall: Option<Instant>,
        tree: &mut Running<R>,
    ) -> Ended {
        let slot = &tree.slots[index];
        let (id, generation) = (slot.id, slot.generation);
        let State::Running { stopper, .. } = &slot.state else {
            unreachable!("only running children are stopped")
        };
        let now = self.runtime.now();
        let own = deadline::after(now, slot.spec.stop.grace());
        let deadline = match (own, overall) {
            (Some(own), Some(overall)) => Some(own.min(overall)),
            (own, overall) => own.or(overall),
        };
        let grace = match (slot.spec.stop, deadline) {
            (StopMode::Abort, _) => Duration::ZERO,
            (_, Some(at)) => at.saturating_duration_since(now),
            (_, None) => Duration::MAX,
        };
        stopper.stop(grace);
        tree.stopping(index);
        let deadline = deadline.filter(|_| !grace.is_zero());
        let ended = self.wait_exit(id, generation, deadline, tree).await;
        let slot = &mut tree.slots[index];
        slot.last_exit = Some(ended.exit.clone());
        tracing::debug!(child = &*slot.path, generation, exit = %ended.exit, "child stopped");
        tree.set(index, State::Stopped);
        ended
    }

    /// Waits for the exit of child `id`'s incarnation `generation`, which
    /// was asked to stop, aborting it at `deadline`, or at once if the
    /// supervisor is asked to stop meanwhile (the request is kept in
    /// `deferred`); other exits wait in `pending`.
    async fn wait_exit(
        &self,
        id: usize,
        generation: u64,
        deadline: Option<Instant>,
        tree: &mut Running<R>,
    ) -> Ended {
        // It may have ended already, while another child was stopped.
        let early = tree
            .pending
            .iter()
            .position(|&(i, g, _)| (i, g) == (id, generation));
        if let Some((_, _, ended)) = early.and_then(|at| tree.pending.remove(at)) {
            return ended;
        }
        let mut deadline = deadline.map(Deadline::<R>::new);
        let mut aborted = false;
        core::future::poll_fn(|cx| {
            self.shared.control.register(cx.waker());
            self.take_request(tree);
            self.serve_kills(tree);
            // A shutdown asked for meanwhile may come sooner.
            if let Some(by) = tree.shutdown_by.filter(|_| !aborted) {
                if deadline.as_ref().is_none_or(|d| by < d.at()) {
                    deadline = Some(Deadline::new(by));
                }
            }
            let cut_short = !aborted && tree.deferred == Some(Request::Stop);
            if cut_short
                || deadline
                    .as_mut()
                    .is_some_and(|d| d.poll(self.runtime, cx).is_ready())
            {
                aborted = true;
                // Its grace is over: abort it.
                deadline = None;
                if let Some(index) = tree.position(id) {
                    if let State::Running { stopper, .. } = &tree.slots[index].state {
                        stopper.stop(Duration::ZERO);
                    }
                }
            }
            loop {
                match Pin::new(&mut tree.running).poll_next(cx) {
                    Poll::Ready(Some((i, g, ended))) if (i, g) == (id, generation) => {
                        return Poll::Ready(ended)
                    }
                    Poll::Ready(Some(other)) => tree.pending.push_back(other),
                    // Not reached: the child's future is in the set.
                    Poll::Ready(None) | Poll::Pending => return Poll::Pending,
                }
            }
        })
        .await
    }

    /// Stops every child in reverse start order, within `overall` (none:
    /// by their own stop modes alone), and reports how each ended.
    async fn stop_all(
        &self,
        mut overall: Option<Instant>,
        tree: &mut Running<R>,
    ) -> ShutdownReport {
        tree.timers.clear();
        let mut reports: Vec<Vec<ChildReport>> = vec![Vec::new(); tree.slots.len()];
        for index in (0..tree.slots.len()).rev() {
            if tree.deferred == Some(Request::Stop) {
                // Asked to stop meanwhile: the rest are aborted.
                overall = Some(self.runtime.now());
            }
            if let Some(by) = tree.shutdown_by {
                // A shutdown asked for meanwhile may come sooner.
                overall = Some(overall.map_or(by, |was| was.min(by)));
            }
            let inside = if matches!(tree.slots[index].state, State::Running { .. }) {
                self.stop_child(index, overall, tree).await.inside
            } else {
                Vec::new()
            };
            tree.set(index, State::Ended);
            let slot = &tree.slots[index];
            if let Some(exit) = slot.last_exit.clone() {
                reports[index].push(ChildReport {
                    path: slot.path.to_string(),
                    generation: slot.generation,
                    exit,
                });
            }
            reports[index].extend(inside);
        }
        tree.pending.clear();
        ShutdownReport {
            children: reports.into_iter().flatten().collect(),
        }
    }
}

/// Drops what user code made (a child's factory owns anything) without
/// letting a panic of its `Drop` fell the supervisor; says so if it did.
fn drop_user<T>(value: T, supervisor: &str) {
    if drop_quietly(value) {
        tracing::warn!(
            supervisor,
            "a value of a child panicked when dropped; contained"
        );
    }
}

/// How a child supervisor ended, as a child.
async fn supervisor_ended<R: Runtime>(child: &mut Supervisor<R>) -> Ended {
    match child.wait_report().await {
        Ok(report) => Ended {
            exit: ChildExit::Returned,
            inside: report.map(|r| r.children).unwrap_or_default(),
        },
        Err(error) => Ended {
            exit: ChildExit::Failed(Box::new(error)),
            inside: Vec::new(),
        },
    }
}

/// A group's shutdown report, as the reports of its tasks by path.
fn group_task_reports(path: &str, report: group::ShutdownReport) -> Vec<ChildReport> {
    report
        .tasks
        .into_iter()
        .map(|task| {
            let exit = ChildExit::from_exit(&task.exit);
            drop_exit(task.exit);
            ChildReport {
                path: format!("{path}/{}", task.index),
                generation: task.generation,
                exit,
            }
        })
        .collect()
}
