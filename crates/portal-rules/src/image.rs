//! Container image references, parsed the way container runtimes normalise them
//! (`nginx` → `docker.io/library/nginx:latest`).

use serde::Serialize;

/// A normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageRef {
    /// Registry host (and port); `docker.io` when the reference names none.
    pub registry: String,
    /// Repository path within the registry; `library/` is implied for single-name Docker Hub images.
    pub repository: String,
    /// Tag; `latest` is implied only when there is neither tag nor digest.
    pub tag: Option<String>,
    /// Digest such as `sha256:…`, when pinned.
    pub digest: Option<String>,
}

const DOCKER_HUB: &str = "docker.io";

/// Why an image reference could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageRefError {
    /// The reference is empty or only whitespace.
    #[error("image reference is empty")]
    Empty,
    /// The repository is empty or has an empty path segment (`registry.io/`, `a//b`); holds the reference.
    #[error("image reference {0:?} has an empty repository name")]
    EmptyRepository(String),
    /// Nothing follows the tag's `:` (`nginx:`); holds the reference.
    #[error("image reference {0:?} has an empty tag")]
    EmptyTag(String),
    /// What follows `@` is not `algorithm:hex` with both parts non-empty; holds the reference.
    #[error("image reference {0:?} has a malformed digest: expected algorithm:hex")]
    BadDigest(String),
    /// The repository has uppercase ASCII letters; holds the reference.
    #[error("image reference {0:?} has uppercase letters in its repository name")]
    UppercaseRepository(String),
}

impl ImageRef {
    /// Parses `reference` as a container runtime would.
    pub fn parse(reference: &str) -> Result<ImageRef, ImageRefError> {
        let reference = reference.trim();
        if reference.is_empty() {
            return Err(ImageRefError::Empty);
        }
        let (name_and_tag, digest) = match reference.split_once('@') {
            Some((name, digest)) => {
                let valid =
                    digest.split_once(':').is_some_and(|(algorithm, hex)| !algorithm.is_empty() && !hex.is_empty());
                if !valid {
                    return Err(ImageRefError::BadDigest(reference.to_owned()));
                }
                (name, Some(digest.to_owned()))
            }
            None => (reference, None),
        };
        // A ':' after the last '/' starts the tag; one before it belongs to a registry port.
        let last_slash = name_and_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_and_tag[last_slash..].rfind(':') {
            Some(colon) => {
                let split = last_slash + colon;
                let tag = &name_and_tag[split + 1..];
                if tag.is_empty() {
                    return Err(ImageRefError::EmptyTag(reference.to_owned()));
                }
                (&name_and_tag[..split], Some(tag.to_owned()))
            }
            None => (name_and_tag, None),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
                (first.to_owned(), rest.to_owned())
            }
            _ => (DOCKER_HUB.to_owned(), name.to_owned()),
        };
        if repository.is_empty() || repository.split('/').any(str::is_empty) {
            return Err(ImageRefError::EmptyRepository(reference.to_owned()));
        }
        if repository.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(ImageRefError::UppercaseRepository(reference.to_owned()));
        }
        let registry = if registry == "index.docker.io" { DOCKER_HUB.to_owned() } else { registry };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        let tag = match (tag, &digest) {
            (None, None) => Some("latest".to_owned()),
            (tag, _) => tag,
        };
        Ok(ImageRef { registry, repository, tag, digest })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parsed(reference: &str) -> (String, String, Option<String>, Option<String>) {
        let r = ImageRef::parse(reference).unwrap();
        (r.registry, r.repository, r.tag, r.digest)
    }

    fn some(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    #[test]
    fn docker_hub_short_names_get_library_and_latest() {
        assert_eq!(parsed("nginx"), ("docker.io".into(), "library/nginx".into(), some("latest"), None));
        assert_eq!(parsed("nginx:1.25"), ("docker.io".into(), "library/nginx".into(), some("1.25"), None));
        assert_eq!(parsed("bitnami/redis"), ("docker.io".into(), "bitnami/redis".into(), some("latest"), None));
        assert_eq!(
            parsed("index.docker.io/library/nginx:1"),
            ("docker.io".into(), "library/nginx".into(), some("1"), None)
        );
    }

    #[test]
    fn registries_are_recognised_by_dot_port_or_localhost() {
        assert_eq!(parsed("registry.k8s.io/pause:3.9"), ("registry.k8s.io".into(), "pause".into(), some("3.9"), None));
        assert_eq!(
            parsed("localhost:5000/team/app:v2"),
            ("localhost:5000".into(), "team/app".into(), some("v2"), None)
        );
        assert_eq!(parsed("localhost/app"), ("localhost".into(), "app".into(), some("latest"), None));
        assert_eq!(parsed("ghcr.io/org/sub/app"), ("ghcr.io".into(), "org/sub/app".into(), some("latest"), None));
    }

    #[test]
    fn digest_suppresses_implicit_latest_but_keeps_explicit_tag() {
        let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(
            parsed(&format!("nginx@{digest}")),
            ("docker.io".into(), "library/nginx".into(), None, some(digest))
        );
        assert_eq!(
            parsed(&format!("quay.io/app:1.0@{digest}")),
            ("quay.io".into(), "app".into(), some("1.0"), some(digest))
        );
    }

    #[test]
    fn malformed_references_are_errors() {
        assert_eq!(ImageRef::parse(""), Err(ImageRefError::Empty));
        assert!(matches!(ImageRef::parse("nginx:"), Err(ImageRefError::EmptyTag(_))));
        assert!(matches!(ImageRef::parse("nginx@sha256"), Err(ImageRefError::BadDigest(_))));
        assert!(matches!(ImageRef::parse("Nginx"), Err(ImageRefError::UppercaseRepository(_))));
        assert!(matches!(ImageRef::parse("quay.io//app"), Err(ImageRefError::EmptyRepository(_))));
    }
}
