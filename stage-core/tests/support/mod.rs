//! Test support: a second [`Runtime`] on async-task, so that stage-core's
//! behaviour tests run on an executor that is not tokio.

pub(crate) mod virtual_runtime;
