//! What a handler can do besides changing its state: reach its own
//! address, stop its actor, see which attempt a message is.

use core::fmt;

use super::addr::Addr;
use super::behaviour::Actor;

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
}

impl<A: Actor> Context<A> {
    pub(crate) fn new(addr: Addr<A>) -> Self {
        Self { addr, attempt: 0 }
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
