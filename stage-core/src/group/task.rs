//! Which task of which group is running: for the user's code inside it
//! ([`current`], [`made_progress`]), its logs (a `tracing` span around every
//! poll), and its panics ([`trace_task_panics`]).

use core::borrow::Borrow;
use core::cell::Cell;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::ptr;
use core::task::{Context, Poll};

use crate::runtime::{panic_message, Exit};
use crate::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use crate::sync::Arc;

/// One incarnation of one task of a group: the group's name, the task's
/// place in it, and which start of that place this is.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (seen, ids) = stage::mailbox(4);
/// let group = stage::group().name("resizer").tasks(2).spawn(move || {
///     let seen = seen.clone();
///     async move {
///         let me = stage::group::current().expect("inside a group's task");
///         seen.send((me.index(), me.generation())).await.unwrap();
///         std::future::pending::<()>().await
///     }
/// });
/// let mut started = vec![ids.recv().await, ids.recv().await];
/// started.sort();
/// assert_eq!(started, [(0, 1), (1, 1)]);
/// assert_eq!(stage::group::current(), None); // not inside a task here
/// group.stop().await.unwrap();
/// # }
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TaskId {
    group: Arc<str>,
    index: usize,
    generation: u64,
}

impl TaskId {
    pub(crate) fn new(group: Arc<str>, index: usize, generation: u64) -> Self {
        Self {
            group,
            index,
            generation,
        }
    }

    /// The group's [name](super::Builder::name).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let group = stage::group().name("mailer").restart(stage::group::Restart::Never).spawn(|| async {
    ///     assert_eq!(stage::group::current().unwrap().group(), "mailer");
    /// });
    /// group.join().await.unwrap();
    /// # }
    /// ```
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The task's place in its group (0-based).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let group = stage::group().restart(stage::group::Restart::Never).spawn(|| async {
    ///     assert_eq!(stage::group::current().unwrap().index(), 0);
    /// });
    /// group.join().await.unwrap();
    /// # }
    /// ```
    pub fn index(&self) -> usize {
        self.index
    }

    /// Which start of its place this is: 1 for the first, one more per
    /// restart; never repeated for a place.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::group::{Backoff, Restart};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let group = stage::group()
    ///     .restart(Restart::OnFailure)
    ///     .backoff(Backoff::none())
    ///     .spawn(|| async {
    ///         // Crashes on its first two starts, then does its work.
    ///         if stage::group::current().unwrap().generation() < 3 {
    ///             panic!("not yet");
    ///         }
    ///     });
    /// group.join().await.unwrap();
    /// # }
    /// ```
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

impl fmt::Debug for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskId")
            .field("group", &&*self.group)
            .field("index", &self.index)
            .field("generation", &self.generation)
            .finish()
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]#{}", self.group, self.index, self.generation)
    }
}

/// One incarnation of a task as it runs: who it is, the span it runs in,
/// and whether it has reported progress since it started.
pub(crate) struct Incarnation {
    /// Its task's group (a tree's worker or actor: its path).
    group: Arc<str>,
    /// Its task's place in the group.
    index: usize,
    /// Which start of that place this is; it moves on for a task that runs
    /// its generations one after the other itself ([`next_generation`]).
    generation: AtomicU64,
    span: tracing::Span,
    progress: AtomicBool,
    /// Whether it ended because it was killed (an actor's
    /// [`Addr::kill`](crate::actor::Addr::kill)): its supervisor then
    /// counts it killed, however it returned.
    killed: AtomicBool,
    /// Set if it caught a panic that ends it (an actor, which runs its
    /// `stopped` hook first): its supervisor counts it panicked, with this
    /// message, though it returned — without unwinding a second time.
    panicked: std::sync::OnceLock<Option<String>>,
}

impl Incarnation {
    pub(crate) fn new(id: TaskId) -> Arc<Self> {
        let span = tracing::info_span!(
            "task",
            group = &*id.group,
            task = id.index,
            generation = id.generation
        );
        Arc::new(Self::with(id, span))
    }

    /// A supervision tree's worker or actor: [`current`] names it by its
    /// path (as its group, with index 0), and its span is
    /// `child{child, generation}`.
    pub(crate) fn child(path: Arc<str>, generation: u64) -> Self {
        Self::worker(path, 0, generation)
    }

    /// The incarnation of worker `index` of the tree's child or spawned
    /// actor at `path` (a pool's workers are told apart by it).
    pub(crate) fn worker(path: Arc<str>, index: usize, generation: u64) -> Self {
        let span = tracing::info_span!("child", child = &*path, worker = index, generation);
        Self::with(TaskId::new(path, index, generation), span)
    }

