//! The tree as a value: what every child of a supervisor is doing, kept up
//! to date by the supervisor's task at each change, read by anyone at any
//! time (a snapshot never waits for the task, which may be busy stopping a
//! child) and watched like a group's stats.

use core::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::error::ChildExit;
use super::strategy::Strategy;
use super::tree::Shared;
use crate::group::policy::Intensity;
use crate::group::stats::{Gauges, StatsCell};
use crate::group::GroupHandle;
use crate::runtime::Runtime;
use crate::sync::Arc;

/// What kind of child it is.
///
/// # Examples
///
/// ```
/// use stage::supervisor::ChildKind;
///
/// assert_eq!(ChildKind::LinkedGroup.to_string(), "linked group");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChildKind {
    /// One task ([`Child::worker`](super::Child::worker)).
    Worker,
    /// A group that heals its own tasks ([`Child::group`](super::Child::group)).
    Group,
    /// A group whose task failures are the supervisor's
    /// ([`Child::linked_group`](super::Child::linked_group)).
    LinkedGroup,
    /// A supervisor ([`Child::supervisor`](super::Child::supervisor)).
    Supervisor,
    /// An actor ([`actor::Builder::child`](crate::actor::Builder::child)).
    Actor,
    /// A pool of actors sharing one mailbox
    /// ([`actor::Builder::pool`](crate::actor::Builder::pool)).
    ActorPool,
}

impl fmt::Display for ChildKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Worker => "worker",
            Self::Group => "group",
            Self::LinkedGroup => "linked group",
            Self::Supervisor => "supervisor",
            Self::Actor => "actor",
            Self::ActorPool => "actor pool",
        })
    }
}

/// What a child is doing.
///
/// # Examples
///
/// ```
/// use stage::supervisor::ChildState;
///
/// assert_eq!(ChildState::Running.to_string(), "running");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChildState {
    /// Started, and not ready yet (or waiting for the children before it
    /// to be ready).
    Starting,
    /// Running, and ready.
    Running,
    /// Waiting out its backoff before a restart: until then (`None`: a
    /// backoff too long to ever come).
    BackingOff(Option<Instant>),
    /// Being stopped (by a strategy, a request or a shutdown).
    Stopping,
    /// Stopped on request: started again only by
    /// [`restart_child`](super::SupervisorHandle::restart_child). (Also,
    /// for a moment, a child that failed, while the children its failure
    /// affects are stopped before it restarts.)
    Stopped,
    /// Ended, and not restarted (its restart type said so).
    Ended,
}

impl fmt::Display for ChildState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Starting => "starting",
            Self::Running => "running",
            Self::BackingOff(_) => "backing off",
            Self::Stopping => "stopping",
            Self::Stopped => "stopped",
            Self::Ended => "ended",
        })
    }
}

/// One child in a [`Snapshot`].
///
/// # Examples
///
/// See [`Snapshot`].
///
/// ```
/// # fn f(child: &stage::supervisor::ChildSnapshot) {
/// println!("{} ({}) is {}, generation {}", child.path, child.kind, child.state, child.generation);
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChildSnapshot {
    /// Its name.
    pub name: String,
    /// Its path (`app/pipeline/writer`).
    pub path: String,
    /// What kind of child it is.
    pub kind: ChildKind,
    /// What it is doing.
    pub state: ChildState,
    /// Its incarnation: 1 for the first start, one more per start after.
    pub generation: u64,
    /// Times its supervisor restarted it because it ended (a failure; for
    /// a [`Restart::Always`](crate::group::Restart::Always) child, a
    /// return too). A restart because another child failed (under
    /// one_for_all or rest_for_one), or one on request, is not counted
    /// here; its generation says it.
    pub restarts: u64,
    /// How its last incarnation ended, if one did.
    pub last_exit: Option<ChildExit>,
    /// Tasks running: 1 or 0 for a worker, a group's running tasks.
    pub running_tasks: usize,
    /// A group's own stats (its tasks' restarts and failures, which it
    /// heals itself), while it runs.
    pub group: Option<crate::group::Stats>,
    /// Messages in its mailbox, if it declared one
    /// ([`Child::mailbox`](super::Child::mailbox)).
    pub mailbox: Option<usize>,
    /// A child supervisor's own snapshot, while it runs.
    pub supervisor: Option<Box<Snapshot>>,
}

