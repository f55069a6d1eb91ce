//! The command line: `--config`, `--log-format`, and the subcommands.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Deselects junk files of Cloudreve v4 remote-download tasks by glob and size rules.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
pub struct Cli {
    /// The rules file (the help text is a string: a doc comment would need backticks).
    #[arg(
        help = "The rules file [default: $CONFIGURATION_DIRECTORY/rules.toml under systemd, else /etc/cloudreve-autoselect/rules.toml]",
        long,
        short = 'c',
        global = true,
        env = "CLOUDREVE_AUTOSELECT_CONFIG",
        value_name = "PATH"
    )]
    pub config: Option<PathBuf>,

    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service: tick on the schedule until SIGTERM; SIGHUP reloads the rules.
    Run {
        /// Plan and log only; send nothing and change no state.
        #[arg(long)]
        dry_run: bool,
    },
    /// Run one tick and exit: 0 if every eligible task was handled, 1 otherwise.
    Once {
        /// Plan and print what would be sent; send nothing and change no state.
        #[arg(long)]
        dry_run: bool,
    },
    /// Validate the rules file: exit 0 if valid, 78 (`EX_CONFIG`) with every problem if not.
    /// Likely mistakes are printed as warnings. Evaluates the `[[expect]]` tables (exit 1 if
    /// any fails) and fetches a `list_url` that was never fetched (exit 1 if that fails).
    Check {
        /// Treat the warnings (likely mistakes) as failures: exit 1 if there are any.
        #[arg(long)]
        lint: bool,
        /// Also evaluate the `[[expect]]` tables of this file.
        #[arg(long, value_name = "FILE")]
        expect: Option<PathBuf>,
        /// Check only what a reload reads (the rules file, its lists and expectations), not the
        /// credential and file sources a start reads: the unit's `ExecReload=` runs this, where
        /// the credentials are the running service's and are not reloaded.
        #[arg(long)]
        rules_only: bool,
    },
    /// Show, file by file, what the rules decide for a task and the PATCH that would be sent.
    Explain {
        /// A live task's id: fetched from the server.
        #[arg(value_name = "TASK_ID", required_unless_present_any = ["task_json", "torrent"])]
        task_id: Option<String>,
        /// A JSON file: one task object as `GET /workflow` lists it, or a whole list answer.
        #[arg(long, value_name = "FILE", conflicts_with = "task_id")]
        task_json: Option<PathBuf>,
        /// The account whose task it is (a live task) [default: the first account].
        #[arg(long, value_name = "NAME")]
        account: Option<String>,
        /// A .torrent file (v1, v2 or hybrid): what the rules would decide before Cloudreve
        /// sees it, with aria2's and qBittorrent's file indices.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["task_id", "task_json"])]
        torrent: Option<PathBuf>,
    },
    /// Run against a built-in emulated Cloudreve with demo tasks and `rules.example.toml`.
    Demo,
    /// Print what the daemon saved: files and bytes deselected per rule and tasks left alone,
    /// since the state file began (read without locking; the service may run meanwhile).
    Stats {
        /// Print JSON (exact byte counts) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Send a test message to every `[[notify]]` notifier and print each result: exit 0 if
    /// every one was accepted, 1 otherwise.
    NotifyTest,
    /// Re-open a task's decisions after checking it by hand: remove its decided files from the
    /// state (takes the state's lock: stop the service first), so the next tick judges them
    /// afresh.
    Forget {
        /// The task's id.
        #[arg(value_name = "TASK_ID")]
        task_id: String,
        /// The account whose task it is [default: the first account].
        #[arg(long, value_name = "NAME")]
        account: Option<String>,
    },
    /// Exit 0 if the last tick finished recently and did not fail for a reason only a person
    /// can fix (sign-in refused, refresh token rejected, state not writable); 1 otherwise.
    Healthcheck {
        /// The longest acceptable age of the last tick (help text as a string, without
        /// backticks).
        #[arg(
            long,
            value_parser = humantime::parse_duration,
            help = "The longest acceptable age of the last tick, e.g. \"15m\" [default: three times the longest gap of daemon.schedule plus five minutes]"
        )]
        max_age: Option<std::time::Duration>,
    },
    /// Get a scoped OAuth token in a browser and store it for the daemon: prints the authorize
    /// URL, waits (10 minutes at most) for the browser's redirect to 127.0.0.1, or for the
    /// redirected address pasted on standard input (a browser on another machine).
    Login {
        /// The account to log in [default: the first account].
        #[arg(long, value_name = "NAME")]
        account: Option<String>,
        /// Also try to open the URL with xdg-open.
        #[arg(long)]
        open: bool,
        /// Finish a `login` started earlier: the address the browser was redirected to.
        #[arg(long, value_name = "URL")]
        code: Option<String>,
    },
}
