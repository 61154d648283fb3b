//! The live analysis: the audit's watches of Pods, Namespaces and NetworkPolicies feed an
//! [`Inventory`]; a change marks the namespaces it can affect; recomputing them says which
//! Namespaces and NetworkPolicies now have other findings, so the audit evaluates (and reports)
//! exactly those again.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use portal_network::{
    Change, Check, CheckSettings, Finding, Inventory, Subject, SubjectKind, analyze_namespace, namespace_from_json,
    network_policy_from_json, pod_from_json,
};
use serde_json::Value as Json;
use tokio::sync::Notify;

/// The kinds the analysis reads, as the audit keys them (`group/Kind`).
pub const POD: &str = "/Pod";
pub const NAMESPACE: &str = "/Namespace";
pub const NETWORK_POLICY: &str = "networking.k8s.io/NetworkPolicy";
pub const KINDS: [&str; 3] = [POD, NAMESPACE, NETWORK_POLICY];

/// The analysis shared by the audit's watches, its workers and the task that recomputes.
#[derive(Debug)]
pub struct NetworkAnalysis {
    settings: CheckSettings,
    state: Mutex<State>,
    /// Something changed: namespaces wait to be recomputed.
    changed: Notify,
}

#[derive(Debug, Default)]
struct State {
    inventory: Inventory,
    /// Whether every Pod, Namespace and NetworkPolicy has been listed once: before, findings
    /// would be about a partial cluster.
    ready: bool,
    dirty: BTreeSet<String>,
    /// The UIDs of Namespaces and NetworkPolicies, and back.
    uids: HashMap<Subject, String>,
    subjects: HashMap<String, Subject>,
    /// The findings on each subject as last computed (empty: computed, none).
    findings: BTreeMap<Subject, Vec<Finding>>,
}

