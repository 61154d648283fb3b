//! What the metric modules share: the registry being filled at start-up and the label names.

use prometheus::Registry;
use prometheus::core::Collector;

use crate::error::{Error, Result};

// Label names. `docs.rs` documents each one; a label it does not know fails the docs test.
pub(crate) const DECISION: &str = "decision";
pub(crate) const NAMESPACE: &str = "namespace";
pub(crate) const RULE: &str = "rule";
pub(crate) const STATE: &str = "state";
pub(crate) const VERSION: &str = "version";

/// A registry being filled by [`Metrics::new`](crate::Metrics::new), with the names registered so far.
#[derive(Default)]
pub(crate) struct Definitions {
    pub(crate) registry: Registry,
    pub(crate) names: Vec<&'static str>,
}

impl Definitions {
    /// Registers a new metric (`made` is its constructor's result) and returns it.
    pub(crate) fn define<C: Collector + Clone + 'static>(
        &mut self,
        name: &'static str,
        made: prometheus::Result<C>,
    ) -> Result<C> {
        let collector = made.map_err(|source| Error::DefineMetric { name, source })?;
        self.registry.register(Box::new(collector.clone())).map_err(|source| Error::DefineMetric { name, source })?;
        self.names.push(name);
        Ok(collector)
    }
}
