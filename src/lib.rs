//! haldir: a declarative high-availability L4 director for Linux — VRRP, health checks and
//! IPVS driven by one TOML file.

pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
pub mod email;
pub mod health;
pub mod host;
pub mod identity;
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
