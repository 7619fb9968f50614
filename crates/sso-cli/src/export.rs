//! Writing an export file: it holds password verifiers, key hashes and sealed passwords, so
//! it is readable by its owner only, like a private key.

use std::io::Write;
use std::path::Path;

use crate::CliError;

/// Writes `text` to `path` with mode 0600 (an existing file is truncated and its mode set to
/// 0600 before anything is written).
pub fn write_private(path: &Path, text: &str) -> Result<(), CliError> {
    let named = |e: std::io::Error| CliError::Io(format!("{}: {e}", path.display()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path).map_err(named)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(named)?;
        write_all(file, text).map_err(named)
    }
    #[cfg(not(unix))]
    {
        write_all(options.open(path).map_err(named)?, text).map_err(named)
    }
}

fn write_all(mut file: std::fs::File, text: &str) -> std::io::Result<()> {
    file.write_all(text.as_bytes())?;
    file.sync_all()
}
