//! The audit's work queue: one entry per object, whatever how often it changed while waiting.
//! A burst of updates to one object costs one evaluation, of its newest version; nothing is
//! dropped, and objects are served in the order they first became pending.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::Notify;

/// What to do about an object, by its UID.
#[derive(Debug, Clone)]
pub(crate) enum Work {
    /// Evaluate this version (its JSON text) and write its report.
    Evaluate(Arc<str>),
    /// The object is gone: its report goes with it (the garbage collector deletes it too,
    /// through its owner reference; this forgets what was written).
    Forget { namespace: Option<String> },
}

#[derive(Debug, Default)]
struct Pending {
    /// The work, and when the oldest change it stands for was seen.
    work: HashMap<String, (Work, Instant)>,
    order: VecDeque<String>,
}

/// Pending work, coalesced per object.
#[derive(Debug, Default)]
pub(crate) struct WorkQueue {
    pending: Mutex<Pending>,
    ready: Notify,
}

impl WorkQueue {
    /// Queues `work` for the object `uid`, replacing any work still pending for it (which keeps
    /// its place in line and the time its first change was seen).
    pub(crate) fn push(&self, uid: String, work: Work) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        match pending.work.get_mut(&uid) {
            Some((waiting, _)) => *waiting = work,
            None => {
                pending.work.insert(uid.clone(), (work, Instant::now()));
                pending.order.push_back(uid);
            }
        }
        drop(pending);
        self.ready.notify_one();
    }

    /// How many objects wait.
    pub(crate) fn len(&self) -> usize {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner).work.len()
    }

    /// The next object's work and when its change was seen, waiting for some if there is none.
    pub(crate) async fn pop(&self) -> (String, Work, Instant) {
        loop {
            let notified = self.ready.notified();
            tokio::pin!(notified);
            // Registered before looking, so a push between the look and the wait is not missed.
            notified.as_mut().enable();
            if let Some(next) = self.try_pop() {
                return next;
            }
            notified.await;
        }
    }

    fn try_pop(&self) -> Option<(String, Work, Instant)> {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(uid) = pending.order.pop_front() {
            if let Some((work, since)) = pending.work.remove(&uid) {
                // Wake another worker if more is waiting.
                if !pending.order.is_empty() {
                    self.ready.notify_one();
                }
                return Some((uid, work, since));
            }
        }
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn version(n: i64) -> Work {
        Work::Evaluate(Arc::from(n.to_string()))
    }

    #[tokio::test]
    async fn a_burst_for_one_object_is_one_item_with_the_newest_version() {
        let queue = WorkQueue::default();
        for n in 0..100 {
            queue.push("a".to_owned(), version(n));
        }
        queue.push("b".to_owned(), version(0));
        let (uid, work, _) = queue.pop().await;
        assert_eq!(uid, "a");
        assert!(matches!(work, Work::Evaluate(object) if &*object == "99"));
        assert_eq!(queue.pop().await.0, "b");
        assert!(queue.try_pop().is_none());
    }

    #[tokio::test]
    async fn a_waiting_worker_wakes_for_new_work() {
        let queue = Arc::new(WorkQueue::default());
        let worker = tokio::spawn({
            let queue = Arc::clone(&queue);
            async move { queue.pop().await.0 }
        });
        tokio::task::yield_now().await;
        queue.push("late".to_owned(), Work::Forget { namespace: None });
        let uid = tokio::time::timeout(std::time::Duration::from_secs(5), worker).await.unwrap().unwrap();
        assert_eq!(uid, "late");
    }
}
