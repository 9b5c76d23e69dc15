//! `haldir plan` and `haldir apply`: the configuration against the live kernel, once.

use std::path::Path;
use std::process::ExitCode;

use crate::config;
use crate::health::verdict::HealthMap;
use crate::host::{Host, IpvsOutcome, Marks};
use crate::netfilter;
use crate::reconcile::desired::{self, Roles};

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

pub(super) fn plan(path: &Path) -> ExitCode {
    let Some(c) = load(path) else {
        return ExitCode::FAILURE;
    };
    let result = Host::open(&c).map(|mut host| host.plan(&desired_of(&c)));
    match result {
        Ok(None) => {
            println!("nothing to do: {} has nothing for IPVS", path.display());
            ExitCode::SUCCESS
        }
        Ok(Some(Ok(ops))) if ops.is_empty() => {
            println!("nothing to do: the kernel matches {}", path.display());
            ExitCode::SUCCESS
        }
        Ok(Some(Ok(ops))) => {
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
        Err(e) | Ok(Some(Err(e))) => {
            eprintln!("haldir: {e}");
            ExitCode::FAILURE
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Loads haldir's mark rules, or removes its table or chain when the configuration has none.
fn apply_marks(host: &mut Host, c: &config::Config) -> bool {
    match host.marks(c, true) {
        Ok(Marks::Loaded { rules, .. }) => {
            let (backend, table) = (&c.netfilter.backend, &c.netfilter.table);
            println!(
                "~ netfilter {backend} {table}: {rules} mark rule{}",
                plural(rules)
            );
            true
        }
        Ok(_) => true,
        Err(e) => {
            eprintln!("haldir: {e}");
            false
        }
    }
}

/// Sets up the real-server role, or undoes it when the configuration no longer has one.
fn apply_role(host: &Host, c: &config::Config) -> bool {
    let state_dir = &c.global.state_dir;
    let result = match &c.local_role() {
        Some(role) => host.set_up_role(role, state_dir).map(|()| {
            let n = role.vips.len();
            println!("~ real-server role {}: {n} VIP{}", role.mode, plural(n));
        }),
        None => host.undo_role(state_dir),
    };
    result.map_err(|e| eprintln!("haldir: {e}")).is_ok()
}

/// Prints what a pass did; whether it was clean.
fn report_ipvs(outcome: IpvsOutcome, c: &config::Config, path: &Path) -> bool {
    match outcome {
        None => true,
        Some(Ok(report)) => {
            for op in &report.applied {
                println!("{op}");
            }
            for (op, e) in &report.failed {
                eprintln!("failed: {op}: {e}");
            }
            if report.applied.is_empty() && report.failed.is_empty() && !netfilter::wanted(c) {
                println!("nothing to do: the kernel matches {}", path.display());
            }
            report.is_clean()
        }
        Some(Err(e)) => {
            eprintln!("haldir: {e}");
            false
        }
    }
}

/// Brings the host to the configuration once, as the daemon would with every real server up
/// and every instance master: the real-server role, the IPVS table, the mark rules.
pub(super) fn apply(path: &Path) -> ExitCode {
    let Some(c) = load(path) else {
        return ExitCode::FAILURE;
    };
    let mut host = match Host::open(&c) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("haldir: {e}");
            return ExitCode::FAILURE;
        }
    };
    let role_ok = apply_role(&host, &c);
    let ipvs_ok = report_ipvs(host.reconcile(desired_of(&c)), &c, path);
    let marks_ok = apply_marks(&mut host, &c);
    if role_ok && ipvs_ok && marks_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
