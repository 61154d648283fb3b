//! One namespace cannot take every evaluation slot: while a tenant's requests wait on a slow rule,
//! a request of another namespace is evaluated at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_with_slow_requests_does_not_hold_up_the_others() {
    let rules = common::unbounded_rule_set(common::SLOW_POD_RULES);
    // Four slots in all, so one per namespace.
    let (_tls, server, ca) = common::start_webhook_with(rules, |settings| {
        settings.deadline = Duration::from_secs(1);
        settings.max_concurrent_evaluations = 4;
    })
    .await;
    let address = server.local_addr();

    // As many slow requests in `tenant` as there are slots.
    let tenant: Vec<_> = (0..4)
        .map(|i| {
            let ca = ca.clone();
            tokio::spawn(async move {
                common::post_review(address, &ca, &common::create_review(&format!("t{i}"), "Pod", "tenant")).await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let other = common::post_review(address, &ca, &common::create_review("other-uid", "ConfigMap", "other")).await;
    assert!(other.contains(r#""uid":"other-uid""#) && other.contains(r#""allowed":true"#), "{other}");
    // Answered while every tenant request is still waiting for its deadline: it did not wait for
    // a slot the tenant held.
    assert!(tenant.iter().all(|request| !request.is_finished()), "the other namespace waited for the tenant's slots");
    for request in tenant {
        assert!(request.await.unwrap().contains("deadline of 1s passed"));
    }
}
