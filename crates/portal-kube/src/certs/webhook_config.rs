//! Publishing the CA bundle: `caBundle` in every webhook of the ValidatingWebhookConfiguration.

use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use kube::api::{Api, ApiResource, DynamicObject, PostParams};

use super::error::{ATTEMPTS, Error, Result};

/// Sets `clientConfig.caBundle` of every webhook in the ValidatingWebhookConfiguration `name`
/// to `bundle_pem`, retrying when another writer changed it in between. Returns whether
/// anything changed.
///
/// A JSON merge patch cannot change items of the `webhooks` list, so this reads the object,
/// changes it and replaces it under its `resourceVersion`. It handles the object as untyped
/// JSON so that fields newer than this build's Kubernetes types survive the round trip.
pub async fn write_ca_bundle(client: kube::Client, name: &str, bundle_pem: &str) -> Result<bool> {
    let resource = ApiResource::erase::<ValidatingWebhookConfiguration>(&());
    let api: Api<DynamicObject> = Api::all_with(client, &resource);
    let api_error = |source| Error::WriteWebhookConfiguration { name: name.to_owned(), source };
    let wanted = ByteString(bundle_pem.as_bytes().to_vec());
    // ByteString serialises as base64, which is how `caBundle` travels in JSON.
    let wanted_json = serde_json::to_value(&wanted).unwrap_or_default();
    for _ in 0..ATTEMPTS {
        let Some(mut configuration) = api.get_opt(name).await.map_err(api_error)? else {
            return Err(Error::WebhookConfigurationNotFound { name: name.to_owned() });
        };
        let mut changed = false;
        let webhooks = configuration.data.get_mut("webhooks").and_then(serde_json::Value::as_array_mut);
        for (index, webhook) in webhooks.into_iter().flatten().enumerate() {
            let client_config = webhook
                .get_mut("clientConfig")
                .and_then(serde_json::Value::as_object_mut)
                .ok_or_else(|| Error::MalformedWebhookConfiguration { name: name.to_owned(), index })?;
            let current = client_config.get("caBundle").cloned().map(serde_json::from_value::<ByteString>);
            if !matches!(current, Some(Ok(ref current)) if *current == wanted) {
                client_config.insert("caBundle".to_owned(), wanted_json.clone());
                changed = true;
            }
        }
        if !changed {
            return Ok(false);
        }
        match api.replace(name, &PostParams::default(), &configuration).await {
            Ok(_) => return Ok(true),
            Err(kube::Error::Api(status)) if status.is_conflict() => {
                tracing::debug!(webhook_configuration = %name, "changed while updating caBundle; retrying");
            }
            Err(source) => return Err(api_error(source)),
        }
    }
    Err(Error::WebhookConfigurationContended { name: name.to_owned() })
}
