//! The code of the user's original README, first and second degree, verbatim:
//! each example compiles against `stage` and behaves as its text says.
//!
//! The examples ignore a `Result` (`tx.send(..).await;`) and glob-import a
//! prelude they may not use, and bind handles they never read: warnings,
//! not errors, for a user; allowed here so that CI's `-D warnings` keeps the
//! code unchanged.
#![allow(unused_must_use, unused_imports, unused_variables)]

/// "Here is some code that spawns one actor task" (plain tokio).
#[rustfmt::skip]
mod plain_tokio {
    #[derive(Debug)]
    enum Message {
        Add(usize, usize, tokio::sync::oneshot::Sender<usize>)
    }

    #[tokio::main]
    async fn main() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(512);
        let task = tokio::spawn(async move { // 1.
                while let Some(m) = rx.recv().await {
                    let _ = match m {
                        Message::Add(n, m, tx) => tx.send(n + m)
                    };
                }
            }
        );

        let (r_tx, r_rx) = tokio::sync::oneshot::channel();
        tx.send(Message::Add(1, 2, r_tx)).await.expect("send failure"); // 2.
        let res = r_rx.await.unwrap();
        assert_eq!(res, 3);
    }

    #[test]
    fn answers_three() {
        main();
    }
}

/// "Here is the same code using a stage group".
#[rustfmt::skip]
mod group_spawn {
    use stage::prelude::*;

    use std::sync::Arc;
    use tokio::sync::Mutex;

    #[derive(Debug)]
    enum Message {
        Add(usize, usize, tokio::sync::oneshot::Sender<usize>)
    }

    #[tokio::main]
    async fn main() {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let rx = Arc::new(Mutex::new(rx));

        let group = stage::group()
            .spawn(move || {
                let rx = Arc::clone(&rx);
                async move {
                while let Some(m) = rx.lock().await.recv().await {
                    let _ = match m {
                        Message::Add(n, m, tx) => tx.send(n + m)
                    };
                }
            }}
        );

        loop {
            let (ttx, trx) = tokio::sync::oneshot::channel();
            tx.send(Message::Add(1, 2, ttx)).await.unwrap();

            if let Ok(res) = trx.await {
                assert_eq!(res, 3);
                break;
            }
        }
    }

    #[test]
    fn answers_three_and_returns() {
        main();
    }
}

/// "The solution is to scope your task block" (`no_run` in the README:
/// compiled, not run, like the README's own snippet).
#[rustfmt::skip]
#[allow(
    unreachable_code,
    path_statements,
    clippy::diverging_sub_expression,
    clippy::no_effect
)]
fn _scope_snippet_compiles() {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let group: stage::group::Group = unimplemented!();
    #[derive(Debug)]
    enum Message {
        Add(usize, usize, tokio::sync::oneshot::Sender<usize>)
    }
    async {
    group
        .scope(async move {
            loop {
                let (ttx, trx) = tokio::sync::oneshot::channel();
                tx.send(Message::Add(1, 2, ttx)).await.unwrap();

                if let Ok(res) = trx.await {
                    assert_eq!(res, 3);
                    break;
                }
            }
        })
        .await;
    };
}

/// "The first suggestion is what we did with the code in the last section".
#[rustfmt::skip]
mod group_scope_with_tokio_mpsc {
    use stage::prelude::*;

    use std::sync::Arc;
    use tokio::sync::Mutex;

    #[derive(Debug)]
    enum Message {
        Add(usize, usize, tokio::sync::oneshot::Sender<usize>)
    }

    #[tokio::main]
    async fn main() {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let rx = Arc::new(Mutex::new(rx)); // <=== Here we make our receiver half "reliable"

        let group = stage::group()
            .spawn(move || {
                let rx = Arc::clone(&rx);
                async move {
                while let Some(m) = rx.lock().await.recv().await {
                    let _ = match m {
                        Message::Add(n, m, tx) => tx.send(n + m)
                    };
                }
            }}
        );

        group
            .scope(async move {
                loop { // <=== here we have to retry the operation until it succeedes
                    let (ttx, trx) = tokio::sync::oneshot::channel();
                    tx.send(Message::Add(1, 2, ttx)).await;

                    if let Ok(res) = trx.await {
                        assert_eq!(res, 3);
                        break;
                    }
                }
            })
            .await;
    }

    #[test]
    fn answers_three_then_stops_the_group() {
        main();
    }
}

/// "Let's modify the code above to use a mailbox".
#[rustfmt::skip]
mod group_scope_with_mailbox {
    use stage::prelude::*;

    use std::sync::Arc;
    use tokio::sync::Mutex;

    #[derive(Debug)]
    enum Message {
        Add(usize, usize, tokio::sync::oneshot::Sender<usize>)
    }

    #[tokio::main]
    async fn main() {
        // - let (tx, rx) = tokio::sync::mpsc::channel(1);
        // - let rx = Arc::new(Mutex::new(rx)); // <=== Here we make our receiver half "reliable"
        let (tx, rx) = stage::mailbox(1);

        let group = stage::group()
            .spawn(move || {
                // - let rx = Arc::clone(&rx);
                let rx = rx.clone();
                async move {
                // while let Some(m) = rx.lock().await.recv().await {
                   loop {
                       let m = rx.recv().await;
                       let _ = match m {
                           Message::Add(n, m, tx) => tx.send(n + m)
                       };
                   }
                }
            }
        );

        group
            .scope(async move {
                loop { // <=== here we have to retry the operation until it succeedes
                    let (ttx, trx) = tokio::sync::oneshot::channel();
                    // - tx.send(Message::Add(1, 2, ttx)).await.unwrap();
                    tx.send(Message::Add(1, 2, ttx)).await;

                    if let Ok(res) = trx.await {
                        assert_eq!(res, 3);
                        break;
                    }
                }
            })
            .await;
    }

    #[test]
    fn answers_three_then_stops_the_group() {
        main();
    }
}
