//! Checking objects on every core while keeping their order: the calling thread hands out
//! batches and writes the results in input order, worker threads parse and check.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

/// Items travel in batches of this many: one channel operation per batch, not per object.
const BATCH: usize = 64;
/// Batches per worker that may be sent before the oldest unconsumed one: enough to keep every
/// worker busy, few enough that memory stays bounded however the threads are scheduled.
const BATCHES_AHEAD_PER_WORKER: usize = 4;
/// More threads than this gain nothing on the admission-sized objects `portal check` reads.
const MAX_WORKERS: usize = 8;
/// What the main thread has: parsing a document nested to the depth limit needs it in debug
/// builds, where frames are large.
const WORKER_STACK_BYTES: usize = 8 * 1024 * 1024;

/// The worker threads to use: one per core, at most [`MAX_WORKERS`].
pub(crate) fn worker_count() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from).min(MAX_WORKERS)
}

/// Maps every item `produce` emits with `work` on up to `workers` threads and hands the results
/// to `consume` in the order the items were emitted.
///
/// `emit` returns `false` once `consume` has failed, and `produce` should then stop. Memory is
/// bounded: at most a few batches per worker are in flight, whatever the number of items. When
/// no thread can be started, everything runs on the calling thread. Returns the first error of
/// `consume`.
pub(crate) fn map_in_order<T: Send, U: Send, E>(
    workers: usize,
    produce: impl FnOnce(&mut dyn FnMut(T) -> bool),
    work: impl Fn(T) -> U + Sync,
    consume: impl FnMut(U) -> Result<(), E>,
) -> Result<(), E> {
    let mut in_order = InOrder { finished: BTreeMap::new(), next: 0, failed: None, consume };
    std::thread::scope(|scope| {
        let (batch_sender, batch_receiver) = sync_channel::<(usize, Vec<T>)>(workers.max(1) * 2);
        // Only the workers hold the receiver: when they are gone, sending fails.
        let batch_receiver = Arc::new(Mutex::new(batch_receiver));
        let (result_sender, result_receiver) = sync_channel::<(usize, Vec<U>)>(workers.max(1) * 2);
        let mut started = 0;
        for _ in 0..workers {
            let batch_receiver = Arc::clone(&batch_receiver);
            let result_sender = result_sender.clone();
            let work = &work;
            let worker = move || {
                while let Some((index, batch)) = next_batch(&batch_receiver) {
                    let results = batch.into_iter().map(work).collect();
                    if result_sender.send((index, results)).is_err() {
                        break;
                    }
                }
            };
            let builder = std::thread::Builder::new().name("portal-check".to_owned()).stack_size(WORKER_STACK_BYTES);
            started += usize::from(builder.spawn_scoped(scope, worker).is_ok());
        }
        drop((batch_receiver, result_sender));
        if started == 0 {
            produce(&mut |item| in_order.accept_one(work(item)));
            return;
        }
        let max_ahead = started * BATCHES_AHEAD_PER_WORKER;
        let mut batch = Vec::with_capacity(BATCH);
        let mut index = 0;
        produce(&mut |item| {
            batch.push(item);
            if batch.len() < BATCH {
                return in_order.failed.is_none();
            }
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            index += 1;
            send(&batch_sender, (index - 1, full), max_ahead, &result_receiver, &mut in_order)
        });
        if !batch.is_empty() {
            send(&batch_sender, (index, batch), max_ahead, &result_receiver, &mut in_order);
        }
        drop(batch_sender);
        while in_order.failed.is_none()
            && let Ok((index, results)) = result_receiver.recv()
        {
            in_order.accept(index, results);
        }
        // Leaving drops the result receiver: workers still running stop at their next result.
    });
    in_order.failed.map_or(Ok(()), Err)
}

/// Sends a batch to the workers; while their queue is full, or the batch is too far ahead of
/// the oldest one not yet consumed, takes their results meanwhile. `false` when the consumer
/// failed or the workers are gone.
///
/// The distance bound is what keeps memory bounded when one worker stalls (descheduled on a
/// busy machine): without it the others keep finishing later batches, which wait in `finished`
/// while the producer goes on.
fn send<T, U, E>(
    sender: &SyncSender<(usize, Vec<T>)>,
    mut batch: (usize, Vec<T>),
    max_ahead: usize,
    results: &Receiver<(usize, Vec<U>)>,
    in_order: &mut InOrder<U, E, impl FnMut(U) -> Result<(), E>>,
) -> bool {
    loop {
        if batch.0 < in_order.next + max_ahead {
            match sender.try_send(batch) {
                Ok(()) => return in_order.failed.is_none(),
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(back)) => batch = back,
            }
        }
        // The batch `in_order.next` was sent and is not consumed: its result will come.
        match results.recv() {
            Ok((index, finished)) => in_order.accept(index, finished),
            Err(_) => return false,
        }
        if in_order.failed.is_some() {
            return false;
        }
    }
}

