//! What a handler can do besides changing its state: reach its own
//! address, stop its actor, see which attempt a message is.

use core::fmt;
use std::time::Duration;

use futures_core::Stream;

use super::addr::Addr;
use super::behaviour::Actor;
use super::error::ActorExit;
use super::jobs::{self, JobId, Jobs};

/// The context an actor's handler and hooks run in.
///
/// # Examples
///
/// ```
/// use stage::actor::{Actor, Context};
///
/// struct Countdown(u32);
///
/// impl Actor for Countdown {
///     type Msg = ();
///
///     async fn handle(&mut self, _tick: (), ctx: &mut Context<Self>) {
///         self.0 -= 1;
///         if self.0 == 0 {
///             ctx.stop(); // after this message, for good
///         } else {
///             let _ = ctx.addr().try_tell(());
///         }
///     }
/// }
/// ```
pub struct Context<A: Actor> {
    addr: Addr<A>,
    attempt: u32,
    /// This incarnation's timers and streams, aborted with it.
    jobs: Jobs,
}

impl<A: Actor> Context<A> {
    pub(crate) fn new(addr: Addr<A>) -> Self {
        Self {
            addr,
            attempt: 0,
            jobs: Jobs::default(),
        }
    }

    pub(crate) fn set_attempt(&mut self, attempt: u32) {
        self.attempt = attempt;
    }

    /// The actor's own address: to send itself messages, or to hand out.
    ///
    /// An actor that [asks](Addr::ask) itself waits for an answer only it
    /// could give, after the message it is handling: the ask runs out of
    /// time. Tell itself instead.
    ///
    /// # Examples
    ///
    /// See [`Context`].
    pub fn addr(&self) -> &Addr<A> {
        &self.addr
    }

    /// The actor's name.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::actor::{Actor, Context};
    ///
    /// struct Logger;
    /// impl Actor for Logger {
    ///     type Msg = String;
    ///     async fn handle(&mut self, line: String, ctx: &mut Context<Self>) {
    ///         println!("{}: {line}", ctx.name());
    ///     }
    /// }
    /// ```
    pub fn name(&self) -> &str {
        self.addr.name()
    }

    /// Stops the actor for good once the current message is handled (as
    /// [`Addr::stop`]).
    ///
    /// # Examples
    ///
    /// See [`Context`].
    pub fn stop(&self) {
        self.addr.stop();
    }

    /// Sends the actor `msg` once `delay` has passed, through its mailbox
    /// (behind what is queued then).
    ///
    /// The timer belongs to this incarnation: if it ends first (stopped,
    /// failed, killed), the message is not sent, so a restarted actor does
    /// not get the timers of the one before it on top of its own. Set
    /// timers that every incarnation needs in [`Actor::started`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use stage::actor::{Actor, Context};
    ///
    /// enum Msg {
    ///     Request(u32),
    ///     Expire(u32),
    /// }
    ///
    /// struct Sessions;
    /// impl Actor for Sessions {
    ///     type Msg = Msg;
    ///     async fn handle(&mut self, msg: Msg, ctx: &mut Context<Self>) {
    ///         match msg {
    ///             Msg::Request(id) => {
    ///                 ctx.send_after(Duration::from_secs(30), Msg::Expire(id));
    ///             }
    ///             Msg::Expire(_id) => { /* forget the session */ }
    ///         }
    ///     }
    /// }
    /// ```
    pub fn send_after(&mut self, delay: Duration, msg: A::Msg) -> JobId {
        let job = jobs::after(self.addr.clone(), delay, msg);
        self.jobs.spawn(&self.addr, job)
    }

    /// Sends the actor a message made by `make` every `period`, the first
    /// one period from now, until it is [cancelled](Context::cancel) or
    /// this incarnation ends (see [`send_after`](Context::send_after)). A
    /// tick due while the last tick's message still waits for room in a
    /// full mailbox is skipped, not piled up.
    ///
    /// The ticks are messages: while the handler is slower than `period`,
    /// they queue in the mailbox as any message does (up to its capacity),
    /// and those already sent outlive a restart with the rest of the queue.
    /// What belongs to the incarnation is the timer: a restart stops it,
    /// and the new incarnation starts its own (if its `started` does).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use stage::actor::{Actor, Context, JobId};
    ///
    /// #[derive(Default)]
    /// struct Flusher {
    ///     ticker: Option<JobId>,
    ///     pending: Vec<String>,
    /// }
    ///
    /// enum Msg {
    ///     Line(String),
    ///     Flush,
    /// }
    ///
    /// impl Actor for Flusher {
    ///     type Msg = Msg;
    ///     async fn started(&mut self, ctx: &mut Context<Self>) {
    ///         self.ticker = Some(ctx.send_interval(Duration::from_secs(1), || Msg::Flush));
    ///     }
    ///     async fn handle(&mut self, msg: Msg, _ctx: &mut Context<Self>) {
    ///         match msg {
    ///             Msg::Line(line) => self.pending.push(line),
    ///             Msg::Flush => self.pending.clear(), // write them out here
    ///         }
    ///     }
    /// }
    /// ```
    pub fn send_interval(
        &mut self,
        period: Duration,
        make: impl FnMut() -> A::Msg + Send + 'static,
    ) -> JobId {
        let job = jobs::every(self.addr.clone(), period, make);
        self.jobs.spawn(&self.addr, job)
    }

