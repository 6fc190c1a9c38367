//! Escaping user-controlled text before it reaches a terminal. File
//! names, scenario names and descriptions come from users; printed raw, a
//! name holding `ESC [ 3 1 m`, a carriage return or a newline could recolor
//! the terminal, overwrite what was printed or forge a line. Every message
//! the CLI prints goes through [`printable_text`] (control characters
//! other than newline and tab escaped), and paths through [`path`] (every
//! control character escaped, newlines too), so a path is always one
//! visible token.

use std::borrow::Cow;
use std::fmt::Write;
use std::path::Path;

/// Characters shown escaped: C0 and C1 controls, DEL, and the Unicode
/// bidirectional overrides (which reorder what a terminal shows).
fn hostile(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn escape_where(s: &str, bad: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(&bad) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if bad(c) {
            // Rust's escapes: `\n`, `\t`, `\r`, `\0`, `\u{1b}`.
            let _ = write!(out, "{}", c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `s` with every control character (newlines included) escaped: for a
/// single value such as a name or a path.
pub fn printable(s: &str) -> Cow<'_, str> {
    escape_where(s, hostile)
}

/// `s` with control characters escaped except newline and tab: for a
/// whole message, whose own line breaks stay.
pub fn printable_text(s: &str) -> Cow<'_, str> {
    escape_where(s, |c| c != '\n' && c != '\t' && hostile(c))
}

/// A path as it is shown in messages: lossy UTF-8, every control
/// character escaped.
pub fn path(p: impl AsRef<Path>) -> String {
    printable(&p.as_ref().to_string_lossy()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ANSI color sequence, a carriage return and a newline in a path
    /// come out as visible escapes; plain text is untouched.
    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(
            path(Path::new("a\u{1b}[31mb\nc\rd")),
            "a\\u{1b}[31mb\\nc\\rd"
        );
        assert_eq!(printable("plain/ü.json"), "plain/ü.json");
        assert!(matches!(printable("plain"), Cow::Borrowed(_)));
        assert_eq!(
            printable_text("l1\n\tl2\u{1b}[K\u{9b}"),
            "l1\n\tl2\\u{1b}[K\\u{9b}"
        );
        assert_eq!(printable("x\u{202e}y"), "x\\u{202e}y");
    }
}
