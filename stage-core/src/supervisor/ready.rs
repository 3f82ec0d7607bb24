//! How a child says it is ready, so that the next child starts only then.

use core::fmt;

use crate::group::StopSignal;

/// Given to a worker made with [`Child::worker_with_ready`]: the worker
/// calls [`notify`](Ready::notify) once it can serve (its database pool
/// connected, its socket bound), and only then does its supervisor start
/// the next child, as OTP's `init` does. A worker that is not ready within
/// its [start timeout](super::Child::start_timeout) fails to start.
///
/// Clones are the same signal: any of them may notify.
///
/// [`Child::worker_with_ready`]: super::Child::worker_with_ready
///
/// # Examples
///
/// ```
/// use stage::supervisor::Child;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let db = Child::worker_with_ready("db", |stop, ready| async move {
///     // connect first ...
///     ready.notify(); // ... then let the next child start
///     stop.requested().await;
/// });
/// let tree = stage::supervisor().child(db).spawn();
/// tree.ready().await.unwrap();
/// # tree.stop().await.unwrap();
/// # }
/// ```
#[derive(Clone, Default)]
pub struct Ready(StopSignal);

impl Ready {
    /// Says the child is ready. Later calls do nothing.
    ///
    /// # Examples
    ///
    /// See [`Ready`].
    ///
    /// ```
    /// # fn f(ready: stage::supervisor::Ready) {
    /// ready.notify();
    /// assert!(ready.is_notified());
    /// # }
    /// ```
    pub fn notify(&self) {
        self.0.request();
    }

    /// Whether [`notify`](Ready::notify) was called.
    ///
    /// # Examples
    ///
    /// See [`Ready::notify`].
    ///
    /// ```
    /// # fn f(ready: stage::supervisor::Ready) {
    /// if !ready.is_notified() {
    ///     ready.notify();
    /// }
    /// # }
    /// ```
    pub fn is_notified(&self) -> bool {
        self.0.is_requested()
    }

    pub(crate) fn signal(&self) -> &StopSignal {
        &self.0
    }
}

impl fmt::Debug for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ready")
            .field("notified", &self.is_notified())
            .finish()
    }
}