    fn with(id: TaskId, span: tracing::Span) -> Self {
        Self {
            group: id.group,
            index: id.index,
            generation: AtomicU64::new(id.generation),
            span,
            progress: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            panicked: std::sync::OnceLock::new(),
        }
    }

    /// Whether the task called [`made_progress`] during this incarnation.
    pub(crate) fn made_progress(&self) -> bool {
        // Relaxed: read after the task's exit, which the runtime's join
        // orders after everything the task did.
        self.progress.load(Ordering::Relaxed)
    }

    /// Whether the task said it was killed before it ended.
    pub(crate) fn was_killed(&self) -> bool {
        // Relaxed: as `made_progress`.
        self.killed.load(Ordering::Relaxed)
    }

    /// The task's exit as the task said it ended: one that returned after
    /// it was killed was aborted, and one that returned after a panic it
    /// caught ([`mark_panicked`]) panicked, with the panic's message. What
    /// a group or a tree reads, wherever it takes the exit.
    pub(crate) fn own_word(&self, exit: Exit) -> Exit {
        if !matches!(exit, Exit::Returned) {
            return exit;
        }
        if self.was_killed() {
            return Exit::Aborted;
        }
        match self.panicked.get() {
            Some(Some(message)) => Exit::Panicked(Box::new(message.clone())),
            Some(None) => Exit::Panicked(Box::new(())),
            None => exit,
        }
    }
}

std::thread_local! {
    /// The task being polled on this thread, if it is a group's: set by
    /// [`enter`] for the length of a call, to an incarnation that the call
    /// borrows (see there). A pointer, not a shared handle: entering a task
    /// at each poll costs no reference count.
    static CURRENT: Cell<*const Incarnation> = const { Cell::new(ptr::null()) };
}

/// Calls `f` with the task being polled on this thread; `None` outside one
/// (or while the thread's locals are destroyed).
fn with_current<T>(f: impl FnOnce(&Incarnation) -> T) -> Option<T> {
    let task = CURRENT.try_with(Cell::get).ok()?;
    // SAFETY: a non-null pointer in `CURRENT` was set by `enter` on this
    // thread from a reference that outlives `enter`'s call, and that call
    // is still running: it puts back the pointer from before it when it
    // returns or unwinds, and pointers from enclosing calls are restored
    // in their order. So it points to a live `Incarnation`, only read.
    unsafe { task.as_ref() }.map(f)
}

/// The group task the caller runs in, or `None` outside one (as
/// `tokio::task::try_id`).
///
/// Set while a group's task is polled, and while its factory makes it. Code
/// inside a task also runs in a `tracing` span named `task`, with the
/// fields `group`, `task` (the index) and `generation`, so its own log
/// lines carry them with no extra code.
///
/// A supervision tree's [worker](crate::supervisor::Child::worker) is a
/// task too: its id's group is the worker's path (`app/db`), its index 0,
/// and its span is named `child`, with the fields `child` (the path) and
/// `generation`.
///
/// # Examples
///
/// See [`TaskId`].
///
/// ```
/// assert!(stage::group::current().is_none());
/// ```
pub fn current() -> Option<TaskId> {
    // `try_with`: `None` rather than a panic while the thread's locals are
    // destroyed (the panic hook of `trace_task_panics` calls this).
    with_current(|task| TaskId {
        group: Arc::clone(&task.group),
        index: task.index,
        // Relaxed: written only by the task itself, between its polls.
        generation: task.generation.load(Ordering::Relaxed),
    })
}

/// The calling task's place in its group (0 outside any group's task): a
/// pool's worker, say, for the record of its own restarts.
pub(crate) fn current_index() -> usize {
    with_current(|task| task.index).unwrap_or(0)
}

/// Tells the group that the calling task did useful work: its next failure
/// is not counted as part of a crash loop, so its restart is immediate
/// rather than backed off (see [`Backoff`](super::Backoff)). Does nothing
/// outside a group's task or a supervision tree's worker (whose supervisor
/// starts its backoff anew the same way).
///
/// A pool's workers call it after each message they handle
/// ([`Worker::serve`](super::Worker::serve)); call it in tasks of your own
/// after each unit of work (a request served, a batch written), so that a
/// task that crashes now and then between useful work is told apart from
/// one that crashes at once on every start.
///
/// # Examples
///
/// ```
/// use stage::group::Restart;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let group = stage::group().restart(Restart::Never).spawn(|| async {
///     // ... a request served ...
///     stage::group::made_progress();
/// });
/// group.join().await.unwrap();
/// stage::group::made_progress(); // outside a task: nothing happens
/// # }
/// ```
pub fn made_progress() {
    // Relaxed: see `Incarnation::made_progress`.
    with_current(|task| task.progress.store(true, Ordering::Relaxed));
}

