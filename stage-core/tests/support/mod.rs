//! Test support: a second [`Runtime`] on async-task, so that stage-core's
//! behaviour tests run on an executor that is not tokio, and the group
//! scenarios that run on both; a recorder of `tracing` events. Each test
//! binary uses a part of it.

#[allow(dead_code, unused_macros, unused_imports)]
pub(crate) mod actor_scenarios;
#[allow(dead_code, unused_macros, unused_imports)]
pub(crate) mod group_scenarios;
#[allow(dead_code)]
pub(crate) mod recorder;
#[allow(dead_code, unused_macros, unused_imports)]
pub(crate) mod tree_scenarios;
#[allow(dead_code)]
pub(crate) mod virtual_runtime;