fn next_batch<T>(receiver: &Mutex<Receiver<T>>) -> Option<T> {
    receiver.lock().ok()?.recv().ok()
}

/// Results waiting for those before them, and the consumer they go to in order.
struct InOrder<U, E, C> {
    finished: BTreeMap<usize, Vec<U>>,
    next: usize,
    failed: Option<E>,
    consume: C,
}

impl<U, E, C: FnMut(U) -> Result<(), E>> InOrder<U, E, C> {
    fn accept(&mut self, index: usize, results: Vec<U>) {
        self.finished.insert(index, results);
        while self.failed.is_none()
            && let Some(results) = self.finished.remove(&self.next)
        {
            self.next += 1;
            for result in results {
                if !self.accept_one(result) {
                    break;
                }
            }
        }
    }

    fn accept_one(&mut self, result: U) -> bool {
        if self.failed.is_none()
            && let Err(error) = (self.consume)(result)
        {
            self.failed = Some(error);
        }
        self.failed.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn produce_numbers(count: usize) -> impl FnOnce(&mut dyn FnMut(usize) -> bool) + Send {
        move |emit| {
            for n in 0..count {
                if !emit(n) {
                    return;
                }
            }
        }
    }

    #[test]
    fn results_come_in_input_order() {
        let mut seen = Vec::new();
        let slow_evens = |n: usize| {
            if n.is_multiple_of(2) {
                std::thread::sleep(std::time::Duration::from_micros(50));
            }
            n * 10
        };
        let result = map_in_order(4, produce_numbers(1_000), slow_evens, |n| {
            seen.push(n);
            Ok::<(), ()>(())
        });
        assert_eq!(result, Ok(()));
        assert_eq!(seen, (0..1_000).map(|n| n * 10).collect::<Vec<_>>());
    }

    #[test]
    fn a_failing_consumer_stops_everything() {
        let produced = std::sync::atomic::AtomicUsize::new(0);
        let counting = |emit: &mut dyn FnMut(usize) -> bool| {
            for n in 0..1_000_000 {
                produced.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if !emit(n) {
                    return;
                }
            }
        };
        let result = map_in_order(2, counting, |n| n, |n| if n == 100 { Err(n) } else { Ok(()) });
        assert_eq!(result, Err(100));
        // Only the batches in flight (and the one being filled) were produced past the failure,
        // not the million.
        assert!(produced.into_inner() <= BATCH * (2 * BATCHES_AHEAD_PER_WORKER + 2));
    }

    #[test]
    fn a_stalled_worker_does_not_let_the_producer_run_ahead() {
        // The first item's worker stalls; the other worker is free to finish every later batch.
        let produced = std::sync::atomic::AtomicUsize::new(0);
        let counting = |emit: &mut dyn FnMut(usize) -> bool| {
            for n in 0..100_000 {
                produced.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if !emit(n) {
                    return;
                }
            }
        };
        let stall_first = |n: usize| {
            if n == 0 {
                std::thread::sleep(std::time::Duration::from_millis(300));
            }
            n
        };
        let mut most_ahead = 0;
        let result = map_in_order(2, counting, stall_first, |n| {
            let ahead = produced.load(std::sync::atomic::Ordering::Relaxed) - n;
            most_ahead = most_ahead.max(ahead);
            Ok::<(), ()>(())
        });
        assert_eq!(result, Ok(()));
        assert!(most_ahead <= BATCH * (2 * BATCHES_AHEAD_PER_WORKER + 2), "{most_ahead} items ahead");
    }

    #[test]
    fn no_worker_threads_one_worker_and_nothing_to_do() {
        for workers in [0, 1] {
            let mut seen = Vec::new();
            let result = map_in_order(
                workers,
                produce_numbers(130),
                |n| n + 1,
                |n| {
                    seen.push(n);
                    Ok::<(), ()>(())
                },
            );
            assert_eq!(result, Ok(()));
            assert_eq!(seen, (1..=130).collect::<Vec<_>>());
        }
        let result = map_in_order(2, produce_numbers(0), |n| n, |_| Err(()));
        assert_eq!(result, Ok(()));
    }
}
