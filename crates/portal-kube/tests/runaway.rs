//! A rule that would run for minutes (its load-time estimate switched off, and no iteration
//! budget, as if an operator had raised both limits) neither holds up other requests nor keeps
//! burning CPU after the webhook answered: at the deadline the webhook cancels it, and it stops
//! at its next comprehension.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

/// CPU time this process has used (user + system), from `/proc/self/stat`, in clock ticks.
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command name (which is in parentheses and may contain spaces).
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runaway_rule_is_stopped_at_the_deadline_and_others_are_answered_meanwhile() {
    let rules = common::unbounded_rule_set(common::SLOW_POD_RULES);
    let (_tls, server, ca) = common::start_webhook(rules, Duration::from_millis(300)).await;
    let address = server.local_addr();
    let ask = |review: String| {
        let ca = ca.clone();
        async move { common::post_review(address, &ca, &review).await }
    };

    let runaway = tokio::spawn(ask(common::create_review("runaway-uid", "Pod", "tenant")));
    // While the runaway rule is being evaluated, another request is answered, in full.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let other = ask(common::create_review("other-uid", "ConfigMap", "other")).await;
    assert!(other.contains(r#""uid":"other-uid""#) && other.contains(r#""allowed":true"#), "{other}");
    let runaway = runaway.await.unwrap();
    assert!(runaway.contains("deadline of 300ms passed"), "{runaway}");

    // Cancelled, the evaluation stops: over the next second this process is nearly idle, where
    // the runaway loop would use a whole core.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = cpu_ticks();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let used = cpu_ticks() - before;
    // Clock ticks are 1/100 s on Linux: a core for a second is about 100.
    assert!(used < 30, "the process used {used} ticks of CPU in one second after the deadline");
}
