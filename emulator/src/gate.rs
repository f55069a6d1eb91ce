//! Held answers: a test stops the emulator's answer to one request until it lets it go, so it
//! can order what happens on both sides of the wire without sleeping.

use std::sync::Arc;

use tokio::sync::Notify;

/// One held request, seen from the server.
#[derive(Debug, Default)]
pub(super) struct Hold {
    reached: Notify,
    released: Notify,
}

impl Hold {
    /// Says the request has arrived, then waits until the test releases it.
    pub(super) async fn wait(&self) {
        self.reached.notify_one();
        self.released.notified().await;
    }
}

/// A hold on the next request of a route (`Emulator::hold`). Dropping it releases the request.
#[derive(Debug)]
pub struct Gate {
    hold: Arc<Hold>,
}

impl Gate {
    pub(super) fn new(hold: Arc<Hold>) -> Self {
        Self { hold }
    }

    /// Waits until the held request has reached the emulator (at once if it already has).
    pub async fn reached(&self) {
        self.hold.reached.notified().await;
    }

    /// Lets the held request be answered (at once when it arrives, if it has not yet).
    pub fn release(&self) {
        self.hold.released.notify_one();
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.release();
    }
}
