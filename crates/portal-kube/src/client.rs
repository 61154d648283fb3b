//! The Kubernetes client, from the `kubernetes` settings.

/// Why no client could be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "no Kubernetes configuration found; set kubernetes.kubeconfig (PORTAL_KUBERNETES_KUBECONFIG, \\
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
}

/// The Kubernetes client the configuration asks for: an explicit kubeconfig (and context),
/// else `$KUBECONFIG` / `~/.kube/config` when present, else the pod's service account.
pub async fn client(config: &portal_config::KubernetesConfig) -> Result<kube::Client, Error> {
    kube::Client::try_from(kube_config(config).await?).map_err(Error::Client)
}

/// [`client`] without kube's retries of 429, 503 and 504 answers: for actions, whose refusal is
/// an answer — an eviction a PodDisruptionBudget refuses (429) would otherwise be retried for
/// minutes, holding a worker; the dispatcher tries again on the next violation instead.
pub async fn answering_client(config: &portal_config::KubernetesConfig) -> Result<kube::Client, Error> {
    let mut kube_config = kube_config(config).await?;
    kube_config.default_retry = false;
    kube::Client::try_from(kube_config).map_err(Error::Client)
}

async fn kube_config(config: &portal_config::KubernetesConfig) -> Result<kube::Config, Error> {
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
    Ok(kube_config)
}