/// A supervisor and its children as a value, at one moment: read with
/// [`SupervisorHandle::snapshot`](super::SupervisorHandle::snapshot). Its
/// `Display` is an indented tree, for a person to read at a glance:
///
/// ```text
/// app  one_for_one  restarts 1/5 in 10s
/// ├─ db        worker        running      gen 1
/// ├─ pipeline  supervisor    running      gen 1
/// │  ├─ reader  worker       running      gen 2  restarts 1  mailbox 12  last: panicked: bad input
/// │  └─ writer  group        running      gen 1  tasks 4
/// └─ api       worker        backing off  gen 3  restarts 2  in 1.2s  last: panicked: boom
/// ```
///
/// # Examples
///
/// ```
/// use stage::supervisor::{Child, ChildState};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let tree = stage::supervisor()
///     .name("app")
///     .child(Child::worker("db", |stop| async move { stop.requested().await }))
///     .spawn();
/// tree.ready().await.unwrap();
/// let snapshot = tree.snapshot();
/// assert_eq!(snapshot.children[0].path, "app/db");
/// assert_eq!(snapshot.children[0].state, ChildState::Running);
/// println!("{snapshot}");
/// # tree.stop().await.unwrap();
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Snapshot {
    /// The supervisor's path.
    pub path: String,
    /// Its strategy.
    pub strategy: Strategy,
    /// Restarts inside the intensity window now.
    pub restarts: u32,
    /// The most restarts the window allows.
    pub max_restarts: u32,
    /// The window.
    pub within: Duration,
    /// Whether it has ended.
    pub ended: bool,
    /// When it was taken, by the runtime's clock.
    pub at: Instant,
    /// Its children, in start order.
    pub children: Vec<ChildSnapshot>,
}

impl Snapshot {
    /// Every child of the tree, depth first, with its depth (0 for the
    /// root's children).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn f(snapshot: &stage::supervisor::Snapshot) {
    /// let running = snapshot.walk().filter(|(_, c)| c.running_tasks > 0).count();
    /// # }
    /// ```
    pub fn walk(&self) -> impl Iterator<Item = (usize, &ChildSnapshot)> {
        let mut stack: Vec<(usize, &ChildSnapshot)> =
            self.children.iter().rev().map(|c| (0, c)).collect();
        core::iter::from_fn(move || {
            let (depth, child) = stack.pop()?;
            if let Some(inner) = &child.supervisor {
                stack.extend(inner.children.iter().rev().map(|c| (depth + 1, c)));
            }
            Some((depth, child))
        })
    }

    /// The child at `path`, anywhere in the tree.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn f(snapshot: &stage::supervisor::Snapshot) {
    /// if let Some(writer) = snapshot.find("app/pipeline/writer") {
    ///     println!("writer: {}", writer.state);
    /// }
    /// # }
    /// ```
    pub fn find(&self, path: &str) -> Option<&ChildSnapshot> {
        self.walk().map(|(_, c)| c).find(|c| c.path == path)
    }

