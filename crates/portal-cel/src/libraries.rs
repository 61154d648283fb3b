//! The Kubernetes libraries alone, without Portal's macros: what `register` adds besides them,
//! and what the timestamp conversions hand other values to.

use cel::{DeclarationError, Env};

pub(crate) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    crate::lists::register(env)?;
    crate::regex_cache::register(env)?;
    crate::url::register(env)?;
    crate::quantity::register(env)?;
    crate::ip::register(env)?;
    crate::sets::register(env)?;
    crate::format::register(env)?;
    crate::semver::register(env)?;
    Ok(())
}
