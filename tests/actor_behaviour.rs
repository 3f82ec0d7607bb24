//! Actor behaviour on tokio with a paused clock: the same scenarios as
//! stage-core runs on its async-task runtime.

#[path = "../stage-core/tests/support/actor_scenarios.rs"]
mod scenario;

use stage::runtime::Tokio;

macro_rules! on_tokio {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(start_paused = true)]
        async fn $name() {
            scenario::$name(Tokio::current()).await;
        }
    )*};
}

scenario::all_actor_scenarios!(on_tokio);
