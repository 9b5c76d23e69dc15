//! The configuration reference, written from the JSON Schema that the configuration's own
//! types give (`haldir schema`): every table and key with its type and its documentation, so
//! the reference cannot drift from the code. `haldir man haldir.toml` renders it as
//! haldir.toml(5); `--markdown` as docs/reference.md. Pure: schema in, text out.

use serde_json::Value;

/// One table of the file: `[global]`, `[[virtual_server]]`, `[virtual_server.check]`, …
#[derive(Debug, PartialEq)]
pub(crate) struct Table {
    pub header: String,
    pub about: String,
    pub keys: Vec<Key>,
}

#[derive(Debug, PartialEq)]
pub(crate) struct Key {
    pub name: String,
    pub kind: String,
    pub about: String,
}

/// The tables in the order the schema gives them, each followed by those nested in it.
pub(crate) fn tables(schema: &Value) -> Vec<Table> {
    let mut out = Vec::new();
    let root = Table {
        header: "(top level)".into(),
        about: text(schema.get("description")),
        keys: Vec::new(),
    };
    out.push(root);
    walk(schema, schema, "", &mut out);
    out.retain(|t| !t.keys.is_empty() || !t.about.is_empty());
    out
}

fn walk(schema: &Value, object: &Value, path: &str, out: &mut Vec<Table>) {
    let Some(props) = object.get("properties").and_then(Value::as_object) else {
        return;
    };
    let at = out.len() - 1;
    let mut nested = Vec::new();
    for (name, prop) in props {
        match table_of(schema, prop) {
            Some((def, array)) => nested.push((name, def, array, prop)),
            None => out[at].keys.push(Key {
                name: name.clone(),
                kind: kind(schema, prop),
                about: about(schema, prop),
            }),
        }
    }
    for (name, def, array, prop) in nested {
        let full = if path.is_empty() {
            name.clone()
        } else {
            format!("{path}.{name}")
        };
        let header = if array {
            format!("[[{full}]]")
        } else {
            format!("[{full}]")
        };
        let mut about_text = text(prop.get("description"));
        if about_text.is_empty() {
            about_text = text(def.get("description"));
        }
        out.push(Table {
            header,
            about: about_text,
            keys: Vec::new(),
        });
        walk(schema, def, &full, out);
    }
}

/// The definition a property's table is, and whether it is an array of them.
fn table_of<'a>(schema: &'a Value, prop: &'a Value) -> Option<(&'a Value, bool)> {
    if let Some(items) = prop.get("items") {
        let def = resolve(schema, items)?;
        return is_object(def).then_some((def, true));
    }
    let def = resolve(schema, prop)?;
    is_object(def).then_some((def, false))
}

fn is_object(def: &Value) -> bool {
    def.get("properties").is_some()
}

/// A property's definition: its `$ref`, directly or as the non-null side of an `anyOf`.
fn resolve<'a>(schema: &'a Value, prop: &'a Value) -> Option<&'a Value> {
    if let Some(r) = prop.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/$defs/")?;
        return schema.get("$defs")?.get(name);
    }
    prop.get("anyOf")?
        .as_array()?
        .iter()
        .find(|v| v.get("$ref").is_some())
        .and_then(|v| resolve(schema, v))
}

/// A key's type as a reader wants it: "integer", "duration", "list of string",
/// "one of rr, wrr, …".
fn kind(schema: &Value, prop: &Value) -> String {
    if let Some(items) = prop.get("items") {
        return format!("list of {}", kind(schema, items));
    }
    if let Some(def) = resolve(schema, prop) {
        if let Some(e) = def.get("enum").and_then(Value::as_array) {
            let words: Vec<String> = e.iter().filter_map(Value::as_str).map(quote).collect();
            return format!("one of {}", words.join(", "));
        }
        return text(def.get("description"));
    }
    if let Some(e) = prop.get("enum").and_then(Value::as_array) {
        let words: Vec<String> = e.iter().filter_map(Value::as_str).map(quote).collect();
        return format!("one of {}", words.join(", "));
    }
    let types: Vec<&str> = match prop.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let types: Vec<&str> = types.into_iter().filter(|t| *t != "null").collect();
    if types.is_empty() {
        "value".into()
    } else {
        types.join(" or ")
    }
}

fn quote(s: &str) -> String {
    format!("\"{s}\"")
}

/// A key's documentation: its own, else its type's (when that is no mere type name).
fn about(schema: &Value, prop: &Value) -> String {
    let own = text(prop.get("description"));
    if !own.is_empty() {
        return own;
    }
    prop.get("items")
        .and_then(|i| resolve(schema, i))
        .map(|d| text(d.get("description")))
        .unwrap_or_default()
}

