//! Reading an AdmissionReview (`admission.k8s.io/v1`) request.

use portal_rules::Operation;
use serde_json::Value as Json;

/// Why a review could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("the body is not JSON")]
    NotJson(#[source] serde_json::Error),
    #[error("expected an AdmissionReview of admission.k8s.io/v1, got {api_version}/{kind}")]
    NotAReview { api_version: String, kind: String },
    #[error("the AdmissionReview has no request with a uid")]
    NoRequest,
    #[error("unknown operation {0:?}: expected CREATE, UPDATE, DELETE or CONNECT")]
    UnknownOperation(String),
}

/// A validated AdmissionReview request.
#[derive(Debug, Clone)]
pub struct Review {
    pub uid: String,
    pub operation: Operation,
    pub namespace: Option<String>,
    /// `request` without `object` and `oldObject`: the `request` variable of rules.
    pub request: Json,
    pub object: Option<Json>,
    pub old_object: Option<Json>,
}

/// Reads an AdmissionReview body.
pub fn read_review(body: &[u8]) -> Result<Review, ReviewError> {
    let review: Json = serde_json::from_slice(body).map_err(ReviewError::NotJson)?;
    let api_version = review.get("apiVersion").and_then(Json::as_str).unwrap_or_default();
    let kind = review.get("kind").and_then(Json::as_str).unwrap_or_default();
    if api_version != "admission.k8s.io/v1" || kind != "AdmissionReview" {
        return Err(ReviewError::NotAReview { api_version: api_version.to_owned(), kind: kind.to_owned() });
    }
    let Some(Json::Object(request)) = review.get("request") else { return Err(ReviewError::NoRequest) };
    let uid = request.get("uid").and_then(Json::as_str).filter(|u| !u.is_empty()).ok_or(ReviewError::NoRequest)?;
    let operation = match request.get("operation").and_then(Json::as_str).unwrap_or_default() {
        "CREATE" => Operation::Create,
        "UPDATE" => Operation::Update,
        "DELETE" => Operation::Delete,
        "CONNECT" => Operation::Connect,
        other => return Err(ReviewError::UnknownOperation(other.to_owned())),
    };
    let present = |key: &str| request.get(key).filter(|v| !v.is_null()).cloned();
    let mut without_objects = request.clone();
    without_objects.remove("object");
    without_objects.remove("oldObject");
    Ok(Review {
        uid: uid.to_owned(),
        operation,
        namespace: request.get("namespace").and_then(Json::as_str).filter(|n| !n.is_empty()).map(str::to_owned),
        request: Json::Object(without_objects),
        object: present("object"),
        old_object: present("oldObject"),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn malformed_reviews_are_errors_not_panics() {
        assert!(matches!(read_review(b"{"), Err(ReviewError::NotJson(_))));
        assert!(matches!(read_review(br#"{"apiVersion": "v1", "kind": "Pod"}"#), Err(ReviewError::NotAReview { .. })));
        let no_uid = br#"{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {}}"#;
        assert!(matches!(read_review(no_uid), Err(ReviewError::NoRequest)));
        let bad_op = br#"{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "u", "operation": "PATCH"}}"#;
        assert!(matches!(read_review(bad_op), Err(ReviewError::UnknownOperation(_))));
    }
}
