//! What tracked interfaces and scripts do to an instance, keepalived's way: a tracked object
//! without a weight puts the instance in FAULT while it is down; with a weight W, a positive W
//! is added to the priority while it is up and a negative W while it is down. The address
//! owner's priority (255) is never changed; any other stays within 1..=254. A tracked file
//! adds its value times its weight (trackers/track_file.c, update_track_file_status and
//! process_update_vrrp_track_file_status): clipped to -254..=253, where -254 means FAULT; with
//! weight 0, any value but 0 is a FAULT (0 is, with `reverse`).

/// One tracked object and what is known of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tracked {
    pub name: String,
    pub weight: Option<i16>,
    pub up: bool,
}

/// One tracked file and the value last read from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TrackedFile {
    pub name: String,
    pub weight: i16,
    pub reverse: bool,
    pub value: i64,
}

/// What a tracked file does to the instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileEffect {
    Fault,
    Add(i32),
}

impl TrackedFile {
    fn effect(&self) -> FileEffect {
        if self.weight == 0 {
            return match (self.value != 0) != self.reverse {
                true => FileEffect::Fault,
                false => FileEffect::Add(0),
            };
        }
        let sign = if self.reverse { -1 } else { 1 };
        let product = self
            .value
            .saturating_mul(i64::from(self.weight))
            .saturating_mul(sign);
        match product.clamp(-254, 253) {
            -254 => FileEffect::Fault,
            p => FileEffect::Add(p as i32),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Tracking {
    pub interfaces: Vec<Tracked>,
    pub scripts: Vec<Tracked>,
    pub files: Vec<TrackedFile>,
}

impl Tracking {
    /// Whether the instance must be in FAULT, and its effective priority.
    pub(crate) fn evaluate(&self, base: u8) -> (bool, u8) {
        let all = self.interfaces.iter().chain(&self.scripts);
        let effects = self.files.iter().map(TrackedFile::effect);
        let fault = all.clone().any(|t| t.weight.is_none() && !t.up)
            || effects.clone().any(|e| e == FileEffect::Fault);
        if base == 255 {
            return (fault, 255);
        }
        let delta: i32 = all
            .filter_map(|t| match t.weight {
                Some(w) if w > 0 && t.up => Some(i32::from(w)),
                Some(w) if w < 0 && !t.up => Some(i32::from(w)),
                _ => None,
            })
            .chain(effects.filter_map(|e| match e {
                FileEffect::Add(n) => Some(n),
                FileEffect::Fault => None,
            }))
            .sum();
        (fault, (i32::from(base) + delta).clamp(1, 254) as u8)
    }

    /// Records a tracked file's new value; true when something changed.
    pub(crate) fn set_file(&mut self, name: &str, value: i64) -> bool {
        let mut changed = false;
        for t in self.files.iter_mut().filter(|t| t.name == name) {
            changed |= t.value != value;
            t.value = value;
        }
        changed
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

    fn file(weight: i16, reverse: bool, value: i64) -> Tracking {
        Tracking {
            files: vec![TrackedFile {
                name: "f".into(),
                weight,
                reverse,
                value,
            }],
            ..Tracking::default()
        }
    }

    #[test]
    fn a_tracked_file_adds_value_times_weight_as_keepalived_does() {
        // trackers/track_file.c: value × weight × (reverse ? -1 : 1), clipped to -254..253
        // (-254: FAULT); weight 0: a non-zero value is a FAULT (a zero one, with reverse).
        assert_eq!(file(-20, false, 3).evaluate(150), (false, 90));
        assert_eq!(file(-20, false, -2).evaluate(150), (false, 190));
        assert_eq!(file(-20, true, 3).evaluate(150), (false, 210));
        assert_eq!(
            file(-20, false, 12).evaluate(150),
            (false, 1),
            "-240: clamped to 1"
        );
        assert!(file(-20, false, 13).evaluate(150).0, "-260 → -254: FAULT");
        assert_eq!(
            file(20, false, 13).evaluate(150),
            (false, 254),
            "+253 at most"
        );
        assert_eq!(file(0, false, 0).evaluate(150), (false, 150));
        assert!(file(0, false, 7).evaluate(150).0);
        assert!(file(0, true, 0).evaluate(150).0, "reverse: 0 is the FAULT");
        assert_eq!(file(0, true, 7).evaluate(150), (false, 150));
        assert_eq!(
            file(-20, false, 3).evaluate(255),
            (false, 255),
            "the owner's stays"
        );
        let mut tr = file(-20, false, 0);
        assert!(tr.set_file("f", 5));
        assert!(!tr.set_file("f", 5), "the same value changes nothing");
        assert_eq!(tr.evaluate(150), (false, 50));
    }

    #[test]
    fn weights_and_faults() {
        let mut tr = Tracking {
            interfaces: vec![t("eth0", Some(-50), true), t("eth1", None, true)],
            scripts: vec![t("nginx", Some(-30), true), t("bonus", Some(20), true)],
            files: Vec::new(),
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
