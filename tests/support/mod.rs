//! Helpers shared by the integration tests.

/// Lets every other task on this current_thread runtime run until it waits
/// (a mailbox wait yields a few times before it registers).
pub(crate) async fn settle() {
    for _ in 0..16 {
        tokio::task::yield_now().await;
    }
}
