//! `demo`: the daemon against its own emulated Cloudreve (with the `demo` feature).

use super::{Exit, Output};

#[cfg(feature = "demo")]
pub(super) async fn demo() -> Output {
    match crate::demo::run().await {
        Ok(report) => Output::success(report),
        Err(e) => Output::failure(Exit::Failure, format!("error: {e}")),
    }
}

#[cfg(not(feature = "demo"))]
pub(super) async fn demo() -> Output {
    Output::failure(
        Exit::Failure,
        "error: this build has no demo; rebuild with the `demo` feature".to_owned(),
    )
}