impl NetworkAnalysis {
    pub fn new(settings: CheckSettings) -> NetworkAnalysis {
        NetworkAnalysis { settings, state: Mutex::new(State::default()), changed: Notify::new() }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The checks that apply to objects of `kind` (an audit key) and run.
    pub fn checks_for(&self, kind: &str) -> Vec<Check> {
        let subject_kind = match kind {
            NAMESPACE => SubjectKind::Namespace,
            NETWORK_POLICY => SubjectKind::NetworkPolicy,
            _ => return Vec::new(),
        };
        Check::ALL
            .into_iter()
            .filter(|check| self.settings.enabled(*check) && subject(*check) == subject_kind)
            .collect()
    }

    pub fn settings(&self) -> &CheckSettings {
        &self.settings
    }

    /// An object of `kind` (an audit key) appeared or changed. Objects the analysis cannot read
    /// (which the API server would not have accepted) are left out, with a warning.
    pub fn observe(&self, kind: &str, object: &Json) {
        let mut state = self.state();
        let uid = object.pointer("/metadata/uid").and_then(Json::as_str).map(str::to_owned);
        let read = match kind {
            POD => pod_from_json(object).map(|pod| match pod {
                Some(pod) => {
                    let namespace = pod.namespace.clone();
                    state.inventory.put_pod(pod);
                    Some((namespace, Touched::Pod))
                }
                None => {
                    // Finished, or on the host network: out of NetworkPolicy's reach.
                    let (namespace, name) = namespace_and_name(object);
                    state.inventory.remove_pod(&namespace, &name);
                    Some((namespace, Touched::Pod))
                }
            }),
            NAMESPACE => namespace_from_json(object).map(|namespace| {
                let name = namespace.name.clone();
                let subject = Subject { kind: SubjectKind::Namespace, namespace: name.clone(), name: name.clone() };
                state.inventory.put_namespace(namespace);
                remember(&mut state, subject, uid);
                Some((name, Touched::Namespace))
            }),
            NETWORK_POLICY => network_policy_from_json(object).map(|policy| {
                let subject = Subject {
                    kind: SubjectKind::NetworkPolicy,
                    namespace: policy.namespace.clone(),
                    name: policy.name.clone(),
                };
                let namespace = policy.namespace.clone();
                state.inventory.put_policy(policy);
                remember(&mut state, subject, uid);
                Some((namespace, Touched::Policy))
            }),
            _ => Ok(None),
        };
        match read {
            Ok(Some((namespace, touched))) => {
                let change = match touched {
                    Touched::Pod => Change::Pod(&namespace),
                    Touched::Namespace => Change::Namespace(&namespace),
                    Touched::Policy => Change::Policy(&namespace),
                };
                let affected = state.inventory.affected_namespaces(change);
                state.dirty.extend(affected);
                drop(state);
                self.changed.notify_one();
            }
            Ok(None) => {}
            Err(error) => tracing::warn!("network: {error}; left out of the analysis"),
        }
    }

    /// An object of `kind` was deleted.
    pub fn forget(&self, kind: &str, namespace: Option<&str>, name: &str) {
        let mut state = self.state();
        let namespace = namespace.unwrap_or(name).to_owned();
        let change = match kind {
            POD => {
                state.inventory.remove_pod(&namespace, name);
                Change::Pod(&namespace)
            }
            NAMESPACE => {
                state.inventory.remove_namespace(name);
                forget_subject(
                    &mut state,
                    &Subject { kind: SubjectKind::Namespace, namespace: namespace.clone(), name: name.to_owned() },
                );
                Change::Namespace(&namespace)
            }
            NETWORK_POLICY => {
                state.inventory.remove_policy(&namespace, name);
                forget_subject(
                    &mut state,
                    &Subject { kind: SubjectKind::NetworkPolicy, namespace: namespace.clone(), name: name.to_owned() },
                );
                Change::Policy(&namespace)
            }
            _ => return,
        };
        let affected = state.inventory.affected_namespaces(change);
        state.dirty.extend(affected);
        drop(state);
        self.changed.notify_one();
    }

    /// Every kind has been listed: from now on findings are about the whole cluster.
    pub fn set_ready(&self) {
        let mut state = self.state();
        if !state.ready {
            state.ready = true;
            let all: Vec<String> = state.inventory.namespace_names().into_iter().map(str::to_owned).collect();
            state.dirty.extend(all);
            drop(state);
            self.changed.notify_one();
        }
    }

    pub fn is_ready(&self) -> bool {
        self.state().ready
    }

    /// Waits until something changed.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Recomputes the namespaces changes marked. Returns the UIDs of the Namespaces and
    /// NetworkPolicies whose findings changed (each once), and how many namespaces were
    /// recomputed.
    pub fn recompute(&self) -> (Vec<String>, usize) {
        let mut state = self.state();
        if !state.ready {
            return (Vec::new(), 0);
        }
        let dirty = std::mem::take(&mut state.dirty);
        let mut changed = Vec::new();
        for namespace in &dirty {
            let mut found: BTreeMap<Subject, Vec<Finding>> = BTreeMap::new();
            for finding in analyze_namespace(&state.inventory, namespace, &self.settings) {
                found.entry(finding.subject.clone()).or_default().push(finding);
            }
            // Every subject of the namespace: those that exist now, and those findings were
            // computed for before.
            let mut subjects: BTreeSet<Subject> =
                state.findings.keys().filter(|subject| subject.namespace == *namespace).cloned().collect();
            if state.inventory.has_namespace_object(namespace) {
                subjects.insert(Subject {
                    kind: SubjectKind::Namespace,
                    namespace: namespace.clone(),
                    name: namespace.clone(),
                });
            }
            subjects.extend(state.inventory.policies_in(namespace).map(|policy| Subject {
                kind: SubjectKind::NetworkPolicy,
                namespace: policy.namespace.clone(),
                name: policy.name.clone(),
            }));
            for subject in subjects {
                let now = found.remove(&subject).unwrap_or_default();
                if state.findings.get(&subject) == Some(&now) {
                    continue;
                }
                if let Some(uid) = state.uids.get(&subject) {
                    changed.push(uid.clone());
                }
                state.findings.insert(subject, now);
            }
        }
        (changed, dirty.len())
    }

    /// The findings on the object `uid`: `Pending` until the analysis has computed them,
    /// `Unknown` for an object it does not analyse (one it could not read, which it said).
    pub fn findings_of(&self, uid: &str) -> SubjectFindings {
        let state = self.state();
        if !state.ready {
            return SubjectFindings::Pending;
        }
        let Some(subject) = state.subjects.get(uid) else { return SubjectFindings::Unknown };
        match state.findings.get(subject) {
            Some(findings) => SubjectFindings::Computed(findings.clone()),
            None => SubjectFindings::Pending,
        }
    }

    /// The findings standing now, by check.
    pub fn counts(&self) -> BTreeMap<Check, usize> {
        let state = self.state();
        let mut counts: BTreeMap<Check, usize> = Check::ALL.into_iter().map(|check| (check, 0)).collect();
        for finding in state.findings.values().flatten() {
            *counts.entry(finding.check).or_default() += 1;
        }
        counts
    }
}

/// What the analysis knows of one object's findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectFindings {
    /// Not computed yet: the object is evaluated again once they are.
    Pending,
    /// An object the analysis does not hold (it could not read it).
    Unknown,
    Computed(Vec<Finding>),
}

/// Which kind of object changed.
#[derive(Clone, Copy)]
enum Touched {
    Pod,
    Namespace,
    Policy,
}

/// The kind of object each check's findings are about, as Kubernetes names it.
pub fn reported_kind(check: Check) -> &'static str {
    match subject(check) {
        SubjectKind::Namespace => "Namespace",
        SubjectKind::NetworkPolicy => "NetworkPolicy",
    }
}

/// What each check's findings are about.
fn subject(check: Check) -> SubjectKind {
    match check {
        Check::DefaultDenyMissing | Check::DefaultDenyEgressMissing => SubjectKind::Namespace,
        _ => SubjectKind::NetworkPolicy,
    }
}

fn remember(state: &mut State, subject: Subject, uid: Option<String>) {
    if let Some(uid) = uid {
        state.subjects.insert(uid.clone(), subject.clone());
        state.uids.insert(subject, uid);
    }
}

fn forget_subject(state: &mut State, subject: &Subject) {
    if let Some(uid) = state.uids.remove(subject) {
        state.subjects.remove(&uid);
    }
    state.findings.remove(subject);
}

fn namespace_and_name(object: &Json) -> (String, String) {
    let text = |pointer: &str| object.pointer(pointer).and_then(Json::as_str).unwrap_or_default().to_owned();
    (text("/metadata/namespace"), text("/metadata/name"))
}
