//! [`Overrides`]: settings given as command-line flags, the highest layer.

use serde::Serialize;
use serde_json::Value as Json;

/// Settings given as flags to `portal run`: each flag that was given sets one setting, named by
/// its path (`rules.cluster.enabled`). The binary builds it from its parsed flags, so its flag
/// definitions are the one list of which flag sets which setting.
///
/// Leave `env = "PORTAL_…"` off those clap arguments: [`crate::Config::load`] reads the
/// environment itself, so that an environment value is reported as coming from the environment.
#[derive(Debug, Default)]
pub struct Overrides {
    flags: Vec<Flag>,
}

/// One flag that was given.
#[derive(Debug)]
struct Flag {
    /// `--cluster-rules`: errors and `--print-config` name it as the value's source.
    name: &'static str,
    /// `rules.cluster.enabled`.
    setting: &'static str,
    /// Serialising fails only for a path that is not UTF-8; the error names the flag.
    value: Result<Json, serde_json::Error>,
}

impl Overrides {
    /// Adds the flag `name` (`--cluster-rules`), which sets `setting` (`rules.cluster.enabled`)
    /// to `value`. A later flag for the same setting wins.
    pub fn set(mut self, name: &'static str, setting: &'static str, value: impl Serialize) -> Overrides {
        self.flags.push(Flag { name, setting, value: serde_json::to_value(value) });
        self
    }

    /// The flags given, as (flag, setting path).
    pub fn flags(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        self.flags.iter().map(|flag| (flag.name, flag.setting))
    }

    /// The flags given, as (flag, path of the setting, value).
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&'static str, Vec<&'static str>, Result<Json, String>)> + '_ {
        self.flags.iter().map(|flag| {
            let value = flag.value.as_ref().map(Json::clone).map_err(ToString::to_string);
            (flag.name, flag.setting.split('.').collect(), value)
        })
    }
}
