//! The Kubernetes CEL libraries that the `cel` crate lacks, with Kubernetes' names and meaning:
//! list functions, regex `find`/`findAll` (and a `matches` that never recompiles a pattern),
//! `url()`, `quantity()`, `ip()`/`cidr()`, `sets`, `format.*` and `semver()`; and `string.format()`
//! with Kubernetes' formatter.
//!
//! Also the standard macros, with every comprehension bounded by a [`budget`].
//!
//! Pure: no I/O, no async runtime. [`register`] adds everything to a `cel::Env`.

#![warn(missing_docs)]

pub mod budget;
mod comprehensions;
mod format;
mod go_text;
mod ip;
mod libraries;
mod lists;
mod quantity;
pub mod regex_cache;
mod semver;
mod sets;
pub mod string_format;
mod support;
pub mod timestamps;
pub mod two_variable;
mod url;

use cel::{DeclarationError, Env};
pub use format::{label_key_errors, label_value_errors};
pub use support::namespaced_as;

/// Registers every Kubernetes library and the bounded standard macros on `env`.
///
/// Use it with [`Env::add_extension`] on an `Env::default().with_stdlib()` — an environment
/// without the standard macros, which these replace — and compile with that `Env` (macros are
/// expanded at compile time).
pub fn register(env: &mut Env) -> Result<(), DeclarationError> {
    comprehensions::register(env)?;
    two_variable::register(env)?;
    timestamps::register(env)?;
    budget::register(env)?;
    string_format::register(env)?;
    libraries::register(env)
}

/// Shared by the unit tests of every library: evaluates an expression in the environment
/// Portal builds (the standard library, the `strings` and `lists` extensions, and [`register`]).
#[cfg(test)]
pub(crate) mod test_support {
    use std::sync::Arc;

    /// Compiles and evaluates `src`; a compile or evaluation error becomes its message.
    pub(crate) fn eval(src: &str) -> Result<cel::Value, String> {
        let mut env = cel::Env::default().with_stdlib();
        env.add_extension(cel::extensions::strings).map_err(|e| e.to_string())?;
        env.add_extension(cel::extensions::lists).map_err(|e| e.to_string())?;
        env.add_extension(crate::register).map_err(|e| e.to_string())?;
        let program = env.compile(src).map_err(|e| e.to_string())?;
        program.execute(&cel::Context::with_env(Arc::new(env))).map_err(|e| e.to_string())
    }

    /// Asserts that every expression evaluates to exactly its value.
    pub(crate) fn assert_values(cases: &[(&str, cel::Value)]) {
        for (src, want) in cases {
            assert_eq!(eval(src).as_ref(), Ok(want), "{src}");
        }
    }

    /// What an expression should evaluate to, when an exact `cel::Value` is too strict (an
    /// error is matched by part of its message).
    #[derive(Debug)]
    pub(crate) enum Expect {
        Bool(bool),
        Int(i64),
        Float(f64),
        Str(&'static str),
        /// An error whose message contains this.
        Fails(&'static str),
    }

    /// Asserts every case.
    pub(crate) fn check(cases: &[(&str, Expect)]) {
        use cel::Value;
        for (src, expect) in cases {
            let got = eval(src);
            match (expect, &got) {
                (Expect::Bool(b), Ok(Value::Bool(v))) => assert_eq!(b, v, "{src}"),
                (Expect::Int(i), Ok(Value::Int(v))) => assert_eq!(i, v, "{src}"),
                (Expect::Float(f), Ok(Value::Float(v))) => assert_eq!(f, v, "{src}"),
                (Expect::Str(s), Ok(Value::String(v))) => assert_eq!(*s, v.as_str(), "{src}"),
                (Expect::Fails(msg), Err(e)) => assert!(e.contains(msg), "{src}: {e}"),
                _ => panic!("{src}: expected {expect:?}, got {got:?}"),
            }
        }
    }
}

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
