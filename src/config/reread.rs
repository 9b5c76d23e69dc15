//! Reading a changed file by what changed. A reload of a large file usually changes one
//! `[[virtual_server]]` block; parsing and validating the whole file again cost a 10,000-server
//! director most of its reload. When the file last accepted was one file that loaded without a
//! word, the new text is cut into blocks ([`super::blocks`]): if only virtual-server blocks
//! differ, the rest of the file and those blocks alone are parsed, and the unchanged services
//! are taken over as they were validated. Validation still sees every service (duplicates,
//! references from `[[fwmark]]` and `[[announce]]`). Whenever this path has anything to say —
//! an error, a warning, a text it does not follow — it steps aside and the file is read whole,
//! so every message is the full read's, with its exact location.

use std::path::Path;
use std::sync::Arc;

use super::blocks::{self, Block, Kind};
use super::model::Config;
use super::source::{Diags, SourceMap};
use super::validate::{self, ServiceSlot};
use super::{Loaded, include};

/// The text of the file last accepted and its blocks; with the configuration it gave, what
/// a reload can reuse. The text is kept compressed: it is read only at a reload, and a large
/// file would otherwise stay resident for nothing (docs/performance.md).
#[derive(Debug, Clone)]
pub struct Basis {
    packed: Arc<[u8]>,
    blocks: Arc<[Block]>,
}

/// A basis unpacked for a reload.
struct Old<'a> {
    text: &'a str,
    blocks: &'a [Block],
}

impl Basis {
    fn new(text: &str, blocks: Vec<Block>) -> Basis {
        Basis {
            packed: lz4_flex::compress_prepend_size(text.as_bytes()).into(),
            blocks: blocks.into(),
        }
    }

    /// The text last accepted; None if it does not unpack (it always should: it was packed
    /// here), and the file is then read whole.
    fn text(&self) -> Option<String> {
        let bytes = lz4_flex::decompress_size_prepended(&self.packed).ok()?;
        String::from_utf8(bytes).ok()
    }

    /// Only a single file that loaded without a warning can be reused.
    pub fn of(loaded: &Loaded) -> Option<Basis> {
        if loaded.sources.len() != 1 || !loaded.warnings.is_empty() {
            return None;
        }
        let text = loaded.sources.text(super::source::FileId(0));
        let blocks = blocks::split(text)?;
        Some(Basis::new(text, blocks))
    }
}

/// Reads the file at `path`: by its changed virtual servers when `since` (the basis and the
/// configuration it gave) allows, else whole. Also returns the basis for the next reload.
/// A file read by its changes has nothing to report: its source map names the file without
/// its text, which is kept once, in the basis (800 kB copied twice cost a 10,000-server
/// reload milliseconds of page faults in the lab VM).
pub fn load(
    path: &Path,
    since: Option<(&Basis, &Config)>,
) -> Result<(Loaded, Option<Basis>), super::LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| super::LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if let Some((config, blocks)) =
        since.and_then(|(basis, config)| reread(path, basis, config, &text))
    {
        tracing::debug!(
            services = config.virtual_servers.len(),
            "configuration read by its changed services"
        );
        let mut sources = SourceMap::default();
        sources.add(path.to_path_buf(), String::new());
        let loaded = Loaded {
            config,
            warnings: Vec::new(),
            sources,
        };
        let next = Basis::new(&text, blocks);
        return Ok((loaded, Some(next)));
    }
    let loaded = super::load_text(path, text)?;
    let basis = Basis::of(&loaded);
    Ok((loaded, basis))
}

