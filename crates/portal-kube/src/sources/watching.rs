//! One watcher loop for every Portal resource kind the sources follow: lists, then changes,
//! each turned into a [`SourceEvent`] for the reconciler.

use std::fmt;

use futures::StreamExt;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::sync::mpsc;

use super::event::SourceEvent;

/// What a watcher saw of one kind.
pub(crate) enum Change<K> {
    /// A (re)list finished: these are all the objects of the kind.
    Listed(Vec<K>),
    Applied(K),
    Deleted(K),
    /// The kind is not served (its CRD is not installed): listing it failed with 404. Said once
    /// until a list succeeds.
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
            Err(watcher::Error::InitialListFailed(kube::Error::Api(status))) if status.is_not_found() => {
                if said_absent {
                    continue;
                }
                said_absent = true;
                tracing::warn!(resource = what, "the API server does not serve this kind (is its CRD installed?)");
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
