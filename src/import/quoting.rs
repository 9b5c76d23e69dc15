//! keepalived's second reading of a script line (lib/parser.c,
//! `alloc_strvec_quoted_escaped_common`): the words of a `script`, `notify*` or `misc_path`
//! line are read again from the raw text with single and double quotes, and the command
//! string once more with backslash escapes. The first reading (double quotes only) would split
//! `script 'killall -0 haproxy'` into three words where keepalived sees one.

/// The words of `src`: blanks separate them; `'…'` and `"…"` keep blanks inside a word (and
/// can start mid-word); a backslash takes the next character — decoded as C escapes when
/// `escapes` (keepalived's `\x41`, `\101`, `\cA`, `\n`, …), kept as written otherwise.
pub(super) fn quoted_words(src: &str, escapes: bool) -> Result<Vec<String>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut words = Vec::new();
    let mut i = 0;
    loop {
        while i < chars.len() && blank(chars[i]) {
            i += 1;
        }
        if i >= chars.len() {
            return Ok(words);
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while i < chars.len() {
            let c = chars[i];
            let special = match quote {
                Some(q) => c == q || c == '\\',
                None => blank(c) || c == '\'' || c == '"' || c == '\\',
            };
            i += 1;
            if !special {
                word.push(c);
            } else if c == '\\' {
                let Some(&next) = chars.get(i) else {
                    return Err(format!("missing escape character at the end of '{src}'"));
                };
                if escapes {
                    i = unescape(&chars, i, &mut word);
                } else {
                    word.push('\\');
                    word.push(next);
                    i += 1;
                }
            } else if quote.take().is_some() {
                // The closing quote.
            } else if c == '\'' || c == '"' {
                quote = Some(c);
            } else {
                break;
            }
        }
        if let Some(q) = quote {
            return Err(format!("string '{src}': missing terminating {q}"));
        }
        words.push(word);
    }
}

fn blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Decodes the escape whose letter is at `chars[i]`; returns the index after it.
fn unescape(chars: &[char], i: usize, out: &mut String) -> usize {
    let c = chars[i];
    let is_digit = |i: usize, radix: u32| chars.get(i).is_some_and(|d| d.is_digit(radix));
    if c == 'x' && is_digit(i + 1, 16) {
        return number(chars, i + 1, 16, 2, out);
    }
    if c == 'c' && i + 1 < chars.len() {
        out.push(byte(chars[i + 1] as u32 & 0x1f));
        return i + 2;
    }
    if is_digit(i, 8) {
        return number(chars, i, 8, 3, out);
    }
    out.push(match c {
        'a' => '\x07',
        'b' => '\x08',
        'E' => '\x1b',
        'f' => '\x0c',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'v' => '\x0b',
        other => other,
    });
    i + 1
}

/// Up to `max` digits in `radix` from `chars[i]` as one byte; returns the index after them.
fn number(chars: &[char], mut i: usize, radix: u32, max: usize, out: &mut String) -> usize {
    let mut v = 0u32;
    for _ in 0..max {
        match chars.get(i).and_then(|d| d.to_digit(radix)) {
            Some(d) => v = v * radix + d,
            None => break,
        }
        i += 1;
    }
    out.push(byte(v));
    i
}

/// One byte as C's `char` keeps it.
fn byte(v: u32) -> char {
    char::from((v & 0xff) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str, escapes: bool) -> Vec<String> {
        quoted_words(s, escapes).unwrap()
    }

    #[test]
    fn quotes_of_both_kinds_keep_blanks() {
        assert_eq!(
            words("script 'killall -0 haproxy'", false),
            ["script", "killall -0 haproxy"]
        );
        assert_eq!(
            words(r#"notify "/bin/x 'a b'" root root"#, false),
            ["notify", "/bin/x 'a b'", "root", "root"]
        );
        assert_eq!(words(r#"a"b c"d  e"#, false), ["ab cd", "e"]);
    }

    #[test]
    fn escapes_are_kept_then_decoded() {
        assert_eq!(words(r"a\ b", false), [r"a\ b"]);
        assert_eq!(words(r"a\ b", true), ["a b"]);
        assert_eq!(words(r"\x41\101\n\cA\q", true), ["AA\n\x01q"]);
        assert_eq!(
            words(r"/etc/k/notify.sh 'two words' a\ b plain", true),
            ["/etc/k/notify.sh", "two words", "a b", "plain"]
        );
    }

    #[test]
    fn unterminated_quotes_and_trailing_backslashes_are_errors() {
        assert!(quoted_words("script 'oops", false).is_err());
        assert!(quoted_words(r"script x\", true).is_err());
    }
}
