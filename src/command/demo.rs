//! `demo`: the daemon against its own emulated Cloudreve (with the `demo` feature).

use super::{Exit, Outcome};

#[cfg(feature = "demo")]
pub(super) async fn demo() -> Outcome {
    match crate::demo::run().await {
        Ok(report) => Outcome::success(report),
        Err(e) => Outcome::failure(Exit::Failure, format!("error: {e}")),
    }
}

#[cfg(not(feature = "demo"))]
pub(super) async fn demo() -> Outcome {
    Outcome::failure(
        Exit::Failure,
        "error: this build has no demo; rebuild with the `demo` feature".to_owned(),
    )
}
