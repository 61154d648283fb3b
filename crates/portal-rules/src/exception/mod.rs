//! Exceptions: `PortalException` (namespaced) and `PortalClusterException` resources that exempt
//! named rules for matching objects, with a mandatory justification, an optional expiry and an
//! optional CEL condition (SPEC §13).
//!
//! An exempted rule is not evaluated on the object: its result is a `skip` naming the exception
//! ([`crate::RuleResult::exception`]). A [`crate::RuleSet`] carries the exceptions in force
//! ([`crate::RuleSet::with_exceptions`]), so admission, audit and `portal check` honour them
//! alike.

mod load;
mod set;
mod spec;
mod time;

pub use load::{LoadedException, exception_from_document, load_exceptions};
pub use set::{CompiledException, ExceptionSet};
pub use spec::ExceptionSpec;
pub use time::parse_rfc3339;
