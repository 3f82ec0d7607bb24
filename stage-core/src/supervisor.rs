//! Supervision trees: supervisors of workers, groups and other supervisors,
//! restarting them by strategy (OTP's `one_for_one`, `one_for_all`,
//! `rest_for_one`), and giving up — up to their parent, or at the root to
//! the caller, with a typed error — when restarts come too fast.
//!
//! A [`Builder`] lists the [children](Child) in start order; [`spawn`]
//! starts them, and a supervisor task that restarts them. The
//! [`Supervisor`] it returns waits for the tree to end ([`join`]), stops it
//! ([`stop`]), or shuts it down under one deadline with a report of every
//! child ([`shutdown`]). Dropping it stops the tree: nothing outlives it.
//!
//! Groups are children in two ways: a group that heals its own tasks and
//! fails only when it gives up ([`Child::group`]), and a group whose task
//! failures are the supervisor's to handle ([`Child::linked_group`]): two
//! linked groups under [`Strategy::OneForAll`] restart together, and the
//! mailboxes between them, being yours, keep their messages.
//!
//! The examples use the `stage` crate (`stage::supervisor()` is
//! `Builder::new(Tokio::current())`).
//!
//! [`spawn`]: Builder::spawn
//! [`join`]: Supervisor::join
//! [`stop`]: Supervisor::stop
//! [`shutdown`]: Supervisor::shutdown

pub(crate) mod child;
mod error;
mod handle;
mod ready;
mod reply;
mod strategy;
mod tree;
mod view;

use core::fmt;
use core::ops::{Deref, DerefMut};
use std::time::Duration;

/// Restart types and backoff are the groups' own, here too.
pub use crate::group::{Backoff, Restart};
pub use child::Child;
pub use error::{ChildError, ChildExit, ChildReport, Restarted, ShutdownReport, SupervisorError};
pub use handle::SupervisorHandle;
pub use ready::Ready;
pub use strategy::{AutoShutdown, StopMode, Strategy};
pub use view::{ChildKind, ChildSnapshot, ChildState, Snapshot, TreeStats};

use crate::group::control::Request;
use crate::group::policy::Intensity;
use crate::runtime::{drop_exit, Exit, Runtime};
use crate::sync::Arc;
use tree::{Closing, Ending, Shared, Tree};
use view::Views;

/// How many restarts a supervisor allows within [`DEFAULT_WITHIN`] unless
/// told otherwise (see [`Builder::intensity`]).
///
/// # Examples
///
/// ```
/// assert_eq!(stage::supervisor::DEFAULT_RESTARTS, 5);
/// ```
pub const DEFAULT_RESTARTS: u32 = 5;

/// The window of the default restart intensity (see [`Builder::intensity`]).
///
/// # Examples
///
/// ```
/// assert_eq!(stage::supervisor::DEFAULT_WITHIN, std::time::Duration::from_secs(10));
/// ```
pub const DEFAULT_WITHIN: Duration = Duration::from_secs(10);

/// The most restarts a [`SupervisorError::GaveUp`] lists in its history
/// (the last ones), however many its intensity allows.
///
/// # Examples
///
/// ```
/// assert_eq!(stage::supervisor::HISTORY, 64);
/// ```
pub const HISTORY: usize = 64;

/// How long a child may take to start unless told otherwise (see
/// [`Child::start_timeout`]).
///
/// # Examples
///
/// ```
/// assert_eq!(stage::supervisor::DEFAULT_START_TIMEOUT, std::time::Duration::from_secs(10));
/// ```
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(10);

/// A supervisor's settings and children, before it starts.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use stage::supervisor::{Child, Strategy};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let tree = stage::supervisor()
///     .name("app")
///     .strategy(Strategy::RestForOne)
///     .intensity(3, Duration::from_secs(5))
///     .child(Child::worker("db", |stop| async move { stop.requested().await }))
///     .child(Child::worker("api", |stop| async move { stop.requested().await }))
///     .spawn();
/// tree.ready().await.unwrap(); // both started, in order
/// let report = tree.shutdown(Duration::from_secs(5)).await.unwrap();
/// // Stopped in reverse order, reported in start order.
/// let paths: Vec<_> = report.children.iter().map(|c| c.path.as_str()).collect();
/// assert_eq!(paths, ["app/db", "app/api"]);
/// # }
/// ```
#[must_use = "a supervisor starts only when `spawn` is called"]
pub struct Builder<R: Runtime> {
    pub(crate) runtime: R,
    pub(crate) name: Arc<str>,
    /// The parent's path, for a child supervisor.
    parent: Option<Arc<str>>,
    strategy: Strategy,
    auto_shutdown: AutoShutdown,
    pub(crate) intensity: Intensity,
    pub(crate) backoff: Backoff,
    children: Vec<Child<R>>,
}

