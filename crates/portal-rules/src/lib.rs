//! Portal's rules: schema, CEL environment and evaluation.

pub mod environment;
