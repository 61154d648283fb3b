//! What the lookups of the evaluation running on this thread see: the view, the namespace the
//! rule being evaluated is confined to, and the reads it made. Thread-local, like the evaluation
//! budget, because the interpreter calls functions without any context of the caller's.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::view::{ClusterView, LabelSelector, LookupTarget, selects};

/// One read a rule made through a lookup: a change to what it read may change its result.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClusterRead {
    /// `cluster.get`: one object, whether or not it existed.
    Object {
        /// The kind looked up.
        target: LookupTarget,
        /// The namespace looked in; `None` for a cluster-scoped object.
        namespace: Option<String>,
        /// The name looked up.
        name: String,
    },
    /// `cluster.list`: the objects of a kind in a namespace (or all) that a selector selects.
    List {
        /// The kind listed.
        target: LookupTarget,
        /// The namespace listed; `None`: every namespace, or a cluster-scoped kind.
        namespace: Option<String>,
        /// The labels the listed objects must have; empty for every object.
        selector: LabelSelector,
    },
}

impl ClusterRead {
    /// The kind read.
    pub fn target(&self) -> &LookupTarget {
        match self {
            ClusterRead::Object { target, .. } | ClusterRead::List { target, .. } => target,
        }
    }

    /// Whether the object `name` of `target` in `namespace`, with `labels` (before or after its
    /// change), is what this read saw or could see.
    pub fn covers(
        &self,
        target: &LookupTarget,
        namespace: Option<&str>,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> bool {
        match self {
            ClusterRead::Object { target: read, namespace: read_namespace, name: read_name } => {
                read.kind == target.kind
                    && read.group() == target.group()
                    && read_namespace.as_deref() == namespace
                    && read_name == name
            }
            ClusterRead::List { target: read, namespace: read_namespace, selector } => {
                read.kind == target.kind
                    && read.group() == target.group()
                    && (read_namespace.is_none() || read_namespace.as_deref() == namespace)
                    && selects(selector, labels)
            }
        }
    }
}

#[derive(Default)]
struct State {
    view: Option<Arc<dyn ClusterView>>,
    /// The namespace of the `PortalRule` being evaluated: it may read only that namespace.
    confined: Option<String>,
    reads: Vec<ClusterRead>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// Puts back what was there before, also when the evaluation panics.
struct Restore<T: 'static> {
    previous: Option<T>,
    put: fn(T),
}

impl<T> Drop for Restore<T> {
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            (self.put)(previous);
        }
    }
}

/// Runs `evaluate` with lookups reading `view` (none: every lookup fails, saying the cluster is
/// not available).
pub(crate) fn with_view<R>(view: Option<&Arc<dyn ClusterView>>, evaluate: impl FnOnce() -> R) -> R {
    let previous = STATE.with_borrow_mut(|state| std::mem::replace(&mut state.view, view.cloned()));
    let _restore = Restore { previous: Some(previous), put: |view| STATE.with_borrow_mut(|state| state.view = view) };
    evaluate()
}

/// Runs `evaluate` for one rule, confined to `namespace` when it is a `PortalRule`, and returns
/// the reads its lookups made.
pub(crate) fn for_rule<R>(namespace: Option<&str>, evaluate: impl FnOnce() -> R) -> (R, Vec<ClusterRead>) {
    let previous = STATE.with_borrow_mut(|state| {
        (std::mem::replace(&mut state.confined, namespace.map(str::to_owned)), std::mem::take(&mut state.reads))
    });
    let restore = Restore {
        previous: Some(previous),
        put: |(confined, reads)| {
            STATE.with_borrow_mut(|state| {
                state.confined = confined;
                state.reads = reads;
            });
        },
    };
    let result = evaluate();
    let reads = STATE.with_borrow_mut(|state| std::mem::take(&mut state.reads));
    drop(restore);
    (result, reads)
}

/// The view and the namespace the current rule is confined to; `None` without a view.
pub(crate) fn view() -> Option<(Arc<dyn ClusterView>, Option<String>)> {
    STATE.with_borrow(|state| state.view.clone().map(|view| (view, state.confined.clone())))
}

/// The most reads one rule evaluation keeps. A rule that reads more (a lookup in a loop) is
/// noted as reading every object of the kinds it read: coarser, never wrong.
pub const MAX_READS_PER_RULE: usize = 16;

/// Notes a read of the current rule.
pub(crate) fn record(read: ClusterRead) {
    STATE.with_borrow_mut(|state| {
        let whole_kind =
            ClusterRead::List { target: read.target().clone(), namespace: None, selector: LabelSelector::new() };
        if state.reads.contains(&read) || state.reads.contains(&whole_kind) {
            return;
        }
        if state.reads.len() < MAX_READS_PER_RULE {
            state.reads.push(read);
            return;
        }
        // Every read of that kind is covered by the whole kind.
        state.reads.retain(|known| known.target() != read.target());
        state.reads.push(whole_kind);
    });
}
