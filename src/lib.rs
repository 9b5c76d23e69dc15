//! haldir: a declarative high-availability L4 director for Linux — VRRP, health checks and
//! IPVS driven by one TOML file.
//!
//! The shape, module by module, is the "Layout" section of docs/development.md. In
//! short: [`config`] reads and validates the file; pure cores decide — [`reconcile`] (desired
//! state, diff, incremental updates), [`vrrp`] (codec, admission, state machine, GARP
//! schedule, sync groups), [`health::tracker`], [`netfilter::rules`], [`announce`] (which VIPs
//! are offered to the routers); the edges act —
//! [`netlink`] (one socket type, rtnetlink messages), [`ipvs`], [`host`] (one orchestration
//! bringing the host to the configuration), [`daemon`] (the loop, with VRRP on its own thread)
//! and [`cli`].

pub mod announce;
pub mod bird;
pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
pub mod email;
pub mod health;
pub mod host;
pub mod identity;
pub mod iface;
pub mod import;
pub mod ipvs;
pub mod logging;
pub mod netfilter;
pub mod netlink;
pub mod netns;
pub mod notify;
pub mod realserver;
pub mod reconcile;
pub mod security;
pub mod vrrp;
