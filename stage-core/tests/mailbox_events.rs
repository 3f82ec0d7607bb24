//! A mailbox without a dead-letter sink still reports each dead letter: an
//! error event with its attempt count and last panic message.

mod support;

use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use stage_core::mailbox::Builder;
use support::recorder::Recorder;

#[test]
fn a_dead_letter_without_a_sink_is_logged_as_an_error() {
    let recorder = Recorder::default();
    tracing::subscriber::with_default(recorder.clone(), || {
        let (tx, rx) = Builder::new(2).max_attempts(2).build();
        tx.try_send("poison").unwrap();
        for _ in 0..2 {
            let delivery = rx.try_recv_guarded().unwrap();
            let crash = delivery.process(async |_| panic!("cannot parse"));
            assert!(AssertUnwindSafe(crash)
                .catch_unwind()
                .now_or_never()
                .unwrap()
                .is_err());
        }
        assert!(rx.try_recv_guarded().is_err(), "given up on");
        assert_eq!(rx.stats().dead_letters, 1);
    });
    let lines = recorder.lines();
    assert!(
        lines.iter().any(|l| l.starts_with("ERROR ")
            && l.contains("failed every delivery it was allowed")
            && l.contains("attempts=2")
            && l.contains("last_panic=cannot parse")),
        "{lines:#?}"
    );
}