/// The new text read by its changed virtual servers: its configuration and its blocks;
/// `None` when it must be read whole. `config` is what the basis gave.
pub fn reread(
    path: &Path,
    basis: &Basis,
    config: &Config,
    text: &str,
) -> Option<(Config, Vec<Block>)> {
    let old = basis.text()?;
    let basis = Old {
        text: &old,
        blocks: &basis.blocks,
    };
    let aligned = align(&basis, text)?;
    let plan = plan(&basis, &aligned, text)?;
    let mut sources = SourceMap::default();
    let mut diags = Diags::default();
    let doc = include::read_text(path, plan.text, &mut sources, &mut diags);
    if doc.virtual_server.as_ref().map_or(0, Vec::len) != plan.written {
        return None;
    }
    let written = doc.virtual_server.as_deref().unwrap_or(&[]);
    let slots = plan
        .services
        .iter()
        .map(|s| match *s {
            Slot::Kept(i) => config.virtual_servers.get(i).map(ServiceSlot::Kept),
            Slot::Written(j) => written.get(j).map(ServiceSlot::Written),
        })
        .collect::<Option<Vec<_>>>()?;
    let config = validate::validate_with(&doc, &super::host_name(), &mut diags, slots);
    match (config, diags.finish().is_empty()) {
        (Some(config), true) => Some((config, aligned.blocks)),
        _ => None,
    }
}

/// The blocks of the new text, and how they pair with the old: the old blocks before
/// `first` and from `rest` on are in the new text unchanged (moved, after `first`); between
/// them, old blocks `first..rest` became new blocks `first..first + found`. Only that stretch
/// of the new text is scanned.
struct Aligned {
    blocks: Vec<Block>,
    first: usize,
    rest: usize,
    found: usize,
}

fn align(basis: &Old, text: &str) -> Option<Aligned> {
    let old = basis.text.as_bytes();
    let new = text.as_bytes();
    let prefix = common_prefix(old, new);
    let suffix = common_suffix(old, new, old.len().min(new.len()) - prefix);
    // The first block that may differ: the one that starts before the first difference (so
    // at the same place in both texts) and reaches it. A block that ends right at the
    // difference counts, since what was inserted there may belong to it.
    let first = basis
        .blocks
        .partition_point(|b| b.start < prefix)
        .saturating_sub(1);
    let from = basis.blocks.get(first)?.start;
    // An empty root shares its start with the first header: scanning from 0 finds both.
    let first = if from == 0 { 0 } else { first };
    // A block start inside the common end that was a block start in the old text: from there
    // on both texts, and so their blocks, are the same.
    let old_index = |at: usize| {
        (at + old.len())
            .checked_sub(new.len())
            .and_then(|o| basis.blocks.binary_search_by_key(&o, |b| b.start).ok())
    };
    let (found, stopped) = blocks::split_from(text, from, |at| {
        at >= new.len() - suffix && old_index(at).is_some()
    })?;
    let rest = match stopped {
        Some(at) => old_index(at)?,
        None => basis.blocks.len(),
    };
    let mut aligned = Aligned {
        blocks: basis.blocks[..first].to_vec(),
        first,
        rest,
        found: found.len(),
    };
    aligned.blocks.extend(found);
    aligned
        .blocks
        .extend(basis.blocks[rest..].iter().map(|b| Block {
            start: b.start + new.len() - old.len(),
            kind: b.kind,
        }));
    Some(aligned)
}

/// Compared a block at a time: a slice comparison is a memcmp, where byte by byte 800 kB
/// took milliseconds.
const STEP: usize = 256;

/// How many bytes the two texts share at their start.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let len = a.len().min(b.len());
    let mut i = 0;
    while i + STEP <= len && a[i..i + STEP] == b[i..i + STEP] {
        i += STEP;
    }
    i + a[i..len]
        .iter()
        .zip(&b[i..len])
        .take_while(|(x, y)| x == y)
        .count()
}

/// How many bytes, `limit` at most, the two texts share at their end.
fn common_suffix(a: &[u8], b: &[u8], limit: usize) -> usize {
    let (m, n) = (a.len(), b.len());
    let mut i = 0;
    while i + STEP <= limit && a[m - i - STEP..m - i] == b[n - i - STEP..n - i] {
        i += STEP;
    }
    i + a[..m - i]
        .iter()
        .rev()
        .zip(b[..n - i].iter().rev())
        .take(limit - i)
        .take_while(|(x, y)| x == y)
        .count()
}

