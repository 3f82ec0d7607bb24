//! The state every handle of one mailbox points at.

use concurrent_queue::{PopError, PushError};

use super::error::{RecvError, SendError, TryRecvError, TrySendError};
use super::queue::Queue;
use super::waiters::Waiters;

/// A bounded queue plus the tasks waiting on either side of it.
pub(crate) struct Shared<T> {
    pub(crate) queue: Queue<T>,
    /// Senders waiting for room.
    pub(crate) senders: Waiters,
    /// Receivers waiting for a message.
    pub(crate) receivers: Waiters,
}

impl<T> Shared<T> {
    pub(crate) fn new(queue: Queue<T>) -> Self {
        Self {
            queue,
            senders: Waiters::new(),
            receivers: Waiters::new(),
        }
    }

    #[inline]
    pub(crate) fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        match self.queue.push(msg) {
            Ok(()) => {
                self.receivers.notify_one();
                Ok(())
            }
            Err(PushError::Full(msg)) => Err(TrySendError::Full(msg)),
            Err(PushError::Closed(msg)) => Err(TrySendError::Closed(msg)),
        }
    }

    #[inline]
    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        match self.queue.pop() {
            Ok(msg) => {
                self.senders.notify_one();
                Ok(msg)
            }
            Err(PopError::Empty) => Err(TryRecvError::Empty),
            Err(PopError::Closed) => Err(TryRecvError::Closed),
        }
    }

    pub(crate) fn close(&self) -> bool {
        if self.queue.close() {
            // Waiting senders fail with their message handed back; waiting
            // receivers drain what is left, then learn that it is closed.
            self.senders.notify_all();
            self.receivers.notify_all();
            true
        } else {
            false
        }
    }

    /// One try of a waiting send; `None` means "full: wait, then try again",
    /// with the message put back into `slot`.
    #[inline]
    pub(crate) fn attempt_send(&self, slot: &mut Option<T>) -> Option<Result<(), SendError<T>>> {
        let msg = slot.take().expect("`Send` polled after completion");
        match self.try_send(msg) {
            Ok(()) => Some(Ok(())),
            Err(TrySendError::Closed(msg)) => Some(Err(SendError(msg))),
            Err(TrySendError::Full(msg)) => {
                *slot = Some(msg);
                None
            }
        }
    }

    /// One try of a waiting receive; `None` means "empty: wait, then try
    /// again".
    #[inline]
    pub(crate) fn attempt_recv(&self) -> Option<Result<T, RecvError>> {
        match self.try_recv() {
            Ok(msg) => Some(Ok(msg)),
            Err(TryRecvError::Closed) => Some(Err(RecvError)),
            Err(TryRecvError::Empty) => None,
        }
    }
}

#[cfg(all(test, not(loom)))]
impl<T> Shared<T> {
    pub(crate) fn receivers_unnotified(&self) -> usize {
        self.receivers.unnotified()
    }
}
