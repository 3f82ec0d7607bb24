//! Every public mailbox type is `Send` and `Sync` (handles can be shared and
//! moved into tasks), and the futures can be awaited from spawned tasks.

use stage::mailbox::{
    Builder, DeadLetter, Delivery, Receiver, Recv, RecvError, RecvGuarded, RecvGuardedOrClosed,
    RecvOrClosed, Send, SendError, Sender, Stats, TryRecvError, TrySendError,
};

fn is_send<T: std::marker::Send>() {}
fn is_sync<T: Sync>() {}
fn is_unpin<T: Unpin>() {}
fn is_clone<T: Clone>() {}

/// A message type that is `Send` but neither `Sync` nor `Unpin`.
struct NotSyncNotUnpin(std::marker::PhantomData<(std::cell::Cell<u8>, std::marker::PhantomPinned)>);

#[test]
fn handles_are_clone_send_sync_and_unpin() {
    is_send::<Sender<NotSyncNotUnpin>>();
    is_sync::<Sender<NotSyncNotUnpin>>();
    is_unpin::<Sender<NotSyncNotUnpin>>();
    is_clone::<Sender<NotSyncNotUnpin>>();
    is_send::<Receiver<NotSyncNotUnpin>>();
    is_sync::<Receiver<NotSyncNotUnpin>>();
    is_unpin::<Receiver<NotSyncNotUnpin>>();
    is_clone::<Receiver<NotSyncNotUnpin>>();
}

#[test]
fn futures_are_send_and_unpin() {
    is_send::<Send<'static, NotSyncNotUnpin>>();
    is_unpin::<Send<'static, NotSyncNotUnpin>>();
    is_send::<Recv<'static, NotSyncNotUnpin>>();
    is_unpin::<Recv<'static, NotSyncNotUnpin>>();
    is_send::<RecvOrClosed<'static, NotSyncNotUnpin>>();
    is_unpin::<RecvOrClosed<'static, NotSyncNotUnpin>>();
    is_send::<RecvGuarded<'static, NotSyncNotUnpin>>();
    is_unpin::<RecvGuarded<'static, NotSyncNotUnpin>>();
    is_send::<RecvGuardedOrClosed<'static, NotSyncNotUnpin>>();
    is_unpin::<RecvGuardedOrClosed<'static, NotSyncNotUnpin>>();
    is_sync::<Recv<'static, u8>>();
    is_sync::<Send<'static, u8>>();
}

#[test]
fn deliveries_and_dead_letters_move_between_tasks() {
    // A delivery is held across awaits inside spawned tasks.
    is_send::<Delivery<'static, NotSyncNotUnpin>>();
    is_sync::<Delivery<'static, u8>>();
    is_send::<DeadLetter<NotSyncNotUnpin>>();
    is_send::<Builder<NotSyncNotUnpin>>();
    is_send::<Stats>();
    is_sync::<Stats>();
}

#[test]
fn errors_are_send_sync_and_std_errors() {
    fn is_error<E: std::error::Error + std::marker::Send + Sync + 'static>() {}
    is_error::<SendError<u8>>();
    is_error::<TrySendError<u8>>();
    is_error::<RecvError>();
    is_error::<TryRecvError>();
    assert_eq!(SendError(()).to_string(), "sending into a closed mailbox");
}

#[test]
fn handles_are_unwind_safe_whatever_the_message() {
    fn is_unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
    is_unwind_safe::<Sender<NotSyncNotUnpin>>();
    is_unwind_safe::<Receiver<NotSyncNotUnpin>>();
    is_unwind_safe::<Sender<std::cell::RefCell<u8>>>();
}
