//! Go standard-library conventions that show through Juju's hook tools: the
//! `%q` quoting in error texts and `strconv.ParseBool` for boolean flags.
//! Reproducing them keeps error messages byte-identical to Juju's, which
//! matters to charms (and ops) that match on stderr.

/// Quotes `s` the way Go's `%q` verb does for strings.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Quotes a list the way Go's `%q` prints a `[]string`: `["a" "b"]`.
pub(crate) fn quote_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| quote(item)).collect();
    format!("[{}]", quoted.join(" "))
}

/// Parses a boolean like Go's `strconv.ParseBool`, returning Go's error text.
pub(crate) fn parse_bool(value: &str) -> Result<bool, String> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!(
            "strconv.ParseBool: parsing {}: invalid syntax",
            quote(value)
        )),
    }
}

/// Turns an I/O error into Go's `*PathError` wording, e.g.
/// `open x.yaml: no such file or directory`.
pub(crate) fn path_error(op: &str, path: &str, error: &std::io::Error) -> String {
    let text = error.to_string();
    // Rust appends " (os error N)" and capitalises; Go does neither.
    let text = match text.find(" (os error ") {
        Some(index) => text[..index].to_owned(),
        None => text,
    };
    let mut chars = text.chars();
    let text = match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text,
    };
    format!("{op} {path}: {text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_escapes_like_go() {
        assert_eq!(quote("plain"), "\"plain\"");
        assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(quote("line\nnext\ttab"), "\"line\\nnext\\ttab\"");
        assert_eq!(quote("\u{1}"), "\"\\x01\"");
        assert_eq!(quote("héllo"), "\"héllo\"");
    }

    #[test]
    fn quote_list_matches_go_slice_format() {
        assert_eq!(quote_list(&["a".into(), "b c".into()]), "[\"a\" \"b c\"]");
        assert_eq!(quote_list(&[]), "[]");
    }

    #[test]
    fn parse_bool_accepts_go_spellings_only() {
        for yes in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_bool(yes), Ok(true), "{yes}");
        }
        for no in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_bool(no), Ok(false), "{no}");
        }
        assert_eq!(
            parse_bool("yes"),
            Err("strconv.ParseBool: parsing \"yes\": invalid syntax".to_owned())
        );
    }

    #[test]
    fn path_error_reads_like_go() {
        let error = std::io::Error::from(std::io::ErrorKind::NotFound);
        let from_os = std::io::Error::from_raw_os_error(2);
        assert_eq!(
            path_error("open", "x.yaml", &from_os),
            "open x.yaml: no such file or directory"
        );
        assert!(path_error("open", "y", &error).starts_with("open y: "));
    }
}
