//! HTTP server. OWNER: the http work item. Placeholder until it lands.
use crate::app::Exporter;
use crate::cli::CommonArgs;

/// Serves `exporter` (and runs the push loop when `--push.url` is set) until shutdown.
pub async fn serve_and_push(_args: CommonArgs, _exporter: Exporter) -> std::process::ExitCode {
    std::process::ExitCode::from(1)
}
