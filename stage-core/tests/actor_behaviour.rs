//! Actor behaviour on the async-task runtime with a virtual clock: the
//! same scenarios as the `stage` facade runs on tokio.

mod support;

use support::actor_scenarios as scenario;
use support::virtual_runtime::Virtual;

macro_rules! on_virtual_runtime {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            let rt = Virtual::new();
            rt.clone().block_on(scenario::$name(rt));
        }
    )*};
}

scenario::all_actor_scenarios!(on_virtual_runtime);