    fn write_children(
        &self,
        f: &mut fmt::Formatter<'_>,
        prefix: &str,
        now: Instant,
    ) -> fmt::Result {
        let width = self
            .children
            .iter()
            .map(|c| c.name.len())
            .max()
            .unwrap_or(0);
        for (i, child) in self.children.iter().enumerate() {
            let last = i + 1 == self.children.len();
            let (branch, indent) = if last {
                ("└─ ", "   ")
            } else {
                ("├─ ", "│  ")
            };
            write!(
                f,
                "\n{prefix}{branch}{:width$}  {:<12}  {:<11}  gen {}",
                child.name,
                child.kind.to_string(),
                child.state.to_string(),
                child.generation
            )?;
            if child.restarts > 0 {
                write!(f, "  restarts {}", child.restarts)?;
            }
            if matches!(
                child.kind,
                ChildKind::Group | ChildKind::LinkedGroup | ChildKind::ActorPool
            ) {
                write!(f, "  tasks {}", child.running_tasks)?;
            }
            if let Some(failed) = child.group.map(|stats| stats.failed()).filter(|&n| n > 0) {
                write!(f, "  task failures {failed}")?;
            }
            if let Some(depth) = child.mailbox {
                write!(f, "  mailbox {depth}")?;
            }
            if let ChildState::BackingOff(Some(until)) = child.state {
                write!(f, "  in {:.1?}", until.saturating_duration_since(now))?;
            }
            if let Some(exit) = &child.last_exit {
                write!(f, "  last: {exit}")?;
            }
            if let Some(inner) = &child.supervisor {
                inner.write_children(f, &format!("{prefix}{indent}"), now)?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let strategy = match self.strategy {
            Strategy::OneForOne => "one_for_one",
            Strategy::OneForAll => "one_for_all",
            Strategy::RestForOne => "rest_for_one",
        };
        write!(
            f,
            "{}  {strategy}  restarts {}/{} in {:?}{}",
            self.path,
            self.restarts,
            self.max_restarts,
            self.within,
            if self.ended { "  (ended)" } else { "" }
        )?;
        self.write_children(f, "", self.at)
    }
}

/// Counts over a supervisor's children, as published at each change: read
/// with [`SupervisorHandle::stat_borrow`](super::SupervisorHandle::stat_borrow), and
/// waited on with [`SupervisorHandle::changed`](super::SupervisorHandle::changed).
/// They count this supervisor's own children; a child supervisor has its
/// own.
///
/// # Examples
///
/// ```
/// use stage::supervisor::Child;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let tree = stage::supervisor()
///     .child(Child::worker("db", |stop| async move { stop.requested().await }))
///     .spawn();
/// tree.ready().await.unwrap();
/// let stats = tree.stat_borrow();
/// assert_eq!((stats.children, stats.running), (1, 1));
/// # tree.stop().await.unwrap();
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TreeStats {
    /// Children it has.
    pub children: usize,
    /// Children started and not ready yet, or waiting to start.
    pub starting: usize,
    /// Children running, and ready.
    pub running: usize,
    /// Children waiting out a backoff.
    pub backing_off: usize,
    /// Children being stopped.
    pub stopping: usize,
    /// Children stopped on request.
    pub stopped: usize,
    /// Children ended for good.
    pub ended: usize,
    /// Starts of children, first starts and restarts alike.
    pub started: u64,
    /// Restarts of children because they ended (as
    /// [`ChildSnapshot::restarts`] counts them), each counted against the
    /// restart intensity.
    pub restarts: u64,
    /// Exits that were failures (a failed
    /// [`start_child`](super::SupervisorHandle::start_child) included,
    /// which does not count against the intensity).
    pub failures: u64,
}

impl TreeStats {
    pub(crate) fn gauge(&mut self, state: ChildState) -> &mut usize {
        match state {
            ChildState::Starting => &mut self.starting,
            ChildState::Running => &mut self.running,
            ChildState::BackingOff(_) => &mut self.backing_off,
            ChildState::Stopping => &mut self.stopping,
            ChildState::Stopped => &mut self.stopped,
            ChildState::Ended => &mut self.ended,
        }
    }
}

impl Gauges for TreeStats {
    fn at_rest(&mut self) -> bool {
        let moving = self.starting + self.running + self.backing_off + self.stopping;
        if moving == 0 {
            return false;
        }
        self.ended += moving;
        (self.starting, self.running, self.backing_off, self.stopping) = (0, 0, 0, 0);
        true
    }
}

/// What links a child's view to what runs inside it.
pub(crate) enum Inside<R: Runtime> {
    Nothing,
    Group(GroupHandle<R>),
    Supervisor(Arc<Shared<R>>),
}

/// One child, as the supervisor's task last published it.
pub(crate) struct ChildView<R: Runtime> {
    pub(crate) name: Arc<str>,
    pub(crate) path: Arc<str>,
    pub(crate) kind: ChildKind,
    pub(crate) state: ChildState,
    pub(crate) generation: u64,
    pub(crate) restarts: u64,
    pub(crate) last_exit: Option<ChildExit>,
    pub(crate) inside: Inside<R>,
    pub(crate) mailbox: Option<Arc<dyn Fn() -> usize + Send + Sync>>,
}

/// A supervisor's children as its task last published them, with its
/// restart intensity (kept here, so that a snapshot can count the restarts
/// in the window).
pub(crate) struct View<R: Runtime> {
    pub(crate) strategy: Strategy,
    pub(crate) intensity: Intensity,
    pub(crate) children: Vec<ChildView<R>>,
    pub(crate) stats: TreeStats,
}

/// A supervisor's view and its published stats.
pub(crate) struct Views<R: Runtime> {
    pub(crate) view: Mutex<View<R>>,
    pub(crate) stats: StatsCell<TreeStats>,
}

impl<R: Runtime> Views<R> {
    pub(crate) fn new(strategy: Strategy, intensity: Intensity) -> Self {
        Self {
            view: Mutex::new(View {
                strategy,
                intensity,
                children: Vec::new(),
                stats: TreeStats::default(),
            }),
            stats: StatsCell::new(TreeStats::default()),
        }
    }

    /// Changes the view under its lock, then publishes its stats.
    pub(crate) fn update<T>(&self, change: impl FnOnce(&mut View<R>) -> T) -> T {
        let (out, stats) = {
            let mut view = self.view.lock().unwrap_or_else(|e| e.into_inner());
            let out = change(&mut view);
            (out, view.stats)
        };
        self.stats.publish(&stats);
        out
    }

    /// Moves child `index` to `state`, counting it.
    pub(crate) fn set_state(view: &mut View<R>, index: usize, state: ChildState) {
        let child = &mut view.children[index];
        let was = core::mem::replace(&mut child.state, state);
        *view.stats.gauge(was) -= 1;
        *view.stats.gauge(state) += 1;
    }
}

/// The generation of the child named `name` of the supervisor `shared`.
pub(crate) fn generation<R: Runtime>(shared: &Shared<R>, name: &str) -> Option<u64> {
    let view = shared.views.view.lock().unwrap_or_else(|e| e.into_inner());
    let child = view.children.iter().find(|child| &*child.name == name)?;
    Some(child.generation)
}

/// The child supervisor named `name` of the supervisor `shared`, while it
/// runs.
pub(crate) fn child_supervisor<R: Runtime>(
    shared: &Shared<R>,
    name: &str,
) -> Option<Arc<Shared<R>>> {
    let view = shared.views.view.lock().unwrap_or_else(|e| e.into_inner());
    view.children
        .iter()
        .find(|child| &*child.name == name)
        .and_then(|child| match &child.inside {
            Inside::Supervisor(inner) => Some(Arc::clone(inner)),
            _ => None,
        })
}

/// Reads the tree below `shared`, as it is now.
pub(crate) fn snapshot<R: Runtime>(shared: &Shared<R>, now: Instant) -> Snapshot {
    let mut below = Vec::new();
    let mut level = {
        let view = shared.views.view.lock().unwrap_or_else(|e| e.into_inner());
        let children = view
            .children
            .iter()
            .map(|child| {
                let group = match &child.inside {
                    Inside::Group(handle) => Some(*handle.stat_borrow()),
                    _ => None,
                };
                let running_tasks = match (&child.inside, child.state) {
                    (Inside::Group(_), _) => group.map_or(0, |stats| stats.running),
                    (_, ChildState::Running | ChildState::Starting | ChildState::Stopping) => 1,
                    _ => 0,
                };
                below.push(match &child.inside {
                    Inside::Supervisor(inner) => Some(Arc::clone(inner)),
                    _ => None,
                });
                ChildSnapshot {
                    name: child.name.to_string(),
                    path: child.path.to_string(),
                    kind: child.kind,
                    state: child.state,
                    generation: child.generation,
                    restarts: child.restarts,
                    last_exit: child.last_exit.clone(),
                    running_tasks,
                    group,
                    mailbox: child.mailbox.as_ref().map(|depth| depth()),
                    supervisor: None,
                }
            })
            .collect();
        Snapshot {
            path: shared.path.to_string(),
            strategy: view.strategy,
            restarts: view.intensity.in_window(now),
            max_restarts: view.intensity.restarts(),
            within: view.intensity.within(),
            ended: shared.ended.is_requested(),
            at: now,
            children,
        }
    };
    // The levels below, read without holding this one's lock.
    for (child, inner) in level.children.iter_mut().zip(below) {
        if let Some(inner) = inner {
            let inner = snapshot(&inner, now);
            child.running_tasks = inner.children.iter().map(|c| c.running_tasks).sum();
            child.supervisor = Some(Box::new(inner));
        }
    }
    level
}
