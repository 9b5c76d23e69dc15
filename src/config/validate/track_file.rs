//! `[[track_file]]` and the instances' references to it (keepalived's track_file: the block
//! in trackers/track_file.c, the references in vrrp/vrrp_parser.c).

use std::collections::HashSet;
use std::path::PathBuf;

use super::super::leaf::Sp;
use super::super::model::{TrackFile, TrackFileInit, TrackFileRef, VrrpInstance};
use super::super::raw;
use super::super::source::{Diags, Loc};
use super::{Unique, int_or, or, req};

const WHAT: &str = "[[track_file]]";

pub(super) fn track_files(raw: &[Sp<raw::TrackFile>], d: &mut Diags) -> Vec<(Loc, TrackFile)> {
    let mut names = Unique::new("track_file name");
    let mut out = Vec::new();
    for sp in raw {
        let t = &sp.value;
        let name = req(&t.name, "name", WHAT, sp.loc, d);
        let file = path(t, sp.loc, d);
        // keepalived's range, narrower than its manual says (track_file.c).
        let weight = int_or(&t.weight, "weight", -254, 254, 1i16, d);
        let reverse = or(&t.reverse, "reverse", false, d);
        let init = t.init.as_ref().map(|i| TrackFileInit {
            value: int_or(
                &i.value.value,
                "value",
                i64::from(i32::MIN),
                i64::from(i32::MAX),
                0,
                d,
            ),
            overwrite: or(&i.value.overwrite, "overwrite", false, d),
        });
        if let (Some(name), Some(file)) = (name, file) {
            let at = t.name.as_ref().map_or(sp.loc, |n| n.loc());
            if names.insert(name.clone(), at, d) {
                out.push((
                    at,
                    TrackFile {
                        name,
                        file,
                        weight,
                        reverse,
                        init,
                    },
                ));
            }
        }
    }
    out
}

fn path(t: &raw::TrackFile, at: Loc, d: &mut Diags) -> Option<PathBuf> {
    let Some(l) = &t.file else {
        d.error(at, format!("{WHAT} needs `file`"));
        return None;
    };
    let path = PathBuf::from(l.get("file", d)?);
    if !path.is_absolute() || path.file_name().is_none() {
        d.error(l.loc(), "`file` must be an absolute path to a file");
        return None;
    }
    Some(path)
}

/// An instance's `track_file` entries, each naming a `[[track_file]]`; its weight and
/// `reverse` stand unless the entry gives its own.
pub(super) fn refs(
    raw: Option<&[Sp<raw::TrackFileRef>]>,
    files: &[(Loc, TrackFile)],
    d: &mut Diags,
) -> Vec<TrackFileRef> {
    let mut seen = Unique::new("track_file");
    let mut out = Vec::new();
    for sp in raw.unwrap_or(&[]) {
        let r = &sp.value;
        let weight = r
            .weight
            .as_ref()
            .and_then(|w| w.int_in::<i16>("weight", -254, 254, d));
        let reverse = r.reverse.as_ref().and_then(|l| l.get("reverse", d));
        let Some(name) = req(&r.name, "name", "each `track_file` entry", sp.loc, d) else {
            continue;
        };
        let at = r.name.as_ref().map_or(sp.loc, |n| n.loc());
        let Some((_, file)) = files.iter().find(|(_, f)| f.name == name) else {
            d.error(
                at,
                format!("track_file `{name}` is not one of the [[track_file]]s"),
            );
            continue;
        };
        if seen.insert(name.clone(), at, d) {
            out.push(TrackFileRef {
                name,
                file: file.file.clone(),
                weight: weight.unwrap_or(file.weight),
                reverse: reverse.unwrap_or(file.reverse),
            });
        }
    }
    out
}

pub(super) fn unused(raw: &[Sp<raw::TrackFile>], instances: &[(Loc, VrrpInstance)], d: &mut Diags) {
    let used: HashSet<&str> = instances
        .iter()
        .flat_map(|(_, i)| i.track_file.iter().map(|t| t.name.as_str()))
        .collect();
    super::warn_unused(raw.iter().map(|sp| &sp.value.name), &used, "track_file", d);
}
