//! The `portal` binary: parses the command line and wires it to the library crates.

mod cli;
mod migrate;
mod network;
mod problems;
#[cfg(test)]
mod reference;

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{CommandFactory, Parser};
use portal_offline::{CheckInput, CheckOptions, OutputFormat, Problem, check_command};
use portal_rules::{Activation, EvaluationInput};
use problems::{BAD_INPUT, print_problems};

use cli::{
    CheckArgs, Cli, Command, EvalArgs, ExportCommand, ExportOutputArg, ExportVapArgs, ImportCommand, ImportVapArgs,
    InitCertsArgs, NetworkCommand, OutputArg, RunArgs, TestArgs, WebhookConfigArgs,
};

/// Rule evaluation allocates many small values; mimalloc makes it about a fifth faster than
/// the system allocator (docs/performance.md), and much faster than musl's in the static build.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(&args),
        Command::Check(args) => check(args),
        Command::Test(args) => test(&args),
        Command::Eval(args) => eval(&args),
        Command::Crds { output_dir } => crds(output_dir.as_deref()),
        Command::InitCerts(args) => init_certs(&args),
        Command::WebhookConfig(args) => webhook_config(&args),
        Command::Network(NetworkCommand::Analyze(args)) => network::analyze(&args),
        Command::Network(NetworkCommand::Explain(args)) => network::explain(&args),
        Command::Export(ExportCommand::Vap(args)) => export_vap(&args),
        Command::Import(ImportCommand::Vap(args)) => import_vap(&args),
        Command::Migrate(args) => migrate::migrate(&args),
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

fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let overrides = args.settings.overrides();
    let environment =
        std::env::vars_os().filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)));
    let config = portal_config::Config::load(args.config.as_deref(), environment, &overrides)?;
    if args.print_config {
        print!("{}", config.to_yaml()?);
        return Ok(ExitCode::SUCCESS);
    }
    init_logging(&config.logging)?;
    // Rules are compiled and evaluated on these threads: give them the stack the deepest
    // expression allowed needs with room to spare (portal_rules::MAX_EXPRESSION_DEPTH).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(8 * 1024 * 1024)
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(portal_kube::operator::run(&config, shutdown_signal()))?;
    Ok(ExitCode::SUCCESS)
}

fn init_logging(logging: &portal_config::LoggingConfig) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_new(&logging.level)
        .with_context(|| format!("logging.level {:?} is not a valid filter", logging.level))?;
    // Logs go to standard error, so that is the stream whose terminal-ness decides.
    let terminal = std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(terminal);
    let result = if logging.format.is_json(terminal) { builder.json().try_init() } else { builder.try_init() };
    result.map_err(|error| anyhow::anyhow!("setting up logging: {error}"))
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM (Kubernetes stopping the pod).
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let format = match args.output {
        OutputArg::Table => OutputFormat::Table,
        OutputArg::Json => OutputFormat::Json,
        OutputArg::Yaml => OutputFormat::Yaml,
        OutputArg::PolicyReport => OutputFormat::PolicyReport,
    };
    let options = CheckOptions {
        rules: args.rules,
        manifests: args.manifests,
        namespace: args.namespace,
        cluster: args.cluster,
        request: None,
        exceptions: args.exceptions,
    };
    let out = std::io::BufWriter::new(std::io::stdout().lock());
    match check_command(CheckInput::Files(&options), format, args.strict, out, &mut std::io::stderr()) {
        Ok(status) => Ok(ExitCode::from(status.code())),
        // The reader went away (`| head`): stop quietly, as other command-line tools do.
        Err(portal_offline::Error::Write(error)) if error.kind() == std::io::ErrorKind::BrokenPipe => {
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => Err(error.into()),
    }
}

fn init_certs(args: &InitCertsArgs) -> anyhow::Result<ExitCode> {
    init_logging(&portal_config::LoggingConfig::default())?;
    let mut kubernetes = portal_config::KubernetesConfig::default();
    kubernetes.kubeconfig = args.kubeconfig.clone();
    kubernetes.context = args.context.clone();
    let mut options = portal_kube::certs::CertOptions::new(&args.namespace, &args.secret, &args.service);
    options.extra_dns = args.dns.clone();
    options.ips = args.ip.clone();
    options.webhook_configuration = args.webhook_config.clone();
    options.validity = args.validity.as_std();
    options.renew_before = args.renew_before.as_std();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    let bundle = runtime.block_on(async {
        let client = portal_kube::client::client(&kubernetes).await?;
        anyhow::Ok(portal_kube::certs::init_certs(client, &options).await?)
    })?;
    if let Some(dir) = &args.output_dir {
        let changed = bundle.write_files(dir)?;
        tracing::info!(dir = %dir.display(), changed, "certificate files written");
    }
    Ok(ExitCode::SUCCESS)
}

