//! What actions act on and why: the object (its identity, as every action and alert names it)
//! and one violation of one rule.

use portal_rules::schema::ActionTrigger;

/// The object a violation was found on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subject {
    /// `v1`, `apps/v1`, …
    pub api_version: String,
    pub kind: String,
    /// `None` for cluster-scoped objects.
    pub namespace: Option<String>,
    pub name: String,
    /// Keys idempotency: a recreated object (new UID) is a new object. Admission requests for
    /// objects not yet created have none; their name stands in.
    pub uid: Option<String>,
}

impl Subject {
    /// The object as actions name it, from its JSON; `None` without a kind or a name.
    pub fn of(object: &serde_json::Value) -> Option<Subject> {
        let identity = portal_rules::ObjectIdentity::of(object);
        let name = identity.name.filter(|name| !name.is_empty())?;
        if identity.kind.is_empty() {
            return None;
        }
        let api_version = if identity.group.is_empty() {
            identity.version
        } else {
            format!("{}/{}", identity.group, identity.version)
        };
        Some(Subject { api_version, kind: identity.kind, namespace: identity.namespace, name, uid: identity.uid })
    }

    /// The object's key in the dispatcher's tables.
    pub fn key(&self) -> String {
        match &self.uid {
            Some(uid) => uid.clone(),
            None => format!("{}/{}/{}", self.kind, self.namespace.as_deref().unwrap_or(""), self.name),
        }
    }

    /// `Kind/namespace/name` or `Kind/name`, for logs.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(namespace) => format!("{}/{namespace}/{}", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }

    /// The API group: `""` for the core group.
    pub fn group(&self) -> &str {
        self.api_version.rsplit_once('/').map_or("", |(group, _)| group)
    }
}

/// One violation of one rule on a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The violated rule's message.
    pub message: String,
    /// The container, for rules evaluated per container.
    pub container: Option<String>,
}

impl Violation {
    /// A rule result's violations as actions read them.
    pub fn all_of(result: &portal_rules::RuleResult<'_>) -> Vec<Violation> {
        result
            .violations
            .iter()
            .map(|violation| Violation { message: violation.message.clone(), container: violation.container.clone() })
            .collect()
    }
}

/// Where violations were found: which of a rule's actions run (their `on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// An admission request, with its operation (`CREATE`, …).
    Admission {
        operation: &'static str,
    },
    Audit,
    Network,
}

impl Source {
    pub fn trigger(self) -> ActionTrigger {
        match self {
            Source::Admission { .. } => ActionTrigger::Admission,
            Source::Audit => ActionTrigger::Audit,
            Source::Network => ActionTrigger::Network,
        }
    }

    /// The `mode` label of alerts.
    pub fn mode(self) -> &'static str {
        match self {
            Source::Admission { .. } => "admission",
            Source::Audit => "audit",
            Source::Network => "network",
        }
    }
}
