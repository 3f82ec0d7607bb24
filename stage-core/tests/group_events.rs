//! A group's `tracing` events: starts, failures, restarts and giving up,
//! each with the group's name, the task's index and generation.

mod support;

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stage_core::group::{Backoff, Builder};
use support::virtual_runtime::Virtual;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Records every event as "LEVEL message key=value ...".
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

struct Line<'a>(&'a mut String);

impl Visit for Line<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={value}", field.name());
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut line = event.metadata().level().to_string();
        event.record(&mut Line(&mut line));
        self.0.lock().unwrap().push(line);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

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
    let lines = recorder.0.lock().unwrap();
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