enum Slot {
    /// The i-th service of the configuration last accepted.
    Kept(usize),
    /// The j-th service of the partial text.
    Written(usize),
}

struct Plan {
    /// Every block but the unchanged services.
    text: String,
    written: usize,
    services: Vec<Slot>,
}

/// What to parse and what to keep. Blocks that are not services must be the same in both
/// texts (in the changed stretch, the same list of them); every service in the changed
/// stretch is parsed, the others are kept.
fn plan(basis: &Old, a: &Aligned, text: &str) -> Option<Plan> {
    let old_text = |i: usize| {
        basis
            .text
            .get(basis.blocks[i].start..blocks::end(basis.blocks, i, basis.text.len()))
    };
    let new_text = |i: usize| text.get(a.blocks[i].start..blocks::end(&a.blocks, i, text.len()));
    let old_others: Vec<&str> = (a.first..a.rest)
        .filter(|&i| basis.blocks[i].kind == Kind::Other)
        .map(old_text)
        .collect::<Option<_>>()?;
    let new_others: Vec<&str> = (a.first..a.first + a.found)
        .filter(|&i| a.blocks[i].kind == Kind::Other)
        .map(new_text)
        .collect::<Option<_>>()?;
    if old_others != new_others {
        return None;
    }
    // The index among the old services of each old block that is one.
    let mut old_service = Vec::with_capacity(basis.blocks.len());
    let mut n = 0;
    for b in basis.blocks.iter() {
        old_service.push(n);
        n += usize::from(b.kind == Kind::Service);
    }
    let mut plan = Plan {
        text: String::new(),
        written: 0,
        services: Vec::new(),
    };
    for (i, block) in a.blocks.iter().enumerate() {
        match block.kind {
            Kind::Other => plan.text.push_str(new_text(i)?),
            Kind::Service if (a.first..a.first + a.found).contains(&i) => {
                plan.text.push_str(new_text(i)?);
                plan.services.push(Slot::Written(plan.written));
                plan.written += 1;
            }
            Kind::Service => {
                let old_block = if i < a.first {
                    i
                } else {
                    i - a.first - a.found + a.rest
                };
                plan.services.push(Slot::Kept(*old_service.get(old_block)?));
            }
        }
    }
    Some(plan)
}

#[cfg(test)]
mod tests {
    use super::{Basis, common_prefix, common_suffix};

    #[test]
    fn a_basis_gives_back_its_text_in_less_room() {
        let text: String = (0..1000)
            .map(|i| {
                format!(
                    "[[virtual_server]]\naddress = \"10.0.{}.{}:80\"\n",
                    i / 250,
                    i % 250
                )
            })
            .collect();
        let blocks = super::blocks::split(&text).unwrap();
        let basis = Basis::new(&text, blocks);
        assert_eq!(basis.text().as_deref(), Some(text.as_str()));
        assert!(
            basis.packed.len() * 4 < text.len(),
            "{} bytes",
            basis.packed.len()
        );
    }

    #[test]
    fn shared_start_and_end_across_block_sizes() {
        for len in [0usize, 1, 255, 256, 257, 1000] {
            let a: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            assert_eq!(common_prefix(&a, &a), len);
            assert_eq!(common_suffix(&a, &a, len), len);
            for at in [0, len / 3, len.saturating_sub(1)]
                .into_iter()
                .filter(|&x| x < len)
            {
                let mut b = a.clone();
                b[at] ^= 0xff;
                assert_eq!(common_prefix(&a, &b), at);
                assert_eq!(common_suffix(&a, &b, len), len - 1 - at);
                b.insert(at, b'x');
                assert_eq!(common_prefix(&a, &b), at);
                assert_eq!(common_suffix(&a, &b, len - at), len - 1 - at);
            }
        }
        assert_eq!(common_suffix(b"abc", b"zbc", 1), 1);
    }
}
