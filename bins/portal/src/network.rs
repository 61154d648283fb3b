//! `portal network analyze` and `portal network explain`: reading the inputs, calling
//! `portal-network`, printing.

use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::ValueEnum as _;
use portal_network::{Check, CheckSettings, Inventory, Reach};
use portal_offline::{OutputFormat, Problem};

use crate::cli::{NetworkAnalyzeArgs, NetworkExplainArgs, NetworkOutputArg, SeverityArg};
use crate::problems::{BAD_INPUT, print_problems};

fn format(output: NetworkOutputArg) -> OutputFormat {
    match output {
        NetworkOutputArg::Table => OutputFormat::Table,
        NetworkOutputArg::Json => OutputFormat::Json,
        NetworkOutputArg::Yaml => OutputFormat::Yaml,
    }
}

fn check_named(name: &str, flag: &str) -> anyhow::Result<Check> {
    Check::from_name(name).with_context(|| {
        let known: Vec<&str> = Check::ALL.iter().map(|check| check.name()).collect();
        format!("{flag} {name:?}: no such check; the checks are {}", known.join(", "))
    })
}

fn settings(args: &NetworkAnalyzeArgs) -> anyhow::Result<CheckSettings> {
    let mut settings = CheckSettings::default();
    for name in &args.disable {
        settings.disabled.insert(check_named(name, "--disable")?);
    }
    for pair in &args.severity {
        let Some((name, severity)) = pair.split_once('=') else {
            bail!("--severity {pair:?}: write CHECK=SEVERITY, e.g. np.broad-cidr=critical");
        };
        let severity = SeverityArg::from_str(severity, true).map_err(|_| {
            anyhow::anyhow!(
                "--severity {pair:?}: {severity:?} is not a severity; use info, low, medium, high or critical"
            )
        })?;
        settings.severities.insert(check_named(name, "--severity")?, severity.severity());
    }
    Ok(settings)
}

pub fn analyze(args: &NetworkAnalyzeArgs) -> anyhow::Result<ExitCode> {
    let settings = settings(args)?;
    let input = portal_offline::load_network(&args.paths, &args.namespace);
    let findings = portal_network::analyze(&input.inventory, &settings);
    let problems = input.errors;
    print!("{}", portal_offline::render_findings(&findings, &problems, format(args.output))?);
    print_problems("warning", &input.skipped);
    print_problems("error", &problems);
    let fail_on = args.fail_on.severity();
    Ok(if !problems.is_empty() {
        ExitCode::from(BAD_INPUT)
    } else if findings.iter().any(|finding| finding.severity >= fail_on) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn explain(args: &NetworkExplainArgs) -> anyhow::Result<ExitCode> {
    let (from, port) = portal_network::parse_endpoint(&args.from, &args.namespace, false).context("--from")?;
    debug_assert!(port.is_none());
    let (to, port) = portal_network::parse_endpoint(&args.to, &args.namespace, true).context("--to")?;
    let inventory = if args.paths.is_empty() {
        live_inventory(args)?
    } else {
        let input = portal_offline::load_network(&args.paths, &args.namespace);
        print_problems("warning", &input.skipped);
        if !input.errors.is_empty() {
            print_problems("error", &input.errors);
            return Ok(ExitCode::from(BAD_INPUT));
        }
        input.inventory
    };
    let explanation = match portal_network::explain(&inventory, &from, &to, port.as_ref()) {
        Ok(explanation) => explanation,
        Err(error) => {
            print_problems("error", &[Problem::new("explain".to_owned(), error.to_string())]);
            return Ok(ExitCode::from(BAD_INPUT));
        }
    };
    print!("{}", portal_offline::render_explanation(&explanation, format(args.output))?);
    Ok(if explanation.verdict == Reach::Allowed { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn live_inventory(args: &NetworkExplainArgs) -> anyhow::Result<Inventory> {
    let mut kubernetes = portal_config::KubernetesConfig::default();
    kubernetes.kubeconfig = args.kubeconfig.clone();
    kubernetes.context = args.context.clone();
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    let objects = runtime.block_on(async {
        let client = portal_kube::client::client(&kubernetes).await?;
        anyhow::Ok(portal_kube::network::list_objects(client).await?)
    })?;
    Ok(Inventory::new(objects))
}
