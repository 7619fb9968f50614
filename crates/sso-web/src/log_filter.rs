//! `SSO_LOG`, the log filter of the local server and the Lambdas.

use tracing::Level;
use tracing_subscriber::filter::Targets;

/// The filter `SSO_LOG` names: comma-separated `level` or `target=level` directives
/// (`info`, `warn,sso_store=debug`), EnvFilter's syntax less span and field filters, read
/// without a regex engine (smaller, faster-building binaries). A directive that does not
/// parse falls back to `info`, so a typo never silences the logs.
pub fn log_filter(directives: &str) -> Targets {
    directives
        .parse()
        .unwrap_or_else(|_| Targets::new().with_default(Level::INFO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::level_filters::LevelFilter;

    #[test]
    fn directives_are_read_as_env_filter_reads_them() {
        let f = log_filter("warn,sso_store=debug");
        assert!(f.would_enable("sso_store::embedded", &Level::DEBUG));
        assert!(!f.would_enable("sso_store::embedded", &Level::TRACE));
        assert!(f.would_enable("hyper", &Level::WARN));
        assert!(!f.would_enable("hyper", &Level::INFO));
        assert_eq!(log_filter("info").default_level(), Some(LevelFilter::INFO));
    }

    #[test]
    fn a_directive_that_does_not_parse_falls_back_to_info() {
        let f = log_filter("sso_store=loud");
        assert!(f.would_enable("sso_store", &Level::INFO));
        assert!(!f.would_enable("sso_store", &Level::DEBUG));
    }
}
