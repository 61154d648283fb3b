//! Errors of the offline commands.

/// Rendering or writing results failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("rendering the JSON output")]
    RenderJson(#[source] serde_json::Error),
    #[error("rendering the {format} output")]
    RenderYaml {
        format: &'static str,
        #[source]
        source: serde_saphyr::ser_error::Error,
    },
    #[error("writing the output")]
    Write(#[source] std::io::Error),
}
