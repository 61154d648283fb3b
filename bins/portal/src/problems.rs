//! How every command ends on bad input: the exit status, and problems on standard error.

use portal_offline::Problem;

/// The exit status of bad input: unreadable files, invalid YAML, rules or flags.
pub const BAD_INPUT: u8 = 2;

/// Prints each problem on standard error, prefixed with `kind` (`error`, `warning`).
pub fn print_problems(kind: &str, problems: &[Problem]) {
    for problem in problems {
        eprintln!("{kind}: {problem}");
    }
}
