//! Integration tests: the client, the daemon and the binary against the emulated Cloudreve v4
//! server over real HTTP on 127.0.0.1.

// Test code: a failed unwrap or panic is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod accounts;
mod blocklist_budget;
mod blocklists;
mod check_all;
mod cli;
mod client;
mod connect;
mod corpus;
mod deployment;
mod emulator_facts;
mod endurance;
mod expect;
mod hand;
mod hostile_explain;
mod hostile_state;
mod metrics;
mod metrics_flood;
mod names;
mod notify;
mod oauth;
mod redirects;
mod refusal;
mod reload;
mod rules;
mod run;
mod stats;
mod support;
mod terminal;
mod tick;
mod tidy;
mod torrent;
mod truths;
mod workspace;
