//! One watcher loop for every Portal resource kind the sources follow: lists, then changes,
//! each turned into a [`SourceEvent`] for the reconciler.

use std::fmt;

use futures::StreamExt;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::sync::mpsc;

use super::event::{Resource, ResourceEvent, ResourceKey, ResourceKind, SourceEvent};

/// What a watcher saw of one kind.
pub(crate) enum Change<K> {
    /// A (re)list finished: these are all the objects of the kind.
    Listed(Vec<K>),
    Applied(K),
    Deleted(K),
    /// The kind cannot be listed: not served (its CRD is not installed, 404) or not permitted
    /// (403). Said once until a list succeeds.
    Absent,
}

/// Watches `api` until the reconciler goes away; `to_event` says what each change means to it
/// (`None`: nothing, e.g. an object without a name).
pub(crate) async fn watch_resources<K>(
    api: Api<K>,
    what: &'static str,
    events: mpsc::Sender<SourceEvent>,
    to_event: impl Fn(Change<K>) -> Option<SourceEvent>,
) where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + fmt::Debug + Send + 'static,
{
    let mut stream = watcher::watcher(api, watcher::Config::default()).default_backoff().boxed();
    let mut listing = Vec::new();
    let mut said_absent = false;
    while let Some(event) = stream.next().await {
        let change = match event {
            Ok(Event::Init) => {
                listing.clear();
                continue;
            }
            Ok(Event::InitApply(object)) => {
                listing.push(object);
                continue;
            }
            Ok(Event::InitDone) => {
                said_absent = false;
                Change::Listed(std::mem::take(&mut listing))
            }
            Ok(Event::Apply(object)) => Change::Applied(object),
            Ok(Event::Delete(object)) => Change::Deleted(object),
            Err(watcher::Error::InitialListFailed(kube::Error::Api(status)))
                if status.is_not_found() || status.is_forbidden() =>
            {
                if said_absent {
                    continue;
                }
                said_absent = true;
                let why = if status.is_forbidden() {
                    "Portal may not list this kind (grant list and watch on it)"
                } else {
                    "the API server does not serve this kind (is its CRD installed?)"
                };
                tracing::warn!(resource = what, "{why}");
                Change::Absent
            }
            Err(error) => {
                tracing::warn!(resource = what, "watching Portal resources failed, retrying: {error}");
                continue;
            }
        };
        let Some(message) = to_event(change) else { continue };
        if events.send(message).await.is_err() {
            return;
        }
    }
}

/// The key of `object` as a `kind` resource; `None` without a name (or, namespaced, a namespace).
pub(crate) fn key_of<Key: ResourceKey, K: kube::Resource>(object: &K, kind: ResourceKind) -> Option<Key> {
    let meta = object.meta();
    Key::new(kind, meta.namespace.clone(), meta.name.clone()?)
}

/// What the sources keep of `object`: its key, whole JSON, generation and status.
pub(crate) fn to_resource<
    Key: ResourceKey,
    Status: serde::de::DeserializeOwned,
    K: kube::Resource + serde::Serialize,
>(
    object: &K,
    kind: ResourceKind,
) -> Option<Resource<Key, Status>> {
    let key: Key = key_of(object, kind)?;
    let value = match serde_json::to_value(object) {
        Ok(value) => value,
        Err(error) => {
            tracing::warn!(resource = %key, "cannot read the resource: {error}");
            return None;
        }
    };
    let status = value.get("status").cloned().and_then(|s| serde_json::from_value(s).ok());
    Some(Resource { key, generation: object.meta().generation, object: value, status })
}

/// What a change means to the reconciler; `Absent` is for the caller to decide.
pub(crate) fn resource_event<
    Key: ResourceKey,
    Status: serde::de::DeserializeOwned,
    K: kube::Resource + serde::Serialize,
>(
    change: Change<K>,
    kind: ResourceKind,
) -> Option<Result<ResourceEvent<Key, Status>, Absent>> {
    Some(Ok(match change {
        Change::Listed(objects) => {
            ResourceEvent::Listed(kind, objects.iter().filter_map(|object| to_resource(object, kind)).collect())
        }
        Change::Applied(object) => ResourceEvent::Applied(Box::new(to_resource(&object, kind)?)),
        Change::Deleted(object) => ResourceEvent::Deleted(key_of(&object, kind)?),
        Change::Absent => return Some(Err(Absent)),
    }))
}

/// The kind is not served: its CRD is not installed.
pub(crate) struct Absent;
