//! Exception documents (`PortalException`/`PortalClusterException` resources, in files or from
//! the cluster) into validated [`ExceptionSpec`]s.

use serde_json::Value as Json;

use super::spec::ExceptionSpec;
use crate::document::{Document, parse_documents};
use crate::error::{Error, Origin};
use crate::schema::is_rule_name;

/// A validated exception and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedException {
    /// `metadata.name`.
    pub name: String,
    /// Set for a `PortalException`: it exempts only objects inside this namespace.
    pub namespace: Option<String>,
    /// The validated `spec`.
    pub spec: ExceptionSpec,
    /// Where it came from: file and the line its document starts on, or the resource.
    pub origin: Origin,
}

impl LoadedException {
    /// How reports, metrics and logs name it: `PortalException/namespace/name` or
    /// `PortalClusterException/name`.
    pub fn reference(&self) -> String {
        match &self.namespace {
            Some(namespace) => format!("PortalException/{namespace}/{}", self.name),
            None => format!("PortalClusterException/{}", self.name),
        }
    }
}

/// Parses every exception in a YAML stream; a bad document does not hide the good ones.
pub fn load_exceptions(source: &str, text: &str) -> (Vec<LoadedException>, Vec<Error>) {
    match parse_documents(source, text) {
        Ok(documents) => {
            let mut exceptions = Vec::new();
            let mut errors = Vec::new();
            for document in &documents {
                match exception_from_document(document) {
                    Ok(exception) => exceptions.push(exception),
                    Err(error) => errors.push(error),
                }
            }
            (exceptions, errors)
        }
        Err(error) => (Vec::new(), vec![error]),
    }
}

/// Reads one `PortalException` or `PortalClusterException` resource.
pub fn exception_from_document(document: &Document) -> Result<LoadedException, Error> {
    let origin = document.origin.clone();
    let invalid =
        |path: &str, message: String| Error::InvalidField { origin: origin.clone(), path: path.into(), message };
    let Json::Object(fields) = &document.value else {
        return Err(invalid(
            "(document)",
            "an exception must be a PortalException or PortalClusterException resource".into(),
        ));
    };
    if let Some(api_version) = fields.get("apiVersion").and_then(Json::as_str)
        && api_version != "portal.io/v1alpha1"
    {
        return Err(invalid("apiVersion", format!("{api_version:?} is not portal.io/v1alpha1")));
    }
    let namespaced = match fields.get("kind").and_then(Json::as_str) {
        Some("PortalException") => true,
        Some("PortalClusterException") => false,
        other => {
            return Err(invalid(
                "kind",
                format!(
                    "{} is not an exception kind: use PortalException (namespaced) or PortalClusterException",
                    other.map_or_else(|| "a missing kind".to_owned(), |kind| format!("{kind:?}"))
                ),
            ));
        }
    };
    let metadata = fields.get("metadata");
    let metadata_text = |key: &str| metadata.and_then(|m| m.get(key)).and_then(Json::as_str).map(str::to_owned);
    let name = metadata_text("name").ok_or_else(|| invalid("metadata.name", "is required".into()))?;
    if !is_rule_name(&name) {
        return Err(invalid(
            "metadata.name",
            format!("{name:?} is not a valid name: use lowercase letters, digits, '-' and '.'"),
        ));
    }
    let namespace = namespaced.then(|| metadata_text("namespace").unwrap_or_else(|| "default".to_owned()));
    let body = fields.get("spec").cloned().ok_or_else(|| invalid("spec", "is required".into()))?;
    let spec: ExceptionSpec = serde_path_to_error::deserialize(body).map_err(|error| {
        let path = error.path().to_string();
        let path = if path == "." { "spec".to_owned() } else { format!("spec.{path}") };
        let message = error
            .into_inner()
            .to_string()
            .replace("struct ExceptionSpec", "a mapping with rules, match, names, justification, expires, condition")
            .replace(
                "struct MatchSpec",
                "a mapping with gvk, namespaces, namespaceSelector, objectSelector, operations",
            );
        invalid(&path, message)
    })?;
    if let Some(problem) = spec.validate().into_iter().next() {
        return Err(invalid(&format!("spec.{}", problem.path), problem.message));
    }
    Ok(LoadedException { name, namespace, spec, origin })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn error_of(text: &str) -> String {
        let (exceptions, errors) = load_exceptions("exceptions.yaml", text);
        assert!(exceptions.is_empty(), "expected no exception from {text}");
        errors[0].to_string()
    }

    const GOOD: &str = "apiVersion: portal.io/v1alpha1\nkind: PortalException\nmetadata: {name: legacy, namespace: shop}\n\
                        spec:\n  rules: [pss-*]\n  names: [legacy-*]\n  justification: vendor image, replaced in Q2\n  \
                        expires: 2027-03-31T00:00:00Z\n";

    #[test]
    fn a_namespaced_exception_loads() {
        let (exceptions, errors) = load_exceptions("exceptions.yaml", GOOD);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(exceptions[0].reference(), "PortalException/shop/legacy");
        assert_eq!(exceptions[0].spec.rules, ["pss-*"]);
    }

    #[test]
    fn errors_say_what_and_where() {
        assert_eq!(
            error_of(&GOOD.replace("  justification: vendor image, replaced in Q2\n", "  justification: ' '\n")),
            "exceptions.yaml:1: field `spec.justification`: is required: say why the exemption is acceptable"
        );
        assert!(
            error_of(&GOOD.replace("  justification: vendor image, replaced in Q2\n", ""))
                .contains("field `spec`: missing field `justification`")
        );
        assert_eq!(
            error_of(&GOOD.replace("2027-03-31T00:00:00Z", "next-year")),
            "exceptions.yaml:1: field `spec.expires`: \"next-year\" is not an RFC 3339 time: write it as 2027-03-31T00:00:00Z"
        );
        assert!(
            error_of(&GOOD.replace("PortalException", "PortalRule"))
                .contains("\"PortalRule\" is not an exception kind")
        );
        assert!(
            error_of(&GOOD.replace("rules: [pss-*]", "rules: []"))
                .contains("`spec.rules`: must name at least one rule")
        );
        assert!(
            error_of(&GOOD.replace("names: [legacy-*]", "match: {terminating: true}"))
                .contains("`spec.match.terminating`: is not meaningful for an exception")
        );
        assert!(error_of(&GOOD.replace("names:", "namez:")).contains("unknown field `namez`"));
    }
}
