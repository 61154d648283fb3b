//! `cargo xtask deny` and `cargo xtask audit`: dependency policy and RustSec advisories
//! (SPEC §11), both able to run offline against a local copy of the advisory database.
//!
//! Each tool is installed at a pinned version when missing (`cargo install --locked`). The
//! advisory database is `--advisory-db PATH`, or `../shared/advisory-db` beside the workspace
//! when that exists; without either, the tools fetch `rustsec/advisory-db` as usual. A local
//! database is a plain directory whose `SNAPSHOT` file names its commit and date, e.g.
//! `snapshot of rustsec/advisory-db at bf5c0d2… (2026-08-21)`; both commands print that date
//! and the database's age, so a pass is never mistaken for "no advisory known today".
//!
//! - cargo-audit reads the directory as it is (`--db PATH --no-fetch`).
//! - cargo-deny only opens a git repository at `<db-path>/<name>-<hash of the url>` and judges
//!   its staleness on the HEAD commit time (or `.git/HEAD`'s mtime when newer). The snapshot is
//!   copied into `<target dir>/xtask/advisory-dbs/` as a repository with one commit dated with
//!   the snapshot's own date (and `.git/HEAD`'s mtime set to that date), so cargo-deny's
//!   `maximum-db-staleness` (deny.toml) is checked against the real age of the data. It runs
//!   with a copy of deny.toml that adds `db-path` and `db-urls` (`<target dir>/xtask/deny.toml`,
//!   generated, not to be edited).
//!
//! The same policy holds for both tools: deny.toml's `maximum-db-staleness` also bounds the age
//! of a local database for `audit`, and the advisories ignored in deny.toml (`ignore`, each with
//! a reason) are passed to cargo-audit with `--ignore`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail, ensure};

use crate::cmd::{cargo_command, run, stdout_of};
use crate::date::{SECONDS_PER_DAY, epoch_of_date, rfc3339};
use crate::project::{cargo_home, project_root, target_dir};

/// The cargo-deny release installed when missing.
pub const CARGO_DENY_VERSION: &str = "0.20.2";
/// The cargo-audit release installed when missing.
pub const CARGO_AUDIT_VERSION: &str = "0.22.2";

/// The local database used when `--advisory-db` is not given, relative to the workspace root.
const DEFAULT_LOCAL_DB: &str = "../shared/advisory-db";
/// The RustSec database's URL, as cargo-deny spells its default (lower case: cargo-deny lowers
/// the URL before hashing it into the directory name).
const ADVISORY_DB_URL: &str = "https://github.com/rustsec/advisory-db";
/// A local database older than this is reported loudly on every run (never a failure: see
/// [`OFFLINE_STALENESS`]).
const WARN_AFTER_DAYS: u64 = 90;

/// What the offline run's generated deny.toml sets as `maximum-db-staleness`: an offline check
/// must not start failing on a date that has nothing to do with the change under test. The age
/// is printed on every run, and [`WARN_AFTER_DAYS`] makes an old snapshot loud instead.
const OFFLINE_STALENESS: &str = "P36500D";

/// The seed of the XXH64 hash cargo-deny names database directories with
/// (`url_to_db_path` in cargo-deny's `src/advisories/helpers/db.rs`).
const CARGO_DENY_URL_HASH_SEED: u64 = 0xca80_de71;

