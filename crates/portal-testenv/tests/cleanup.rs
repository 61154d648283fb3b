//! A control plane never outlives what owns it: dropping a `TestEnv` stops it, and the shared
//! one (never dropped) is stopped by its watchdog when the test process exits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Set when this test binary runs itself as the child of
/// `the_shared_control_plane_stops_when_the_test_process_exits`.
const CHILD_ENV: &str = "PORTAL_TESTENV_CLEANUP_CHILD";

/// Whether something listens on the port of `url` (`https://127.0.0.1:<port>`).
fn listening(url: &str) -> bool {
    let address = url.trim_start_matches("https://");
    TcpStream::connect_timeout(&address.parse().unwrap(), Duration::from_secs(1)).is_ok()
}

fn wait_until_gone(dir: &Path, url: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if !dir.exists() && !listening(url) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[tokio::test]
async fn dropping_a_private_control_plane_stops_it() {
    let env = portal_testenv::TestEnv::start().await.unwrap_or_else(|err| panic!("{err}"));
    let dir = env.dir().to_owned();
    let url = env.server_url().to_owned();
    assert!(dir.exists() && listening(&url));
    drop(env);
    assert!(!dir.exists(), "{} still exists", dir.display());
    assert!(!listening(&url), "{url} still accepts connections");
}

/// Only does something as the child process of the test below: starts the shared control
/// plane, prints where it is, and exits without dropping it (statics are never dropped).
#[tokio::test]
async fn child_leaves_the_shared_control_plane_behind() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let env = portal_testenv::shared().await.unwrap_or_else(|err| panic!("{err}"));
    println!("PORTAL_TESTENV_DIR={}", env.dir().display());
    println!("PORTAL_TESTENV_URL={}", env.server_url());
}

#[test]
fn the_shared_control_plane_stops_when_the_test_process_exits() {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["child_leaves_the_shared_control_plane_behind", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "child failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let value = |key: &str| {
        stdout
            .lines()
            .find_map(|line| line.split_once(key).map(|(_, value)| value))
            .unwrap_or_else(|| panic!("{key} not in the child's output:\n{stdout}"))
            .to_owned()
    };
    let dir = PathBuf::from(value("PORTAL_TESTENV_DIR="));
    let url = value("PORTAL_TESTENV_URL=");
    assert!(
        wait_until_gone(&dir, &url, Duration::from_secs(10)),
        "after the test process exited, {} exists: {}, {url} listening: {}",
        dir.display(),
        dir.exists(),
        listening(&url)
    );
}
