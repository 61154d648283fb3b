//! Leader election against the real API server: one leader among replicas, a quick hand-over
//! when the leader gives the Lease up, a take-over after the lease duration when it vanishes
//! without a word, and a leader that loses the Lease stops leading at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use portal_kube::lease::{Leadership, LeaseSettings, LeaseSettingsError, run_election};
use tokio::sync::watch;
use tokio::task::JoinHandle;

const LEASE_DURATION: Duration = Duration::from_secs(2);

struct Replica {
    identity: String,
    leadership: Leadership,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), LeaseSettingsError>>,
}

impl Replica {
    /// Stops the elector as `portal run` does on SIGTERM, giving the Lease up if it holds it.
    async fn stop(self) {
        self.stop.send(true).unwrap();
        self.task.await.unwrap().unwrap();
    }

    fn start(client: &kube::Client, namespace: &str, identity: &str) -> Replica {
        let settings = LeaseSettings {
            namespace: namespace.to_owned(),
            name: "portal-leader".to_owned(),
            identity: identity.to_owned(),
            lease_duration: LEASE_DURATION,
            renew_deadline: Duration::from_millis(1_500),
            retry_period: Duration::from_millis(200),
        };
        let leadership = Leadership::default();
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run_election(client.clone(), settings, leadership.clone(), stopped));
        Replica { identity: identity.to_owned(), leadership, stop, task }
    }
}

async fn namespace(client: &kube::Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let namespace = Namespace {
        metadata: ObjectMeta { name: Some(name.to_owned()), ..ObjectMeta::default() },
        ..Namespace::default()
    };
    let _ = api.create(&PostParams::default(), &namespace).await;
}

/// Waits until `condition` holds, or panics after `limit`; returns how long it took.
async fn until(limit: Duration, what: &str, condition: impl Fn() -> bool) -> Duration {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < limit, "{what} did not happen within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

fn leaders(replicas: &[&Replica]) -> usize {
    replicas.iter().filter(|replica| replica.leadership.is_leader()).count()
}

#[tokio::test]
async fn one_leader_a_quick_hand_over_and_a_take_over_after_the_lease_duration() {
    let client = common::client().await;
    namespace(&client, "lease-election").await;
    let a = Replica::start(&client, "lease-election", "replica-a");
    let b = Replica::start(&client, "lease-election", "replica-b");
    let c = Replica::start(&client, "lease-election", "replica-c");
    until(common::WAIT, "a leader", || leaders(&[&a, &b, &c]) == 1).await;
    // Never two at once, while they all keep trying.
    for _ in 0..50 {
        assert!(leaders(&[&a, &b, &c]) <= 1);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(leaders(&[&a, &b, &c]), 1);

    // The leader stops and gives the Lease up: another leads within about a retry period.
    let (leader, others): (Vec<Replica>, Vec<Replica>) = [a, b, c].into_iter().partition(|r| r.leadership.is_leader());
    let leader = leader.into_iter().next().unwrap();
    leader.stop().await;
    let hand_over = until(LEASE_DURATION, "a hand-over", || leaders(&others.iter().collect::<Vec<_>>()) == 1).await;
    assert!(hand_over < Duration::from_secs(1), "hand-over took {hand_over:?}");

    // The new leader vanishes without giving the Lease up: the last replica takes over once the
    // lease duration has passed since the last renewal it saw, not before.
    let (leader, others): (Vec<Replica>, Vec<Replica>) = others.into_iter().partition(|r| r.leadership.is_leader());
    let leader = leader.into_iter().next().unwrap();
    leader.task.abort();
    let vanished = Instant::now();
    let last = others.into_iter().next().unwrap();
    until(LEASE_DURATION * 3, "a take-over", || last.leadership.is_leader()).await;
    let take_over = vanished.elapsed();
    assert!(take_over >= Duration::from_millis(1_500), "taken over after {take_over:?}, before the lease could lapse");
    assert!(!leader.leadership.is_leader(), "the vanished leader's own view lapsed at its renew deadline");

    let lease: Lease = Api::namespaced(client.clone(), "lease-election").get("portal-leader").await.unwrap();
    let spec = lease.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some(last.identity.as_str()));
    assert!(spec.lease_transitions.unwrap_or(0) >= 2, "{spec:?}");
    last.stop().await;
}

#[tokio::test]
async fn a_leader_whose_lease_is_taken_stops_leading_at_its_next_try() {
    let client = common::client().await;
    namespace(&client, "lease-taken").await;
    let a = Replica::start(&client, "lease-taken", "replica-a");
    until(common::WAIT, "a leader", || a.leadership.is_leader()).await;
    // Someone else (an operator's kubectl, another version of Portal) writes itself in.
    let api: Api<Lease> = Api::namespaced(client.clone(), "lease-taken");
    let mut lease = api.get("portal-leader").await.unwrap();
    if let Some(spec) = lease.spec.as_mut() {
        spec.holder_identity = Some("intruder".to_owned());
        spec.lease_duration_seconds = Some(60);
    }
    api.replace("portal-leader", &PostParams::default(), &lease).await.unwrap();
    let gave_up = until(LEASE_DURATION, "stepping down", || !a.leadership.is_leader()).await;
    assert!(gave_up < Duration::from_secs(1), "kept leading for {gave_up:?} after losing the lease");
    // And does not take it back while the intruder's lease runs.
    tokio::time::sleep(LEASE_DURATION).await;
    assert!(!a.leadership.is_leader());
    a.stop().await;
    // It never held the lease at the end, so it did not clear the intruder's hold.
    let lease = api.get("portal-leader").await.unwrap();
    assert_eq!(lease.spec.unwrap().holder_identity.as_deref(), Some("intruder"));
}