/// `cargo xtask deny [--advisory-db PATH]`: `cargo deny check` (advisories, bans, licenses,
/// sources) with deny.toml.
pub fn deny_main(args: &[String]) -> Result<()> {
    let db = AdvisoryDb::choose(&parse_args("deny", args)?)?;
    ensure_tool("cargo-deny", CARGO_DENY_VERSION)?;
    let config = project_root().join("deny.toml");
    let policy = Policy::read(&config)?;
    let mut cargo = cargo_command();
    cargo.arg("deny");
    match &db {
        AdvisoryDb::Local(local) => {
            local.print("cargo-deny", &policy)?;
            let db_path = target_dir().join("xtask/advisory-dbs");
            local.as_git_repository(&db_path.join(cargo_deny_db_dir(ADVISORY_DB_URL)))?;
            let offline_config = target_dir().join("xtask/deny.toml");
            fs::write(&offline_config, offline_deny_toml(&fs::read_to_string(&config)?, &db_path)?)
                .with_context(|| format!("writing {}", offline_config.display()))?;
            // --offline: no fetch of the database (it is checked for staleness instead), of the
            // crates.io index (yanked crates are looked up in the local index cache) or of crates:
            // plain `cargo metadata` first downloads any crate not yet in the local cache (and
            // needs no network when all are).
            stdout_of(cargo_command().args(["metadata", "--locked", "--format-version", "1"]))?;
            cargo.args(["--locked", "--offline", "--config"]).arg(&offline_config);
        }
        AdvisoryDb::Fetch => {
            eprintln!(
                "advisory database: no local copy ({DEFAULT_LOCAL_DB} is absent): cargo-deny fetches {ADVISORY_DB_URL}"
            );
            cargo.args(["--locked", "--config"]).arg(&config);
        }
    }
    cargo.args(["check", "--show-stats"]);
    let result = run(&mut cargo);
    if matches!(db, AdvisoryDb::Fetch) {
        print_fetched_db_date(&cargo_home()?.join("advisory-dbs").join(cargo_deny_db_dir(ADVISORY_DB_URL)));
    }
    result
}

/// `cargo xtask audit [--advisory-db PATH]`: `cargo audit` of Cargo.lock, failing on
/// vulnerabilities and on every warning (unmaintained, unsound, yanked), with the advisories
/// ignored in deny.toml ignored here too.
pub fn audit_main(args: &[String]) -> Result<()> {
    let db = AdvisoryDb::choose(&parse_args("audit", args)?)?;
    ensure_tool("cargo-audit", CARGO_AUDIT_VERSION)?;
    let policy = Policy::read(&project_root().join("deny.toml"))?;
    let mut cargo = cargo_command();
    cargo.args(["audit", "--deny", "warnings"]);
    for id in &policy.ignored {
        cargo.args(["--ignore", id]);
    }
    match &db {
        AdvisoryDb::Local(local) => {
            local.print("cargo-audit", &policy)?;
            cargo.arg("--db").arg(&local.dir).arg("--no-fetch");
        }
        AdvisoryDb::Fetch => {
            eprintln!(
                "advisory database: no local copy ({DEFAULT_LOCAL_DB} is absent): cargo-audit fetches {ADVISORY_DB_URL}"
            );
        }
    }
    let result = run(&mut cargo);
    if matches!(db, AdvisoryDb::Fetch) {
        print_fetched_db_date(&cargo_home()?.join("advisory-db"));
    }
    if result.is_ok() {
        println!("cargo audit: no vulnerability, unmaintained, unsound or yanked crate in Cargo.lock");
    }
    result
}

/// The `--advisory-db PATH` argument, if given.
fn parse_args(command: &str, args: &[String]) -> Result<Option<PathBuf>> {
    match args {
        [] => Ok(None),
        [flag, path] if flag == "--advisory-db" => Ok(Some(PathBuf::from(path))),
        _ => bail!("cargo xtask {command}: unknown arguments {args:?}; use no argument or --advisory-db PATH"),
    }
}

/// Installs `krate` at `version` with `cargo install --locked` unless that exact version is
/// installed.
fn ensure_tool(krate: &str, version: &str) -> Result<()> {
    let installed = stdout_of(cargo_command().args(["install", "--list"]))?;
    let wanted = format!("{krate} v{version}:");
    if !installed.lines().any(|line| line == wanted) {
        run(cargo_command().args(["install", "--locked", krate, "--version", version]))?;
    }
    Ok(())
}

/// Where the advisories come from.
#[derive(Debug)]
enum AdvisoryDb {
    Local(LocalDb),
    /// The tool fetches the current database itself.
    Fetch,
}

