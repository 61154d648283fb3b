//! The rule playground's engine: `portal check` on a rules text and a manifests text, compiled
//! to WebAssembly (`wasm32-wasip1`) and run in the browser by `playground/wasi.js`.
//!
//! It reads one JSON request on standard input, `{"rules": "…", "manifests": "…", "namespace":
//! "default", "output": "json"}`, and then behaves exactly as `portal check --rules rules.yaml
//! -o <output> manifests.yaml` would with those files: the same output on standard output, the
//! same `warning:`/`error:` lines on standard error, the same exit status (0 admitted, 1 denied,
//! 2 bad input). Built natively it is an ordinary command, which the tests use too.

use std::io::{Read, Write};
use std::process::ExitCode;

use portal_offline::{CheckInput, OutputFormat, TextInput, check_command};
use serde::Deserialize;

/// What problems call the rules' text: the file the page's command line saves it to.
const RULES_NAME: &str = "rules.yaml";
/// What problems and reports call the manifests' text.
const MANIFESTS_NAME: &str = "manifests.yaml";
/// The largest request read: far more than anyone pastes into a page, far less than a
/// browser tab's memory.
const MAX_REQUEST_BYTES: u64 = 64 * 1024 * 1024;

/// One check, as the page sends it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    rules: String,
    manifests: String,
    #[serde(default = "default_namespace")]
    namespace: String,
    /// As `--output` names it; the table by default.
    #[serde(default = "default_output")]
    output: OutputFormat,
}

fn default_namespace() -> String {
    "default".to_owned()
}

fn default_output() -> OutputFormat {
    OutputFormat::Table
}

fn main() -> ExitCode {
    match check() {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "error: {message}");
            ExitCode::from(portal_offline::CheckStatus::BadInput.code())
        }
    }
}

fn check() -> Result<u8, String> {
    let mut text = String::new();
    let read = std::io::stdin().take(MAX_REQUEST_BYTES + 1).read_to_string(&mut text);
    read.map_err(|error| format!("reading the request on standard input: {error}"))?;
    if text.len() as u64 > MAX_REQUEST_BYTES {
        return Err(format!("the request is larger than {MAX_REQUEST_BYTES} bytes; check less at once"));
    }
    let request: Request =
        serde_json::from_str(&text).map_err(|error| format!("the request on standard input is not valid: {error}"))?;
    let input = TextInput {
        rules_name: RULES_NAME.to_owned(),
        rules: request.rules,
        manifests_name: MANIFESTS_NAME.to_owned(),
        manifests: request.manifests,
        namespace: request.namespace,
    };
    let out = std::io::stdout().lock();
    let status = check_command(CheckInput::Text(&input), request.output, false, out, &mut std::io::stderr())
        .map_err(|error| with_causes(&error))?;
    Ok(status.code())
}

/// The error and its causes on one line, as the command line prints them.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        text.push_str(&format!(": {next}"));
        cause = next.source();
    }
    text
}
