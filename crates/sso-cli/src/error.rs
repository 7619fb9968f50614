//! The one error type of the `sso` command.

use thiserror::Error;

/// What stops a command.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CliError {
    /// The store refused or could not be reached.
    #[error(transparent)]
    Store(#[from] sso_store::StoreError),
    /// The listener could not be bound, or a file could not be read.
    #[error("{0}")]
    Io(String),
    /// A partner helper could not reach the server: the cause chain and a hint.
    #[error("{0}")]
    Transport(String),
    /// The protocol answered with a refusal (`sso call`, `sso link --open|--check`): exit 3.
    #[error("refused: {0}")]
    Refused(String),
    /// A flag or environment variable is wrong.
    #[error("configuration: {0}")]
    Config(String),
}

impl From<sso_web::SettingsError> for CliError {
    fn from(e: sso_web::SettingsError) -> Self {
        CliError::Config(e.to_string())
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Io(e.to_string())
    }
}
