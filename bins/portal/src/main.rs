//! The `portal` binary: parses the command line and wires it to the library crates.

mod cli;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{CommandFactory, Parser};
use portal_offline::{CheckOutput, OutputFormat, Problem};
use portal_rules::{Activation, EvaluationInput, RuleSet};

use cli::{CheckArgs, Cli, Command, EvalArgs, OutputArg, TestArgs};

/// Rule evaluation allocates many small values; mimalloc makes it about a fifth faster than
/// the system allocator (docs/performance.md), and much faster than musl's in the static build.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit status for bad input, as documented in `--help`.
const BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => check(args),
        Command::Test(args) => test(&args),
        Command::Eval(args) => eval(&args),
        Command::Version => {
            println!("portal {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "portal", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    };
    result.unwrap_or_else(|error| {
        eprintln!("error: {error:#}");
        ExitCode::from(BAD_INPUT)
    })
}

fn print_problems(kind: &str, problems: &[Problem]) {
    for problem in problems {
        eprintln!("{kind}: {problem}");
    }
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let (loaded, mut errors) = portal_offline::load_rule_paths(&args.rules);
    let (rules, compile_errors) = RuleSet::compile(loaded);
    errors.extend(compile_errors.iter().map(Problem::from_rules_error));
    let mut manifests = portal_offline::load_manifest_paths(&args.manifests);
    portal_offline::input::apply_default_namespace(&mut manifests, &args.namespace);
    errors.extend(manifests.errors.iter().cloned());
    let reports = portal_offline::check(&rules, &manifests.objects);
    let summary = portal_offline::summarise(&rules, &reports);
    let format = match args.output {
        OutputArg::Table => OutputFormat::Table,
        OutputArg::Json => OutputFormat::Json,
        OutputArg::Yaml => OutputFormat::Yaml,
        OutputArg::PolicyReport => OutputFormat::PolicyReport,
    };
    let output = CheckOutput { reports: &reports, summary: &summary, skipped: &manifests.skipped, errors: &errors };
    print!("{}", portal_offline::render(output, format)?);
    print_problems("warning", &manifests.skipped);
    print_problems("error", &errors);
    Ok(if !errors.is_empty() {
        ExitCode::from(BAD_INPUT)
    } else if summary.denies() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn test(args: &TestArgs) -> anyhow::Result<ExitCode> {
    let run = portal_offline::run_tests(&args.paths);
    print!("{}", run.render());
    print_problems("error", &run.problems);
    Ok(if !run.problems.is_empty() {
        ExitCode::from(BAD_INPUT)
    } else if run.failed() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn eval(args: &EvalArgs) -> anyhow::Result<ExitCode> {
    let object = read_object(args.object.as_deref())?;
    let old_object = read_object(args.old_object.as_deref())?;
    let request = read_object(args.request.as_deref())?;
    let namespace_object = read_object(args.namespace_object.as_deref())?;
    let activation = Activation::new(EvaluationInput {
        object: object.as_ref(),
        old_object: old_object.as_ref(),
        request: request.as_ref(),
        namespace_object: namespace_object.as_ref(),
        operation: None,
    });
    match portal_rules::evaluate_expression(&args.expression, &activation) {
        Ok(value) => {
            println!("{}", serde_json::to_string_pretty(&value)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("error: expression: {error}");
            Ok(ExitCode::from(BAD_INPUT))
        }
    }
}

/// Reads exactly one YAML/JSON document from a file (or `-` for stdin).
fn read_object(path: Option<&Path>) -> anyhow::Result<Option<serde_json::Value>> {
    let Some(path) = path else { return Ok(None) };
    let text = portal_offline::input::read_source(&PathBuf::from(path))?;
    let source = path.display().to_string();
    let mut documents = portal_rules::parse_documents(&source, &text)?;
    if documents.len() != 1 {
        bail!("{source}: expected exactly one YAML or JSON document, found {}", documents.len());
    }
    let document = documents.pop().context("document vanished")?;
    Ok(Some(document.value))
}
