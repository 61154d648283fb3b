//! Tasks owned by whoever spawned them.

use tokio::task::JoinHandle;

/// A task that stops when its handle is dropped (a plain `JoinHandle` would let it run on).
#[derive(Debug)]
pub(crate) struct OwnedTask(JoinHandle<()>);

impl OwnedTask {
    pub(crate) fn spawn(task: impl Future<Output = ()> + Send + 'static) -> OwnedTask {
        OwnedTask(tokio::spawn(task))
    }
}

impl Drop for OwnedTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl From<JoinHandle<()>> for OwnedTask {
    fn from(handle: JoinHandle<()>) -> Self {
        OwnedTask(handle)
    }
}
