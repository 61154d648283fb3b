//! [`Config::to_yaml`]: the effective settings, for `portal run --print-config`.

use serde_json::Value as Json;

use crate::layers::{self, Ordered};
use crate::{Config, Error, Result, Source};

const HEADER: &str = "# Effective Portal configuration: defaults < --config file < PORTAL_* environment < flags.\n\
                      # A comment names the source of every value that is not the default.\n";

impl Config {
    /// The effective configuration as YAML, every setting included, with a comment naming the
    /// source of each value that is not the default (`# from portal.yaml:7`,
    /// `# from PORTAL_LOGGING_LEVEL`, `# from --log-level`). Read back as a `--config` file it
    /// gives the same configuration.
    pub fn to_yaml(&self) -> Result<String> {
        let mut out = String::from(HEADER);
        if let Ordered::Map(entries) = layers::ordered(self).map_err(Error::PrintConfig)? {
            self.write_entries(&entries, "", 0, &mut out);
        }
        Ok(out)
    }

    fn write_entries(&self, entries: &[(String, Ordered)], parent: &str, indent: usize, out: &mut String) {
        let pad = " ".repeat(indent);
        for (key, value) in entries {
            let path = if parent.is_empty() { key.clone() } else { format!("{parent}.{key}") };
            let comment = match self.source(&path) {
                Source::Default => String::new(),
                source => format!("  # from {source}"),
            };
            let key = scalar(&Json::String(key.clone()));
            match value {
                Ordered::Map(children) if !children.is_empty() => {
                    out.push_str(&format!("{pad}{key}:\n"));
                    self.write_entries(children, &path, indent + 2, out);
                }
                Ordered::Map(_) => out.push_str(&format!("{pad}{key}: {{}}{comment}\n")),
                Ordered::Leaf(Json::Array(items)) if !items.is_empty() => {
                    out.push_str(&format!("{pad}{key}:{comment}\n"));
                    for item in items {
                        out.push_str(&format!("{pad}  - {}\n", scalar(item)));
                    }
                }
                Ordered::Leaf(Json::Array(_)) => out.push_str(&format!("{pad}{key}: []{comment}\n")),
                Ordered::Leaf(scalar_value) => {
                    out.push_str(&format!("{pad}{key}: {}{comment}\n", scalar(scalar_value)))
                }
            }
        }
    }
}

/// A value on one line: a string plain when YAML reads it back as the same string (`info`,
/// `/etc/portal/rules`), double-quoted otherwise (`"yes"`, `"a: b"`, `""`); anything else as
/// JSON, which is YAML (numbers, booleans, `null`, and sections or lists inside lists).
fn scalar(value: &Json) -> String {
    match value {
        Json::String(text) if reads_back_plain(text) => text.clone(),
        // Serialising a `Value` to a string cannot fail.
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// Whether `text` written plain, as a mapping value followed by a comment, parses back to the
/// same string. Asking the parser avoids re-implementing YAML's rules (`yes`, `0x1F`, `~`,
/// `: `, ` #`, leading indicators…).
fn reads_back_plain(text: &str) -> bool {
    if text.is_empty() || text.contains(['\n', '\r', '"', '\'']) || text.trim() != text {
        return false;
    }
    let probe = format!("k: {text}  # c\n");
    matches!(serde_saphyr::from_str::<Json>(&probe), Ok(Json::Object(map)) if map.len() == 1 && map.get("k") == Some(&Json::String(text.to_owned())))
}