impl AdvisoryDb {
    fn choose(explicit: &Option<PathBuf>) -> Result<Self> {
        let dir = match explicit {
            Some(dir) => std::path::absolute(dir).with_context(|| format!("resolving {}", dir.display()))?,
            None => {
                let default = project_root().join(DEFAULT_LOCAL_DB);
                if !default.is_dir() {
                    return Ok(Self::Fetch);
                }
                default
            }
        };
        let dir =
            fs::canonicalize(&dir).with_context(|| format!("the advisory database {} is missing", dir.display()))?;
        let snapshot = dir.join("SNAPSHOT");
        let text = fs::read_to_string(&snapshot).with_context(|| {
            format!(
                "reading {}: a local advisory database needs a SNAPSHOT file naming its commit and date, \
                 e.g. `snapshot of rustsec/advisory-db at <commit> (YYYY-MM-DD)`",
                snapshot.display()
            )
        })?;
        let (commit, date) = parse_snapshot(&text).with_context(|| format!("parsing {}", snapshot.display()))?;
        ensure!(dir.join("crates").is_dir(), "{} has no crates/ directory: not an advisory database", dir.display());
        Ok(Self::Local(LocalDb { dir, commit, date }))
    }
}

/// A local copy of the advisory database.
#[derive(Debug)]
struct LocalDb {
    dir: PathBuf,
    /// The advisory-db commit it is a snapshot of.
    commit: String,
    /// The snapshot's date, `YYYY-MM-DD`.
    date: String,
}

impl LocalDb {
    /// Seconds since the epoch at 00:00 UTC of the snapshot's date: the earliest moment the day
    /// allows, so the age is never understated.
    fn epoch(&self) -> Result<u64> {
        epoch_of_date(&self.date)
    }

    fn age_days(&self) -> Result<u64> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).context("the clock is before 1970")?.as_secs();
        Ok(now.saturating_sub(self.epoch()?) / SECONDS_PER_DAY)
    }

    /// Says which database is used and how old it is; loudly when older than
    /// [`WARN_AFTER_DAYS`]. The age never fails a run offline: a fetched database (CI on GitHub)
    /// is the one that must be current, and deny.toml's staleness bound applies to it.
    fn print(&self, tool: &str, policy: &Policy) -> Result<()> {
        let age = self.age_days()?;
        println!(
            "advisory database: {} (rustsec/advisory-db at {}), dated {}, {age} days old; {tool} runs \
             offline: advisories published after {} are not checked (a fetched database must be at most \
             {} days old; an offline snapshot is never refused for its age)",
            self.dir.display(),
            self.commit,
            self.date,
            self.date,
            policy.max_staleness_days,
        );
        if age > WARN_AFTER_DAYS {
            eprintln!(
                "\nWARNING: the local advisory database is {age} days old (dated {}): advisories of the last \
                 {age} days are NOT checked. Refresh {} or run without it (the tools then fetch the current \
                 database).\n",
                self.date,
                self.dir.display()
            );
        }
        Ok(())
    }

    /// Makes `repo` a git repository holding this snapshot in one commit dated with the
    /// snapshot's date, reusing it when it already holds this snapshot.
    fn as_git_repository(&self, repo: &Path) -> Result<()> {
        let stamp = repo.join(".git/portal-snapshot-source");
        let source = format!("{}\n{}\n", self.dir.display(), fs::read_to_string(self.dir.join("SNAPSHOT"))?);
        if fs::read_to_string(&stamp).ok().as_deref() != Some(source.as_str()) {
            if repo.exists() {
                fs::remove_dir_all(repo).with_context(|| format!("removing {}", repo.display()))?;
            }
            crate::project::copy_tree(&self.dir, repo)?;
            let date = rfc3339(self.epoch()?);
            let git = || {
                let mut git = Command::new("git");
                git.current_dir(repo)
                    .env_remove("GIT_DIR")
                    .env_remove("GIT_WORK_TREE")
                    .env_remove("GIT_INDEX_FILE")
                    .env("GIT_AUTHOR_DATE", &date)
                    .env("GIT_COMMITTER_DATE", &date)
                    .args(["-c", "user.name=cargo xtask deny", "-c", "user.email=xtask@invalid"])
                    .args(["-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null"]);
                git
            };
            stdout_of(git().args(["init", "--quiet", "--initial-branch=main"]))?;
            stdout_of(git().args(["add", "--all"]))?;
            let message = format!("snapshot of rustsec/advisory-db at {} ({})", self.commit, self.date);
            stdout_of(git().args(["commit", "--quiet", "--no-verify", "-m", &message]))?;
            fs::write(&stamp, &source).with_context(|| format!("writing {}", stamp.display()))?;
            eprintln!("advisory database copied into the git repository {} (one commit dated {date})", repo.display());
        }
        // cargo-deny takes the newer of the HEAD commit time and .git/HEAD's mtime (or
        // FETCH_HEAD's mtime if present) as the time of the last update: both must say the
        // snapshot's date, not when the copy was made.
        let fetch_head = repo.join(".git/FETCH_HEAD");
        if fetch_head.exists() {
            fs::remove_file(&fetch_head)?;
        }
        let head = repo.join(".git/HEAD");
        let snapshot_time = UNIX_EPOCH + Duration::from_secs(self.epoch()?);
        fs::File::options()
            .write(true)
            .open(&head)
            .and_then(|file| file.set_modified(snapshot_time))
            .with_context(|| format!("setting the mtime of {}", head.display()))?;
        Ok(())
    }
}

