//! Server-sent events' data lines. The SSE format ends a line only at CR
//! or LF, which JSON always escapes; but NEL (U+0085) and the Unicode line
//! and paragraph separators (U+2028, U+2029) are legal raw in a JSON
//! string, and clients that split the stream with a Unicode-aware
//! `splitlines` (Python's, for one) cut an event's JSON in two there. So
//! they are sent escaped: the same JSON, one line on every client.

/// `json`, with NEL, LINE SEPARATOR and PARAGRAPH SEPARATOR escaped (they
/// can only occur inside its strings, where `\uXXXX` means the same).
pub fn line_safe(json: String) -> String {
    if !json.contains(['\u{85}', '\u{2028}', '\u{2029}']) {
        return json;
    }
    let mut escaped = String::with_capacity(json.len() + 12);
    for c in json.chars() {
        match c {
            '\u{85}' => escaped.push_str("\\u0085"),
            '\u{2028}' => escaped.push_str("\\u2028"),
            '\u{2029}' => escaped.push_str("\\u2029"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicode_line_breaks_are_escaped_and_the_json_means_the_same() {
        let text = "a\u{85}b\u{2028}c\u{2029}d é";
        let json = serde_json::json!({ "text": text }).to_string();
        let safe = line_safe(json.clone());
        assert_eq!(safe.lines().count(), 1);
        assert!(!safe.contains(['\u{85}', '\u{2028}', '\u{2029}']), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["text"], text);
        assert_eq!(line_safe("{\"plain\":1}".into()), "{\"plain\":1}");
    }
}
