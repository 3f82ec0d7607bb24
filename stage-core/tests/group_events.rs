//! A group's `tracing` events: starts, failures, restarts and giving up,
//! each with the group's name, the task's index and generation.

mod support;

use std::time::Duration;

use stage_core::group::{Backoff, Builder};
use support::recorder::Recorder;
use support::virtual_runtime::Virtual;

#[test]
fn starts_failures_restarts_and_giving_up_are_traced() {
    let recorder = Recorder::default();
    let rt = Virtual::new();
    tracing::subscriber::with_default(recorder.clone(), || {
        rt.clone().block_on(async move {
            let group = Builder::new(rt)
                .name("audited")
                .backoff(Backoff::none())
                .intensity(1, Duration::from_secs(60))
                .spawn(|| async { panic!("boom") });
            assert!(group.join().await.is_err());
        })
    });
    let lines = recorder.lines();
    let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
    assert!(
        has("DEBUG task started group=audited task=0 generation=1"),
        "{lines:#?}"
    );
    assert!(
        has("WARN task failed group=audited task=0 generation=1 exit=panicked: boom"),
        "{lines:#?}"
    );
    assert!(
        has("INFO restarting task group=audited task=0 generation=1"),
        "{lines:#?}"
    );
    assert!(
        has("DEBUG task started group=audited task=0 generation=2"),
        "{lines:#?}"
    );
    assert!(
        has("ERROR restart intensity exceeded: giving up group=audited restarts=1"),
        "{lines:#?}"
    );
}