/// The commit and date of a `SNAPSHOT` file: `snapshot of rustsec/advisory-db at <commit> (YYYY-MM-DD)`.
fn parse_snapshot(text: &str) -> Result<(String, String)> {
    let line = text.lines().next().unwrap_or_default().trim();
    let (_, rest) = line.split_once(" at ").context("expected `… at <commit> (YYYY-MM-DD)`")?;
    let (commit, date) = rest.split_once(" (").context("expected `… at <commit> (YYYY-MM-DD)`")?;
    let date = date.strip_suffix(')').context("expected `(YYYY-MM-DD)` at the end")?;
    ensure!(commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit()), "{commit:?} is not a commit id");
    epoch_of_date(date)?;
    Ok((commit.to_owned(), date.to_owned()))
}

/// What the xtask reads from deny.toml for both tools.
#[derive(Debug)]
struct Policy {
    /// `[advisories] maximum-db-staleness`, in days (cargo-deny's default: 90).
    max_staleness_days: u64,
    /// `[advisories] ignore`: the advisory ids.
    ignored: Vec<String>,
}

impl Policy {
    fn read(path: &Path) -> Result<Self> {
        let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("reading {}", path.display()))
    }

    /// A small reader for the two keys, enough for deny.toml as we write it: a duration `PnD`
    /// and ignore entries `{ id = "…", reason = "…" }`, one per line.
    fn parse(text: &str) -> Result<Self> {
        let mut policy = Self { max_staleness_days: 90, ignored: Vec::new() };
        let mut in_advisories = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') && !line.starts_with("[[") && line.ends_with(']') {
                in_advisories = line == "[advisories]";
                continue;
            }
            if !in_advisories || line.starts_with('#') {
                continue;
            }
            if let Some(value) = line.strip_prefix("maximum-db-staleness") {
                let value = value.trim_start().trim_start_matches('=').trim();
                let days = value
                    .strip_prefix("\"P")
                    .and_then(|v| v.strip_suffix("D\""))
                    .and_then(|v| v.parse().ok())
                    .with_context(|| {
                    format!("maximum-db-staleness = {value}: the xtask reads only \"P<days>D\"")
                })?;
                policy.max_staleness_days = days;
            }
            if let Some((_, rest)) = line.split_once("id = \"") {
                let id = rest.split('"').next().unwrap_or_default();
                ensure!(line.contains("reason = \""), "the ignored advisory {id} has no reason: add reason = \"…\"");
                policy.ignored.push(id.to_owned());
            } else if line.starts_with("ignore") && !line.ends_with("[]") && !line.ends_with('[') {
                bail!("write [advisories] ignore with one {{ id = \"…\", reason = \"…\" }} per line: {line}");
            }
        }
        Ok(policy)
    }
}

