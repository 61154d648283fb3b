//! Evaluation slots shared fairly between namespaces: requests of one namespace may hold at most a
//! quarter of the webhook's evaluation slots, and no more than half the CPU cores (evaluation is
//! CPU work), so that a tenant whose `PortalRule` is slow (or whose objects are huge) delays its own
//! namespace, not the rest of the cluster. Evaluations take microseconds, so one namespace still
//! gets tens of thousands a second per slot.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Namespaces remembered before idle ones are forgotten.
const REMEMBERED: usize = 1024;

/// One semaphore per namespace (cluster-scoped requests share the one of `""`).
#[derive(Debug)]
pub(crate) struct NamespaceSlots {
    per_namespace: usize,
    slots: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl NamespaceSlots {
    /// A quarter of `total`, at most half the CPU cores, at least one, per namespace.
    pub(crate) fn new(total: usize) -> NamespaceSlots {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        NamespaceSlots::with_share((total / 4).min(cores / 2).max(1))
    }

    fn with_share(per_namespace: usize) -> NamespaceSlots {
        NamespaceSlots { per_namespace, slots: Mutex::new(HashMap::new()) }
    }

    /// Waits for a slot of `namespace`; the slot is held until the permit is dropped.
    pub(crate) async fn acquire(&self, namespace: &str) -> Option<OwnedSemaphorePermit> {
        let semaphore = {
            // A poisoned lock only means another request panicked while holding it; the map is
            // still usable.
            let mut slots = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if slots.len() >= REMEMBERED {
                // Forget namespaces nobody is waiting in or holding a slot of.
                slots.retain(|_, semaphore| Arc::strong_count(semaphore) > 1);
            }
            let semaphore =
                slots.entry(namespace.to_owned()).or_insert_with(|| Arc::new(Semaphore::new(self.per_namespace)));
            Arc::clone(semaphore)
        };
        // Never closed, so this does not fail.
        semaphore.acquire_owned().await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_namespace_holds_at_most_its_share_and_others_are_not_held_up() {
        let slots = NamespaceSlots::with_share(2);
        let first = slots.acquire("tenant").await;
        let second = slots.acquire("tenant").await;
        assert!(first.is_some() && second.is_some());
        // The tenant's third request waits...
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), slots.acquire("tenant")).await;
        assert!(waiting.is_err(), "a third slot of the same namespace was given");
        // ...while another namespace gets a slot at once.
        assert!(slots.acquire("other").await.is_some());
        drop(first);
        assert!(slots.acquire("tenant").await.is_some());
    }
}
