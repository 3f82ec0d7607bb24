//! A supervisor's `tracing` events: every start, exit, restart, escalation
//! and shutdown, each with the child's path and generation.

mod support;

use std::time::Duration;

use stage_core::group::{Backoff, StopSignal};
use stage_core::supervisor::{Builder, Child};
use support::recorder::Recorder;
use support::virtual_runtime::Virtual;

#[test]
fn starts_exits_restarts_escalation_and_shutdown_are_traced_with_path_and_generation() {
    let recorder = Recorder::default();
    let rt = Virtual::new();
    tracing::subscriber::with_default(recorder.clone(), || {
        rt.clone().block_on(async move {
            let inner = Builder::new(rt.clone())
                .backoff(Backoff::none())
                .intensity(1, Duration::from_secs(60))
                .child(Child::worker("writer", |_stop| async {
                    panic!("disk full")
                }));
            let tree = Builder::new(rt.clone())
                .name("app")
                .backoff(Backoff::none())
                .intensity(1, Duration::from_secs(60))
                .child(Child::worker("db", |stop: StopSignal| async move {
                    stop.requested().await
                }))
                .child(Child::supervisor("pipeline", inner))
                .spawn();
            assert!(tree.join().await.is_err());
            let tree = Builder::new(rt.clone())
                .name("calm")
                .child(Child::worker("db", |stop: StopSignal| async move {
                    stop.requested().await
                }))
                .spawn();
            tree.ready().await.unwrap();
            tree.shutdown(Duration::from_secs(1)).await.unwrap();
        })
    });
    let lines = recorder.lines();
    let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
    for needle in [
        "DEBUG child started child=app/db generation=1",
        "DEBUG child started child=app/pipeline/writer generation=1",
        "WARN child failed; restarting child=app/pipeline/writer generation=1 exit=panicked: disk full",
        "ERROR giving up supervisor=app/pipeline",
        "WARN child failed; restarting child=app/pipeline generation=1 exit=supervisor app/pipeline gave up",
        "DEBUG child started child=app/pipeline generation=2",
        "ERROR giving up supervisor=app error=supervisor app gave up",
        "DEBUG child stopped child=app/db generation=1 exit=returned",
        "INFO shutting down supervisor=calm grace=1s",
        "DEBUG child stopped child=calm/db generation=1 exit=returned",
    ] {
        assert!(has(needle), "{needle}\n{lines:#?}");
    }
    let restarts = lines.iter().filter(|l| l.contains("restarting")).count();
    assert_eq!(restarts, 3, "one event per restart: {lines:#?}");
}
