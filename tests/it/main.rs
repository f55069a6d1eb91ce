//! Integration tests: the client, the daemon and the binary against the emulated Cloudreve v4
//! server over real HTTP on 127.0.0.1.

// Test code: a failed unwrap or panic is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod accounts;
mod cli;
mod client;
mod connect;
mod corpus;
mod deployment;
mod emulator_facts;
mod endurance;
mod expect;
mod hand;
mod lists;
mod metrics;
mod notify;
mod reload;
mod rules;
mod run;
mod stats;
mod support;
mod tick;
mod tidy;
mod torrent;
