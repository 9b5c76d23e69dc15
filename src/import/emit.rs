//! Writing the converted configuration as TOML text, with comments that say where each part
//! came from. Values are quoted by the toml crate, so any string survives the trip.

use std::fmt::Write;

use super::tree::Node;

/// A table's keys and values, in the order they are written.
pub(crate) type Keys = Vec<(String, V)>;

/// A TOML value as the converter writes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum V {
    Str(String),
    Int(i64),
    Bool(bool),
    Arr(Vec<V>),
    /// An inline table, keys in the order given.
    Table(Vec<(String, V)>),
}

impl V {
    pub(crate) fn str(s: impl Into<String>) -> V {
        V::Str(s.into())
    }

    pub(crate) fn strs<S: AsRef<str>>(items: &[S]) -> V {
        V::Arr(items.iter().map(|s| V::str(s.as_ref())).collect())
    }

    fn render(&self, out: &mut String) {
        match self {
            V::Str(s) => out.push_str(&toml::Value::String(s.clone()).to_string()),
            V::Int(n) => {
                let _ = write!(out, "{n}");
            }
            V::Bool(b) => {
                let _ = write!(out, "{b}");
            }
            V::Arr(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.render(out);
                }
                out.push(']');
            }
            V::Table(kv) => {
                out.push_str("{ ");
                for (i, (k, v)) in last_of_each(kv).into_iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    let _ = write!(out, "{k} = ");
                    v.render(out);
                }
                out.push_str(" }");
            }
        }
    }
}

/// The document being written, with the keepalived block each of its lines came from (for
/// [`super::repair`], which leaves out what haldir refuses and says where it was written).
#[derive(Debug, Default)]
pub(crate) struct Doc {
    text: String,
    /// The keepalived block of each line written so far (`None` for the file's own comments).
    origins: Vec<Option<Node>>,
    current: Option<Node>,
}

impl Doc {
    pub(crate) fn comment(&mut self, text: &str) {
        for line in text.lines() {
            let _ = writeln!(self.text, "# {}", printable(line));
        }
        self.mark();
    }

    /// A table header (`[global]`, `[[vrrp_instance]]`), after a blank line; its keys come
    /// from the block the previous header named.
    pub(crate) fn header(&mut self, header: &str) {
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        let _ = writeln!(self.text, "{header}");
        self.mark();
    }

    /// A table header whose keys come from keepalived's block `from`.
    pub(crate) fn header_from(&mut self, header: &str, from: &Node) {
        self.origin_block(from);
        self.header(header);
    }

    /// What is written next comes from keepalived's block `from`.
    pub(crate) fn origin_block(&mut self, from: &Node) {
        self.mark();
        self.current = Some(from.clone());
    }

    /// Records the origin of every line written since the last mark.
    fn mark(&mut self) {
        let lines = self.text.lines().count();
        while self.origins.len() < lines {
            self.origins.push(self.current.clone());
        }
    }

    /// The text and each line's origin.
    pub(crate) fn finish_with_origins(mut self) -> (String, Vec<Option<Node>>) {
        self.mark();
        (self.text, self.origins)
    }

    /// Every key of a table; a key keepalived saw twice is written once, with the later value
    /// (keepalived keeps the last).
    pub(crate) fn set_all(&mut self, keys: &[(String, V)]) {
        for (k, v) in last_of_each(keys) {
            self.set(k, v);
        }
    }

    pub(crate) fn set(&mut self, key: &str, value: &V) {
        let _ = write!(self.text, "{key} = ");
        value.render(&mut self.text);
        self.text.push('\n');
        self.mark();
    }

    /// `key = value   # note`
    #[cfg(test)]
    pub(crate) fn set_noted(&mut self, key: &str, value: &V, note: &str) {
        let _ = write!(self.text, "{key} = ");
        value.render(&mut self.text);
        let _ = writeln!(self.text, "   # {}", printable(note));
        self.mark();
    }

    #[cfg(test)]
    pub(crate) fn finish(self) -> String {
        self.text
    }
}

/// Text a TOML comment may hold: control characters (found by fuzzing, from the input's
/// addresses and names) become U+FFFD.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

/// Each key once, at its first place, with its last value.
fn last_of_each(keys: &[(String, V)]) -> Vec<(&str, &V)> {
    let mut out: Vec<(&str, &V)> = Vec::with_capacity(keys.len());
    for (k, v) in keys {
        match out.iter_mut().find(|(o, _)| o == k) {
            Some(slot) => slot.1 = v,
            None => out.push((k, v)),
        }
    }
    out
}

/// A keepalived timer (seconds, fractions allowed) as a haldir duration: whole seconds as
/// "Ns", anything else in milliseconds.
pub(crate) fn duration(secs: &str) -> Option<String> {
    let v: f64 = secs.trim().parse().ok()?;
    if !(0.0..=1e9).contains(&v) {
        return None;
    }
    let ms = (v * 1000.0).round() as u64;
    Some(if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_render_as_toml() {
        let mut d = Doc::default();
        d.header("[[x]]");
        d.set("s", &V::str("a \"quoted\" \\ word"));
        d.set(
            "t",
            &V::Table(vec![
                ("name".into(), V::str("n")),
                ("weight".into(), V::Int(-30)),
            ]),
        );
        d.set("a", &V::strs(&["/bin/sh", "-c", "x"]));
        let text = d.finish();
        let parsed: toml::Table = text.parse().unwrap();
        let x = &parsed["x"][0];
        assert_eq!(x["s"].as_str(), Some("a \"quoted\" \\ word"));
        assert_eq!(x["t"]["weight"].as_integer(), Some(-30));
        assert_eq!(x["a"][2].as_str(), Some("x"));
    }

    #[test]
    fn a_key_given_twice_is_written_once_with_the_last_value() {
        // Found by fuzzing: keepalived keeps the last of a repeated statement; TOML refuses
        // duplicate keys.
        let mut d = Doc::default();
        d.header("[[x]]");
        let keys = vec![
            ("a".to_string(), V::Bool(true)),
            ("b".to_string(), V::Int(1)),
            ("a".to_string(), V::Bool(false)),
        ];
        d.set_all(&keys);
        d.set("t", &V::Table(keys));
        let parsed: toml::Table = d.finish().parse().unwrap();
        assert_eq!(parsed["x"][0]["a"].as_bool(), Some(false));
        assert_eq!(parsed["x"][0]["t"]["a"].as_bool(), Some(false));
    }

    #[test]
    fn comments_stay_comments_whatever_the_input() {
        let mut d = Doc::default();
        d.comment("10.0.0.1\u{b} port\u{7f} 80\r");
        d.set_noted("k", &V::Int(1), "a\u{0}b");
        let text = d.finish();
        assert!(text.parse::<toml::Table>().is_ok(), "{text:?}");
    }

    #[test]
    fn timers_become_durations() {
        assert_eq!(duration("3").as_deref(), Some("3s"));
        assert_eq!(duration("0.5").as_deref(), Some("500ms"));
        assert_eq!(duration("2.71828").as_deref(), Some("2718ms"));
        assert_eq!(duration("x"), None);
    }
}
