//! What tracked interfaces and scripts do to an instance, keepalived's way: a tracked object
//! without a weight puts the instance in FAULT while it is down; with a weight W, a positive W
//! is added to the priority while it is up and a negative W while it is down. The address
//! owner's priority (255) is never changed; any other stays within 1..=254.

/// One tracked object and what is known of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tracked {
    pub name: String,
    pub weight: Option<i16>,
    pub up: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Tracking {
    pub interfaces: Vec<Tracked>,
    pub scripts: Vec<Tracked>,
}

impl Tracking {
    /// Whether the instance must be in FAULT, and its effective priority.
    pub(crate) fn evaluate(&self, base: u8) -> (bool, u8) {
        let all = self.interfaces.iter().chain(&self.scripts);
        let fault = all.clone().any(|t| t.weight.is_none() && !t.up);
        if base == 255 {
            return (fault, 255);
        }
        let delta: i32 = all
            .filter_map(|t| match t.weight {
                Some(w) if w > 0 && t.up => Some(i32::from(w)),
                Some(w) if w < 0 && !t.up => Some(i32::from(w)),
                _ => None,
            })
            .sum();
        (fault, (i32::from(base) + delta).clamp(1, 254) as u8)
    }

    /// Records a change; true when something changed.
    pub(crate) fn set(list: &mut [Tracked], name: &str, up: bool) -> bool {
        let mut changed = false;
        for t in list.iter_mut().filter(|t| t.name == name) {
            changed |= t.up != up;
            t.up = up;
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, weight: Option<i16>, up: bool) -> Tracked {
        Tracked {
            name: name.into(),
            weight,
            up,
        }
    }

    #[test]
    fn weights_and_faults() {
        let mut tr = Tracking {
            interfaces: vec![t("eth0", Some(-50), true), t("eth1", None, true)],
            scripts: vec![t("nginx", Some(-30), true), t("bonus", Some(20), true)],
        };
        assert_eq!(
            tr.evaluate(150),
            (false, 170),
            "+20 while the bonus script is up"
        );
        Tracking::set(&mut tr.scripts, "nginx", false);
        assert_eq!(tr.evaluate(150), (false, 140));
        Tracking::set(&mut tr.interfaces, "eth0", false);
        assert_eq!(tr.evaluate(150), (false, 90));
        Tracking::set(&mut tr.interfaces, "eth1", false);
        assert!(tr.evaluate(150).0, "an unweighted interface down: FAULT");
        assert_eq!(tr.evaluate(40), (true, 1), "never below 1");
        assert_eq!(tr.evaluate(255), (true, 255), "the owner keeps 255");
        assert!(
            !Tracking::set(&mut tr.interfaces, "eth1", false),
            "no change"
        );
    }
}
