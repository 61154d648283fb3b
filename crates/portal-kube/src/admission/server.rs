//! The HTTPS endpoint the API server calls (`POST /validate`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use portal_rules::{CompiledRule, Progress, SharedRuleSet};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::decide::{Decision, DecisionOptions, decide_tracked};
use super::fairness::NamespaceSlots;
use super::review::read_review;
use super::scale::{self, ScaledObjects};
use super::tls::{self, ReloadingResolver};
use crate::cache::NamespaceLookup;
use crate::listener::{self, ConnectionLimits, Transport};
use crate::with_causes;
use portal_rules::cluster::ClusterView;

/// What the webhook reads besides the review: Namespaces, and the objects `scale` requests are
/// about.
#[derive(Clone)]
pub struct Lookups {
    pub namespaces: Arc<dyn NamespaceLookup>,
    pub scaled: Arc<dyn ScaledObjects>,
    /// What rules' cluster lookups read; `None`: they fail, saying there is no cluster to read.
    pub cluster: Option<Arc<dyn ClusterView>>,
}

impl std::fmt::Debug for Lookups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Lookups")
    }
}

/// How the admission endpoint behaves.
#[derive(Debug, Clone)]
pub struct AdmissionSettings {
    pub listen: SocketAddr,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// Portal's own deadline, below the webhook's `timeoutSeconds`.
    pub deadline: Duration,
    pub max_request_bytes: usize,
    pub options: DecisionOptions,
    /// How often the certificate files are checked for changes.
    pub certificate_poll: Duration,
    /// At most this many reviews are evaluated at once, and at most a quarter of them (and half
    /// the CPU cores) of one namespace; the rest wait (within the deadline).
    pub max_concurrent_evaluations: usize,
    /// What slow, idle or too many clients are allowed.
    pub limits: ConnectionLimits,
}

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("loading the serving certificate")]
    Certificate(#[from] tls::Error),
    #[error("configuring TLS")]
    Tls(#[source] rustls::Error),
    #[error("listening on {address}")]
    Listen {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

struct AppState {
    rules: Arc<SharedRuleSet>,
    lookups: Lookups,
    metrics: portal_metrics::Metrics,
    options: DecisionOptions,
    deadline: Duration,
    evaluations: Semaphore,
    namespace_slots: NamespaceSlots,
    max_request_bytes: usize,
    body_timeout: Duration,
}

/// A running admission endpoint; dropping it stops it at once, [`AdmissionServer::shut_down`]
/// gracefully.
#[derive(Debug)]
pub struct AdmissionServer {
    local_addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
    stop: tokio::sync::watch::Sender<bool>,
    expiry: tokio::sync::watch::Receiver<Option<std::time::SystemTime>>,
}

impl AdmissionServer {
    /// The address it listens on (the real port when `listen` asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// When the certificate being served expires (`None` when it does not say), kept current as
    /// the files are reloaded.
    pub fn certificate_expiry(&self) -> tokio::sync::watch::Receiver<Option<std::time::SystemTime>> {
        self.expiry.clone()
    }

    /// Stops accepting connections and lets the reviews in progress be answered, for at most
    /// `grace`; then stops. Returns whether every connection finished within it.
    pub async fn shut_down(mut self, grace: Duration) -> bool {
        let _ = self.stop.send(true);
        let serve = self.tasks.remove(0);
        let drained = tokio::time::timeout(grace, serve).await.is_ok();
        if !drained {
            tracing::warn!(?grace, "admission: connections still open after the shutdown grace period; closing them");
        }
        drained
    }
}

impl Drop for AdmissionServer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Loads the certificate, binds, and serves `POST /validate` over TLS 1.2+.
pub async fn start(
    settings: AdmissionSettings,
    rules: Arc<SharedRuleSet>,
    lookups: Lookups,
    metrics: portal_metrics::Metrics,
) -> Result<AdmissionServer, Error> {
    let certificate = tls::load(&settings.cert_file, &settings.key_file)?;
    if let Some(not_after) = certificate.not_after {
        metrics.set_certificate_expiry(not_after);
    }
    let resolver = Arc::new(ReloadingResolver::new(Arc::clone(&certificate.key)));
    let mut tls_config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(Error::Tls)?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
    tls_config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls_config));
    let listener = TcpListener::bind(settings.listen)
        .await
        .map_err(|source| Error::Listen { address: settings.listen, source })?;
    let local_addr = listener.local_addr().map_err(|source| Error::Listen { address: settings.listen, source })?;

    let state = Arc::new(AppState {
        rules,
        lookups,
        metrics: metrics.clone(),
        options: settings.options.clone(),
        deadline: settings.deadline,
        evaluations: Semaphore::new(settings.max_concurrent_evaluations.max(1)),
        namespace_slots: NamespaceSlots::new(settings.max_concurrent_evaluations),
        max_request_bytes: settings.max_request_bytes,
        body_timeout: settings.limits.body_timeout,
    });
    let app = Router::new()
        .route("/validate", post(validate))
        // The handler reads the body itself, within its limits.
        .layer(DefaultBodyLimit::disable())
        .with_state(state);
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let serve =
        tokio::spawn(listener::serve(listener, Transport::Tls(acceptor), app, settings.limits.clone(), stopping));
    let (expiry_sender, expiry) = tokio::sync::watch::channel(certificate.not_after);
    let watch = tokio::spawn(tls::watch_files(
        settings.cert_file.clone(),
        settings.key_file.clone(),
        certificate.fingerprint(),
        resolver,
        metrics,
        settings.certificate_poll,
        expiry_sender,
    ));
    tracing::info!(address = %local_addr, "admission webhook listening");
    Ok(AdmissionServer { local_addr, tasks: vec![serve, watch], stop, expiry })
}

/// The request body, read within `admission.maxRequestBytes` and `bodyTimeout`; a
/// `Content-Length` over the limit is refused before the body is read.
async fn read_body(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Bytes, Response> {
    let limit = state.max_request_bytes;
    let too_large = || {
        let message = format!("the request body exceeds admission.maxRequestBytes ({limit} bytes)");
        tracing::warn!("{message}");
        (StatusCode::PAYLOAD_TOO_LARGE, message).into_response()
    };
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    let read = http_body_util::BodyExt::collect(http_body_util::Limited::new(body, limit));
    match tokio::time::timeout(state.body_timeout, read).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Ok(Err(error)) => {
            Err((StatusCode::BAD_REQUEST, format!("reading the request body failed: {error}")).into_response())
        }
        Err(_) => {
            let message = format!(
                "the request body did not arrive within admission.connections.bodyTimeout ({:?})",
                state.body_timeout
            );
            tracing::warn!("{message}");
            Err((StatusCode::REQUEST_TIMEOUT, message).into_response())
        }
    }
}

async fn validate(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let body = match read_body(&state, &headers, body).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let started = Instant::now();
    let policy = state.options.failure_policy;
    let review = match read_review(&body) {
        Ok(review) => review,
        Err(error) => {
            state.metrics.admission_request(portal_metrics::Decision::Error, started.elapsed());
            let why = with_causes(&error);
            tracing::warn!("malformed admission request: {why}");
            return (StatusCode::BAD_REQUEST, format!("malformed AdmissionReview: {why}")).into_response();
        }
    };
    let uid = review.uid.clone();
    // For the deadline's log: the review itself moves into the evaluation.
    let kind = review.request.pointer("/kind/kind").and_then(|kind| kind.as_str()).unwrap_or("").to_owned();
    let namespace_name = review.namespace.clone();
    let rules = state.rules.load();
    let namespace = review.namespace.as_deref().and_then(|name| state.lookups.namespaces.namespace(name));
    let options = state.options.clone();
    let cluster = state.lookups.cluster.clone();
    let progress = Arc::new(Progress::default());
    let evaluation = async {
        let review = match scale::scale_target(&review) {
            Some(target) => match state.lookups.scaled.get(&target).await {
                Ok(parent) => scale::as_update_of(&review, parent),
                Err(error) => {
                    let why = with_causes(&error);
                    tracing::warn!(uid = %review.uid, "a scale request could not be evaluated: {why}");
                    return Ok(Decision::could_not_evaluate(policy, &why));
                }
            },
            None => review,
        };
        // The namespace's share first, so that a waiting request holds no shared slot.
        let _namespace_slot = state.namespace_slots.acquire(namespace_name.as_deref().unwrap_or("")).await;
        let _permit = state.evaluations.acquire().await;
        let (rules, progress) = (Arc::clone(&rules), Arc::clone(&progress));
        // Evaluation is CPU work: keep it off the reactor.
        tokio::task::spawn_blocking(move || {
            decide_tracked(&review, &rules, namespace.as_ref(), cluster.as_ref(), &options, &progress)
        })
        .await
    };
    let decision = match tokio::time::timeout(state.deadline, evaluation).await {
        Ok(Ok(decision)) => decision,
        Ok(Err(_)) => Decision::could_not_evaluate(policy, "the evaluation failed unexpectedly"),
        Err(_) => {
            let request = RequestNames { uid: &uid, kind: &kind, namespace: namespace_name.as_deref().unwrap_or("") };
            log_missed_deadline(&request, state.deadline, progress.running(rules.rules()), progress.unfinished());
            // Nothing waits for the evaluation any more: stop it, and free what it holds.
            progress.cancel();
            Decision::could_not_evaluate(policy, &format!("deadline of {:?} passed", state.deadline))
        }
    };
    record(&state.metrics, &decision, started.elapsed());
    Json(decision.to_review(&uid)).into_response()
}

/// What names a request in logs.
struct RequestNames<'a> {
    uid: &'a str,
    kind: &'a str,
    namespace: &'a str,
}