impl<R: Runtime> Builder<R> {
    /// A supervisor with no children yet, [`Strategy::OneForOne`], the
    /// default intensity and backoff, on `runtime`.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::runtime::Tokio;
    /// use stage::supervisor::Builder;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let tree = Builder::new(Tokio::current()).spawn();
    /// tree.stop().await.unwrap(); // no children yet: they can be started later
    /// # }
    /// ```
    pub fn new(runtime: R) -> Self {
        Self {
            runtime,
            name: Arc::from("supervisor"),
            parent: None,
            strategy: Strategy::default(),
            auto_shutdown: AutoShutdown::default(),
            intensity: Intensity::new(DEFAULT_RESTARTS, DEFAULT_WITHIN),
            backoff: Backoff::default(),
            children: Vec::new(),
        }
    }

    /// The supervisor's name, the last part of its path in events, errors
    /// and reports (default `"supervisor"`; a child supervisor is named by
    /// its [`Child`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let tree = stage::supervisor().name("app").spawn();
    /// # tree.stop().await.unwrap();
    /// # }
    /// ```
    pub fn name(mut self, name: impl AsRef<str>) -> Self {
        self.name = Arc::from(name.as_ref());
        self
    }

    /// Which children restart when one fails; see [`Strategy`].
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::supervisor::Strategy;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let tree = stage::supervisor().strategy(Strategy::OneForAll).spawn();
    /// # tree.stop().await.unwrap();
    /// # }
    /// ```
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// When the supervisor shuts down on its own: never (the default), or
    /// once its [significant](Child::significant) children have ended; see
    /// [`AutoShutdown`].
    ///
    /// # Examples
    ///
    /// See [`Child::significant`].
    ///
    /// ```
    /// use stage::group::Restart;
    /// use stage::supervisor::{AutoShutdown, Child};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let tree = stage::supervisor()
    ///     .auto_shutdown(AutoShutdown::AllSignificant)
    ///     .child(Child::worker("a", |_stop| async {}).restart(Restart::Never).significant())
    ///     .child(Child::worker("b", |_stop| async {}).restart(Restart::Never).significant())
    ///     .spawn();
    /// tree.join().await.unwrap(); // both jobs done
    /// # }
    /// ```
    pub fn auto_shutdown(mut self, auto_shutdown: AutoShutdown) -> Self {
        self.auto_shutdown = auto_shutdown;
        self
    }

    /// Restart intensity, over all children: if they need more than
    /// `restarts` restarts within `within`, the supervisor stops every
    /// child, in reverse order, and fails — its parent handles that as a
    /// child's failure; at the root, [`join`](Supervisor::join) reports it.
    ///
    /// On by default ([`DEFAULT_RESTARTS`] within [`DEFAULT_WITHIN`]), unlike
    /// a group's: a group is a leaf that heals its tasks for as long as it
    /// runs, while a supervisor's job is also to give up on what it cannot
    /// heal, so that a parent restarts more of the tree, or the root
    /// reports why it stopped. With backoff between restarts, a child that
    /// crashes on every start uses up the default in a second or two.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let tree = stage::supervisor().intensity(1, Duration::from_secs(5)).spawn();
    /// # tree.stop().await.unwrap();
    /// # }
    /// ```
    pub fn intensity(mut self, restarts: u32, within: Duration) -> Self {
        self.intensity = Intensity::new(restarts, within);
        self
    }

