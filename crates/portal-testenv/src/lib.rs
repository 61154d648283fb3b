//! A real control plane for integration tests: etcd, kube-apiserver and kube-controller-manager
//! (garbage collector and namespace controller) on loopback.
//!
//! Portal's Kubernetes behaviour is tested against a real kube-apiserver backed by a real
//! etcd (SPEC §12), never against an imitation. This crate starts them from the binaries that
//! `cargo xtask envtest` builds (`cargo xtask test` provisions them and sets
//! `PORTAL_ENVTEST_ASSETS`), and hands tests a [`kube::Client`] that is cluster-admin.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use k8s_openapi::api::core::v1::ConfigMap;
//! use kube::api::{Api, PostParams};
//!
//! let env = portal_testenv::shared().await?;
//! let namespace = env.namespace("configmaps").await?;
//! let config_maps: Api<ConfigMap> = Api::namespaced(env.client()?, &namespace);
//! # let config_map = ConfigMap::default();
//! config_maps.create(&PostParams::default(), &config_map).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # One control plane per test binary
//!
//! Starting a control plane takes seconds, so the tests of one test binary share one:
//! [`shared()`] starts it on first use and keeps it for the life of the process; each test
//! isolates itself in a namespace of its own ([`TestEnv::namespace`]). [`TestEnv::start`] gives
//! a test a private control plane when it needs one (say, to restart the API server).
//!
//! Each `#[tokio::test]` runs on a runtime of its own, and a [`kube::Client`] belongs to the
//! runtime that built it (its connection pool and request buffer are tasks there), so a
//! client cannot be shared between tests. A [`TestEnv`] therefore holds only plain data — child
//! processes, files, a [`kube::Config`] — and [`TestEnv::client`] builds a fresh client on the
//! caller's runtime. Nothing in a `TestEnv` depends on the runtime that started it.
//!
//! # Clean-up
//!
//! Dropping a [`TestEnv`] kills its processes, waits for them and removes its temporary
//! directory. The shared control plane lives in a `static`, which Rust never drops, and a test
//! process can also die by a signal; for those cases every control plane has a watchdog: a
//! `sh` that reads a pipe whose only writer is the test process. When the test process exits,
//! however it exits, the kernel closes the pipe and the watchdog kills the control plane's
//! processes and removes the directory. This needs no `prctl`, no `unsafe` and no extra crate, only
//! POSIX `sh`, `kill` and `rm`.
//!
//! # What the control plane is (and is not)
//!
//! etcd, kube-apiserver and kube-controller-manager run, the latter with only its garbage
//! collector (objects whose owner is deleted are deleted; it discovers kinds added by CRDs
//! within 30 s), its namespace controller (a deleted namespace is emptied and finalised) and its
//! disruption controller (PodDisruptionBudgets get their status, so evictions obey them). No
//! scheduler or kubelet: pods are never scheduled; no service account or token is created for a
//! namespace (the `ServiceAccount` admission plugin is off so that pods can still be created). Authentication is a static token
//! in `system:masters`; authorisation is RBAC, so objects that grant permissions behave as
//! they do in a cluster.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::fs::{self, File};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, GetParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use tempfile::TempDir;
use tokio::sync::OnceCell;

/// The environment variable naming the directory with `bin/etcd` and `bin/kube-apiserver`.
pub const ASSETS_ENV: &str = "PORTAL_ENVTEST_ASSETS";

/// How long [`TestEnv::start`] waits for `/readyz` before giving up.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Lines of each log file quoted in a start-up error.
const LOG_TAIL_LINES: usize = 30;

/// Start-up is retried this many times when a process loses a race for its port.
const START_ATTEMPTS: usize = 3;

/// etcd's storage quota: plenty for tests, small enough to fail fast on a runaway test.
const ETCD_QUOTA_BYTES: u64 = 256 * 1024 * 1024;