fn text(v: Option<&Value>) -> String {
    v.and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The reference as Markdown (docs/reference.md).
pub(crate) fn markdown(tables: &[Table]) -> String {
    let mut out = String::from(
        "# The configuration reference\n\nEvery table and key of `/etc/haldir/haldir.toml`, \
         written by `haldir man haldir.toml --markdown` from the configuration's own types \
         (the test suite fails when this page and the code differ). The guides explain \
         them; `haldir check --print` shows a file with its defaults filled in.\n",
    );
    for t in tables {
        out.push_str(&format!("\n## `{}`\n\n", t.header));
        if !t.about.is_empty() {
            out.push_str(&format!("{}\n\n", t.about));
        }
        if t.keys.is_empty() {
            continue;
        }
        out.push_str("| key | type | what it does |\n|---|---|---|\n");
        for k in &t.keys {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                k.name,
                cell(&k.kind),
                cell(&k.about)
            ));
        }
    }
    out
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The reference as a manual page, haldir.toml(5).
pub(crate) fn roff(tables: &[Table], version: &str) -> String {
    let mut out = format!(
        ".TH HALDIR.TOML 5 \"\" \"haldir {version}\" \"File formats\"\n\
         .SH NAME\nhaldir.toml \\- the configuration of haldir\n\
         .SH SYNOPSIS\n/etc/haldir/haldir.toml\n\
         .SH DESCRIPTION\nOne TOML file describes the virtual addresses, the IPVS services \
         and real servers behind them, their health checks and the mark rules. Unknown keys \
         are errors. \\fBhaldir check\\fR validates a file and names each error with its \
         file, line and column; \\fBhaldir check \\-\\-print\\fR shows it with its defaults.\n"
    );
    for t in tables {
        out.push_str(&format!(".SH \"{}\"\n", esc(&t.header)));
        if !t.about.is_empty() {
            out.push_str(&format!("{}\n", esc(&t.about)));
        }
        for k in &t.keys {
            out.push_str(&format!(
                ".TP\n\\fB{}\\fR ({})\n{}\n",
                esc(&k.name),
                esc(&k.kind),
                esc(&k.about)
            ));
        }
    }
    out.push_str(".SH SEE ALSO\nhaldir(1), keepalived.conf(5), ipvsadm(8)\n");
    out
}

/// Text safe in roff: backslashes and hyphens escaped, no line starting with a control
/// character.
fn esc(s: &str) -> String {
    let body = s.replace('\\', "\\e").replace('-', "\\-");
    body.lines()
        .map(|l| {
            if l.starts_with('.') || l.starts_with('\'') {
                format!("\\&{l}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_and_key_of_the_schema_is_in_the_reference() {
        let schema = serde_json::to_value(crate::config::json_schema()).unwrap();
        let t = tables(&schema);
        let headers: Vec<&str> = t.iter().map(|t| t.header.as_str()).collect();
        for h in [
            "[global]",
            "[[vrrp_instance]]",
            "[[virtual_server]]",
            "[virtual_server.check]",
            "[[virtual_server.real_server]]",
        ] {
            assert!(headers.contains(&h), "{h} missing from {headers:?}");
        }
        let vs = t.iter().find(|t| t.header == "[[virtual_server]]").unwrap();
        let scheduler = vs.keys.iter().find(|k| k.name == "scheduler").unwrap();
        assert!(scheduler.kind.contains("\"wlc\""), "{scheduler:?}");
        let vi = t.iter().find(|t| t.header == "[[vrrp_instance]]").unwrap();
        let names: Vec<&str> = vi.keys.iter().map(|k| k.name.as_str()).collect();
        assert!(names.contains(&"advert_interval"), "{names:?}");
        assert!(!names.contains(&"notify"), "a table, not a key: {names:?}");
    }

    #[test]
    fn the_manual_page_escapes_what_roff_would_read() {
        let t = vec![Table {
            header: "[x]".into(),
            about: ".starts with a dot".into(),
            keys: vec![Key {
                name: "a-b".into(),
                kind: "string".into(),
                about: "back\\slash".into(),
            }],
        }];
        let page = roff(&t, "1.0");
        assert!(page.contains("\\&.starts with a dot"), "{page}");
        assert!(page.contains("\\fBa\\-b\\fR"), "{page}");
        assert!(page.contains("back\\eslash"), "{page}");
    }
}