/// deny.toml with `db-path` and `db-urls` added to `[advisories]`, for the offline run.
fn offline_deny_toml(deny_toml: &str, db_path: &Path) -> Result<String> {
    ensure!(
        !deny_toml.lines().any(|l| l.trim_start().starts_with("db-path") || l.trim_start().starts_with("db-urls")),
        "deny.toml sets db-path or db-urls itself; the offline run of `cargo xtask deny` sets them"
    );
    let db_path = db_path.to_str().context("the target directory is not UTF-8")?;
    ensure!(!db_path.contains('\''), "the target directory {db_path:?} contains a single quote");
    let mut out = String::from(
        "# Generated by `cargo xtask deny` from deny.toml for a run against a local advisory\n\
         # database (xtask/src/deny.rs) - do not edit.\n",
    );
    let mut found = false;
    for line in deny_toml.lines() {
        if line.trim_start().starts_with("maximum-db-staleness") {
            out.push_str(&format!(
                "# The age of an offline snapshot is reported, never a failure (xtask/src/deny.rs).\n\
                 maximum-db-staleness = \"{OFFLINE_STALENESS}\"\n"
            ));
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if line.trim() == "[advisories]" {
            found = true;
            out.push_str(&format!("db-path = '{db_path}'\ndb-urls = [\"{ADVISORY_DB_URL}\"]\n"));
        }
    }
    ensure!(found, "deny.toml has no [advisories] table");
    Ok(out)
}

/// The directory cargo-deny keeps the database of `url` in, under its `db-path`:
/// `<last path segment>-<XXH64 of the lower-cased URL, 16 hex digits>`.
fn cargo_deny_db_dir(url: &str) -> String {
    let url = url.to_lowercase();
    let name = url.rsplit('/').next().filter(|s| !s.is_empty()).unwrap_or("empty_");
    format!("{name}-{:016x}", xxh64(url.as_bytes(), CARGO_DENY_URL_HASH_SEED))
}

/// After a fetching run: the date of the database the tool fetched, from its HEAD commit.
fn print_fetched_db_date(repo: &Path) {
    let date = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["log", "-1", "--format=%H %cI"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned());
    match date {
        Some(line) => println!("advisory database: {} at {line} (fetched)", repo.display()),
        None => println!("advisory database: fetched; could not read its date from {}", repo.display()),
    }
}

/// XXH64 (the xxHash 64-bit specification), the hash cargo-deny names database directories with.
fn xxh64(data: &[u8], seed: u64) -> u64 {
    const P1: u64 = 0x9E37_79B1_85EB_CA87;
    const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
    const P3: u64 = 0x1656_67B1_9E37_79F9;
    const P4: u64 = 0x85EB_CA77_C2B2_AE63;
    const P5: u64 = 0x27D4_EB2F_1656_67C5;
    let round = |acc: u64, lane: u64| acc.wrapping_add(lane.wrapping_mul(P2)).rotate_left(31).wrapping_mul(P1);
    let merge = |acc: u64, lane: u64| (acc ^ round(0, lane)).wrapping_mul(P1).wrapping_add(P4);
    let u64_at = |b: &[u8]| b[..8].iter().rev().fold(0u64, |acc, &x| (acc << 8) | u64::from(x));
    let u32_at = |b: &[u8]| b[..4].iter().rev().fold(0u64, |acc, &x| (acc << 8) | u64::from(x));

    let mut rest = data;
    let mut hash = if data.len() >= 32 {
        let mut lanes = [seed.wrapping_add(P1).wrapping_add(P2), seed.wrapping_add(P2), seed, seed.wrapping_sub(P1)];
        while rest.len() >= 32 {
            for (i, lane) in lanes.iter_mut().enumerate() {
                *lane = round(*lane, u64_at(&rest[i * 8..]));
            }
            rest = &rest[32..];
        }
        let [a, b, c, d] = lanes;
        let mut hash = a
            .rotate_left(1)
            .wrapping_add(b.rotate_left(7))
            .wrapping_add(c.rotate_left(12))
            .wrapping_add(d.rotate_left(18));
        for lane in lanes {
            hash = merge(hash, lane);
        }
        hash
    } else {
        seed.wrapping_add(P5)
    };
    hash = hash.wrapping_add(data.len() as u64);
    while rest.len() >= 8 {
        hash = (hash ^ round(0, u64_at(rest))).rotate_left(27).wrapping_mul(P1).wrapping_add(P4);
        rest = &rest[8..];
    }
    if rest.len() >= 4 {
        hash = (hash ^ u32_at(rest).wrapping_mul(P1)).rotate_left(23).wrapping_mul(P2).wrapping_add(P3);
        rest = &rest[4..];
    }
    for &byte in rest {
        hash = (hash ^ u64::from(byte).wrapping_mul(P5)).rotate_left(11).wrapping_mul(P1);
    }
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(P2);
    hash ^= hash >> 29;
    hash = hash.wrapping_mul(P3);
    hash ^ (hash >> 32)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn xxh64_matches_the_reference_vectors() {
        // From the xxHash reference implementation and its Python binding's documentation.
        assert_eq!(xxh64(b"", 0), 0xEF46_DB37_51D8_E999);
        assert_eq!(xxh64(b"a", 0), 0xD24E_C4F1_A98C_6E5B);
        assert_eq!(xxh64(b"abc", 0), 0x44BC_2CF5_AD77_0999);
        assert_eq!(xxh64(b"Nobody inspects the spammish repetition", 0), 0xFBCE_A83C_8A37_8BF1);
        // Seeded and longer than one 32-byte stripe (computed with python-xxhash 3).
        assert_eq!(xxh64(&[b'x'; 100], 5), 0x1B50_3435_FFB2_E749);
    }

    #[test]
    fn cargo_deny_directory_of_the_default_database() {
        // The directory cargo-deny 0.20 creates for its default database (its `url_to_db_path`).
        assert_eq!(cargo_deny_db_dir("https://github.com/RustSec/advisory-db"), cargo_deny_db_dir(ADVISORY_DB_URL));
        // XXH64 with cargo-deny's seed, computed with python-xxhash 3.
        assert_eq!(cargo_deny_db_dir(ADVISORY_DB_URL), "advisory-db-3157b0e258782691");
    }

    #[test]
    fn snapshot_file_gives_commit_and_date() {
        let (commit, date) = parse_snapshot(
            "snapshot of rustsec/advisory-db at bf5c0d245a92671908518d7e765914d437954ed6 (2026-08-21)\n",
        )
        .unwrap();
        assert_eq!(commit, "bf5c0d245a92671908518d7e765914d437954ed6");
        assert_eq!(date, "2026-08-21");
        assert!(parse_snapshot("snapshot of rustsec/advisory-db at main (2026-08-21)").is_err());
        assert!(parse_snapshot("snapshot of rustsec/advisory-db at bf5c0d2 (2026-13-01)").is_err());
        assert!(parse_snapshot("snapshot of rustsec/advisory-db").is_err());
    }

    #[test]
    fn policy_reads_staleness_and_ignored_advisories() {
        let policy = Policy::parse(
            "[graph]\nmaximum-db-staleness = \"P1D\"\n[advisories]\n# ignore = [\"RUSTSEC-0000-0000\"]\n\
             maximum-db-staleness = \"P180D\"\nignore = [\n    # why\n    \
             { id = \"RUSTSEC-2024-0001\", reason = \"not reachable\" },\n]\n[bans]\n",
        )
        .unwrap();
        assert_eq!(policy.max_staleness_days, 180);
        assert_eq!(policy.ignored, ["RUSTSEC-2024-0001"]);
        assert!(Policy::parse("[advisories]\nignore = [\n{ id = \"RUSTSEC-2024-0001\" },\n]\n").is_err());
        assert!(Policy::parse("[advisories]\nignore = [\"RUSTSEC-2024-0001\"]\n").is_err());
        assert!(Policy::parse("[advisories]\nmaximum-db-staleness = \"PT1H\"\n").is_err());
        assert_eq!(Policy::parse("[advisories]\nignore = []\n").unwrap().max_staleness_days, 90);
    }

    #[test]
    fn the_repository_deny_toml_is_readable() {
        let policy = Policy::read(&project_root().join("deny.toml")).unwrap();
        let offline =
            offline_deny_toml(&fs::read_to_string(project_root().join("deny.toml")).unwrap(), Path::new("/x")).unwrap();
        assert!(
            offline.contains("[advisories]\ndb-path = '/x'\ndb-urls = [\"https://github.com/rustsec/advisory-db\"]\n")
        );
        // Offline, the calendar never fails the run; fetched, the database must be current.
        assert!(offline.contains("\nmaximum-db-staleness = \"P36500D\"\n"), "{offline}");
        assert_eq!(offline.matches("maximum-db-staleness =").count(), 1);
        assert_eq!(policy.max_staleness_days, 90);
    }
}
