//! Graceful shutdown of the webhook: a review in progress when shutdown begins is answered, and
//! the port takes no new connection. (No control plane needed: the webhook alone.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use portal_rules::{RuleSet, load_rules};

/// A rule that takes a while (160,000 iterations) and never fires.
const SLOW: &str = "\
name: slow
match: {gvk: [{group: '', version: v1, kind: Pod}]}
rule: 'lists.range(400).all(i, lists.range(400).all(j, i + j >= 0)) && false'
";

const REVIEW: &str = r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"in-flight","operation":"CREATE","namespace":"team-a","kind":{"group":"","version":"v1","kind":"Pod"},"object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"team-a"}}}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviews_in_progress_are_answered_and_no_new_connection_is_taken() {
    let (loaded, errors) = load_rules("slow.yaml", SLOW);
    assert!(errors.is_empty(), "{errors:?}");
    let (rules, errors) = RuleSet::compile(loaded);
    assert!(errors.is_empty(), "{errors:?}");
    let (_dir, server, ca) = common::start_webhook(rules, Duration::from_millis(2_900)).await;
    let address = server.local_addr();

    // How long one review takes, unhurried.
    let started = Instant::now();
    let answer = common::post_review(address, &ca, REVIEW).await;
    let one_review = started.elapsed();
    assert!(answer.contains("\"allowed\":true"), "{answer}");

    // A review in progress when shutdown begins.
    let in_flight = tokio::spawn({
        let ca = ca.clone();
        async move { common::post_review(address, &ca, REVIEW).await }
    });
    tokio::time::sleep(one_review / 4).await;
    let shutting_down = Instant::now();
    let drained = server.shut_down(Duration::from_secs(10)).await;
    let answer = in_flight.await.unwrap();
    println!("one review: {one_review:?}; shutdown waited {:?} for the review in progress", shutting_down.elapsed());
    assert!(answer.starts_with("HTTP/1.1 200"), "the review in progress is answered: {answer:?}");
    assert!(answer.contains("\"uid\":\"in-flight\"") && answer.contains("\"allowed\":true"), "{answer}");
    assert!(drained, "every connection finished within the grace period");
    // The port is closed: nothing accepts new connections.
    assert!(tokio::net::TcpStream::connect(address).await.is_err(), "the port still accepts connections");
}
