//! One consistent read of the three kinds NetworkPolicy analysis needs, page by page.

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, ListParams};
use portal_network::{ModelError, Objects};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Objects per list call: large clusters are read in pages, never in one response.
const PAGE_SIZE: u32 = 500;

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("listing {kind} from the API server (needs list permission on {kind} cluster-wide)")]
    List {
        kind: &'static str,
        #[source]
        source: kube::Error,
    },
    #[error("reading {kind} as JSON")]
    Encode {
        kind: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error(transparent)]
    Object(#[from] ModelError),
}

/// Every Pod, Namespace and NetworkPolicy of the cluster.
pub async fn list_objects(client: kube::Client) -> Result<Objects, ListError> {
    let mut objects = Objects::default();
    add_all::<Namespace>(Api::all(client.clone()), "Namespaces", &mut objects).await?;
    add_all::<NetworkPolicy>(Api::all(client.clone()), "NetworkPolicies", &mut objects).await?;
    add_all::<Pod>(Api::all(client), "Pods", &mut objects).await?;
    Ok(objects)
}

async fn add_all<K>(api: Api<K>, kind: &'static str, objects: &mut Objects) -> Result<(), ListError>
where
    K: kube::Resource + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
{
    let mut params = ListParams::default().limit(PAGE_SIZE);
    loop {
        let page = api.list(&params).await.map_err(|source| ListError::List { kind, source })?;
        for item in &page.items {
            let json = serde_json::to_value(item).map_err(|source| ListError::Encode { kind, source })?;
            objects.add_json(&json)?;
        }
        match page.metadata.continue_.filter(|token| !token.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(()),
        }
    }
}
