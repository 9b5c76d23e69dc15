//! keepalived's reading of numbers (lib/parser.c read_unsigned_func, 2.2.7): leading blanks
//! skipped, then strtoul. A negative number, trailing characters, or a value out of range is
//! an error; where the keyword's handler passes `ignore_error` (non-strict builds, as Debian's),
//! a number with trailing characters still counts for its leading digits when they are in
//! range ("1.5" is 1).

/// The unsigned value keepalived takes from `text`, if any.
pub(super) fn unsigned(text: &str, min: u64, max: u64, ignore_error: bool) -> Option<u64> {
    let t = text.trim_start_matches([' ', '\t']);
    if t.starts_with('-') {
        return None;
    }
    let digits = t.strip_prefix('+').unwrap_or(t);
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    // strtoul reads nothing from a word without digits: 0, and the whole word is left over.
    let value: u64 = if end == 0 {
        0
    } else {
        digits[..end]
            .parse()
            .ok()
            .filter(|v| *v <= u64::from(u32::MAX))?
    };
    let in_range = (min..=max).contains(&value);
    let clean = end > 0 && end == digits.len();
    (in_range && (clean || ignore_error)).then_some(value)
}

/// A server's port as keepalived reads it (check/check_data.c alloc_vs and alloc_rs, then
/// lib/utils.c inet_stosockaddr): absent or all zeros is no port; anything else must read as
/// 1 to 65535 (with ignore_error), or keepalived skips the server ("Invalid … ip
/// address/port … - skipping"), which is `Err`.
pub(super) fn port(text: Option<&str>) -> Result<Option<u16>, ()> {
    match text {
        None => Ok(None),
        Some(t) if t.chars().all(|c| c == '0') => Ok(None),
        Some(t) => unsigned(t, 1, 65535, true)
            .and_then(|p| u16::try_from(p).ok())
            .map(Some)
            .ok_or(()),
    }
}

/// An address as keepalived reads one with lib/utils.c inet_stosockaddr (peers, sources,
/// virtual and real servers): "remove range and mask stuff", everything from the first '-'
/// or '/' on.
pub(super) fn sockaddr(text: &str) -> &str {
    text.find(['-', '/']).map_or(text, |i| &text[..i])
}

/// A number as C's strtol with base 0 reads it: 0x… hex, 0… octal, else decimal.
pub(super) fn strtol(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(h, 16)
    } else if body.len() > 1 && body.starts_with('0') {
        i64::from_str_radix(&body[1..], 8)
    } else {
        body.parse()
    }
    .map_err(|_| format!("\"{s}\" is not a number"))?;
    Ok(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::{port, unsigned};

    #[test]
    fn ports_read_as_keepalived_reads_them() {
        assert_eq!(port(None), Ok(None));
        assert_eq!(port(Some("000")), Ok(None));
        assert_eq!(port(Some("80")), Ok(Some(80)));
        assert_eq!(port(Some("80x")), Ok(Some(80)));
        assert_eq!(port(Some("65536")), Err(()));
        assert_eq!(port(Some("http")), Err(()));
    }

    #[test]
    fn numbers_read_as_keepalived_reads_them() {
        assert_eq!(unsigned("2", 1, 10, false), Some(2));
        assert_eq!(unsigned("  7", 1, 10, false), Some(7));
        assert_eq!(unsigned("-1", 0, 10, true), None);
        assert_eq!(unsigned("11", 1, 10, true), None);
        // Trailing characters: an error, but with ignore_error the leading digits count.
        assert_eq!(unsigned("2.5", 1, 10, false), None);
        assert_eq!(unsigned("2.5", 1, 10, true), Some(2));
        assert_eq!(unsigned("x", 0, 10, true), Some(0));
        assert_eq!(unsigned("x", 1, 10, true), None);
        assert_eq!(unsigned("4294967296", 0, u64::MAX, true), None);
    }
}
