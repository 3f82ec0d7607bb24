//! Every public type of groups and of the runtime seam can be named through
//! `stage`, moved into tasks and shared between them; errors are std errors.

use stage::group::{
    Backoff, Builder, Ended, Group, GroupError, Restart, ScaleError, ShutdownReport, Stats,
    StatsRef, StopSignal, TaskReport,
};
use stage::runtime::{Exit, Tokio, TokioAbortHandle, TokioTask};

fn is_send<T: Send>() {}
fn is_sync<T: Sync>() {}
fn is_unpin<T: Unpin>() {}

#[test]
fn handles_and_values_are_send_and_sync() {
    is_send::<Group>();
    is_send::<stage::group::Pool<u8>>();
    is_sync::<stage::group::Pool<u8>>();
    is_send::<stage::group::Worker<u8>>();
    is_sync::<stage::group::Worker<u8>>();
    is_send::<stage::group::DrainReport>();
    is_send::<stage::group::GroupHandle>();
    is_sync::<stage::group::GroupHandle>();
    is_send::<stage::group::TaskId>();
    is_sync::<stage::group::TaskId>();
    is_sync::<Group>();
    is_unpin::<Group>();
    is_send::<Builder>();
    is_sync::<Builder>();
    is_send::<StopSignal>();
    is_sync::<StopSignal>();
    is_send::<StatsRef>();
    is_sync::<StatsRef>();
    is_send::<Stats>();
    is_send::<ShutdownReport>();
    is_send::<TaskReport>();
    is_send::<Backoff>();
    is_send::<Restart>();
    is_send::<Tokio>();
    is_sync::<Tokio>();
    is_send::<TokioTask>();
    is_unpin::<TokioTask>();
    is_send::<TokioAbortHandle>();
    is_sync::<TokioAbortHandle>();
    is_send::<Exit>();
}

#[test]
fn errors_are_send_sync_and_std_errors() {
    fn is_error<E: std::error::Error + Send + Sync + 'static>() {}
    is_error::<GroupError>();
    is_error::<ScaleError>();
    is_error::<Ended>();
}

#[test]
fn the_futures_of_a_group_can_be_spawned() {
    fn is_send_future<F: std::future::Future + Send>(_: F) {}
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _guard = runtime.enter();
    let group = stage::group().spawn(std::future::pending::<()>);
    is_send_future(group.stop());
    let mut group = stage::group().spawn(std::future::pending::<()>);
    is_send_future(group.changed());
    is_send_future(stage::group().spawn(std::future::pending::<()>).release());
    is_send_future(stage::group().spawn(std::future::pending::<()>).join());
    is_send_future(
        stage::group()
            .spawn(std::future::pending::<()>)
            .shutdown(std::time::Duration::ZERO),
    );
    is_send_future(
        stage::group()
            .spawn(std::future::pending::<()>)
            .scope(async {}),
    );
    let (_tx, inbox) = stage::mailbox::<u8>(1);
    let pool = stage::group().consume(inbox, |worker| async move {
        worker.serve(async |_: &mut u8| {}).await
    });
    is_send_future(pool.drain(std::time::Duration::ZERO));
}