fn export_vap(args: &ExportVapArgs) -> anyhow::Result<ExitCode> {
    let (mut loaded, mut problems) = portal_files::load_rule_paths(&args.rules);
    if args.from_cluster {
        let mut kubernetes = portal_config::KubernetesConfig::default();
        kubernetes.kubeconfig = args.kubeconfig.clone();
        kubernetes.context = args.context.clone();
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
        let (cluster_rules, cluster_problems) = runtime.block_on(async {
            let client = portal_kube::client::client(&kubernetes).await?;
            portal_kube::sources::list_cluster_rules(client)
                .await
                .context("listing PortalClusterRule and PortalRule resources")
        })?;
        loaded.extend(cluster_rules);
        problems.extend(cluster_problems.into_iter().map(|problem| Problem::new(problem.location, problem.message)));
    }
    let (rules, errors) = portal_rules::RuleSet::compile(loaded);
    problems.extend(errors.iter().map(Problem::from_rules_error));
    if !problems.is_empty() {
        print_problems("error", &problems);
        return Ok(ExitCode::from(BAD_INPUT));
    }
    let mut options = portal_vap::ExportOptions::default();
    if !args.excluded_namespaces.is_empty() {
        options.excluded_namespaces.clone_from(&args.excluded_namespaces);
    }
    let export = portal_vap::export(&rules, &options);
    match args.output {
        ExportOutputArg::Yaml => print!("{}", export.to_yaml()?),
        ExportOutputArg::Json => print!("{}", export.to_json()),
    }
    for (rule, notes) in &export.exported {
        for note in notes {
            eprintln!("note: {rule}: {note}");
        }
    }
    for (rule, reason) in &export.refused {
        eprintln!("not exported: {rule}: {reason}");
    }
    eprintln!("{} rules exported, {} not exported", export.exported.len(), export.refused.len());
    Ok(ExitCode::SUCCESS)
}

fn import_vap(args: &ImportVapArgs) -> anyhow::Result<ExitCode> {
    let manifests = portal_files::load_manifest_paths(&args.paths, "default");
    if !manifests.errors.is_empty() {
        print_problems("error", &manifests.errors);
        return Ok(ExitCode::from(BAD_INPUT));
    }
    let objects: Vec<serde_json::Value> = manifests.objects.into_iter().map(|manifest| manifest.object).collect();
    let import = portal_vap::import(&objects);
    print!("{}", import.to_yaml()?);
    for (policy, note) in &import.notes {
        eprintln!("note: {policy}: {note}");
    }
    for (policy, reason) in &import.refused {
        eprintln!("not imported: {policy}: {reason}");
    }
    eprintln!("{} rules imported, {} policies not imported", import.rules.len(), import.refused.len());
    Ok(ExitCode::SUCCESS)
}

fn webhook_config(args: &WebhookConfigArgs) -> anyhow::Result<ExitCode> {
    use portal_kube::registration::{self, RegistrationOptions, WebhookClient};
    let (loaded, mut problems) = portal_files::load_rule_paths(&args.rules);
    let (rules, errors) = portal_rules::RuleSet::compile(loaded);
    problems.extend(errors.iter().map(Problem::from_rules_error));
    if !problems.is_empty() {
        print_problems("error", &problems);
        return Ok(ExitCode::from(BAD_INPUT));
    }
    let client = match &args.url {
        Some(url) => WebhookClient::Url(url.clone()),
        None => WebhookClient::Service { namespace: args.namespace.clone(), name: args.service.clone() },
    };
    let options = RegistrationOptions {
        name: args.name.clone(),
        client,
        portal_namespace: args.namespace.clone(),
        failure_policy: args.failure_policy.name().to_owned(),
        cluster_failure_policy: args.cluster_failure_policy.name().to_owned(),
        ca_bundle: String::new(),
    };
    let registration = registration::render(&rules, &options)?;
    print!("{}", registration::to_yaml(&registration.configuration)?);
    for warning in &registration.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(ExitCode::SUCCESS)
}

fn crds(output_dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    match output_dir {
        None => print!("{}", portal_kube::api::crds::render_all()?),
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            for (file, crd) in portal_kube::api::crds::crds() {
                let path = dir.join(file);
                std::fs::write(&path, portal_kube::api::crds::render(&crd)?)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn test(args: &TestArgs) -> anyhow::Result<ExitCode> {
    let run = portal_offline::run_tests(&args.paths);
    print!("{}", run.render());
    print_problems("warning", &run.warnings);
    print_problems("error", &run.problems);
    Ok(if !run.problems.is_empty() || (args.strict && !run.warnings.is_empty()) {
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
        cluster: None,
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
    let text = portal_files::read_source(path)?;
    let source = path.display().to_string();
    let mut documents = portal_rules::parse_documents(&source, &text)?;
    if documents.len() != 1 {
        bail!("{source}: expected exactly one YAML or JSON document, found {}", documents.len());
    }
    let document = documents.pop().context("document vanished")?;
    Ok(Some(document.value))
}
