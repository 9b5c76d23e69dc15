//! `haldir plan` and `haldir apply`: the configuration against the live kernel, once.

use std::path::Path;
use std::process::ExitCode;

use crate::config;
use crate::reconcile::Reconciler;
use crate::reconcile::desired::{self, HealthMap, Roles};

/// The configuration (as the daemon takes it: validated and trusted), with haldir in its
/// network namespace when it names one.
fn load(path: &Path) -> Option<config::Config> {
    match crate::security::load_checked(path) {
        Ok(l) => {
            if !l.warnings.is_empty() {
                eprintln!("{}", l.render_warnings());
            }
            if let Some(ns) = &l.config.global.net_namespace
                && let Err(e) = crate::netns::enter(ns)
            {
                eprintln!("{e}");
                return None;
            }
            Some(l.config)
        }
        Err(e) => {
            eprintln!("{e}");
            None
        }
    }
}

/// Real servers are taken as healthy and every VRRP instance as master: what the
/// configuration asks of the kernel when everything is up.
fn desired_of(c: &config::Config) -> desired::Desired {
    desired::desired(c, &HealthMap::default(), &Roles::All)
}

pub fn plan(path: &Path) -> ExitCode {
    let Some(c) = load(path) else {
        return ExitCode::FAILURE;
    };
    let result =
        Reconciler::new(c.global.state_dir.clone()).and_then(|mut r| r.plan(&desired_of(&c)));
    match result {
        Ok(ops) if ops.is_empty() => {
            println!("nothing to do: the kernel matches {}", path.display());
            ExitCode::SUCCESS
        }
        Ok(ops) => {
            for op in &ops {
                println!("{op}");
            }
            println!(
                "{} change{} pending",
                ops.len(),
                if ops.len() == 1 { "" } else { "s" }
            );
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("haldir: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Loads haldir's mark rules, or removes its table or chain when the configuration has none.
fn apply_netfilter(c: &config::Config) -> bool {
    let result = if crate::netfilter::wanted(c) {
        let rules = crate::netfilter::desired(c, true);
        crate::netfilter::apply(c, &rules).map(|()| {
            println!(
                "~ netfilter {} {}: {} mark rule{}",
                c.netfilter.backend,
                c.netfilter.table,
                rules.len(),
                if rules.len() == 1 { "" } else { "s" }
            )
        })
    } else {
        crate::netfilter::remove(c)
    };
    match result {
        Ok(()) => true,
        Err(e) => {
            eprintln!("haldir: {e}");
            false
        }
    }
}

/// Sets up the real-server role, or undoes it when the configuration no longer has one.
fn apply_realserver(c: &config::Config) -> bool {
    let result = match &c.realserver {
        Some(role) => crate::realserver::apply(role, &c.global.state_dir).map(|()| {
            println!(
                "~ real-server role {}: {} VIP{}",
                role.mode,
                role.vips.len(),
                if role.vips.len() == 1 { "" } else { "s" }
            )
        }),
        None => crate::realserver::remove(&c.global.state_dir),
    };
    result
        .map_err(|e| eprintln!("haldir: real-server role: {e}"))
        .is_ok()
}

pub fn apply(path: &Path) -> ExitCode {
    let Some(c) = load(path) else {
        return ExitCode::FAILURE;
    };
    let role_ok = apply_realserver(&c);
    if !crate::daemon::needs_ipvs(&c) {
        return if apply_netfilter(&c) && role_ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    let result =
        Reconciler::new(c.global.state_dir.clone()).and_then(|mut r| r.apply(&desired_of(&c)));
    match result {
        Ok(report) => {
            for op in &report.applied {
                println!("{op}");
            }
            for (op, e) in &report.failed {
                eprintln!("failed: {op}: {e}");
            }
            if report.applied.is_empty()
                && report.failed.is_empty()
                && !crate::netfilter::wanted(&c)
            {
                println!("nothing to do: the kernel matches {}", path.display());
            }
            let netfilter_ok = apply_netfilter(&c);
            if report.is_clean() && netfilter_ok && role_ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("haldir: {e}");
            ExitCode::FAILURE
        }
    }
}
