//! What can be wrong with an input object, said with the object and the field.

use std::fmt;

/// Where a value sits in an object: `spec.ingress[0].from[1].ipBlock.cidr`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldPath(String);

impl FieldPath {
    /// The empty path: the object as a whole.
    pub(crate) fn root() -> FieldPath {
        FieldPath(String::new())
    }

    /// This path followed by the field `name`: `spec` and `podSelector` make `spec.podSelector`.
    pub(crate) fn field(&self, name: &str) -> FieldPath {
        if self.0.is_empty() { FieldPath(name.to_owned()) } else { FieldPath(format!("{}.{name}", self.0)) }
    }

    /// This path followed by the list index `index`: `spec.ingress` and 0 make `spec.ingress[0]`.
    pub(crate) fn index(&self, index: usize) -> FieldPath {
        FieldPath(format!("{}[{index}]", self.0))
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An object Portal cannot analyse, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// A field holds a value Kubernetes would not accept either.
    #[error("{}{path}: {message}", object_prefix(.object))]
    Invalid {
        /// The object, as `NetworkPolicy team-a/web`; `None` when `metadata.name` is missing or empty.
        object: Option<String>,
        /// The field that holds the value; empty when the object as a whole is at fault.
        path: FieldPath,
        /// What is wrong with the value, usually with what to write instead.
        message: String,
    },
}

fn object_prefix(object: &Option<String>) -> String {
    object.as_ref().map(|object| format!("{object}: ")).unwrap_or_default()
}

impl ModelError {
    pub(crate) fn invalid(path: FieldPath, message: impl Into<String>) -> ModelError {
        ModelError::Invalid { object: None, path, message: message.into() }
    }

    /// The same error, said of `object` (`NetworkPolicy team-a/web`).
    pub(crate) fn of_object(self, object: String) -> ModelError {
        match self {
            ModelError::Invalid { path, message, .. } => ModelError::Invalid { object: Some(object), path, message },
        }
    }
}
