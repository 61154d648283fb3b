//! `cluster.get` and `cluster.list`, rewritten by macros to hidden functions (which a rule
//! cannot name) that read the view of [`super::context`].

use std::collections::BTreeMap;
use std::sync::Arc;

use cel::common::types::{CelList, CelMap, CelNull, CelString, DYN_TYPE, STRING_TYPE};
use cel::common::value::{CowVal, Val};
use cel::parser::Macro;
use cel::{DeclarationError, Env, ExecutionError};

use super::context::{self, ClusterRead};
use super::view::{ClusterObject, ClusterView, LabelSelector, LookupTarget};

/// What `cluster.get(…)` is rewritten to.
pub(crate) const GET_FUNCTION: &str = "@portal_cluster_get";
/// What `cluster.list(…)` is rewritten to.
pub(crate) const LIST_FUNCTION: &str = "@portal_cluster_list";

pub(crate) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_macro(Macro::receiver("get", 4, portal_cel::namespaced_as("cluster", GET_FUNCTION)))?;
    env.add_macro(Macro::receiver("list", 3, portal_cel::namespaced_as("cluster", LIST_FUNCTION)))?;
    env.add_macro(Macro::receiver("list", 4, portal_cel::namespaced_as("cluster", LIST_FUNCTION)))?;
    env.add_overload(
        GET_FUNCTION,
        "portal_cluster_get",
        vec![STRING_TYPE, STRING_TYPE, STRING_TYPE, STRING_TYPE],
        get,
    )?;
    env.add_overload(LIST_FUNCTION, "portal_cluster_list", vec![STRING_TYPE, STRING_TYPE, STRING_TYPE], list)?;
    env.add_overload(
        LIST_FUNCTION,
        "portal_cluster_list_labels",
        vec![STRING_TYPE, STRING_TYPE, STRING_TYPE, DYN_TYPE],
        list,
    )
}

fn get<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [api_version, kind, namespace, name] = strings::<4>("cluster.get", &args)?;
    let target = LookupTarget::new(api_version, kind);
    let namespace = (!namespace.is_empty()).then_some(namespace);
    let (view, confined) = view("cluster.get")?;
    confine("cluster.get", confined.as_deref(), namespace)?;
    context::record(ClusterRead::Object {
        target: target.clone(),
        namespace: namespace.map(str::to_owned),
        name: name.to_owned(),
    });
    let found = view.get(&target, namespace, name).map_err(|error| lookup_error("cluster.get", &error.0))?;
    portal_cel::budget::charge_elements(1)?;
    Ok(match found {
        Some(object) => CowVal::Owned(object.value()),
        None => CowVal::owned(CelNull),
    })
}

fn list<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [api_version, kind, namespace] = strings::<3>("cluster.list", &args[..3.min(args.len())])?;
    let selector = match args.get(3) {
        Some(labels) => selector(labels.as_ref())?,
        None => LabelSelector::new(),
    };
    let target = LookupTarget::new(api_version, kind);
    let namespace = (!namespace.is_empty()).then_some(namespace);
    let (view, confined) = view("cluster.list")?;
    confine("cluster.list", confined.as_deref(), namespace)?;
    // A confined rule listing "all namespaces" sees its own.
    let namespace = namespace.or(confined.as_deref());
    context::record(ClusterRead::List {
        target: target.clone(),
        namespace: namespace.map(str::to_owned),
        selector: selector.clone(),
    });
    let found: Vec<Arc<ClusterObject>> =
        view.list(&target, namespace, &selector).map_err(|error| lookup_error("cluster.list", &error.0))?;
    portal_cel::budget::charge_elements(u64::try_from(found.len()).unwrap_or(u64::MAX).saturating_add(1))?;
    let values: Vec<Box<dyn Val + 'v>> = found.iter().map(|object| object.value() as Box<dyn Val + 'v>).collect();
    Ok(CowVal::owned(CelList::from(values)))
}

/// The first `N` arguments, which the overloads declare as strings.
fn strings<'a, const N: usize>(function: &str, args: &'a [CowVal<'_, '_>]) -> Result<[&'a str; N], ExecutionError> {
    let mut found = [""; N];
    for (slot, arg) in found.iter_mut().zip(args) {
        *slot = arg
            .downcast_ref::<CelString>()
            .map(CelString::inner)
            .ok_or_else(|| lookup_error(function, "its apiVersion, kind, namespace and name are strings"))?;
    }
    Ok(found)
}

/// A `map(string, string)` of labels, as a selector's `matchLabels`.
fn selector(labels: &dyn Val) -> Result<LabelSelector, ExecutionError> {
    let wrong = || lookup_error("cluster.list", "its fourth argument is a map of label names to values");
    let map = labels.downcast_ref::<CelMap>().ok_or_else(wrong)?;
    let mut selector = BTreeMap::new();
    for (key, value) in map.inner() {
        let key = key.inner().downcast_ref::<CelString>().ok_or_else(wrong)?;
        let value = value.downcast_ref::<CelString>().ok_or_else(wrong)?;
        selector.insert(key.inner().to_owned(), value.inner().to_owned());
    }
    Ok(selector)
}

fn view(function: &str) -> Result<(Arc<dyn ClusterView>, Option<String>), ExecutionError> {
    context::view().ok_or_else(|| {
        lookup_error(
            function,
            "this evaluation has no cluster to read (offline, give `portal check --cluster` the objects it \
             should see, or a test case its `cluster` objects)",
        )
    })
}

/// A `PortalRule` reads only its own namespace: it may be written by a tenant of that namespace.
fn confine(function: &str, confined: Option<&str>, namespace: Option<&str>) -> Result<(), ExecutionError> {
    match (confined, namespace) {
        (Some(own), Some(asked)) if own != asked => Err(lookup_error(
            function,
            &format!("a PortalRule in namespace {own} may only look up objects in {own}, not in {asked}"),
        )),
        (Some(own), None) if function == "cluster.get" => Err(lookup_error(
            function,
            &format!("a PortalRule in namespace {own} may only look up objects in {own}, not cluster-scoped ones"),
        )),
        _ => Ok(()),
    }
}

fn lookup_error(function: &str, message: &str) -> ExecutionError {
    ExecutionError::function_error(function, message)
}
