//! The Namespace cache.

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::Value as Json;
use tokio::task::JoinHandle;

/// Looks up a Namespace object by name.
pub trait NamespaceLookup: Send + Sync {
    fn namespace(&self, name: &str) -> Option<Json>;
}

/// No namespaces known (no cluster access, or tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoNamespaces;

impl NamespaceLookup for NoNamespaces {
    fn namespace(&self, _name: &str) -> Option<Json> {
        None
    }
}

/// Every Namespace of the cluster, kept current by one watch. Dropping it stops the watch.
#[derive(Debug)]
pub struct NamespaceCache {
    store: Store<Namespace>,
    task: JoinHandle<()>,
}

impl NamespaceCache {
    /// Starts the watch; see [`NamespaceCache::wait_filled`].
    pub fn start(client: kube::Client) -> NamespaceCache {
        let (store, writer) = reflector::store();
        let stream = watcher(kube::Api::<Namespace>::all(client), watcher::Config::default())
            .default_backoff()
            .reflect(writer)
            .touched_objects();
        let task = tokio::spawn(async move {
            stream
                .for_each(|event| async move {
                    if let Err(error) = event {
                        tracing::warn!("watching namespaces failed, retrying: {error}");
                    }
                })
                .await;
        });
        NamespaceCache { store, task }
    }

    /// Waits until the first list has filled the cache.
    pub async fn wait_filled(&self) {
        if self.store.wait_until_ready().await.is_err() {
            tracing::warn!("the namespace cache stopped before it was filled");
        }
    }
}

impl Drop for NamespaceCache {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl NamespaceLookup for NamespaceCache {
    fn namespace(&self, name: &str) -> Option<Json> {
        let namespace = self.store.get(&ObjectRef::new(name))?;
        serde_json::to_value(&*namespace).ok()
    }
}
