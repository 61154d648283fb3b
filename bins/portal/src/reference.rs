//! docs/cli.md, generated from the clap definition: every command with its full `--help`. A
//! test fails when the file drifts; regenerate with [`REGENERATE`].

use std::fmt::Write as _;

use clap::CommandFactory;

use crate::cli::Cli;

/// The command that rewrites docs/cli.md.
pub const REGENERATE: &str = "cargo test -p portal -- --ignored regenerate_cli_reference";

/// The width help is wrapped at, so the file does not depend on the terminal.
const WIDTH: usize = 100;

/// The whole of docs/cli.md.
pub fn markdown() -> String {
    let mut command = Cli::command().term_width(WIDTH).max_term_width(WIDTH);
    command.build();
    let mut text = format!(
        "<!-- Generated from the clap definition in bins/portal/src/cli.rs — do not edit.\n     \
         Regenerate with `{REGENERATE}`. -->\n\n\
         # Command-line reference\n\n\
         Every command and flag, as `portal <command> --help` prints them. How the commands behave —\n\
         exit statuses, diagnostics, inputs, outputs, examples — is described in\n\
         [commands.md](commands.md); the settings of `portal run` in [configuration.md](configuration.md).\n\n"
    );
    let _ = writeln!(text, "| Command | Purpose |\n|---|---|");
    for sub in command.get_subcommands().filter(|sub| sub.get_name() != "help") {
        let about = sub.get_about().map(ToString::to_string).unwrap_or_default();
        let _ = writeln!(text, "| [`portal {0}`](#portal-{0}) | {1} |", sub.get_name(), about.trim_end_matches('.'));
    }
    let _ = write!(text, "\n## portal\n\n```text\n{}```\n", command.render_long_help());
    let names: Vec<String> =
        command.get_subcommands().map(|sub| sub.get_name().to_owned()).filter(|name| name != "help").collect();
    for name in names {
        let Some(sub) = command.find_subcommand_mut(&name) else { continue };
        let _ = write!(text, "\n## portal {name}\n\n```text\n{}```\n", trimmed_help(sub));
        // Commands of commands (`portal network analyze`), each with its own section.
        let nested: Vec<String> =
            sub.get_subcommands().map(|nested| nested.get_name().to_owned()).filter(|name| name != "help").collect();
        for nested_name in nested {
            let Some(nested) = sub.find_subcommand_mut(&nested_name) else { continue };
            let _ = write!(text, "\n## portal {name} {nested_name}\n\n```text\n{}```\n", trimmed_help(nested));
        }
    }
    text
}

fn trimmed_help(command: &mut clap::Command) -> String {
    command.render_long_help().to_string().lines().map(|line| line.trim_end().to_owned() + "\n").collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/cli.md")
    }

    #[test]
    fn docs_cli_md_matches_the_clap_definition() {
        let actual = std::fs::read_to_string(path()).unwrap_or_default();
        assert!(
            actual == markdown(),
            "docs/cli.md is out of date with bins/portal/src/cli.rs: run `{REGENERATE}` and commit the result"
        );
    }

    /// Not a test: rewrites docs/cli.md (see [`REGENERATE`]).
    #[test]
    #[ignore = "rewrites docs/cli.md; run it on purpose"]
    fn regenerate_cli_reference() {
        std::fs::write(path(), markdown()).unwrap();
    }

    #[test]
    fn the_reference_has_every_command_and_flag() {
        let text = markdown();
        for command in [
            "run",
            "check",
            "test",
            "eval",
            "crds",
            "init-certs",
            "webhook-config",
            "network",
            "network explain",
            "version",
            "completions",
        ] {
            assert!(text.contains(&format!("\n## portal {command}\n")), "{command}");
        }
        for flag in ["--cluster-rules", "--print-config", "--output", "--namespace", "--webhook-config", "--old-object"]
        {
            assert!(text.contains(flag), "{flag}");
        }
    }
}