/// Names the request and the rule that held it up, so that a slow rule can be found.
fn log_missed_deadline(
    request: &RequestNames<'_>,
    deadline: Duration,
    running: Option<&CompiledRule>,
    unfinished: usize,
) {
    let RequestNames { uid, kind, namespace } = *request;
    match running {
        Some(rule) => {
            let not_started = unfinished.saturating_sub(1);
            tracing::warn!(
                uid,
                kind,
                namespace,
                rule = rule.name(),
                rules_not_started = not_started,
                "admission.deadline ({deadline:?}) passed while rule {} was being evaluated ({not_started} matching rules after it not started)",
                rule.name()
            );
        }
        None => tracing::warn!(
            uid,
            kind,
            namespace,
            "admission.deadline ({deadline:?}) passed before any rule was evaluated: the request waited for a free evaluation slot (other requests were being evaluated) or for a lookup"
        ),
    }
}

fn record(metrics: &portal_metrics::Metrics, decision: &Decision, took: Duration) {
    metrics.admission_request(decision.kind, took);
    if let Some(namespace) = &decision.bypassed_namespace {
        metrics.admission_bypass(namespace);
        tracing::info!(%namespace, "admission bypassed by the namespace's portal.io/bypass annotation");
    }
    for rule in &decision.dryrun_rules {
        metrics.admission_dryrun_violation(rule);
    }
    for rule in &decision.error_rules {
        metrics.rule_evaluation_error(rule);
    }
    for (rule, exception) in &decision.exemptions {
        metrics.admission_exemption(exception, rule);
    }
    if !decision.error_rules.is_empty() {
        tracing::warn!(rules = ?decision.error_rules, "rules could not be evaluated at admission");
    }
}