    /// Feeds `stream` into the actor: each item, made a message by `map`,
    /// is sent through the mailbox in order, waiting for room (the stream
    /// is not polled while the mailbox is full). The feed ends with the
    /// stream, when [cancelled](Context::cancel), or when this incarnation
    /// ends (the rest of the stream is dropped then: add streams that
    /// every incarnation needs in [`Actor::started`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::actor::{Actor, Context};
    ///
    /// struct Summer {
    ///     total: u64,
    /// }
    ///
    /// impl Actor for Summer {
    ///     type Msg = u64;
    ///     async fn started(&mut self, ctx: &mut Context<Self>) {
    ///         ctx.add_stream(futures_util::stream::iter(1..=3), |n| n);
    ///     }
    ///     async fn handle(&mut self, n: u64, _ctx: &mut Context<Self>) {
    ///         self.total += n;
    ///     }
    /// }
    /// ```
    pub fn add_stream<S>(
        &mut self,
        stream: S,
        map: impl FnMut(S::Item) -> A::Msg + Send + 'static,
    ) -> JobId
    where
        S: Stream + Send + 'static,
    {
        let job = jobs::feed(self.addr.clone(), stream, map);
        self.jobs.spawn(&self.addr, job)
    }

    /// Watches `actor` (OTP's monitor, from inside an actor): once it has
    /// stopped for good, its exit, made a message by `map`, is sent to this
    /// actor. At once if it has ended already. Like a stream feed, the
    /// watch belongs to this incarnation: it ends when [cancelled](Context::cancel)
    /// or when the incarnation ends, so watch in [`Actor::started`] to
    /// watch across restarts.
    ///
    /// A task watches with [`Addr::stopped`] instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::actor::{Actor, ActorExit, Addr, Context};
    ///
    /// struct Worker;
    /// impl Actor for Worker {
    ///     type Msg = ();
    ///     async fn handle(&mut self, _: (), _ctx: &mut Context<Self>) {}
    /// }
    ///
    /// struct Monitor {
    ///     worker: Addr<Worker>,
    /// }
    ///
    /// enum Event {
    ///     Gone(ActorExit),
    /// }
    ///
    /// impl Actor for Monitor {
    ///     type Msg = Event;
    ///     async fn started(&mut self, ctx: &mut Context<Self>) {
    ///         ctx.watch(&self.worker, Event::Gone);
    ///     }
    ///     async fn handle(&mut self, Event::Gone(exit): Event, _ctx: &mut Context<Self>) {
    ///         println!("the worker ended: {exit}");
    ///     }
    /// }
    /// ```
    pub fn watch<B: Actor>(
        &mut self,
        actor: &Addr<B>,
        map: impl FnOnce(ActorExit) -> A::Msg + Send + 'static,
    ) -> JobId {
        let actor = actor.clone();
        let ended = futures_util::stream::once(async move { actor.stopped().await });
        let mut map = Some(map);
        self.add_stream(ended, move |exit| {
            let map = map.take().expect("a stream of one item maps once");
            map(exit)
        })
    }

    /// Ends a timer, an interval or a stream feed of this incarnation;
    /// `false` if it had ended already.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use stage::actor::{Actor, Context, JobId};
    ///
    /// enum Msg {
    ///     Start,
    ///     Stop,
    ///     Tick,
    /// }
    ///
    /// #[derive(Default)]
    /// struct Metronome(Option<JobId>);
    /// impl Actor for Metronome {
    ///     type Msg = Msg;
    ///     async fn handle(&mut self, msg: Msg, ctx: &mut Context<Self>) {
    ///         match msg {
    ///             Msg::Start => self.0 = Some(ctx.send_interval(Duration::from_millis(500), || Msg::Tick)),
    ///             Msg::Stop => {
    ///                 if let Some(ticker) = self.0.take() {
    ///                     ctx.cancel(ticker);
    ///                 }
    ///             }
    ///             Msg::Tick => println!("tick"),
    ///         }
    ///     }
    /// }
    /// ```
    pub fn cancel(&mut self, job: JobId) -> bool {
        self.jobs.cancel(job)
    }

    /// Which delivery of the message being handled this is: 1 the first
    /// time, more when an actor that [redelivers](super::Builder::redeliver)
    /// crashed on it before. 0 in the lifecycle hooks.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::actor::{Actor, Context};
    ///
    /// struct Charger;
    /// impl Actor for Charger {
    ///     type Msg = u64;
    ///     async fn handle(&mut self, order: u64, ctx: &mut Context<Self>) {
    ///         if ctx.attempt() > 1 {
    ///             // a crash interrupted an earlier attempt: check before charging again
    ///         }
    ///         let _ = order;
    ///     }
    /// }
    /// ```
    pub fn attempt(&self) -> u32 {
        self.attempt
    }
}

impl<A: Actor> fmt::Debug for Context<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("actor", &self.name())
            .field("attempt", &self.attempt)
            .finish()
    }
}
