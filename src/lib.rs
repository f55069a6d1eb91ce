//! cloudreve-autoselect: deselects junk files of Cloudreve v4 remote-download tasks.
//!
//! On a schedule the daemon signs in to Cloudreve, lists the user's ongoing remote downloads,
//! matches every file of each task against the glob and size rules of a TOML file, and sends
//! the select-files PATCH for what the rules reject.
//!
//! Functional core, imperative shell (see ARCHITECTURE.md):
//! - [`config`] and [`rules`]: the rules file parsed into validated types;
//! - [`task`] and [`plan`]: domain types and the pure decision; [`table`]: its text tables;
//! - [`cloudreve`]: the only module that speaks to Cloudreve (HTTP/JSON);
//! - [`state`]: what the daemon already decided, kept in a file;
//! - [`daemon`]: one tick, the schedule, signals and shutdown;
//! - [`outcome`] and [`sink`]: what a tick did, as plain data, and its consumers:
//!   [`notify`] (ntfy, Gotify, Apprise, webhooks) and [`metrics`] (Prometheus); [`stats`]
//!   prints the totals kept in the state;
//! - [`cli`], [`command`], [`telemetry`], [`explain`], [`healthcheck`]: the command line;
//!   [`account`]: an account's client options, which the commands build their clients from;
//! - `demo` (feature `demo`): the daemon against the emulated Cloudreve v4 server of the
//!   `cloudreve-emulator` crate, which the tests and benches use directly.

#![forbid(unsafe_code)]

pub mod account;
pub mod blocklist_fetch;
pub mod cli;
pub mod cloudreve;
pub mod command;
pub mod config;
pub mod daemon;
#[cfg(feature = "demo")]
pub mod demo;
pub mod durable;
pub mod escape;
pub mod expect;
pub mod explain;
pub mod healthcheck;
pub mod http;
pub mod metrics;
pub mod notify;
pub mod outcome;
pub mod plan;
pub mod report;
pub mod rules;
pub mod rules_watch;
pub mod sink;
pub mod state;
pub mod stats;
pub mod table;
pub mod task;
pub mod telemetry;
pub mod torrent;
