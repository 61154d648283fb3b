//! Errors and located problems. Each prints as one line that says where and what is wrong.

use std::path::PathBuf;

use serde::Serialize;

/// Reading a path failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {}", path.display())]
    ReadPath {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a regular file (a FIFO, socket or device); give a file or a directory", path.display())]
    NotRegularFile { path: PathBuf },
    #[error("{}: larger than the {limit}-byte limit on an input file; split it", path.display())]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("{}: not text (UTF-8); give YAML or JSON", path.display())]
    NotText { path: PathBuf },
    #[error("-: standard input can be read only once; give `-` once")]
    StdinTwice,
    #[error("{}: a directory, where one file is expected; give a file", path.display())]
    IsDirectory { path: PathBuf },
}

/// A problem with the input, located: printed as `location: message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub location: String,
    pub message: String,
}

impl Problem {
    pub fn new(location: String, message: String) -> Problem {
        Problem { location, message }
    }

    /// The error as `path: message`. The message is the error's own text after its path (one
    /// wording, in `Error`), except for an unreadable path, whose I/O cause is the message.
    pub fn from_error(error: &Error) -> Problem {
        if let Error::ReadPath { path, source } = error {
            return Problem::new(path.display().to_string(), format!("cannot read: {source}"));
        }
        let text = error.to_string();
        match text.split_once(": ") {
            Some((location, message)) => Problem::new(location.to_owned(), message.to_owned()),
            None => Problem::new(String::new(), text),
        }
    }

    /// The error's message under its origin (file and line, or object), without repeating it.
    pub fn from_rules_error(error: &portal_rules::Error) -> Problem {
        let text = error.to_string();
        match error.origin() {
            Some(origin) => {
                let prefix = format!("{origin}: ");
                let message = text.strip_prefix(&prefix).map_or(text.clone(), str::to_owned);
                Problem::new(origin.to_string(), message)
            }
            None => Problem::new(String::new(), text),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.location.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.location, self.message)
        }
    }
}
