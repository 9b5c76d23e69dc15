//! A configuration copied into fresh memory. Validation builds the model while the parsed
//! document is alive: each service's servers, names and checks end up between the document's
//! nodes, and once the document is freed they keep its pages resident, a few live bytes on
//! each (the figure is in docs/performance.md, "Figures behind the code's shape"). A copy
//! made after the document is gone is laid out side by side, and the original's pages can go
//! back to the system.

use std::sync::Arc;

use super::model::{Config, VirtualServer};

/// A deep copy of `config`: nothing shared with it, and the checks a service's servers share
/// still shared in the copy.
pub(crate) fn compacted(config: &Config) -> Config {
    let mut copy = config.clone();
    copy.virtual_servers = config
        .virtual_servers
        .iter()
        .map(|vs| Arc::new(service(vs)))
        .collect();
    copy
}

fn service(vs: &VirtualServer) -> VirtualServer {
    let mut copy = vs.clone();
    let own = vs.check.as_ref().map(|c| Arc::new((**c).clone()));
    for rs in &mut copy.real_servers {
        let Some(check) = &rs.check else { continue };
        let inherited = vs.check.as_ref().is_some_and(|c| Arc::ptr_eq(c, check));
        rs.check = Some(match (&own, inherited) {
            (Some(own), true) => own.clone(),
            _ => Arc::new((**check).clone()),
        });
    }
    copy.check = own;
    copy
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_config;

    #[test]
    fn equal_and_unshared_with_inherited_checks_still_shared() {
        let config = test_config(
            r#"
[[virtual_server]]
address = "10.0.0.1:80"
check = { type = "tcp" }
[[virtual_server.real_server]]
address = "10.0.1.1:80"
[[virtual_server.real_server]]
address = "10.0.1.2:80"
[[virtual_server.real_server]]
address = "10.0.1.3:80"
check = { type = "tcp", port = 8080 }
"#,
        );
        let copy = compacted(&config);
        assert_eq!(copy, config);
        let (old, new) = (&config.virtual_servers[0], &copy.virtual_servers[0]);
        assert!(!Arc::ptr_eq(old, new));
        let check = |vs: &VirtualServer, i: usize| vs.real_servers[i].check.clone().unwrap();
        assert!(!Arc::ptr_eq(&check(old, 0), &check(new, 0)));
        assert!(Arc::ptr_eq(&check(new, 0), &check(new, 1)));
        assert!(Arc::ptr_eq(&check(new, 0), new.check.as_ref().unwrap()));
        assert!(!Arc::ptr_eq(&check(new, 2), &check(new, 0)));
    }
}