    /// The wait before restarting a child that keeps failing; see
    /// [`Backoff`]. The children its failure affects wait with it.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::group::Backoff;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let tree = stage::supervisor().backoff(Backoff::none()).spawn();
    /// # tree.stop().await.unwrap();
    /// # }
    /// ```
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Adds a child, started after those added before it (once they are
    /// ready). Names are unique among a supervisor's children: a supervisor
    /// given two of one name fails at start with
    /// [`SupervisorError::InvalidChild`].
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::supervisor::Child;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let tree = stage::supervisor()
    ///     .child(Child::worker("first", |stop| async move { stop.requested().await }))
    ///     .child(Child::worker("second", |stop| async move { stop.requested().await }))
    ///     .spawn();
    /// # tree.stop().await.unwrap();
    /// # }
    /// ```
    pub fn child(mut self, child: Child<R>) -> Self {
        self.children.push(child);
        self
    }

    /// Places a child supervisor under its parent's path.
    pub(crate) fn under(mut self, parent: &Arc<str>) -> Self {
        self.parent = Some(Arc::clone(parent));
        self
    }

    /// Starts the supervisor: its children, in order, and a task that
    /// restarts them.
    ///
    /// # Panics
    ///
    /// Where the runtime's `spawn` panics (for tokio: outside a runtime).
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::supervisor::Child;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let tree = stage::supervisor()
    ///     .child(Child::worker("server", |stop| async move { stop.requested().await }))
    ///     .spawn();
    /// tree.stop().await.unwrap();
    /// # }
    /// ```
    #[track_caller]
    pub fn spawn(self) -> Supervisor<R> {
        let path: Arc<str> = match &self.parent {
            Some(parent) => Arc::from(format!("{parent}/{}", self.name)),
            None => Arc::clone(&self.name),
        };
        let views = Views::new(self.strategy, self.intensity);
        let shared = Arc::new(Shared::new(path, views, self.runtime.clone()));
        let tree = Tree {
            runtime: self.runtime.clone(),
            // Made here, so that the supervisor's future, dropped even
            // before its first poll, refuses commands and says it ended.
            closing: Closing(Arc::clone(&shared)),
            strategy: self.strategy,
            auto_shutdown: self.auto_shutdown,
            backoff: self.backoff,
            children: self.children,
        };
        let task = self.runtime.spawn(tree.run());
        Supervisor {
            handle: SupervisorHandle { shared, seen: 0 },
            task: Some(task),
        }
    }
}

impl<R: Runtime> Clone for Builder<R> {
    fn clone(&self) -> Self {
        Self {
            runtime: self.runtime.clone(),
            name: Arc::clone(&self.name),
            parent: self.parent.clone(),
            strategy: self.strategy,
            auto_shutdown: self.auto_shutdown,
            intensity: Intensity::new(self.intensity.restarts(), self.intensity.within()),
            backoff: self.backoff,
            children: self.children.clone(),
        }
    }
}

impl<R: Runtime> fmt::Debug for Builder<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("name", &&*self.name)
            .field("strategy", &self.strategy)
            .field("children", &self.children)
            .finish_non_exhaustive()
    }
}

/// A running supervisor: the root of a tree, or of a subtree.
///
/// Dropping it stops the tree: every child is stopped, right after. It
/// derefs to its [`SupervisorHandle`], which starts, stops, restarts and
/// removes children by name.
///
/// # Examples
///
/// ```
/// use stage::supervisor::Child;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let tree = stage::supervisor()
///     .child(Child::worker("server", |stop| async move { stop.requested().await }))
///     .spawn();
/// tree.stop().await.unwrap();
/// # }
/// ```
#[must_use = "dropping a supervisor stops its tree"]
pub struct Supervisor<R: Runtime> {
    pub(crate) handle: SupervisorHandle<R>,
    /// `None` once awaited.
    task: Option<R::Task>,
}

impl<R: Runtime> Supervisor<R> {
    /// Waits until the tree ends on its own: its significant children
    /// ended (see [`AutoShutdown`]), or the supervisor gave up, or it was
    /// asked to stop through a [`SupervisorHandle`].
    ///
    /// # Errors
    ///
    /// The [`SupervisorError`] if it gave up, or if its task failed.
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future drops the supervisor, which stops the
    /// tree.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::group::Restart;
    /// use stage::supervisor::Child;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use stage::supervisor::AutoShutdown;
    ///
    /// let tree = stage::supervisor()
    ///     .auto_shutdown(AutoShutdown::AnySignificant)
    ///     .child(Child::worker("migration", |_stop| async {}).restart(Restart::OnFailure).significant())
    ///     .spawn();
    /// tree.join().await.unwrap();
    /// # }
    /// ```
    pub async fn join(mut self) -> Result<(), SupervisorError> {
        self.wait_report().await.map(drop)
    }