const ETCD: &str = "etcd";
const KUBE_APISERVER: &str = "kube-apiserver";
const KUBE_CONTROLLER_MANAGER: &str = "kube-controller-manager";

/// Result of this crate's operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong while starting or using a test control plane.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `PORTAL_ENVTEST_ASSETS` is not set.
    #[error(
        "{ASSETS_ENV} is not set, so the test control plane cannot start: run `cargo xtask envtest` \
         (or `cargo xtask test`, which provisions it) and export {ASSETS_ENV}=\"$(cargo xtask envtest)\""
    )]
    AssetsNotConfigured,

    /// `PORTAL_ENVTEST_ASSETS` is set but a binary is not where it should be.
    #[error(
        "{path} does not exist ({ASSETS_ENV}={assets}): run `cargo xtask envtest` \
         (or `cargo xtask test`, which provisions it) and export {ASSETS_ENV}=\"$(cargo xtask envtest)\""
    )]
    AssetMissing {
        /// The missing binary.
        path: PathBuf,
        /// The value of `PORTAL_ENVTEST_ASSETS`.
        assets: PathBuf,
    },

    /// The temporary directory could not be created.
    #[error("creating a temporary directory for the test control plane")]
    CreateTempDir(#[source] io::Error),

    /// A file in the temporary directory could not be written.
    #[error("writing {path}")]
    WriteFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// Generating a key or certificate failed.
    #[error("generating the test control plane's keys and certificates")]
    GenerateCertificate(#[source] rcgen::Error),

    /// No free loopback port could be found.
    #[error("finding a free port on 127.0.0.1")]
    FindFreePort(#[source] io::Error),

    /// A binary could not be started.
    #[error("starting {name} ({path})")]
    SpawnProcess {
        /// `etcd`, `kube-apiserver`, `kube-controller-manager` or `sh` (the watchdog).
        name: &'static str,
        /// The program.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// etcd or kube-apiserver exited during start-up.
    #[error("{name} exited during start-up ({status})\n{logs}")]
    ProcessExited {
        /// `etcd` or `kube-apiserver`.
        name: &'static str,
        /// How it exited.
        status: ExitStatus,
        /// The ends of both log files.
        logs: String,
    },

    /// `/readyz` did not succeed in time.
    #[error("the test control plane was not ready within {timeout:?}\n{logs}")]
    NotReady {
        /// How long start-up waited.
        timeout: Duration,
        /// The ends of both log files.
        logs: String,
        /// The last failure of a `/readyz` request, if any was made.
        #[source]
        last_error: Option<kube::Error>,
    },

    /// The generated kubeconfig could not be loaded.
    #[error("loading the generated kubeconfig {path}")]
    LoadKubeconfig {
        /// The kubeconfig.
        path: PathBuf,
        /// Why.
        #[source]
        source: KubeconfigError,
    },

    /// A [`kube::Client`] could not be built.
    #[error("building a Kubernetes client for the test control plane")]
    BuildClient(#[source] kube::Error),

    /// A test namespace could not be created.
    #[error("creating a test namespace named {prefix}-…")]
    CreateNamespace {
        /// The prefix the test asked for.
        prefix: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

/// A running etcd, kube-apiserver and kube-controller-manager on loopback, with an admin
/// identity to talk to them.
///
/// Dropping it stops them and removes its files. See the [crate docs](crate) for sharing one
/// between tests.
pub struct TestEnv {
    // Field order is drop order: the processes stop before their directory goes.
    processes: Processes,
    config: kube::Config,
    server_url: String,
    ca_pem: String,
    token: String,
    kubeconfig_path: PathBuf,
    startup_time: Duration,
    dir: TempDir,
}

static SHARED: OnceCell<Result<TestEnv>> = OnceCell::const_new();

/// The control plane shared by every test of this test binary, started by the first call.
///
/// If it fails to start, every call returns that same error (starting again would only make
/// each test wait for the same failure). It is stopped by the watchdog when the process exits.
pub async fn shared() -> Result<&'static TestEnv, &'static Error> {
    SHARED.get_or_init(TestEnv::start).await.as_ref()
}

impl TestEnv {
    /// Starts a private control plane from the binaries in `PORTAL_ENVTEST_ASSETS` and waits
    /// until `/readyz` succeeds (at most [`READY_TIMEOUT`]).
    ///
    /// Must be called on a Tokio runtime with time enabled (any `#[tokio::test]`).
    pub async fn start() -> Result<Self> {
        let assets = Assets::from_env()?;
        let mut attempt = 1;
        loop {
            match Self::start_once(&assets).await {
                Err(err) if attempt < START_ATTEMPTS && lost_port_race(&err) => attempt += 1,
                result => return result,
            }
        }
    }

    async fn start_once(assets: &Assets) -> Result<Self> {
        let started = Instant::now();
        let dir = tempfile::Builder::new().prefix("portal-testenv-").tempdir().map_err(Error::CreateTempDir)?;
        let path = |name: &str| dir.path().join(name);

        let pki = Pki::generate()?;
        let token = random_token();
        write_file(&path("ca.crt"), &pki.ca_pem)?;
        write_file(&path("apiserver.crt"), &pki.serving_cert_pem)?;
        write_file(&path("apiserver.key"), &pki.serving_key_pem)?;
        write_file(&path("service-account.key"), &pki.service_account_key_pem)?;
        write_file(&path("service-account.pub"), &pki.service_account_public_key_pem)?;
        write_file(
            &path("tokens.csv"),
            &format!("{token},portal-testenv-admin,portal-testenv-admin,system:masters\n"),
        )?;

        let etcd_client_port = free_port()?;
        let etcd_peer_port = free_port()?;
        let apiserver_port = free_port()?;
        let etcd_url = format!("http://127.0.0.1:{etcd_client_port}");
        let etcd_peer_url = format!("http://127.0.0.1:{etcd_peer_port}");
        let server_url = format!("https://127.0.0.1:{apiserver_port}");

        let mut processes = Processes::new(dir.path())?;
        let etcd_data = path("etcd");
        processes.spawn(
            ETCD,
            &assets.etcd,
            &[
                "--name=portal-testenv".to_owned(),
                format!("--data-dir={}", etcd_data.display()),
                format!("--listen-client-urls={etcd_url}"),
                format!("--advertise-client-urls={etcd_url}"),
                format!("--listen-peer-urls={etcd_peer_url}"),
                format!("--initial-advertise-peer-urls={etcd_peer_url}"),
                format!("--initial-cluster=portal-testenv={etcd_peer_url}"),
                "--unsafe-no-fsync".to_owned(),
                format!("--quota-backend-bytes={ETCD_QUOTA_BYTES}"),
                // Start-up chatter would push failures out of the log tails in errors.
                "--log-level=warn".to_owned(),
            ],
            &path("etcd.log"),
        )?;
        // kube-apiserver would retry etcd with back-off; starting it once etcd accepts
        // connections makes its first attempt succeed.
        let deadline = started + READY_TIMEOUT;
        while tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, etcd_client_port)).await.is_err() {
            processes.check_running()?;
            if Instant::now() >= deadline {
                return Err(Error::NotReady { timeout: READY_TIMEOUT, logs: processes.log_tails(), last_error: None });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        let file = |name: &str| path(name).display().to_string();
        processes.spawn(
            KUBE_APISERVER,
            &assets.kube_apiserver,
            &[
                format!("--etcd-servers={etcd_url}"),
                format!("--secure-port={apiserver_port}"),
                "--bind-address=127.0.0.1".to_owned(),
                "--advertise-address=127.0.0.1".to_owned(),
                // The `kubernetes` Service's endpoints may not be a loopback address, and
                // nothing here needs them.
                "--endpoint-reconciler-type=none".to_owned(),
                format!("--cert-dir={}", file("apiserver-certs")),
                format!("--tls-cert-file={}", file("apiserver.crt")),
                format!("--tls-private-key-file={}", file("apiserver.key")),
                format!("--client-ca-file={}", file("ca.crt")),
                format!("--token-auth-file={}", file("tokens.csv")),
                "--authorization-mode=RBAC".to_owned(),
                format!("--service-account-issuer={server_url}"),
                format!("--service-account-key-file={}", file("service-account.pub")),
                format!("--service-account-signing-key-file={}", file("service-account.key")),
                "--service-cluster-ip-range=10.0.0.0/24".to_owned(),
                "--disable-admission-plugins=ServiceAccount".to_owned(),
                "--allow-privileged=true".to_owned(),
                // Priority and fairness bootstraps its configuration objects at start-up and
                // only slows down a single-user test server.
                "--enable-priority-and-fairness=false".to_owned(),
                "--profiling=false".to_owned(),
            ],
            &path("kube-apiserver.log"),
        )?;

        let kubeconfig_path = path("kubeconfig");
        write_file(&kubeconfig_path, &kubeconfig(&server_url, &pki.ca_pem, &token))?;
        let config = load_kubeconfig(&kubeconfig_path).await?;
        wait_until_ready(&config, &mut processes, deadline).await?;
        // The garbage collector (owner references) and the namespace controller (deleting a
        // namespace deletes what is in it), as in a real cluster; no other controller, and no
        // port of its own.
        processes.spawn(
            KUBE_CONTROLLER_MANAGER,
            &assets.kube_controller_manager,
            &[
                format!("--kubeconfig={}", kubeconfig_path.display()),
                "--controllers=garbagecollector,namespace,disruption".to_owned(),
                "--leader-elect=false".to_owned(),
                "--secure-port=0".to_owned(),
                "--profiling=false".to_owned(),
            ],
            &path("kube-controller-manager.log"),
        )?;

        Ok(Self {
            processes,
            config,
            server_url,
            ca_pem: pki.ca_pem,
            token,
            kubeconfig_path,
            startup_time: started.elapsed(),
            dir,
        })
    }

    /// A new cluster-admin client, bound to the calling Tokio runtime.
    ///
    /// Build one per test (it is cheap); a client must not outlive the runtime that built it.
    /// Panics if called outside a Tokio runtime, as every [`kube::Client`] does.
    pub fn client(&self) -> Result<kube::Client> {
        kube::Client::try_from(self.config.clone()).map_err(Error::BuildClient)
    }

    /// The client configuration behind [`Self::client`], for tests that adjust it.
    pub fn config(&self) -> &kube::Config {
        &self.config
    }

    /// Creates a namespace named `<prefix>-<random suffix>` (the API server picks the suffix
    /// with `generateName`, so names never collide) and returns its name.
    ///
    /// The prefix must be a valid start of a DNS label (lowercase letters, digits, `-`).
    /// Namespaces are not deleted: without a controller-manager a deleted namespace would stay
    /// `Terminating`, and the control plane is thrown away after the tests anyway.
    pub async fn namespace(&self, prefix: &str) -> Result<String> {
        let namespaces: Api<Namespace> = Api::all(self.client()?);
        let namespace = Namespace {
            metadata: ObjectMeta { generate_name: Some(format!("{prefix}-")), ..ObjectMeta::default() },
            ..Namespace::default()
        };
        let created = namespaces
            .create(&PostParams::default(), &namespace)
            .await
            .map_err(|source| Error::CreateNamespace { prefix: prefix.to_owned(), source })?;
        // The API server always names what it creates.
        Ok(created.metadata.name.unwrap_or_default())
    }

    /// A kubeconfig file (CA data, server URL and token) for tools and for code under test
    /// that loads kubeconfigs. It lives as long as this `TestEnv`.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig_path
    }

    /// The API server's URL, `https://127.0.0.1:<port>`.
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// The PEM certificate of the CA that signed the API server's serving certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The bearer token of the admin user (`portal-testenv-admin`, group `system:masters`).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// A kubeconfig for this API server that authenticates with `token` (e.g. a ServiceAccount's,
    /// from a TokenRequest), to run something with exactly that identity's permissions.
    pub fn kubeconfig_with_token(&self, token: &str) -> String {
        kubeconfig(&self.server_url, &self.ca_pem, token)
    }

    /// The temporary directory with the certificates, data and logs (`etcd.log`,
    /// `kube-apiserver.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// How long [`Self::start`] took, from nothing to `/readyz` succeeding.
    pub fn startup_time(&self) -> Duration {
        self.startup_time
    }
}

impl fmt::Debug for TestEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestEnv")
            .field("server_url", &self.server_url)
            .field("dir", &self.dir.path())
            .field("processes", &self.processes)
            .field("startup_time", &self.startup_time)
            .finish_non_exhaustive()
    }
}

/// Where the binaries are.
struct Assets {
    etcd: PathBuf,
    kube_apiserver: PathBuf,
    kube_controller_manager: PathBuf,
}

impl Assets {
    fn from_env() -> Result<Self> {
        let assets =
            std::env::var_os(ASSETS_ENV).filter(|value| !value.is_empty()).ok_or(Error::AssetsNotConfigured)?;
        let assets = PathBuf::from(assets);
        let binary = |name: &str| {
            let path = assets.join("bin").join(name);
            if path.is_file() { Ok(path) } else { Err(Error::AssetMissing { path, assets: assets.clone() }) }
        };
        Ok(Self {
            etcd: binary(ETCD)?,
            kube_apiserver: binary(KUBE_APISERVER)?,
            kube_controller_manager: binary(KUBE_CONTROLLER_MANAGER)?,
        })
    }
}

/// The test CA, the API server's serving certificate and the service-account signing key.
struct Pki {
    ca_pem: String,
    serving_cert_pem: String,
    serving_key_pem: String,
    service_account_key_pem: String,
    service_account_public_key_pem: String,
}

impl Pki {
    fn generate() -> Result<Self> {
        let mut ca_params = CertificateParams::default();
        ca_params.distinguished_name.push(DnType::CommonName, "portal-testenv CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca_key = KeyPair::generate().map_err(Error::GenerateCertificate)?;
        let ca_cert = ca_params.self_signed(&ca_key).map_err(Error::GenerateCertificate)?;
        let ca = Issuer::new(ca_params, ca_key);

        let mut serving_params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .map_err(Error::GenerateCertificate)?;
        serving_params.distinguished_name.push(DnType::CommonName, "kube-apiserver");
        serving_params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        serving_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let serving_key = KeyPair::generate().map_err(Error::GenerateCertificate)?;
        let serving_cert = serving_params.signed_by(&serving_key, &ca).map_err(Error::GenerateCertificate)?;

        // ECDSA P-256 (ES256), which kube-apiserver accepts for service-account tokens.
        let service_account_key = KeyPair::generate().map_err(Error::GenerateCertificate)?;

        Ok(Self {
            ca_pem: ca_cert.pem(),
            serving_cert_pem: serving_cert.pem(),
            serving_key_pem: serving_key.serialize_pem(),
            service_account_key_pem: service_account_key.serialize_pem(),
            service_account_public_key_pem: service_account_key.public_key_pem(),
        })
    }
}

/// The child processes of one control plane and the watchdog that outlives the test process.
struct Processes {
    watchdog: Child,
    /// The watchdog's stdin: the test process is its only writer. Each server's pid is written
    /// to it; end-of-file (the test process has exited) makes the watchdog act.
    watchdog_pipe: ChildStdin,
    servers: Vec<Server>,
}

/// A running process of the control plane.
struct Server {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

/// Reads pids until end-of-file, then kills them and removes the directory (`$1`). It ignores
/// the signals a terminal sends to the whole process group, so that Ctrl-C still cleans up.
/// `rm` is retried because a process may still be finishing a system call when it is killed
/// (waiting for the processes themselves is not portable: orphans may stay zombies for ever
/// where PID 1 does not reap them, as in some containers).
const WATCHDOG_SCRIPT: &str = r#"
trap '' INT HUP
pids=
while read -r pid; do pids="$pids $pid"; done
[ -z "$pids" ] || kill -KILL $pids 2>/dev/null
tries=0
while [ -e "$1" ] && [ "$tries" -lt 50 ]; do
    rm -rf -- "$1" 2>/dev/null || sleep 0.1
    tries=$((tries + 1))
done
"#;

impl Processes {
    fn new(dir: &Path) -> Result<Self> {
        let sh = PathBuf::from("sh");
        let mut watchdog = Command::new(&sh)
            .arg("-c")
            .arg(WATCHDOG_SCRIPT)
            .arg("portal-testenv-watchdog")
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| Error::SpawnProcess { name: "sh", path: sh.clone(), source })?;
        let Some(watchdog_pipe) = watchdog.stdin.take() else {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
            return Err(Error::SpawnProcess { name: "sh", path: sh, source: io::Error::other("no stdin pipe") });
        };
        Ok(Self { watchdog, watchdog_pipe, servers: Vec::new() })
    }

    fn spawn(&mut self, name: &'static str, program: &Path, args: &[String], log: &Path) -> Result<()> {
        let file = File::create(log).map_err(|source| Error::WriteFile { path: log.to_owned(), source })?;
        let stderr = file.try_clone().map_err(|source| Error::WriteFile { path: log.to_owned(), source })?;
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(stderr)
            .spawn()
            .map_err(|source| Error::SpawnProcess { name, path: program.to_owned(), source })?;
        let pid = child.id();
        self.servers.push(Server { name, child, log: log.to_owned() });
        // If the watchdog is gone, clean-up on drop still works; only a crash would leak.
        let _ = writeln!(self.watchdog_pipe, "{pid}");
        Ok(())
    }

    /// Fails if a server has exited.
    fn check_running(&mut self) -> Result<()> {
        for index in 0..self.servers.len() {
            if let Ok(Some(status)) = self.servers[index].child.try_wait() {
                let name = self.servers[index].name;
                return Err(Error::ProcessExited { name, status, logs: self.log_tails() });
            }
        }
        Ok(())
    }

    /// The last lines of every server's log, for errors.
    fn log_tails(&self) -> String {
        let mut text = String::new();
        for server in &self.servers {
            let log = fs::read_to_string(&server.log).unwrap_or_else(|err| format!("(cannot read: {err})"));
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
            text.push_str(&format!("--- last {} lines of {} ---\n", tail.len(), server.log.display()));
            for line in tail {
                text.push_str(line);
                text.push('\n');
            }
        }
        text
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        // The watchdog first, so that it does not act on pids that are about to be reaped.
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
        // The API server before its storage.
        for server in self.servers.iter_mut().rev() {
            let _ = server.child.kill();
            let _ = server.child.wait();
        }
    }
}

impl fmt::Debug for Processes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_map();
        for server in &self.servers {
            list.entry(&server.name, &server.child.id());
        }
        list.entry(&"watchdog", &self.watchdog.id());
        list.finish()
    }
}

/// Polls `/readyz` until it succeeds, a server exits or the deadline passes.
async fn wait_until_ready(config: &kube::Config, processes: &mut Processes, deadline: Instant) -> Result<()> {
    let client = kube::Client::try_from(config.clone()).map_err(Error::BuildClient)?;
    loop {
        // kube's request builder yields the http::Request that `request_text` wants.
        let last_error = match kube::core::Request::new("").get("readyz", &GetParams::default()) {
            Ok(request) => match client.request_text(request).await {
                Ok(_) => return Ok(()),
                Err(err) => err,
            },
            Err(err) => kube::Error::BuildRequest(err),
        };
        processes.check_running()?;
        if Instant::now() >= deadline {
            return Err(Error::NotReady {
                timeout: READY_TIMEOUT,
                logs: processes.log_tails(),
                last_error: Some(last_error),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn load_kubeconfig(path: &Path) -> Result<kube::Config> {
    let load_error = |source| Error::LoadKubeconfig { path: path.to_owned(), source };
    let kubeconfig = Kubeconfig::read_from(path).map_err(load_error)?;
    kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await.map_err(load_error)
}

/// A kubeconfig (JSON, which is YAML) with one cluster, one user and one context.
fn kubeconfig(server_url: &str, ca_pem: &str, token: &str) -> String {
    // ByteString serialises as base64, as `certificate-authority-data` wants.
    let ca_data = serde_json::to_value(ByteString(ca_pem.as_bytes().to_vec())).unwrap_or_default();
    let kubeconfig = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": "portal-testenv",
            "cluster": { "server": server_url, "certificate-authority-data": ca_data },
        }],
        "users": [{ "name": "portal-testenv-admin", "user": { "token": token } }],
        "contexts": [{
            "name": "portal-testenv",
            "context": { "cluster": "portal-testenv", "user": "portal-testenv-admin", "namespace": "default" },
        }],
        "current-context": "portal-testenv",
    });
    format!("{kubeconfig:#}\n")
}

/// A port on 127.0.0.1 that was free a moment ago. Another process may take it before the
/// server binds it; [`TestEnv::start`] retries when that happens.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).map_err(Error::FindFreePort)?;
    Ok(listener.local_addr().map_err(Error::FindFreePort)?.port())
}

/// Whether a failed start looks like a lost race for a port (worth another attempt).
fn lost_port_race(err: &Error) -> bool {
    match err {
        Error::ProcessExited { logs, .. } | Error::NotReady { logs, .. } => logs.contains("address already in use"),
        _ => false,
    }
}

/// 128 random bits, hex-encoded. `RandomState` is seeded from the OS; a test token needs no
/// more than that.
fn random_token() -> String {
    let mut token = String::with_capacity(32);
    for _ in 0..2 {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(0);
        token.push_str(&format!("{:016x}", hasher.finish()));
    }
    token
}

fn write_file(path: &Path, contents: &str) -> Result<()> {
    fs::write(path, contents).map_err(|source| Error::WriteFile { path: path.to_owned(), source })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_kubeconfig_loads_and_points_at_the_server() {
        let text = kubeconfig("https://127.0.0.1:6443", "-----BEGIN CERTIFICATE-----\n", "secret");
        let kubeconfig = Kubeconfig::from_yaml(&text).unwrap();
        let cluster = kubeconfig.clusters[0].cluster.as_ref().unwrap();
        assert_eq!(cluster.server.as_deref(), Some("https://127.0.0.1:6443"));
        assert_eq!(cluster.certificate_authority_data.as_deref(), Some("LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="));
        assert_eq!(kubeconfig.current_context.as_deref(), Some("portal-testenv"));
    }

    #[test]
    fn tokens_differ() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }

    #[test]
    fn missing_assets_say_which_command_provides_them() {
        let message = Error::AssetsNotConfigured.to_string();
        assert!(message.contains("cargo xtask envtest") && message.contains("cargo xtask test"), "{message}");
    }

    #[test]
    fn only_port_conflicts_are_retried() {
        let exited = |logs: &str| Error::ProcessExited {
            name: ETCD,
            status: std::process::Command::new("false").status().unwrap(),
            logs: logs.to_owned(),
        };
        assert!(lost_port_race(&exited("listen tcp 127.0.0.1:2379: bind: address already in use")));
        assert!(!lost_port_race(&exited("some other failure")));
        assert!(!lost_port_race(&Error::AssetsNotConfigured));
    }
}
