//! A service's quorum and hysteresis as keepalived settles them (check/check_parser.c
//! quorum_handler and hysteresis_handler, check/check_data.c validate_check_config, 2.2.7):
//! a quorum outside [1, 2^32-1] is taken as 1 (numbers as numbers.rs reads them), a hysteresis outside [0, 2^32-1] is ignored,
//! a quorum above the real servers' total weight is lowered to it ("reducing quorum"), and a
//! hysteresis not below the quorum becomes quorum - 1.

use super::emit::V;
use super::mapper::Mapper;
use super::numbers::unsigned;
use super::tree::Node;

impl Mapper {
    /// keepalived's quorum and hysteresis for service `n` whose real servers are `servers`
    /// (each one's keys, `weight` among them; 1 when absent), replacing those in `keys`.
    pub(super) fn quorum(
        &mut self,
        n: &Node,
        keys: &mut Vec<(String, V)>,
        servers: &[Vec<(String, V)>],
    ) {
        keys.retain(|(k, _)| k != "quorum" && k != "hysteresis");
        let last = |k: &str| n.children().iter().rfind(|c| c.key == k);
        let mut quorum = 1;
        if let Some(q) = last("quorum") {
            match q.arg(0).and_then(|v| unsigned(v, 1, u64::from(u32::MAX), true)) {
                Some(v) => quorum = v as i64,
                None => self.warn(q, "keepalived takes a quorum outside 1 to 4294967295 as 1 (\"Setting to 1\"), and so does this conversion"),
            }
        }
        let mut hysteresis = 0;
        if let Some(h) = last("hysteresis") {
            match h
                .arg(0)
                .and_then(|v| unsigned(v, 0, u64::from(u32::MAX), true))
            {
                Some(v) => hysteresis = v as i64,
                None => self.warn(
                    h,
                    "keepalived ignores a hysteresis outside 0 to 4294967295 and keeps 0",
                ),
            }
        }
        let total: i64 = servers
            .iter()
            .map(|s| {
                s.iter()
                    .find_map(|(k, v)| match (k.as_str(), v) {
                        ("weight", V::Int(w)) => Some(*w),
                        _ => None,
                    })
                    .unwrap_or(1)
            })
            .sum();
        let at = last("quorum").unwrap_or(n);
        if quorum > total {
            self.warn(at, &format!("keepalived lowers a quorum above the real servers' total weight to it (\"reducing quorum to {total}\"), and so does this conversion"));
            quorum = total;
        }
        if hysteresis >= quorum && (hysteresis > 0 || last("hysteresis").is_some()) {
            let h = (quorum - 1).max(0);
            self.warn(last("hysteresis").unwrap_or(at), &format!("keepalived sets a hysteresis not below the quorum to quorum - 1 (\"setting hysteresis to {h}\"), and so does this conversion"));
            hysteresis = h;
        }
        if quorum != 1 {
            keys.push(("quorum".into(), V::Int(quorum)));
        }
        if hysteresis != 0 {
            keys.push(("hysteresis".into(), V::Int(hysteresis)));
        }
    }
}
