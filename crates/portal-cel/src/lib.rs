//! The Kubernetes CEL libraries that the `cel` crate lacks, with Kubernetes' names and meaning:
//! list functions, regex `find`/`findAll` (and a `matches` that never recompiles a pattern),
//! `url()`, `quantity()`, `ip()`/`cidr()`, `sets`, `format.*` and `semver()`.
//!
//! Pure: no I/O, no async runtime. [`register`] adds everything to a `cel::Env`.

mod format;
mod ip;
mod lists;
mod quantity;
pub mod regex_cache;
mod semver;
mod sets;
mod url;

use cel::{DeclarationError, Env};

/// Registers every Kubernetes library on `env`.
///
/// Use it with [`Env::add_extension`] on an [`Env::stdlib`] and compile with that `Env`
/// (macros such as the cached `matches` are expanded at compile time).
pub fn register(env: &mut Env) -> Result<(), DeclarationError> {
    lists::register(env)?;
    regex_cache::register(env)?;
    url::register(env)?;
    quantity::register(env)?;
    ip::register(env)?;
    sets::register(env)?;
    format::register(env)?;
    semver::register(env)?;
    Ok(())
}
