//! The mutation fuzzer behind `cargo xtask fuzz`: runs one target on mutations of its corpus
//! until time is up. Before each input it writes the input to `<findings>/current`, so that when
//! the process dies (a panic aborts in this profile, a stack overflow always does) the caller
//! keeps the input that killed it; an input running longer than 10 s is written as a hang and
//! ends the process with status 3.
//!
//! Usage: portal-fuzz TARGET SECONDS SEED FINDINGS_DIR

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use portal_fuzz::{Mutator, Target};

/// The longest one input may run.
const HANG: Duration = Duration::from_secs(10);
/// The longest input tried.
const MAX_INPUT: usize = 64 * 1024;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [target, seconds, seed, findings] = args.as_slice() else {
        eprintln!("usage: portal-fuzz TARGET SECONDS SEED FINDINGS_DIR");
        return ExitCode::from(2);
    };
    let (Some(target), Ok(seconds), Ok(seed)) =
        (Target::from_name(target), seconds.parse::<u64>(), seed.parse::<u64>())
    else {
        eprintln!("portal-fuzz: bad arguments {args:?}");
        return ExitCode::from(2);
    };
    let findings = PathBuf::from(findings);
    let corpus_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target.name());
    let mut corpus: Vec<Vec<u8>> = match std::fs::read_dir(&corpus_dir) {
        Ok(entries) => entries.filter_map(|e| e.ok()).filter_map(|e| std::fs::read(e.path()).ok()).collect(),
        Err(error) => {
            eprintln!("portal-fuzz: reading {}: {error}", corpus_dir.display());
            return ExitCode::from(2);
        }
    };
    if corpus.is_empty() {
        corpus.push(Vec::new());
    }
    // Evaluation recurses: run where the stack is what `portal run` gives its threads.
    let worker = std::thread::Builder::new()
        .stack_size(8 * 1024 * 1024)
        .spawn(move || fuzz(target, Duration::from_secs(seconds), seed, &corpus, &findings));
    match worker.map(|handle| handle.join()) {
        Ok(Ok(executions)) => {
            println!("{} {executions}", target.name());
            ExitCode::SUCCESS
        }
        _ => ExitCode::FAILURE,
    }
}

fn fuzz(target: Target, duration: Duration, seed: u64, corpus: &[Vec<u8>], findings: &std::path::Path) -> u64 {
    let started = Instant::now();
    let input_started = Arc::new(AtomicU64::new(0));
    let watchdog = Arc::clone(&input_started);
    let current = findings.join("current");
    let hang = findings.join(format!("hang-{seed}"));
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(500));
            let since = watchdog.load(Ordering::Relaxed);
            let now = started.elapsed().as_millis() as u64;
            if since > 0 && now.saturating_sub(since) > HANG.as_millis() as u64 {
                let _ = std::fs::copy(&current, &hang);
                eprintln!("portal-fuzz: an input ran longer than {HANG:?}");
                std::process::exit(3);
            }
        }
    });
    let mut mutator = Mutator::new(seed);
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x5eed);
    let mut executions = 0;
    let current = findings.join("current");
    while started.elapsed() < duration {
        let input = &corpus[rng.usize(..corpus.len())];
        let other = &corpus[rng.usize(..corpus.len())];
        let data = mutator.mutate(input, other, MAX_INPUT);
        if std::fs::write(&current, &data).is_err() {
            eprintln!("portal-fuzz: cannot write {}", current.display());
            return executions;
        }
        input_started.store(started.elapsed().as_millis().max(1) as u64, Ordering::Relaxed);
        target.run(&data);
        input_started.store(0, Ordering::Relaxed);
        executions += 1;
    }
    executions
}
