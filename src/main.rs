//! The binary: parse the command line, set up logging, run the command, print, exit.
//!
//! Exit codes: 0 success; 1 failure (server unreachable, a PATCH failed, unhealthy); 2 usage
//! error (clap: an unknown command or option);
//! 78 (`EX_CONFIG`) invalid rules file or password source; 130 forced by a second signal.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;
use cloudreve_autoselect::cli::Cli;
use cloudreve_autoselect::command::{self, Exit};
use cloudreve_autoselect::{cloudreve, telemetry};

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_format, std::env::var_os("JOURNAL_STREAM").is_some());
    cloudreve::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "error: could not start the async runtime: {e}"
            );
            return ExitCode::from(Exit::Failure.code());
        }
    };
    let outcome = runtime.block_on(command::execute(cli, &command::process_env));
    // Writes to a closed pipe must not panic; there is nobody left to tell.
    let _ = std::io::stdout().write_all(outcome.stdout.as_bytes());
    if !outcome.stderr.is_empty() {
        let _ = writeln!(std::io::stderr(), "{}", outcome.stderr.trim_end());
    }
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    ExitCode::from(outcome.exit.code())
}
