//! haldir: a declarative high-availability L4 director for Linux — VRRP, health checks and
//! IPVS driven by one TOML file.
//!
//! The shape, module by module, is the "Layout" section of docs/development.md. In
//! short: [`config`] reads and validates the file; pure cores decide — [`reconcile`] (desired
//! state, diff, incremental updates), [`vrrp`] (codec, admission, state machine, GARP
//! schedule, sync groups), [`health::tracker`], `netfilter::rules`, `announce` (which VIPs
//! are offered to the routers); the edges act —
//! [`netlink`] (one socket type, rtnetlink messages), [`ipvs`], `host` (one orchestration
//! bringing the host to the configuration), `daemon` (the loop, with VRRP on its own thread)
//! and [`cli`].
//!
//! The public surface is what the binary, the integration tests, the benchmarks and the fuzz
//! targets use; everything else is `pub(crate)`, and `unreachable_pub` keeps it so.

#![warn(unreachable_pub)]

mod announce;
mod bird;
pub mod cli;
pub mod config;
mod control;
mod daemon;
mod email;
pub mod health;
mod host;
mod identity;
mod iface;
pub mod import;
pub mod ipvs;
mod logging;
mod netfilter;
pub mod netlink;
mod netns;
mod notify;
mod realserver;
pub mod reconcile;
mod security;
pub mod vrrp;
