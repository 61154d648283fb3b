//! The CEL environment rules are compiled and evaluated in.

use std::sync::{Arc, OnceLock};

use cel::{DeclarationError, Env, extensions};

/// Builds the environment: CEL's standard library, the optional syntax, the strings, lists and
/// math extensions, and the Kubernetes libraries with Portal's own standard macros (the same
/// expansions, with every comprehension bounded by `portal_cel::budget`: hence no `Env::stdlib()`,
/// whose macros they replace).
fn build_env() -> Result<Env, DeclarationError> {
    let mut env = Env::default().with_stdlib();
    env.add_extension(extensions::strings)?;
    env.add_extension(extensions::lists)?;
    env.add_extension(extensions::math)?;
    env.add_extension(portal_cel::register)?;
    env.add_extension(crate::cluster::functions::register)?;
    Ok(env)
}

/// The shared environment, built once per process.
pub fn environment() -> Result<&'static Arc<Env>, DeclarationError> {
    static ENV: OnceLock<Result<Arc<Env>, DeclarationError>> = OnceLock::new();
    ENV.get_or_init(|| build_env().map(Arc::new)).as_ref().map_err(Clone::clone)
}
