//! `portal check` from its input to what it prints and how it exits: one function that the
//! command line and the rule playground both run, so they cannot decide differently.

use std::io::Write;

use crate::Problem;
use crate::check::{CheckOptions, CheckRun, TextInput};
use crate::error::Error;
use crate::output::{OutputFormat, Renderer};

/// What `portal check` reads: files and folders, or text.
#[derive(Debug, Clone, Copy)]
pub enum CheckInput<'a> {
    /// Paths, as on the command line.
    Files(&'a CheckOptions),
    /// Rules and manifests as text.
    Text(&'a TextInput),
}

/// How `portal check` ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckStatus {
    /// Admission would admit every object: exit status 0.
    Admitted,
    /// Admission would deny an object: exit status 1.
    Denied,
    /// Bad input (unreadable file, invalid YAML or rule; with `strict`, any warning too): exit
    /// status 2.
    BadInput,
}

impl CheckStatus {
    /// The process exit status.
    pub fn code(self) -> u8 {
        match self {
            CheckStatus::Admitted => 0,
            CheckStatus::Denied => 1,
            CheckStatus::BadInput => 2,
        }
    }
}

/// Checks `input`, writes the results to `out` in `format` and each warning and error as a
/// `warning: …`/`error: …` line to `problems` (best effort). An error is returned only when the
/// results could not be rendered or written. With `strict`, a warning (a skipped document, an
/// input that checks nothing) is bad input too.
pub fn check_command(
    input: CheckInput<'_>,
    format: OutputFormat,
    strict: bool,
    out: impl Write,
    problems: &mut impl Write,
) -> Result<CheckStatus, Error> {
    let mut renderer = Renderer::new(format, out);
    let style = renderer.style();
    let prepare = |report| style.render(&report);
    let run = match input {
        CheckInput::Files(options) => CheckRun::run(options, prepare, |rendered| renderer.object(rendered?)),
        CheckInput::Text(text) => CheckRun::run_text(text, prepare, |rendered| renderer.object(rendered?)),
    }?;
    renderer.finish(&run.summary, &run.skipped, &run.errors)?;
    write_problems(problems, "warning", &run.skipped);
    write_problems(problems, "error", &run.errors);
    Ok(if !run.errors.is_empty() || (strict && !run.skipped.is_empty()) {
        CheckStatus::BadInput
    } else if run.summary.denies() {
        CheckStatus::Denied
    } else {
        CheckStatus::Admitted
    })
}

/// Best effort: the problems are in the output too, and a closed standard error must not turn
/// a denial into an error about writing (or, through a broken pipe, into success).
fn write_problems(out: &mut impl Write, kind: &str, problems: &[Problem]) {
    for problem in problems {
        if writeln!(out, "{kind}: {problem}").is_err() {
            return;
        }
    }
}
