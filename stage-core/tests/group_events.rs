//! A group's `tracing` events: starts, failures with the restart they lead
//! to (one event each), and giving up, each with the group's name, the
//! task's index and generation; the user's own events inside a task carry
//! them too, through the task's span; and panics of tasks routed to
//! `tracing`.

mod support;

use std::time::Duration;

use stage_core::group::{Backoff, Builder, Restart};
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
        has("WARN task failed; restarting group=audited task=0 generation=1 exit=panicked: boom delay=0ns"),
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
    let restarts = lines.iter().filter(|l| l.contains("restarting")).count();
    assert_eq!(restarts, 1, "one event per restart: {lines:#?}");
}

#[test]
fn a_tasks_own_events_carry_its_group_index_and_generation() {
    let recorder = Recorder::default();
    let rt = Virtual::new();
    tracing::subscriber::with_default(recorder.clone(), || {
        rt.clone().block_on(async move {
            let group = Builder::new(rt)
                .name("mailer")
                .tasks(2)
                .restart(Restart::OnFailure)
                .backoff(Backoff::none())
                .spawn(|| {
                    tracing::info!("making a task");
                    async {
                        let me = stage_core::group::current().unwrap();
                        tracing::info!(index = me.index(), "handling mail");
                        if me.index() == 1 && me.generation() == 1 {
                            panic!("first try fails");
                        }
                    }
                });
            group.join().await.unwrap();
        })
    });
    let lines = recorder.lines();
    let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
    for (index, generation) in [(0, 1), (1, 1), (1, 2)] {
        let span = format!("in task{{ group=mailer task={index} generation={generation} }}");
        assert!(
            has(&format!("INFO handling mail index={index} {span}")),
            "{lines:#?}"
        );
        assert!(has(&format!("INFO making a task {span}")), "{lines:#?}");
    }
}

#[test]
fn task_panics_can_be_routed_to_tracing() {
    let recorder = Recorder::default();
    let rt = Virtual::new();
    stage_core::group::trace_task_panics();
    tracing::subscriber::with_default(recorder.clone(), || {
        rt.clone().block_on(async move {
            let group = Builder::new(rt)
                .name("routed")
                .restart(Restart::OnFailure)
                .backoff(Backoff::none())
                .spawn(|| async {
                    if stage_core::group::current().unwrap().generation() == 1 {
                        panic!("routed to tracing");
                    }
                });
            group.join().await.unwrap();
        })
    });
    // Other panics still reach the previous hook (this one is caught).
    let outside = std::panic::catch_unwind(|| panic!("not a task's"));
    assert!(outside.is_err());
    let _ = std::panic::take_hook();
    let lines = recorder.lines();
    let panicked: Vec<_> = lines
        .iter()
        .filter(|l| l.contains("task panicked"))
        .collect();
    assert_eq!(panicked.len(), 1, "{lines:#?}");
    let line = panicked[0];
    assert!(
        line.starts_with("ERROR task panicked panic=routed to tracing location="),
        "{line}"
    );
    assert!(line.contains("group_events.rs:"), "the location: {line}");
    assert!(
        line.ends_with("in task{ group=routed task=0 generation=1 }"),
        "{line}"
    );
}
