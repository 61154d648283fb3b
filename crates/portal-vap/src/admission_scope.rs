//! What Portal's admission does besides evaluating rules — skip the excluded namespaces, the
//! namespaces with the break-glass label and those annotated to bypass it — as parts of a
//! policy: what `portal export vap` adds, and what `portal import vap` recognises and leaves out.

use portal_rules::kinds::{BREAK_GLASS_LABEL, BREAK_GLASS_VALUE, BYPASS_ANNOTATION};
use serde_json::{Value as Json, json};

use crate::matching::quote;

/// The binding's namespace selector: never in the excluded namespaces, nor in a namespace
/// labelled with the break-glass label.
pub(crate) fn excluded_selector(excluded_namespaces: &[String]) -> Json {
    json!({"matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": excluded_namespaces},
        {"key": BREAK_GLASS_LABEL, "operator": "NotIn", "values": [BREAK_GLASS_VALUE]},
    ]})
}

/// Portal lets every request of a namespace annotated `portal.io/bypass: "true"` through.
pub(crate) fn not_bypassed() -> String {
    let annotation = quote(BYPASS_ANNOTATION);
    format!(
        "namespaceObject == null || !({annotation} in namespaceObject.metadata.?annotations.orValue({{}})) || \
         namespaceObject.metadata.annotations[{annotation}] != 'true'"
    )
}