    /// Stops the tree: every child is aborted, in reverse start order, and
    /// waited for.
    ///
    /// # Errors
    ///
    /// The [`SupervisorError`] if the supervisor had given up before.
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future drops the supervisor: the children are
    /// still stopped, but nothing waits for them.
    ///
    /// # Examples
    ///
    /// See [`Supervisor`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// stage::supervisor().spawn().stop().await.unwrap();
    /// # }
    /// ```
    pub async fn stop(mut self) -> Result<(), SupervisorError> {
        self.request_stop();
        self.wait_report().await.map(drop)
    }

    /// Shuts the tree down under one deadline: the children are stopped in
    /// reverse start order, each by its [`StopMode`] but none past the
    /// deadline, and the report says how every child ended, by path. A
    /// later, shorter shutdown (through a handle) cuts this one short; a
    /// stop aborts what is left.
    ///
    /// Aborting a task is cooperative, as in any async runtime: a task that
    /// never reaches an `.await` (a busy loop) ends at its next one, and the
    /// shutdown waits for it.
    ///
    /// # Errors
    ///
    /// The [`SupervisorError`] if the supervisor had given up before.
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future drops the supervisor, which cuts the
    /// shutdown short: the children still running are aborted.
    ///
    /// # Examples
    ///
    /// See [`Builder`].
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let report = stage::supervisor().spawn().shutdown(Duration::from_secs(1)).await.unwrap();
    /// assert!(report.children.is_empty());
    /// # }
    /// ```
    pub async fn shutdown(mut self, grace: Duration) -> Result<ShutdownReport, SupervisorError> {
        self.request_shutdown(grace);
        Ok(self.wait_report().await?.unwrap_or_default())
    }

    /// Waits until the supervisor has ended; takes its report, if it left
    /// one.
    pub(crate) async fn wait_report(&mut self) -> Result<Option<ShutdownReport>, SupervisorError> {
        if let Some(task) = self.task.take() {
            let exit = task.await;
            let supervisor = self.path().to_owned();
            let error = match &exit {
                Exit::Returned => None,
                Exit::Panicked(_) => Some(SupervisorError::SupervisorPanicked {
                    supervisor,
                    message: exit.panic_message().map(str::to_owned),
                }),
                Exit::Aborted => Some(SupervisorError::SupervisorAborted { supervisor }),
            };
            drop_exit(exit);
            if let Some(error) = error {
                return Err(error);
            }
        }
        let ending = self
            .handle
            .shared
            .ending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        match ending {
            Some(Ending::Failed(error)) => Err(error),
            Some(Ending::ShutDown(report)) => Ok(Some(report)),
            None => Ok(None),
        }
    }

    /// A handle to the supervisor, for other tasks: it does not keep the
    /// tree running.
    ///
    /// # Examples
    ///
    /// See [`SupervisorHandle`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let tree = stage::supervisor().spawn();
    /// let handle: stage::supervisor::SupervisorHandle<_> = tree.handle();
    /// # drop(handle);
    /// # tree.stop().await.unwrap();
    /// # }
    /// ```
    pub fn handle(&self) -> SupervisorHandle<R> {
        self.handle.clone()
    }
}

impl<R: Runtime> Deref for Supervisor<R> {
    type Target = SupervisorHandle<R>;

    fn deref(&self) -> &SupervisorHandle<R> {
        &self.handle
    }
}

impl<R: Runtime> DerefMut for Supervisor<R> {
    fn deref_mut(&mut self) -> &mut SupervisorHandle<R> {
        &mut self.handle
    }
}

impl<R: Runtime> Drop for Supervisor<R> {
    fn drop(&mut self) {
        self.handle.shared.control.request(Request::Stop);
    }
}

impl<R: Runtime> fmt::Debug for Supervisor<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Supervisor")
            .field("path", &self.path())
            .finish_non_exhaustive()
    }
}
