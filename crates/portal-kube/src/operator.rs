//! `portal run`: the long-running process. For now it loads rules from the configured sources
//! and keeps them current; admission and audit arrive on top of the same rule set.

use std::future::Future;

use portal_config::Config;

use crate::sources::{self, RuleSources, SourcesConfig};

/// Why the operator could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "no Kubernetes configuration found; set kubernetes.kubeconfig (PORTAL_KUBERNETES_KUBECONFIG, \
         --kubeconfig), run in a pod, or set rules.cluster.enabled: false to use rule folders only"
    )]
    InferConfig(#[source] kube::config::InferConfigError),
    #[error("reading the kubeconfig {path}")]
    Kubeconfig {
        path: String,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error("creating the Kubernetes client")]
    Client(#[source] kube::Error),
    #[error("rules.folders: {path} does not exist; create it or remove it from the configuration")]
    MissingFolder { path: String },
    #[error(transparent)]
    Sources(#[from] sources::Error),
    #[error("nothing to load rules from: enable rules.cluster or list rules.folders")]
    NoRuleSource,
}

/// The Kubernetes client the configuration asks for: an explicit kubeconfig (and context),
/// else `$KUBECONFIG` / `~/.kube/config` when present, else the pod's service account.
pub async fn client(config: &portal_config::KubernetesConfig) -> Result<kube::Client, Error> {
    let options = kube::config::KubeConfigOptions { context: config.context.clone(), cluster: None, user: None };
    let kube_config = match &config.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .map_err(|source| Error::Kubeconfig { path: path.display().to_string(), source })?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|source| Error::Kubeconfig { path: path.display().to_string(), source })?
        }
        None if config.context.is_some() => kube::Config::from_kubeconfig(&options)
            .await
            .map_err(|source| Error::Kubeconfig { path: "(default kubeconfig)".to_owned(), source })?,
        None => kube::Config::infer().await.map_err(Error::InferConfig)?,
    };
    kube::Client::try_from(kube_config).map_err(Error::Client)
}

/// Starts the rule sources and keeps them running until `shutdown` completes.
pub async fn run(config: &Config, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
    if !config.rules.cluster.enabled && config.rules.folders.is_empty() {
        return Err(Error::NoRuleSource);
    }
    if let Some(missing) = config.rules.folders.iter().find(|path| !path.exists()) {
        return Err(Error::MissingFolder { path: missing.display().to_string() });
    }
    let cluster = if config.rules.cluster.enabled { Some(client(&config.kubernetes).await?) } else { None };
    let sources = RuleSources::start(SourcesConfig {
        cluster,
        folders: config.rules.folders.clone(),
        debounce: config.rules.reload.debounce.as_std(),
    })?;
    tokio::pin!(shutdown);
    tokio::select! {
        snapshot = sources.wait_ready() => {
            tracing::info!(rules = snapshot.rules.len(), rejected = snapshot.problems.len(), "rules loaded");
        }
        () = &mut shutdown => return Ok(()),
    }
    shutdown.await;
    tracing::info!("shutting down");
    Ok(())
}
