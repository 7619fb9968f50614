//! Secrets for the command line come from standard input (one per line, prompted on stderr
//! when stdin is a terminal), never from argv, where `ps` and shell history would show them.

use std::io::{BufRead, IsTerminal};

use crate::CliError;

/// Reads one secret line from stdin.
pub fn read(prompt: &str) -> Result<String, CliError> {
    let stdin = std::io::stdin();
    let secret = if stdin.is_terminal() {
        // A person at a terminal: prompt, and do not echo what they type.
        rpassword::prompt_password(format!("{prompt}: "))?
    } else {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    };
    if secret.is_empty() {
        return Err(CliError::Config(format!(
            "{prompt}: expected a line on standard input"
        )));
    }
    Ok(secret)
}