/// Whether the calling task [made progress](made_progress) since this was
/// last asked (or since it started); asking resets it. For a task that
/// supervises its own restarts (a spawned actor's), as a group's
/// supervisor reads its tasks' progress.
pub(crate) fn take_progress() -> bool {
    // Relaxed: see `Incarnation::made_progress`.
    with_current(|task| task.progress.swap(false, Ordering::Relaxed)).unwrap_or(false)
}

/// The calling task starts its next generation (a spawned actor's task,
/// which runs its incarnations one after the other): [`current`] and its
/// span say so from now on.
pub(crate) fn next_generation() {
    with_current(|task| {
        // Relaxed: written and read by the task itself.
        let generation = task.generation.fetch_add(1, Ordering::Relaxed) + 1;
        task.span.record("generation", generation);
    });
}

/// Marks the calling task as killed: its supervisor takes its end for a
/// kill, not a return.
pub(crate) fn mark_killed() {
    with_current(|task| task.killed.store(true, Ordering::Relaxed));
}

/// Marks the calling task as ended by a panic it caught (with its
/// message); `false` outside a supervised task, where the caller must let
/// the panic carry on instead.
pub(crate) fn mark_panicked(message: Option<String>) -> bool {
    with_current(|task| {
        let _ = task.panicked.set(message);
    })
    .is_some()
}

/// Runs `f` as `task`: inside its span, with [`current`] set.
pub(crate) fn enter<T>(task: &Incarnation, f: impl FnOnce() -> T) -> T {
    /// Restores the task that was current before, also if `f` panics.
    struct Restore(*const Incarnation);
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = CURRENT.try_with(|current| current.set(self.0));
        }
    }
    let _entered = task.span.enter();
    let previous = CURRENT.try_with(|current| current.replace(task));
    let _restore = Restore(previous.unwrap_or(ptr::null()));
    f()
}

pin_project_lite::pin_project! {
    /// A task's future, run as that task: see [`current`]. The future is
    /// kept inline: the runtime's allocation for the task is the only one.
    /// So is the incarnation (`I` is an `Incarnation`), unless its
    /// supervisor keeps a share of it to read how it ended (an
    /// `Arc<Incarnation>`).
    pub(crate) struct Supervised<F, I> {
        #[pin]
        future: F,
        task: I,
    }
}

impl<F, I: Borrow<Incarnation>> Supervised<F, I> {
    pub(crate) fn new(future: F, task: I) -> Self {
        Self { future, task }
    }
}

impl<F: Future, I: Borrow<Incarnation>> Future for Supervised<F, I> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let future = this.future;
        enter((*this.task).borrow(), || future.poll(cx))
    }
}

/// Logs the panics of group tasks with `tracing` instead of the standard
/// panic hook's lines on stderr; other panics go to the hook that was
/// installed before (the standard one, unless replaced).
///
/// Each panic inside a group's task, a supervision tree's worker, or an
/// actor (a tree's, or one a system spawned, whose handlers' panics the
/// actor catches itself) becomes one event at error level, in the task's
/// span (`group`, `task`, `generation`; a worker's or an actor's `child`,
/// `generation`), with the panic's message (`panic`) and `location`. The
/// group, tree or actor goes on counting and restarting as before; its own
/// events say what it did about it.
///
/// Without this, the standard hook prints each panic on stderr, whether or
/// not the group heals it: a pool whose handlers crash now and then prints a
/// few lines per crash. [`std::panic::set_hook`] replaces that for the whole
/// process; this does it for group tasks alone.
///
/// A panic hook is process-wide: call this once, early in `main`, where you
/// set up `tracing`.
///
/// # Examples
///
/// ```
/// use stage::group::{Backoff, Restart};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// stage::group::trace_task_panics();
/// let group = stage::group()
///     .restart(Restart::OnFailure)
///     .backoff(Backoff::none())
///     .spawn(|| async {
///         if stage::group::current().unwrap().generation() == 1 {
///             panic!("logged through tracing, not printed on stderr");
///         }
///     });
/// group.join().await.unwrap();
/// # }
/// ```
pub fn trace_task_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if current().is_none() {
            return previous(info);
        }
        let message = panic_message(info.payload()).unwrap_or("(a non-string payload)");
        let location = info.location().map(|l| l.to_string());
        // Inside the task's span: its fields come along.
        tracing::error!(panic = message, location, "task panicked");
    }));
}
