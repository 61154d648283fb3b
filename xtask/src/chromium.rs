//! Debian's Chromium for the rule playground's browser test: installed with apt-get the first
//! time (as root, or through sudo), like the test control plane once per machine. Tests find it
//! through `PORTAL_CHROMIUM`, which may also name a browser already there (CI's Chrome).

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::cmd::run;

/// The variable the playground test reads the browser's path from.
pub const CHROMIUM_ENV: &str = "PORTAL_CHROMIUM";

/// Where Debian's `chromium` package puts the browser.
const CHROMIUM: &str = "/usr/bin/chromium";

/// The browser: `PORTAL_CHROMIUM` when it names one (another Chromium or Chrome), else
/// Debian's, installed first when missing.
pub fn ensure() -> Result<PathBuf> {
    if let Some(given) = std::env::var_os(CHROMIUM_ENV).map(PathBuf::from) {
        if !given.is_file() {
            bail!("{CHROMIUM_ENV}={} is not a file: name a Chromium or Chrome binary, or unset it", given.display());
        }
        return Ok(given);
    }
    let chromium = PathBuf::from(CHROMIUM);
    if chromium.is_file() {
        return Ok(chromium);
    }
    eprintln!("chromium: installing Debian's chromium package for the playground test (first run only)");
    let root = is_root()?;
    // Through `env`: sudo does not pass the environment on.
    let apt = |args: &[&str]| {
        let mut command = if root { Command::new("env") } else { Command::new("sudo") };
        if !root {
            command.args(["-n", "env"]);
        }
        command.args(["DEBIAN_FRONTEND=noninteractive", "apt-get"]).args(args);
        command
    };
    run(&mut apt(&["update", "-q"])).context("updating the package lists for chromium")?;
    run(&mut apt(&["install", "-y", "-q", "--no-install-recommends", "chromium", "fonts-dejavu-core"])).context(
        "installing chromium with apt-get; as another user, allow `sudo -n apt-get`, or set PORTAL_CHROMIUM to a \
             Chromium or Chrome binary",
    )?;
    if !chromium.is_file() {
        bail!("apt-get installed chromium, but {CHROMIUM} is not there");
    }
    Ok(chromium)
}

fn is_root() -> Result<bool> {
    let output = Command::new("id").arg("-u").output().context("running `id -u`")?;
    Ok(String::from_utf8_lossy(&output.stdout).trim() == "0")
}
