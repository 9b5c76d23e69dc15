//! keepalived's repeated lines (lib/parser.c): `~SEQ(var, [start,] [step,] end) line` and
//! `~LST({var…},{value…}…) line` give the line once for each value.

use super::numbers::strtol;

/// `~HEAD(args) rest` → (HEAD, args, rest); parentheses may nest (`~LST({a,b},{1,2})`).
pub(super) fn split_call(text: &str) -> Option<(&str, &str, &str)> {
    let open = text.find('(')?;
    let mut depth = 0;
    for (i, c) in text[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    let close = open + i;
                    return Some((
                        text[..open].trim(),
                        &text[open + 1..close],
                        text[close + 1..].trim(),
                    ));
                }
            }
            _ => {}
        }
    }
    None
}

/// The values of `~SEQ(var, [start,] [step,] end)`; the end is included.
pub(super) fn seq(args: &str) -> Result<(String, Vec<i64>), String> {
    let parts: Vec<&str> = args.split(',').map(str::trim).collect();
    let (var, nums) = parts
        .split_first()
        .ok_or_else(|| "~SEQ needs a variable".to_string())?;
    let nums: Vec<i64> = nums.iter().map(|n| strtol(n)).collect::<Result<_, _>>()?;
    let (start, step, end) = match nums.as_slice() {
        [end] => {
            let start = if *end < 0 { -1 } else { 1 };
            (start, if *end < start { -1 } else { 1 }, *end)
        }
        [start, end] => (*start, if start <= end { 1 } else { -1 }, *end),
        [start, step, end] => (*start, *step, *end),
        _ => {
            return Err(format!(
                "~SEQ({args}): expected (var, [start,] [step,] end)"
            ));
        }
    };
    if step == 0 || (step > 0 && start > end) || (step < 0 && start < end) {
        return Err(format!(
            "~SEQ({args}): the step does not lead from start to end"
        ));
    }
    let mut out = Vec::new();
    let mut v = start;
    while (step > 0 && v <= end) || (step < 0 && v >= end) {
        out.push(v);
        if out.len() > 100_000 {
            return Err(format!("~SEQ({args}) makes too many lines"));
        }
        v += step;
    }
    Ok((var.to_string(), out))
}

/// The rounds of `~LST(var, v1, v2, …)` or `~LST({a, b}, {1, 2}, {3, 4})`.
pub(super) fn lst(args: &str) -> Result<Vec<Vec<(String, String)>>, String> {
    let args = args.trim();
    if let Some(rest) = args.strip_prefix('{') {
        let groups: Vec<Vec<String>> = format!("{{{rest}")
            .split('}')
            .map(|g| g.trim().trim_start_matches(',').trim())
            .filter(|g| !g.is_empty())
            .map(|g| {
                g.trim_start_matches('{')
                    .split(',')
                    .map(|v| v.trim().to_string())
                    .collect()
            })
            .collect();
        let (vars, values) = groups
            .split_first()
            .ok_or_else(|| "~LST needs variables".to_string())?;
        if values.is_empty() {
            return Err(format!("~LST({args}) has no values"));
        }
        values
            .iter()
            .map(|vals| {
                if vals.len() > vars.len() {
                    return Err(format!("~LST({args}): more values than variables"));
                }
                Ok(vars
                    .iter()
                    .enumerate()
                    .map(|(i, var)| (var.clone(), vals.get(i).cloned().unwrap_or_default()))
                    .collect())
            })
            .collect()
    } else {
        let parts: Vec<&str> = args.split(',').map(str::trim).collect();
        match parts.split_first() {
            Some((var, values)) if !values.is_empty() => Ok(values
                .iter()
                .map(|v| vec![(var.to_string(), v.to_string())])
                .collect()),
            _ => Err(format!("~LST({args}) needs a variable and a value")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_strtol_does() {
        assert_eq!(strtol("0x10"), Ok(16));
        assert_eq!(strtol("010"), Ok(8));
        assert_eq!(strtol("-3"), Ok(-3));
        assert!(seq("V, 1, 0, 3").is_err());
    }
}
