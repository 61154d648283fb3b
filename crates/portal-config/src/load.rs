//! [`Config::load`]: defaults < file < `PORTAL_*` environment < flags.

use std::collections::BTreeMap;
use std::path::Path;

use crate::de::NodeDeserializer;
use crate::layers::{self, Node};
use crate::settings::Provenance;
use crate::{Config, Error, Overrides, Result, Source};

impl Config {
    /// Loads the configuration: the defaults, overlaid by the YAML `file` (`--config`, optional),
    /// then by the `PORTAL_*` variables of `env`, then by the flags in `overrides`. Sections are
    /// merged setting by setting; a list is replaced as a whole.
    ///
    /// `env` is the process environment in production (`std::env::vars_os()` with the non-UTF-8
    /// entries left out) and a literal list in tests. Variables not starting with `PORTAL_` are
    /// ignored; a `PORTAL_*` variable that is neither a setting nor in
    /// [`OTHER_ENV_VARS`](crate::OTHER_ENV_VARS) is an error.
    ///
    /// Every error names where the bad value came from (file:line, variable or flag), the
    /// setting's path, what was wrong and what is allowed.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> Result<Config> {
        let text = match file {
            Some(path) => Some(
                std::fs::read_to_string(path).map_err(|source| Error::ReadFile { path: path.to_owned(), source })?,
            ),
            None => None,
        };
        Config::load_text(file.zip(text.as_deref()), env, overrides)
    }

    /// [`Config::load`] with the file's contents already read: `(path, text)`.
    pub(crate) fn load_text(
        file: Option<(&Path, &str)>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> Result<Config> {
        let mut root = match file {
            Some((path, text)) => layers::parse_file(path, text)?,
            None => Node::empty(Source::Default),
        };
        layers::apply_env(&mut root, env)?;
        layers::apply_overrides(&mut root, overrides)?;

        let mut config: Config =
            serde_path_to_error::deserialize(NodeDeserializer(&root)).map_err(|error| Error::InvalidSetting {
                origin: root.source_at(error.path()).clone(),
                path: error.path().to_string(),
                message: error.inner().to_string(),
            })?;

        let mut provenance = BTreeMap::new();
        root.for_each_value(&mut String::new(), &mut |path, source| {
            provenance.insert(path.to_owned(), source.clone());
        });
        config.provenance = Provenance(provenance);
        if let Some((path, _)) = file {
            layers::resolve_file_paths(&mut config, path);
        }

        config.validate().map_err(|(path, message)| Error::InvalidSetting {
            origin: config.source(path).clone(),
            path: path.to_owned(),
            message,
        })?;
        config.validate_keyed().map_err(|(path, message)| Error::InvalidSetting {
            origin: config.source(&path).clone(),
            path,
            message,
        })?;
        Ok(config)
    }

    /// Every setting's environment variable and path, e.g.
    /// `("PORTAL_LOGGING_LEVEL", "logging.level")`, in the order of the file.
    pub fn env_vars() -> Vec<(String, String)> {
        layers::settings().into_iter().map(|(path, name)| (name, path.join("."))).collect()
    }
}
